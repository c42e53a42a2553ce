"""jaxgan: generative adversarial networks in JAX and Flax.

The core is pure: a :class:`GANRecipe` says what to train, a :class:`GANState`
holds everything that changes, and ``make_train_step(recipe)`` returns a pure
``(state, batch) -> (state, metrics)`` that jits, vmaps, scans and pmaps.
:class:`CycleGANRecipe` does the same for CycleGAN's four networks over a
:class:`CycleGANState` of its own.
``fit(recipe, source, workdir, **options)`` (:mod:`jaxgan.loop`) is the fit
loop on top, for any recipe and any data source; :mod:`jaxgan.train` runs it
from an experiment config.
"""

from jaxgan import augment, control, health, losses, metrics, penalties
from jaxgan.cyclegan import CycleGANRecipe, CycleGANState
from jaxgan.data import ArraySource, Mixture, Source, digits, grid, load_dataset, ring
from jaxgan.loop import (
    CollapseError,
    DivergenceError,
    FitError,
    FitOptions,
    Interrupted,
    Trainable,
    fit,
)
from jaxgan.metrics import mode_coverage
from jaxgan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from jaxgan.state import (
    GANRecipe,
    GANState,
    ModuleContractError,
    check_modules,
    create_state,
    create_states,
    generate,
    generate_from,
    generator_variables,
    translate,
)
from jaxgan.step import make_multi_step, make_sampling_step, make_train_step, step_key

__version__ = "0.1.0"

__all__ = [
    "ArraySource",
    "CollapseError",
    "CycleGANRecipe",
    "CycleGANState",
    "DivergenceError",
    "FitError",
    "FitOptions",
    "Interrupted",
    "ModuleContractError",
    "Source",
    "Trainable",
    "check_modules",
    "fit",
    "load_dataset",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GANRecipe",
    "GANState",
    "MLPDiscriminator",
    "MLPGenerator",
    "Mixture",
    "augment",
    "control",
    "create_state",
    "create_states",
    "digits",
    "generate",
    "generate_from",
    "generator_variables",
    "grid",
    "health",
    "losses",
    "make_multi_step",
    "make_sampling_step",
    "make_train_step",
    "metrics",
    "mode_coverage",
    "penalties",
    "ring",
    "step_key",
    "translate",
]
