"""The fit loop: a thin layer of logging, evaluation, pictures and checkpoints
around the pure train step.

``train_and_evaluate(config, workdir)`` trains ``config.num_seeds`` seeds at
once (the step ``vmap``-ed or ``lax.map``-ped over stacked states, as
``config.seed_batching`` says), ``config.steps_per_dispatch``
steps per call (``lax.scan``), with the data sampled on the device. It writes,
under ``workdir``: ``config.json``, ``metrics.jsonl`` (and TensorBoard event
files beside it), ``eval.json``, ``samples/`` and ``checkpoints/``. Running it
again on the same workdir resumes from the latest checkpoint.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxgan import checkpoint as checkpoint_lib
from jaxgan import losses, parallel, penalties, viz
from jaxgan.data import MIXTURES, ArraySource, Mixture
from jaxgan.data.arrays import HostStream, digits, sample_streamed, to_unit_range
from jaxgan.data.images import DataError, load_folder, load_npz
from jaxgan.metrics import mode_coverage
from jaxgan.metrics.chunks import map_in_chunks
from jaxgan.metrics.classifier import (
    FittedClassifier,
    classifier_scores,
    holdout_split,
    label_accuracy,
    load_or_fit_classifier,
)
from jaxgan.metrics.coverage import nearest_modes
from jaxgan.metrics.distribution import PR_NEIGHBOURS, distribution_metrics
from jaxgan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from jaxgan.models.conditioning import CONDITIONINGS
from jaxgan.models.dcgan import NORMALIZATIONS, RESOLUTIONS
from jaxgan.state import GANRecipe, GANState, create_states, generate, generate_from
from jaxgan.step import make_multi_step, make_sampling_step, make_train_step

MODELS = ("mlp", "dcgan")
LR_SCHEDULES = ("constant", "cosine")
PARALLEL_MODES = parallel.MODES
DATA_PLACEMENTS = ("auto", "device", "host")
# tensorflow-datasets names; the module that reads them imports tfds lazily.
TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10", "celeb_a")
IMAGE_DATASETS = ("digits", *TFDS_NAMES)
FILE_PREFIXES = ("npz:", "folder:")
# Fields that only newer configs have, with the value older configs meant.
OPTIONAL_FIELDS = {"data_placement": "auto", "download": True, "classifier_steps": 0,
                   "d_normalization": "batch", "conditioning": "none", "classifier_dir": None,
                   "on_nan": "stop", "ema_decay": 0.0, "ema_start": 0, "seed_batching": "auto"}
# The device-resident path is taken while the dataset needs at most this share
# of the device's memory (the rest is for the model and its activations).
_DEVICE_DATA_SHARE = 0.25
# Latents for evaluation come from a key of their own, fixed for the whole run,
# so that evaluation curves compare like with like.
_EVAL_KEY_TAG = 0x0E7A1
# The scoring classifier, its held-out split and the evaluation latents do not
# depend on config.seed: runs that differ only in their seed are measured with
# the same yardstick (and share one cached classifier).
EVAL_SEED = 0
# Folded into the evaluation key for KID's subsets (1 and 2 draw a mixture's real sets).
_KID_KEY_TAG = 3
# Evaluation generates and reads its samples this many at a time (lax.map), so
# that its memory does not grow with num_eval_samples.
EVAL_CHUNK = 500
# Metrics of the live generator, beside those of its moving average, get this prefix.
NO_EMA_PREFIX = "no_ema_"
# The distribution metrics of held-out real data against the real reference
# (the best a generator can hope for) get this prefix.
REAL_PREFIX = "real_"


class ConfigError(ValueError):
    """A user error in the config, the data or the workdir: reported in one line."""


class DivergenceError(RuntimeError):
    """Training produced non-finite losses or parameters (and no rollback is left)."""


class Interrupted(Exception):
    """Ctrl-C stopped the run after saving a checkpoint."""


ON_NAN = ("stop", "rollback")
# How the seeds of one run share a program: vmap batches them (one wide
# computation: what accelerators want); map runs them one after another
# inside the program (lax.map). XLA:CPU turns vmapped convolutions into
# grouped convolutions, which it runs about 3x slower than the seeds one by
# one, so "auto" maps convolutional models on the CPU and vmaps otherwise.
SEED_BATCHING = ("auto", "vmap", "map")
# on_nan="rollback": how many times, and by how much each lowers both rates.
MAX_ROLLBACKS = 3
ROLLBACK_LR_FACTOR = 0.5
# The learning-rate factor that rollbacks left, saved with each checkpoint
# (beside the config's own fields) so that a resumed run keeps it.
LR_SCALE_KEY = "lr_scale_after_rollbacks"
# The number of devices that trained up to a checkpoint, saved beside it. A run
# may resume on another number: the step computes the same function of the
# global batch however many devices share it.
DEVICES_KEY = "num_devices"


# Fields a resumed run may change: they steer logging and evaluation, not what
# is trained. (num_steps too, unless a schedule depends on it.)
RESUME_MAY_CHANGE = frozenset({
    "num_steps", "log_every", "eval_every", "checkpoint_every", "keep_checkpoints",
    "num_final_samples", "num_eval_samples", "steps_per_dispatch", "data_dir",
    "data_placement", "download", "classifier_steps", "classifier_dir", "on_nan",
    "parallel", "seed_batching"})


def check_resumable(saved: dict[str, Any], config: ml_collections.ConfigDict,
                    start_step: int) -> None:
    """Refuses to resume a run whose training would change underneath it.

    Raises:
      ConfigError: naming the first field that differs from the checkpoint's.
    """
    current = json.loads(json.dumps(config.to_dict()))  # tuples -> lists, as saved
    may_change = set(RESUME_MAY_CHANGE) | {LR_SCALE_KEY, DEVICES_KEY}
    if config.lr_schedule != "constant":
        may_change.discard("num_steps")  # it sets the schedule's length
    if not saved.get("ema_decay", 0.0) and not _option(config, "ema_decay"):
        may_change.add("ema_start")  # no moving average on either side: it means nothing
    for name in sorted(saved.keys() | current.keys()):
        # A field that one side's config predates had its default value there.
        before, now = (c.get(name, OPTIONAL_FIELDS.get(name)) for c in (saved, current))
        if name not in may_change and before != now:
            raise ConfigError(
                f"the checkpoint at step {start_step} was trained with {name}={before!r}, "
                f"this config has {name}={now!r}; pass the same value to resume, or use a "
                "new --workdir")
    if start_step > config.num_steps:
        raise ConfigError(f"the checkpoint is at step {start_step}, past num_steps="
                          f"{config.num_steps}; raise num_steps or use a new --workdir")
    if start_step % config.steps_per_dispatch:
        raise ConfigError(f"resuming at step {start_step} needs a steps_per_dispatch that "
                          f"divides it, not {config.steps_per_dispatch}")


# --------------------------------------------------------------------------
# Config -> pieces
# --------------------------------------------------------------------------


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Checks the config before anything is built or compiled.

    Raises:
      ConfigError: naming the first bad field and what would fix it.
    """
    def fail(message):
        raise ConfigError(message)

    dataset = config.dataset
    if not isinstance(dataset, str) or not (dataset in MIXTURES or dataset in IMAGE_DATASETS
                                            or dataset.startswith(FILE_PREFIXES)):
        fail(f"unknown dataset {dataset!r}; available: {', '.join([*MIXTURES, *IMAGE_DATASETS])}"
             ", npz:PATH or folder:PATH")
    if config.model not in MODELS:
        fail(f"unknown model {config.model!r}; available: {', '.join(MODELS)}")
    if dataset in MIXTURES and config.model != "mlp":
        fail(f"dataset {dataset!r} is 2D points; it needs model='mlp', not {config.model!r}")
    if dataset not in MIXTURES:
        size = config.image_size
        if config.model == "dcgan" and size not in RESOLUTIONS:
            fail(f"config.image_size must be one of {', '.join(map(str, RESOLUTIONS))} for "
                 f"the DCGAN, got {size!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            fail(f"config.image_size must be a positive integer, got {size!r}")
    placement = _option(config, "data_placement")
    if placement not in DATA_PLACEMENTS:
        fail(f"data_placement must be one of {', '.join(DATA_PLACEMENTS)}, got {placement!r}")
    classifier_steps = _option(config, "classifier_steps")
    if not isinstance(classifier_steps, int) or classifier_steps < 0:
        fail(f"config.classifier_steps must be an integer >= 0, got {classifier_steps!r}")
    seed_batching = _option(config, "seed_batching")
    if seed_batching not in SEED_BATCHING:
        fail(f"seed_batching must be one of {', '.join(SEED_BATCHING)}, got {seed_batching!r}")
    on_nan = _option(config, "on_nan")
    if on_nan not in ON_NAN:
        fail(f"on_nan must be one of {', '.join(ON_NAN)}, got {on_nan!r}")
    ema_decay = _option(config, "ema_decay")
    if not isinstance(ema_decay, int | float) or not 0 <= ema_decay < 1:
        fail(f"config.ema_decay must be in [0, 1) (0: no moving average), got {ema_decay!r}")
    ema_start = _option(config, "ema_start")
    if not isinstance(ema_start, int) or isinstance(ema_start, bool) or ema_start < 0:
        fail(f"config.ema_start must be an integer >= 0, got {ema_start!r}")
    conditioning = _option(config, "conditioning")
    if conditioning not in ("none", *CONDITIONINGS):
        fail(f"conditioning must be one of none, {', '.join(CONDITIONINGS)}, got "
             f"{conditioning!r}")
    classifier_dir = _option(config, "classifier_dir")
    if classifier_dir is not None and not isinstance(classifier_dir, str):
        fail(f"config.classifier_dir must be a path or None, got {classifier_dir!r}")
    if config.d_penalty not in ("none", *penalties.PENALTIES):
        fail(f"unknown d_penalty {config.d_penalty!r}; available: none, "
             f"{', '.join(penalties.PENALTIES)}")
    if not config.d_penalty_weight >= 0:
        fail(f"config.d_penalty_weight must be >= 0, got {config.d_penalty_weight!r}")
    if config.loss not in losses.LOSS_NAMES:
        fail(f"unknown loss {config.loss!r}; available: {', '.join(losses.LOSS_NAMES)}")
    if config.lr_schedule not in LR_SCHEDULES:
        fail(f"unknown lr_schedule {config.lr_schedule!r}; available: {', '.join(LR_SCHEDULES)}")
    if config.parallel not in PARALLEL_MODES:
        fail(f"parallel must be one of {', '.join(PARALLEL_MODES)}, got {config.parallel!r}")
    if config.parallel == "none" and jax.process_count() > 1:
        fail(f"this is one of {jax.process_count()} processes; a multi-process run needs "
             "parallel='jit' or 'pmap'")
    positive_ints = ("batch_size", "num_steps", "num_seeds", "log_every", "eval_every",
                     "checkpoint_every", "keep_checkpoints", "num_final_samples",
                     "num_eval_samples", "n_disc", "latent_dim", "steps_per_dispatch")
    for name in positive_ints:
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            fail(f"config.{name} must be a positive integer, got {value!r}")
    for name in ("g_learning_rate", "d_learning_rate"):
        if not config[name] > 0 or not math.isfinite(config[name]):
            fail(f"config.{name} must be a positive number, got {config[name]!r}")
    for name in ("adam_b1", "adam_b2"):
        if not 0 <= config[name] < 1:
            fail(f"config.{name} must be in [0, 1), got {config[name]!r}")
    if not 0 < config.real_label <= 1:
        fail(f"config.real_label must be in (0, 1], got {config.real_label!r}")
    if config.real_label != 1 and config.loss not in ("non_saturating", "minimax"):
        fail(f"label smoothing (config.real_label={config.real_label}) needs a BCE loss "
             f"(non_saturating or minimax), not {config.loss!r}")
    if config.model == "mlp":
        for name in ("g_features", "d_features"):
            widths = tuple(config[name])
            if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
                fail(f"config.{name} must be a non-empty list of positive widths, got "
                     f"{widths!r}")
    else:
        for name in ("g_width", "d_width"):
            value = config[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(f"config.{name} must be a positive integer, got {value!r}")
        normalization = _option(config, "d_normalization")
        if normalization not in NORMALIZATIONS:
            fail(f"d_normalization must be one of {', '.join(NORMALIZATIONS)}, got "
                 f"{normalization!r}")
        if normalization == "batch" and config.d_penalty != "none":
            fail(f"d_penalty={config.d_penalty!r} scores each example's input gradient, which "
                 "BatchNorm mixes across the batch; set d_normalization to layer, instance "
                 "or none")
    if config.parallel != "none":  # batch_size is a positive int by now
        try:
            parallel.check_batch_size(config.batch_size, jax.device_count())
        except ValueError as e:
            fail(f"parallel={config.parallel!r}: {e}")
    k = config.steps_per_dispatch
    for name in ("num_steps", "log_every", "eval_every", "checkpoint_every"):
        if config[name] % k:
            fail(f"config.{name}={config[name]} is not a multiple of "
                 f"config.steps_per_dispatch={k}; make it one, or lower steps_per_dispatch")


def _option(config: ml_collections.ConfigDict, name: str):
    return config.get(name, OPTIONAL_FIELDS[name])


def seed_batching(config: ml_collections.ConfigDict) -> str:
    """``vmap`` or ``map``: how ``config``'s seeds share the train program
    (``config.seed_batching``, with ``auto`` resolved; see ``SEED_BATCHING``)."""
    how = _option(config, "seed_batching")
    if how == "auto":
        return "map" if config.model == "dcgan" and jax.default_backend() == "cpu" else "vmap"
    return how


def over_seeds(fn, how: str):
    """``fn(state, data)`` over states stacked on a leading seed axis, the
    data shared: ``jax.vmap`` or ``jax.lax.map`` (see ``SEED_BATCHING``)."""
    if how == "vmap":
        return jax.vmap(fn, in_axes=(0, None))

    @functools.wraps(fn)  # keeps fn's name for jit's compile logs and profiles
    def one_seed_after_another(states, data):
        return jax.lax.map(lambda state: fn(state, data), states)

    return one_seed_after_another


def build_source(config: ml_collections.ConfigDict, progress=None) -> Mixture | ArraySource:
    """The dataset named by ``config.dataset``.

    Raises:
      ConfigError: the dataset cannot be read (missing file, tfds dataset not
        prepared, ...), with how to fix it.
    """
    name = config.dataset
    if name in MIXTURES:
        return MIXTURES[name]()
    try:
        if name == "digits":
            return digits(config.image_size, shuffle_seed=config.seed)
        if name in TFDS_NAMES:
            from jaxgan.data.tfds_sources import load_tfds  # imports tensorflow-datasets

            return load_tfds(name, config.image_size, config.data_dir, _option(config, "download"),
                             shuffle_seed=config.seed, progress=progress)
        kind, path = name.split(":", 1)
        load = load_npz if kind == "npz" else load_folder
        return load(os.path.expanduser(path), config.image_size, shuffle_seed=config.seed)
    except DataError as e:
        raise ConfigError(str(e)) from e


def num_classes(config: ml_collections.ConfigDict, source: Mixture | ArraySource) -> int:
    """Classes the GAN is conditioned on: 0 unless ``config.conditioning`` asks.

    A mixture's classes are its modes; an image dataset's, its labels.

    Raises:
      ConfigError: conditioning asked for on a dataset without labels.
    """
    if _option(config, "conditioning") == "none":
        return 0
    classes = source.num_classes
    if not classes:
        raise ConfigError(f"conditioning={_option(config, 'conditioning')!r} needs class "
                          f"labels, and {config.dataset!r} has none; use an unconditional "
                          "config (conditioning='none') or a labelled dataset")
    return classes


def build_recipe(config: ml_collections.ConfigDict, example_shape,
                 classes: int = 0, lr_scale: float = 1.0) -> GANRecipe:
    """The GAN that ``config`` describes, for examples of ``example_shape``.

    ``classes`` > 0 makes it class-conditional (see :func:`num_classes`);
    ``lr_scale`` multiplies both learning rates (rollbacks lower it).
    """
    pair = losses.get_loss_pair(config.loss, config.real_label)
    conditioning = _option(config, "conditioning")
    d_conditioning = {"conditioning": conditioning} if classes else {}
    if config.model == "dcgan":
        generator = DCGANGenerator(resolution=example_shape[0], channels=example_shape[-1],
                                   width=config.g_width, num_classes=classes)
        discriminator = DCGANDiscriminator(resolution=example_shape[0], width=config.d_width,
                                           normalization=_option(config, "d_normalization"),
                                           num_classes=classes, **d_conditioning)
    else:
        generator = MLPGenerator(output_shape=tuple(example_shape),
                                 features=tuple(config.g_features),
                                 batch_norm=config.g_batch_norm,
                                 output_activation=None if len(example_shape) == 1 else "tanh",
                                 num_classes=classes)
        discriminator = MLPDiscriminator(features=tuple(config.d_features), num_classes=classes,
                                         **d_conditioning)
    return GANRecipe(
        generator=generator,
        discriminator=discriminator,
        latent_dim=config.latent_dim,
        d_loss=pair.discriminator,
        g_loss=pair.generator,
        g_optimizer=_adam(config, lr_scale * config.g_learning_rate, config.num_steps),
        # The discriminator takes n_disc optimizer steps per train step.
        d_optimizer=_adam(config, lr_scale * config.d_learning_rate,
                          config.num_steps * config.n_disc),
        n_disc=config.n_disc,
        penalty=None if config.d_penalty == "none" else penalties.PENALTIES[config.d_penalty],
        penalty_weight=config.d_penalty_weight,
        num_classes=classes,
        ema_decay=float(_option(config, "ema_decay")),
        ema_start=_option(config, "ema_start"),
    )


def _adam(config: ml_collections.ConfigDict, learning_rate: float,
          num_updates: int) -> optax.GradientTransformation:
    if config.lr_schedule == "cosine":
        # Decaying to zero takes out the jitter that a constant step size
        # leaves in the generator's output near equilibrium.
        learning_rate = optax.cosine_decay_schedule(learning_rate, num_updates)
    return optax.adam(learning_rate, b1=config.adam_b1, b2=config.adam_b2)


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


def eval_labels(recipe: GANRecipe, num: int) -> jax.Array | None:
    """The classes asked of a conditional generator in evaluation: ``k mod
    num_classes`` for sample ``k``, so every class gets the same share."""
    return jnp.arange(num) % recipe.num_classes if recipe.conditional else None


Features = Callable[[jax.Array], jax.Array]


def evaluation_key(seed: int = EVAL_SEED) -> jax.Array:
    """The key of a run's evaluation latents (and, for a mixture, its real
    reference sets), fixed for the whole run: see ``EVAL_SEED``."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), _EVAL_KEY_TAG)


def real_examples(source: Mixture | ArraySource, num: int,
                  seed: int) -> tuple[jax.Array, jax.Array]:
    """Real data for the distribution metrics: ``(reference, held_out)``.

    For a dataset, up to ``num`` of the examples that the scoring classifier
    trains on, and up to ``num`` of those it holds out (:func:`holdout_split`
    with ``seed``); for a mixture, two samples of ``num`` points.
    """
    if isinstance(source, Mixture):
        key = evaluation_key(seed)
        return tuple(source.sample(jax.random.fold_in(key, i), num) for i in (1, 2))
    train_indices, holdout_indices = holdout_split(source.num_examples, seed)
    return tuple(to_unit_range(jnp.asarray(source.images[np.sort(indices[:num])]))
                 for indices in (train_indices, holdout_indices))


def make_evaluate(recipe: GANRecipe, source: Mixture | ArraySource, num_samples: int,
                  eval_key: jax.Array, classifier: FittedClassifier | None = None,
                  features: Features | None = None, real_features: jax.Array | None = None,
                  seeds: str = "vmap"):
    """Returns ``evaluate(states) -> (per-seed metrics, per-seed samples)``, jitted.

    Every seed is evaluated on the same latent vectors (and, for a conditional
    GAN, the classes of :func:`eval_labels`), generated ``EVAL_CHUNK`` at a
    time. 2D mixtures are scored by mode coverage; images by ``classifier``
    when there is one (see :mod:`jaxgan.metrics.classifier`), otherwise only
    drawn. With ``features`` (``images -> [N, D]``) and the features of real
    reference data ``real_features``, the samples are also compared with the
    real data by :func:`jaxgan.metrics.distribution.distribution_metrics`. A
    conditional GAN is also scored by ``label_accuracy``: how often a sample
    lands in the mode, or is classified as the class, it was generated for.

    A state with a generator moving average is scored on the average, and
    its live generator too, under names prefixed ``no_ema_``; the samples
    returned are the average's. ``seeds`` (``vmap`` or ``map``) says how the
    seeds share the program, as in :func:`over_seeds`.
    """
    if (features is None) != (real_features is None):
        raise ValueError("pass both features and real_features (the real data's features), "
                         "or neither")
    labels = eval_labels(recipe, num_samples)
    z = recipe.sample_latent(eval_key, num_samples)
    kid_key = jax.random.fold_in(eval_key, _KID_KEY_TAG)
    compare = features is not None  # real_features too, as checked above
    # The default features are the classifier's own: one pass gives both.
    features_from_classifier = classifier is not None and features == classifier.features

    def score(state: GANState, ema: bool, real_features: jax.Array | None):
        def read(inputs):  # one chunk: samples and what the networks make of them
            chunk_z, chunk_labels = inputs
            samples = generate_from(recipe, state, chunk_z, chunk_labels, ema)
            out = {"samples": samples}
            if compare and features_from_classifier:
                out["probabilities"], out["features"] = (
                    classifier.probabilities_and_features(samples))
            else:
                if classifier is not None:
                    out["probabilities"] = classifier.probabilities(samples)
                if compare:
                    out["features"] = features(samples)
            return out

        out = map_in_chunks(read, (z, labels), EVAL_CHUNK)
        samples, metrics = out["samples"], {}
        predicted = None
        if isinstance(source, Mixture):
            metrics.update(mode_coverage(samples, source.centers, source.std))
            predicted = nearest_modes(samples, source.centers)[0]
        elif classifier is not None:
            # A conditional GAN is asked for balanced classes: compare with those.
            frequencies = (classifier.class_frequencies if labels is None else
                           jnp.bincount(labels, length=recipe.num_classes) / num_samples)
            metrics.update(classifier_scores(out["probabilities"], frequencies))
            predicted = jnp.argmax(out["probabilities"], -1)
        if compare:
            metrics.update(distribution_metrics(real_features, out["features"], kid_key))
        if labels is not None and predicted is not None:
            metrics.update(label_accuracy(predicted, labels, recipe.num_classes))
        return metrics, samples

    def evaluate_one(state: GANState, real_features: jax.Array | None):
        metrics, samples = score(state, True, real_features)
        if state.g_ema is not None:
            live, _ = score(state, False, real_features)
            metrics.update({NO_EMA_PREFIX + name: value for name, value in live.items()})
        return metrics, samples

    # The real features are an argument, not a constant folded into the program.
    evaluate = jax.jit(over_seeds(evaluate_one, seeds))
    return lambda states: evaluate(states, real_features)


def real_floor(features: Features, reference: jax.Array, held_out: jax.Array,
               eval_key: jax.Array) -> tuple[jax.Array, dict[str, float]]:
    """The reference's features, and the distribution metrics of held-out real
    data against them (named ``real_...``): the floor that generated data is
    measured against."""
    reference_features, held_out_features = (
        jax.jit(lambda x: map_in_chunks(features, x, EVAL_CHUNK))(x)
        for x in (reference, held_out))
    floor = jax.jit(distribution_metrics)(reference_features, held_out_features,
                                          jax.random.fold_in(eval_key, _KID_KEY_TAG))
    return reference_features, {REAL_PREFIX + name: float(value) for name, value in floor.items()}


def summarize_seeds(per_seed: dict[str, np.ndarray]) -> dict[str, Any]:
    """Flat summary: each metric's mean, standard error and per-seed list."""
    summary: dict[str, Any] = {}
    for name, values in per_seed.items():
        values = np.asarray(values, np.float64)
        summary[name] = float(values.mean())
        summary[f"{name}_stderr"] = (float(values.std(ddof=1) / math.sqrt(values.size))
                                     if values.size > 1 else 0.0)
        summary[f"{name}_per_seed"] = values.tolist()
    return summary


# --------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------


class _Logs:
    """metrics.jsonl, TensorBoard events and console lines, written together."""

    def __init__(self, workdir: str, start_step: int, enabled: bool = True):
        self.metrics_path = os.path.join(workdir, "metrics.jsonl")
        self.enabled = enabled  # False in every process but the first
        if not enabled:
            return
        from tensorboardX import SummaryWriter  # protobuf only; no TensorFlow

        # Records past the checkpoint we resume from belong to steps that will
        # run again: drop them, so that no step is logged twice.
        kept = []
        if os.path.exists(self.metrics_path):
            with open(self.metrics_path) as f:
                kept = [line for line in f if line.strip()
                        and json.loads(line)["step"] <= start_step]
        tmp = f"{self.metrics_path}.tmp"
        with open(tmp, "w") as f:
            f.writelines(kept)
        os.replace(tmp, self.metrics_path)
        self._jsonl = open(self.metrics_path, "a")  # noqa: SIM115  (closed in close())
        self._tensorboard = SummaryWriter(workdir, purge_step=start_step + 1)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        for name, value in record.items():
            if name != "step" and isinstance(value, int | float):
                self._tensorboard.add_scalar(name, value, record["step"])
        self._tensorboard.flush()

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._tensorboard.close()


def _write_json(path: str, obj: Any) -> None:
    """Writes JSON atomically: a crash never leaves a half-written file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def _eval_record(per_seed: dict[str, jax.Array]) -> dict[str, float]:
    return {name: float(np.mean(values)) for name, values in per_seed.items()}


def _class_rows(samples: np.ndarray, classes: int, columns: int) -> np.ndarray:
    """Reorders samples generated for :func:`eval_labels` into rows of
    ``columns`` samples, one row per class."""
    grid = samples[:columns * classes].reshape(columns, classes, *samples.shape[1:])
    return grid.swapaxes(0, 1).reshape(-1, *samples.shape[1:])


def _plot_samples(path: str, source: Mixture | ArraySource, samples: np.ndarray,
                  per_seed: dict[str, np.ndarray], seeds: np.ndarray, step: int,
                  classes: int = 0) -> None:
    if isinstance(source, ArraySource):
        shown = min(len(seeds), 4)
        titles = []
        for i in range(shown):
            scores = ""
            if "label_accuracy" in per_seed:
                scores = f": {per_seed['label_accuracy'][i]:.1%} show their class"
            elif "confident_fraction" in per_seed:
                scores = (f": {per_seed['confident_fraction'][i]:.0%} confident, "
                          f"{int(per_seed['classes_covered'][i])}/{source.num_classes} classes")
            if "frechet_distance" in per_seed:
                scores += f"{',' if scores else ':'} FD {per_seed['frechet_distance'][i]:.3g}"
            titles.append(f"seed {seeds[i]}{scores}")
        if classes:  # row k holds samples generated for class k
            columns = min(8, samples.shape[1] // classes)
            viz.image_grids(path, [_class_rows(s, classes, columns) for s in samples[:shown]],
                            titles, columns=columns,
                            suptitle=f"{source.name}, step {step}, one row per class")
        else:
            viz.image_grids(path, [s[:64] for s in samples[:shown]], titles,
                            suptitle=f"{source.name}, step {step}")
        return
    shown = min(len(seeds), 10)
    real = np.asarray(source.sample(jax.random.PRNGKey(0), 2500))
    titles = [f"seed {seeds[i]}: {int(per_seed['modes_covered'][i])}/{source.num_modes} modes, "
              f"hq {per_seed['high_quality_fraction'][i]:.2f}"
              + (f", {per_seed['label_accuracy'][i]:.0%} in their mode" if classes else "")
              for i in range(shown)]
    viz.scatter_2d(path, real, list(samples[:shown]), source.centers, radius=3 * source.std,
                   titles=titles, suptitle=f"{source.name}, step {step}")


def _build_gan(config: ml_collections.ConfigDict, progress=None):
    """Checks ``config`` and builds ``(source, recipe, seeds, fresh states)``.

    Raises:
      ConfigError: a bad config or data, before anything is compiled or written.
    """
    validate_config(config)
    source = build_source(config, progress=progress)
    examples_per_step = config.batch_size * config.n_disc
    if isinstance(source, ArraySource) and source.num_examples < examples_per_step:
        raise ConfigError(f"{source.name} has {source.num_examples} examples but a step reads "
                          f"batch_size * n_disc = {examples_per_step}; lower batch_size")
    recipe = build_recipe(config, source.example_shape, num_classes(config, source))
    if recipe.conditional and config.num_eval_samples < recipe.num_classes:
        raise ConfigError(f"config.num_eval_samples={config.num_eval_samples} cannot ask for each "
                          f"of the {recipe.num_classes} classes; raise it to at least "
                          f"{recipe.num_classes}")
    seeds = np.arange(config.seed, config.seed + config.num_seeds)
    return source, recipe, seeds, create_states(recipe, seeds, source.example_shape)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       features: Features | None = None) -> dict[str, Any]:
    """Trains and evaluates as ``config`` says, writing results under ``workdir``.

    Generated samples are compared with real data (Frechet distance, KID,
    precision and recall; see :mod:`jaxgan.metrics.distribution`) on the
    features of ``features``, an ``images [N, H, W, C] in [-1, 1] -> [N, D]``
    function (bring your own, e.g. Inception), or by default on the scoring
    classifier's penultimate layer when ``config.classifier_steps > 0``.

    Returns:
      The final evaluation (also written to ``eval.json``).

    Raises:
      ConfigError: for a bad config or an incompatible checkpoint in
        ``workdir``; nothing in ``workdir`` is written before these checks.
    """
    source, recipe, seeds, states = _build_gan(
        config, progress=lambda **kw: tqdm(file=sys.stderr, **kw))
    examples_per_step = config.batch_size * config.n_disc
    if features is not None or _wants_classifier(config, source):
        _check_feature_sizes(config, source, features)

    checkpointer = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                                               config.keep_checkpoints)
    start_step, lr_scale = 0, 1.0
    mode = config.parallel
    num_devices = 1 if mode == "none" else jax.device_count()
    saved_devices = num_devices
    primary = parallel.is_primary()  # only process 0 writes files
    one_process = jax.process_count() == 1
    mesh = parallel.data_mesh() if mode == "jit" else None
    try:
        latest = checkpointer.restore_latest(
            like=states, check_config=lambda step, saved: check_resumable(saved, config, step))
        if latest is not None:
            start_step, saved, states = latest
            lr_scale = saved.get(LR_SCALE_KEY, 1.0)
            saved_devices = saved.get(DEVICES_KEY, 1)
    except checkpoint_lib.CheckpointMismatchError as e:
        checkpointer.close()
        raise ConfigError(f"the newest checkpoint in {checkpointer.directory} does not fit this "
                          f"config ({e}); use a new --workdir") from e
    except checkpoint_lib.CheckpointUnreadableError as e:
        checkpointer.close()
        raise ConfigError(str(e)) from e
    except ConfigError:
        checkpointer.close()
        raise

    if lr_scale != 1.0:  # earlier rollbacks lowered the rates
        recipe = build_recipe(config, source.example_shape, recipe.num_classes, lr_scale)
    samples_dir = os.path.join(workdir, "samples")
    if primary:
        os.makedirs(samples_dir, exist_ok=True)
        _write_json(os.path.join(workdir, "config.json"), config.to_dict())

    k = config.steps_per_dispatch
    streamed = isinstance(source, ArraySource) and not _place_on_device(config, source)
    layout = _Layout(mode, num_devices, mesh, config.n_disc, seed_batching(config))
    if streamed:  # each call takes its K steps' batches, gathered on the host
        sampler = sample_streamed
        data = {"images": ((k, examples_per_step, *source.example_shape), source.images.dtype)}
        if recipe.conditional:
            data["labels"] = ((k, examples_per_step), np.int32)
        data = layout.stream_spec(data)
    else:  # each call takes the whole dataset (or None), already on the device
        sampler = source.sample_labelled if recipe.conditional else source.sample_real
        data = layout.put_state(source.device_data() if isinstance(source, ArraySource)
                                else None)
    states = layout.put_state(states)

    def compile_steps(recipe: GANRecipe):
        # One program runs K steps of every seed, with the state donated so that
        # XLA updates it in place. It is compiled ahead of time: the compile is
        # timed on its own (not charged to steps_per_sec), and a run cannot
        # compile twice (a rollback builds a new program, with lower rates).
        start = time.perf_counter()
        program = layout.program(recipe, sampler, config.batch_size, k, streamed)
        return program.lower(states, data).compile(), time.perf_counter() - start

    multi_step, compile_seconds = compile_steps(recipe)
    eval_key = evaluation_key()
    classifier = _fit_classifier(config, source, workdir)
    if features is None and classifier is not None:
        features = classifier.features
    real_features, floor = None, {}
    if features is not None:
        reference, held_out = real_examples(source, config.num_eval_samples, EVAL_SEED)
        real_features, floor = real_floor(features, reference, held_out, eval_key)
        if primary:
            tqdm.write(f"real data: {len(held_out)} held-out against {len(reference)} reference "
                       f"examples: Frechet distance {floor['real_frechet_distance']:.3g}, "
                       f"KID {floor['real_kid']:.3g}, precision {floor['real_precision']:.3f}, "
                       f"recall {floor['real_recall']:.3f} (the floor)", file=sys.stderr)
        floor["real_floor_num_examples"] = len(held_out)
        floor["real_reference_num_examples"] = len(reference)
    evaluate = make_evaluate(recipe, source, config.num_eval_samples, eval_key, classifier,
                             features, real_features, seed_batching(config))

    def open_stream(first_step):
        return (HostStream(source, first_step, k, examples_per_step,
                           with_labels=recipe.conditional, put=layout.put_stream)
                if streamed else None)

    stream = open_stream(start_step)
    logs = _Logs(workdir, start_step, enabled=primary)
    progress = tqdm(total=config.num_steps, initial=start_step, unit="step",
                    desc=f"{config.dataset} x{config.num_seeds} seed(s)",
                    mininterval=1.0 if sys.stderr.isatty() else 30.0, file=sys.stderr,
                    disable=not primary)
    pending: list[dict[str, jax.Array]] = []  # device metrics since the last record

    def say(line: str) -> None:  # console lines come from the first process only
        if primary:
            progress.write(line)

    spread = "" if mode == "none" else f", {mode} over {num_devices} devices"
    say(f"compiled {k} steps x {config.num_seeds} seed(s) per call in "
                   f"{compile_seconds:.1f} s{spread}")
    if saved_devices != num_devices:
        say(f"resuming a run saved on {saved_devices} device(s) on {num_devices}: "
                       "the global batch and its random draws are the same, so it trains "
                       "on as it would have (to float rounding)")
    interval_start, interval_step = time.perf_counter(), start_step
    step_now = start_step
    last_eval = None  # (per-seed metrics, samples) at step_now, if evaluated there
    rollbacks = 0
    interrupt = _InterruptFlag()

    def saved_config():
        saved = config.to_dict()
        if lr_scale != 1.0:
            saved[LR_SCALE_KEY] = lr_scale
        if num_devices != 1:
            saved[DEVICES_KEY] = num_devices
        return saved

    def one_copy(tree):  # the state (or metrics) once, on this process's first device
        return parallel.first_replica(tree, mode)

    try:
        while step_now < config.num_steps:
            states, metrics = multi_step(states, data if stream is None else next(stream))
            step_now += k
            pending.append(metrics)  # one copy is taken at the log step that reads them
            progress.update(k)
            is_eval = step_now % config.eval_every == 0 or step_now == config.num_steps
            is_log = step_now % config.log_every == 0 or is_eval
            is_save = step_now % config.checkpoint_every == 0 or step_now == config.num_steps
            diverged = None
            if is_log:
                # Fetching the metrics is the one host sync of the interval.
                copies = [one_copy(m) for m in pending]
                means = {name: float(np.mean([np.asarray(m[name]) for m in copies]))
                         for name in copies[0]}
                diverged = _divergence(means, one_copy(states))
            elif is_save or (one_process and interrupt.raised):
                diverged = _divergence({}, one_copy(states))
            if diverged is not None:
                # Never log, evaluate or save a diverged state.
                checkpointer.wait()
                good = checkpointer.latest_step()
                if _option(config, "on_nan") != "rollback" or rollbacks >= MAX_ROLLBACKS:
                    tried = f" after {rollbacks} rollback(s)" if rollbacks else ""
                    raise DivergenceError(
                        f"training diverged at step {step_now}{tried}: {diverged}; the last "
                        f"good checkpoint is " + (f"step {good}" if good else "none (step 0)")
                        + "; lower the learning rates"
                        + ("" if rollbacks else ", or set on_nan='rollback'"))
                bad_step = step_now
                rollbacks += 1
                lr_scale *= ROLLBACK_LR_FACTOR
                if good is None:
                    states = create_states(recipe, seeds, source.example_shape)
                    step_now = 0
                else:
                    step_now, _, states = checkpointer.restore_latest(
                        like=one_copy(states),
                        check_config=lambda step, saved: check_resumable(saved, config, step))
                states = layout.put_state(states)
                say(f"diverged at step {bad_step}: {diverged}; rolled back to step "
                               f"{step_now} with learning rates x{lr_scale:g} "
                               f"(rollback {rollbacks} of {MAX_ROLLBACKS})")
                recipe = build_recipe(config, source.example_shape, recipe.num_classes, lr_scale)
                multi_step, _ = compile_steps(recipe)
                if stream is not None:
                    stream.close()
                stream = open_stream(step_now)
                logs.close()
                logs = _Logs(workdir, step_now, enabled=primary)
                progress.reset(total=config.num_steps)
                progress.update(step_now)
                pending, last_eval = [], None
                interval_start, interval_step = time.perf_counter(), step_now
                continue
            if is_log:
                elapsed = time.perf_counter() - interval_start
                record = {"step": step_now, **means,
                          "steps_per_sec": (step_now - interval_step) / elapsed}
                if interval_step == start_step:
                    record["compile_seconds"] = compile_seconds
                if is_eval:
                    eval_start = time.perf_counter()
                    last_eval = per_seed, samples = jax.device_get(evaluate(one_copy(states)))
                    record.update(_eval_record(per_seed))
                    # The first evaluation's time includes compiling it.
                    record["eval_seconds"] = time.perf_counter() - eval_start
                    if primary:
                        _plot_samples(os.path.join(samples_dir, f"step_{step_now:07d}.png"),
                                      source, samples, per_seed, seeds, step_now,
                                      recipe.num_classes)
                logs.write(record)
                progress.set_postfix(d_loss=f"{means['d_loss']:.3f}",
                                     g_loss=f"{means['g_loss']:.3f}", refresh=False)
                if not sys.stderr.isatty():
                    # Per-class accuracies stay in metrics.jsonl: too many for a line.
                    say(" ".join(f"{n}={v:.4g}" if isinstance(v, float) else f"{n}={v}"
                                 for n, v in record.items()
                                 if not n.startswith("label_accuracy_class_")))
                pending = []
            if one_process:
                stopping = interrupt.raised
            else:  # all processes must save together: they agree where all of them pass
                stopping = (is_log or is_save) and parallel.any_process(interrupt.raised)
            stopping = stopping and step_now < config.num_steps
            if is_save or stopping:  # the state passed the divergence check above
                checkpointer.save(step_now, one_copy(states), saved_config())
            if stopping:
                raise Interrupted(f"interrupted at step {step_now}; saved a checkpoint there; "
                                  "run the same command to resume")
            if not pending:
                # steps_per_sec counts train steps only: logging, evaluation and
                # checkpointing happen between intervals.
                interval_start, interval_step = time.perf_counter(), step_now
    finally:
        interrupt.restore()
        progress.close()
        logs.close()
        checkpointer.close()
        if stream is not None:
            stream.close()

    states = one_copy(states)
    final_png = os.path.join(samples_dir, "final.png")
    if last_eval is not None:  # the loop just evaluated this state
        per_seed, samples = last_eval
        if primary:
            shutil.copyfile(os.path.join(samples_dir, f"step_{step_now:07d}.png"), final_png)
    else:  # resumed a finished run: evaluate it again
        per_seed, samples = jax.device_get(evaluate(states))
        if primary:
            _plot_samples(final_png, source, samples, per_seed, seeds, step_now,
                          recipe.num_classes)
    final = {"step": int(step_now), "num_seeds": int(config.num_seeds),
             **summarize_seeds(per_seed)}
    if classifier is not None:
        # What the classifier makes of held-out real images: the yardstick for
        # the generated images' scores.
        final["classifier_accuracy"] = classifier.accuracy
        final["real_confident_fraction"] = classifier.holdout_confident_fraction
    final.update(floor)
    if not primary:
        return final
    _write_json(os.path.join(workdir, "eval.json"), final)
    # With num_final_samples == num_eval_samples these are the evaluated samples.
    final_labels = eval_labels(recipe, config.num_final_samples)
    final_points = np.asarray(jax.vmap(lambda s: generate(
        recipe, s, eval_key, config.num_final_samples, final_labels))(states), np.float32)
    arrays = {"images": final_points[0], "images_per_seed": final_points}
    if final_labels is not None:
        arrays["labels"] = np.asarray(final_labels, np.int32)
    tmp = os.path.join(samples_dir, "final.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(samples_dir, "final.npz"))
    viz.plot_losses(logs.metrics_path, os.path.join(samples_dir, "losses.png"))
    return final


@jax.jit
def _all_finite(states: GANState) -> jax.Array:
    """Whether every float in the state (parameters, BatchNorm statistics,
    optimizer moments) is finite."""
    leaves = [leaf for leaf in jax.tree.leaves(states) if jnp.issubdtype(leaf.dtype, jnp.floating)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def _divergence(means: dict[str, float], states: GANState) -> str | None:
    """What is non-finite in the interval's mean metrics or the parameters, or ``None``."""
    bad = [f"{name}={value}" for name, value in means.items() if not math.isfinite(value)]
    if not bool(_all_finite(states)):
        bad.append("non-finite parameters or optimizer state")
    return ", ".join(bad) if bad else None


class _InterruptFlag:
    """Turns the first Ctrl-C into a flag that the loop checks after each call
    (so it stops with a consistent state and saves it); a second Ctrl-C
    interrupts at once. Only where Ctrl-C has Python's default meaning: a
    process that ignores SIGINT (started in the background) or a host
    program with its own handler keeps it."""

    def __init__(self):
        self.raised = False
        self._previous = None
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True
        tqdm.write("interrupt: saving a checkpoint after this call (Ctrl-C again to abort)",
                   file=sys.stderr)

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class _Layout:
    """Where the fit loop's arrays live for ``config.parallel``, and the
    program that trains on them (see :mod:`jaxgan.parallel`)."""

    def __init__(self, mode: str, num_devices: int, mesh, n_disc: int, seeds: str):
        self.mode, self.num_devices, self.mesh, self.n_disc = mode, num_devices, mesh, n_disc
        self.seeds = seeds  # vmap | map: see SEED_BATCHING

    def put_state(self, tree):
        """A state (or a device-resident dataset) where every device holds it."""
        if tree is None or self.mode == "none":
            return tree
        if self.mode == "pmap":
            return parallel.replicate(tree)
        return parallel.put_global(tree, parallel.replicated(self.mesh))

    def stream_spec(self, shapes: dict[str, tuple]) -> dict[str, Any]:
        """Stand-ins, to compile for, for the arrays that :meth:`put_stream`
        makes of one call's host batches ``{name: (shape [steps, examples, ...],
        dtype)}``."""
        specs = {}
        for name, (shape, dtype) in shapes.items():
            if self.mode == "pmap":
                # Zeros rather than shapes: a multi-process pmap lowers only arrays.
                local = len(jax.local_devices())
                specs[name] = parallel.put_per_device(np.zeros(
                    (local, shape[0], shape[1] // self.num_devices, *shape[2:]), dtype))
            else:
                sharding = parallel.batch_sharding(self.mesh) if self.mode == "jit" else None
                specs[name] = jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)
        return specs

    def put_stream(self, host: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """One call's host batches ``[steps, n_disc * batch_size, ...]`` -> the devices."""
        if self.mode == "jit":
            return parallel.put_global(host, parallel.batch_sharding(self.mesh))
        if self.mode == "none":
            return jax.device_put(host)

        def per_device(x):  # pmap: device d gets its rows of every update's batch
            steps, examples = x.shape[:2]
            updates = x.reshape(steps, self.n_disc, examples // self.n_disc, *x.shape[2:])
            split = parallel.split_per_device(updates, self.num_devices, axis=2)
            return split.reshape(self.num_devices, steps, examples // self.num_devices,
                                 *x.shape[2:])

        return parallel.put_per_device(parallel.local_slices(jax.tree.map(per_device, host)))

    def program(self, recipe: GANRecipe, sampler, batch_size: int, steps: int, streamed: bool):
        """``steps`` steps of every seed in one call, not yet compiled."""
        if self.mode == "pmap":
            step = make_sampling_step(make_train_step(recipe, parallel.AXIS), sampler, batch_size,
                                      self.n_disc, axis_name=parallel.AXIS,
                                      data_is_local=streamed)
            return jax.pmap(over_seeds(make_multi_step(step, steps, stacked=streamed),
                                       self.seeds), parallel.AXIS, donate_argnums=0,
                            devices=jax.devices())  # the order parallel's layouts use
        sharding = parallel.batch_sharding(self.mesh) if self.mode == "jit" else None
        step = make_sampling_step(make_train_step(recipe), sampler, batch_size, self.n_disc,
                                  batch_sharding=sharding)
        many = over_seeds(make_multi_step(step, steps, stacked=streamed), self.seeds)
        if self.mode == "none":
            return jax.jit(many, donate_argnums=0)
        replicated = parallel.replicated(self.mesh)
        return jax.jit(many, in_shardings=(replicated, sharding if streamed else replicated),
                       out_shardings=replicated, donate_argnums=0)


def _place_on_device(config: ml_collections.ConfigDict, source: ArraySource) -> bool:
    """Whether to keep the dataset on the device (else stream it from the host)."""
    placement = _option(config, "data_placement")
    if placement != "auto":
        return placement == "device"
    stats = jax.local_devices()[0].memory_stats() or {}
    limit = stats.get("bytes_limit")
    # Backends that report no limit (the CPU) share the host's memory: keep it.
    return limit is None or source.nbytes <= _DEVICE_DATA_SHARE * limit


def classifier_dir(config: ml_collections.ConfigDict, workdir: str) -> str:
    """Where the scoring classifier is cached: ``config.classifier_dir`` (a
    cache shared between runs) or ``<workdir>/classifier``."""
    return os.path.expanduser(_option(config, "classifier_dir")
                              or os.path.join(workdir, "classifier"))


def _wants_classifier(config: ml_collections.ConfigDict,
                      source: Mixture | ArraySource) -> bool:
    """Whether the run scores its samples with a classifier: the config asks
    (``classifier_steps > 0``) and the data has labels."""
    return bool(_option(config, "classifier_steps") and isinstance(source, ArraySource)
                and source.labels is not None)


def _check_feature_sizes(config: ml_collections.ConfigDict, source: Mixture | ArraySource,
                         user_features: Features | None) -> None:
    """Refuses, before anything is trained, sample sizes too small for the
    distribution metrics (precision and recall need more points than
    neighbours, in the samples and in the held-out real data)."""
    held_out = (config.num_eval_samples if isinstance(source, Mixture) else
                len(holdout_split(source.num_examples, EVAL_SEED)[1]))
    smallest = min(config.num_eval_samples, held_out)
    if smallest <= PR_NEIGHBOURS:
        raise ConfigError(
            f"the distribution metrics compare sets of at least {PR_NEIGHBOURS + 1} examples; "
            f"this run has {smallest} (num_eval_samples={config.num_eval_samples}, "
            f"{held_out} held-out real examples); raise num_eval_samples or use a larger "
            "dataset" + (", or set classifier_steps=0" if user_features is None else ""))


def _fit_classifier(config: ml_collections.ConfigDict, source: Mixture | ArraySource,
                    workdir: str) -> FittedClassifier | None:
    """The classifier that scores samples (cached), if the config asks and labels exist."""
    if not _wants_classifier(config, source):
        return None
    steps = _option(config, "classifier_steps")
    start = time.perf_counter()

    def log(line: str) -> None:  # from the first process only
        if parallel.is_primary():
            tqdm.write(line, file=sys.stderr)

    # In a multi-process run every process loads the cache, or fits the same
    # classifier without storing it (orbax would wait for the others to save).
    classifier = load_or_fit_classifier(
        source, classifier_dir(config, workdir), num_steps=steps, seed=EVAL_SEED, log=log,
        write_cache=jax.process_count() == 1)
    log(f"classifier: held-out accuracy {classifier.accuracy:.3f}, confident on "
        f"{classifier.holdout_confident_fraction:.1%} of held-out real images "
        f"({time.perf_counter() - start:.0f} s)")
    return classifier


class TrainedRun(NamedTuple):
    """A finished (or checkpointed) run, restored from its workdir."""

    config: ml_collections.ConfigDict
    source: Mixture | ArraySource
    recipe: GANRecipe
    states: GANState  # one per seed, stacked
    step: int


def restore_run(workdir: str) -> TrainedRun:
    """Rebuilds a run's GAN from ``workdir``'s config.json and latest checkpoint.

    Raises:
      ConfigError: no trained run there, or its checkpoint does not fit its
        config; one line naming the workdir and the fix.
    """
    config_path = os.path.join(workdir, "config.json")
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    if not os.path.exists(config_path) or not os.path.isdir(checkpoint_dir):
        raise ConfigError(f"{workdir} holds no trained run (no config.json or checkpoints/); "
                          f"train one first with experiments/train.py --workdir {workdir}")
    with open(config_path) as f:
        config = ml_collections.ConfigDict(json.load(f))
    # The checkpoint holds one copy of the state, whatever trained it; a
    # reader needs no data parallelism (nor its batch to split over devices).
    config.parallel = "none"
    source, recipe, _, states = _build_gan(config)
    checkpointer = checkpoint_lib.Checkpointer(checkpoint_dir, config.keep_checkpoints)
    try:
        # A reader: it may run beside the training, so it moves nothing.
        latest = checkpointer.restore_latest(like=states, set_aside=False)
    except checkpoint_lib.CheckpointMismatchError as e:
        raise ConfigError(f"the newest checkpoint in {checkpoint_dir} does not fit "
                          f"{config_path} ({e})") from e
    except checkpoint_lib.CheckpointUnreadableError as e:
        raise ConfigError(str(e)) from e
    finally:
        checkpointer.close()
    if latest is None:
        raise ConfigError(f"{checkpoint_dir} holds no readable checkpoint; let the run reach "
                          "its first checkpoint_every")
    step, _, states = latest
    return TrainedRun(config, source, recipe, states, step)


def headline_metrics(result: dict[str, Any]) -> list[str]:
    """The names of the final metrics worth printing on one line."""
    return [name for name in ("modes_covered", "high_quality_fraction", "reverse_kl",
                              "confident_fraction", "classes_covered", "class_kl",
                              "label_accuracy", "frechet_distance", "kid", "precision",
                              "recall", "real_frechet_distance")
            if name in result]


def default_workdir(config: ml_collections.ConfigDict) -> str:
    """``runs/<dataset>``; for ``npz:``/``folder:`` data, the file or folder's name."""
    name = config.dataset.split(":", 1)[-1]
    name = os.path.splitext(os.path.basename(os.path.normpath(name)))[0]
    return os.path.join("runs", name)


__all__ = ["ConfigError", "build_recipe", "build_source", "check_resumable", "classifier_dir",
           "default_workdir", "eval_labels", "evaluation_key", "headline_metrics", "make_evaluate",
           "num_classes", "over_seeds", "real_examples", "real_floor",
           "restore_run", "seed_batching", "summarize_seeds", "train_and_evaluate",
           "validate_config"]
