"""The GAN recipe (what to train) and the state pytree (where training is).

A :class:`GANRecipe` is a static bundle: the two modules, their losses, their
optimizers, the latent sampler and the number of discriminator updates per
generator update. It holds callables only and never changes during training.

A :class:`GANState` holds arrays only: everything a run needs to continue bit
for bit. Keeping the callables out of the state (in the recipe, which the step
closes over) keeps the state a plain pytree of arrays, which is what orbax
saves, what ``pmap`` and sharding distribute, and what ``vmap`` batches over
seeds, with no template of functions needed to restore it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan import losses

PyTree = Any


def default_optimizer(learning_rate: float = 2e-4, b1: float = 0.5,
                      b2: float = 0.999) -> optax.GradientTransformation:
    """Adam with the DCGAN paper's settings (Radford et al. 2016)."""
    return optax.adam(learning_rate, b1=b1, b2=b2)


@dataclasses.dataclass(frozen=True)
class GANRecipe:
    """A static description of a GAN and how to train it.

    Attributes:
      generator: flax module called as ``generator(z, train=...)``.
      discriminator: flax module called as ``discriminator(x, train=...)``,
        returning logits of shape ``[batch]``.
      latent_dim: size of the latent vector z.
      d_loss: ``(real_logits, fake_logits) -> per-example loss`` (see
        :mod:`jaxgan.losses`).
      g_loss: ``fake_logits -> per-example loss``.
      g_optimizer: the generator's optax transformation.
      d_optimizer: the discriminator's optax transformation.
      n_disc: discriminator updates per generator update.
      latent_sampler: ``(key, shape) -> z``; standard normal by default.
      penalty: an input-gradient penalty on the discriminator, such as
        :func:`jaxgan.penalties.r1_penalty`, or ``None``.
      penalty_weight: its weight in the discriminator's loss.
      num_classes: 0 for an unconditional GAN. Otherwise both modules are
        class-conditional, called as ``generator(z, labels, train=...)`` and
        ``discriminator(x, labels, train=...)``, and the train step takes
        ``(images, labels)`` batches (see :func:`jaxgan.step.make_train_step`).
      ema_decay: 0 for none; otherwise the state keeps an exponential moving
        average of the generator (``GANState.g_ema``) with this decay per
        step, and :func:`generate` draws from it.
      ema_start: steps before which the average just copies the generator
        (its early, fast-changing weights would otherwise linger in it).
    """

    generator: nn.Module
    discriminator: nn.Module
    latent_dim: int
    d_loss: Callable[[jax.Array, jax.Array], jax.Array] = losses.bce_discriminator_loss
    g_loss: Callable[[jax.Array], jax.Array] = losses.non_saturating_generator_loss
    g_optimizer: optax.GradientTransformation = dataclasses.field(
        default_factory=default_optimizer)
    d_optimizer: optax.GradientTransformation = dataclasses.field(
        default_factory=default_optimizer)
    n_disc: int = 1
    latent_sampler: Callable[[jax.Array, Sequence[int]], jax.Array] = jax.random.normal
    penalty: Callable[..., jax.Array] | None = None
    penalty_weight: float = 1.0
    num_classes: int = 0
    ema_decay: float = 0.0
    ema_start: int = 0

    def __post_init__(self):
        if self.n_disc < 1:
            raise ValueError(f"n_disc must be at least 1, got {self.n_disc}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {self.latent_dim}")
        if self.penalty_weight < 0:
            raise ValueError(f"penalty_weight must be >= 0, got {self.penalty_weight}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1) (0: no average), got {self.ema_decay}")
        if self.ema_start < 0:
            raise ValueError(f"ema_start must be >= 0, got {self.ema_start}")

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def label_args(self, labels: jax.Array | None) -> tuple[jax.Array, ...]:
        """The extra positional arguments of the modules: ``(labels,)`` or ``()``."""
        return (labels,) if self.conditional else ()

    def sample_latent(self, key: jax.Array, num: int) -> jax.Array:
        """Draws ``num`` latent vectors, shape ``[num, latent_dim]``."""
        return self.latent_sampler(key, (num, self.latent_dim))


class GANState(struct.PyTreeNode):
    """Everything that changes during training, as one pytree of arrays.

    Attributes:
      step: number of completed train steps (int32 scalar). Each step's
        randomness is derived from ``fold_in(key, step)``.
      key: the run's base PRNG key (raw uint32 key data); it never changes.
      g_params, d_params: the networks' parameters.
      g_batch_stats, d_batch_stats: BatchNorm running statistics (empty dicts
        for networks without BatchNorm).
      g_opt_state, d_opt_state: the optimizers' states.
      g_ema: with ``recipe.ema_decay > 0``, the generator's moving average
        ``{"params": ..., "batch_stats": ...}``; else ``None`` (no leaves, so
        a state without it has the same pytree as before EMA existed).

    The average covers the BatchNorm statistics as well as the parameters:
    they are averages of the live generator's activations already, and
    averaging them over the same window keeps them in step with the averaged
    weights (as timm's ``ModelEmaV2`` does with a network's buffers).
    """

    step: jax.Array
    key: jax.Array
    g_params: PyTree
    d_params: PyTree
    g_batch_stats: PyTree
    d_batch_stats: PyTree
    g_opt_state: optax.OptState
    d_opt_state: optax.OptState
    g_ema: PyTree = None


def create_state(recipe: GANRecipe, key: jax.Array, example_shape: Sequence[int]) -> GANState:
    """Initialises both networks and optimizers.

    Pure, so ``jax.vmap(lambda k: create_state(recipe, k, shape))(keys)``
    builds one state per seed.

    Args:
      recipe: the GAN to build.
      key: PRNG key; split into the two initialisers and the training key.
      example_shape: shape of one real example, e.g. ``(2,)`` or ``(28, 28, 1)``.
    """
    g_key, d_key, train_key = jax.random.split(key, 3)
    labels = recipe.label_args(jnp.zeros((1,), jnp.int32))
    g_vars = recipe.generator.init(g_key, jnp.zeros((1, recipe.latent_dim)), *labels,
                                   train=False)
    d_vars = recipe.discriminator.init(d_key, jnp.zeros((1, *example_shape)), *labels,
                                       train=False)
    g_params, d_params = g_vars["params"], d_vars["params"]
    g_batch_stats = g_vars.get("batch_stats", {})
    g_ema = None
    if recipe.ema_decay:
        # Copies, not the same buffers: a donated state must not hold one twice.
        g_ema = jax.tree.map(jnp.copy, {"params": g_params, "batch_stats": g_batch_stats})
    return GANState(
        step=jnp.zeros((), jnp.int32),
        key=train_key,
        g_params=g_params,
        d_params=d_params,
        g_batch_stats=g_batch_stats,
        d_batch_stats=d_vars.get("batch_stats", {}),
        g_opt_state=recipe.g_optimizer.init(g_params),
        d_opt_state=recipe.d_optimizer.init(d_params),
        g_ema=g_ema,
    )


def create_states(recipe: GANRecipe, seeds: Sequence[int] | jax.Array,
                  example_shape: Sequence[int]) -> GANState:
    """One state per seed, stacked on a leading axis (for ``jax.vmap``).

    Seed ``s`` gets ``PRNGKey(s)``, so a state inside a many-seed run equals
    the state of a single-seed run with that seed.
    """
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    return jax.vmap(lambda k: create_state(recipe, k, example_shape))(keys)


def generate(recipe: GANRecipe, state: GANState, key: jax.Array, num: int,
             labels: jax.Array | None = None, ema: bool = True) -> jax.Array:
    """Draws ``num`` samples from the generator in inference mode.

    BatchNorm uses its running statistics, so samples do not depend on the
    other samples in the batch. A conditional generator needs ``labels``:
    integer classes ``[num]`` or class weights ``[num, num_classes]``. A state
    with a moving average (``recipe.ema_decay > 0``) draws from the average
    unless ``ema=False``.
    """
    return generate_from(recipe, state, recipe.sample_latent(key, num), labels, ema)


def generator_variables(state: GANState, ema: bool = True) -> dict[str, PyTree]:
    """The generator's flax variables: its moving average where the state has
    one and ``ema`` is true, else the trained weights."""
    if ema and state.g_ema is not None:
        params, batch_stats = state.g_ema["params"], state.g_ema["batch_stats"]
    else:
        params, batch_stats = state.g_params, state.g_batch_stats
    variables = {"params": params}
    if batch_stats:
        variables["batch_stats"] = batch_stats
    return variables


def generate_from(recipe: GANRecipe, state: GANState, z: jax.Array,
                  labels: jax.Array | None = None, ema: bool = True) -> jax.Array:
    """The generator's output for given latents ``z`` (and labels), in
    inference mode, from its moving average unless ``ema=False`` (see
    :func:`generate`)."""
    if recipe.conditional != (labels is not None):
        raise ValueError(f"the generator is conditional ({recipe.num_classes} classes); pass "
                         "labels" if recipe.conditional else
                         "the generator is unconditional; it takes no labels")
    return recipe.generator.apply(generator_variables(state, ema), z,
                                  *recipe.label_args(labels), train=False)
