"""The evaluation protocol of a run, as one object the loop and the scripts share.

:class:`Evaluation` fixes, once per run, everything that makes evaluations
comparable: the latents (from :func:`evaluation_key`, which does not depend on
the run's seed), the classes asked of a conditional generator
(:func:`eval_labels`), the real reference data and their features, and the
real-data floor (:func:`real_floor`). Calling it on stacked states returns
each seed's metrics and samples from one jitted program:

- a mixture of known modes (:class:`jaxgan.data.ModeMixture`) is scored by
  mode coverage;
- labelled images by the scoring classifier (:mod:`jaxgan.metrics.classifier`);
  a class-conditional GAN's ``label_accuracy`` beside its ceiling, the
  classifier's accuracy on held-out real images of each class
  (:func:`real_label_accuracy`); Stacked MNIST's ``modes_covered`` and
  ``reverse_kl`` beside those of as many real stacked examples
  (:func:`jaxgan.metrics.stacked.real_mode_scores`);
- with a feature function (the classifier's penultimate layer by default, or
  the user's), by the distribution metrics (Frechet distance, KID,
  precision/recall; :mod:`jaxgan.metrics.distribution`) against the real
  reference;
- with a user's ``metric_fn(samples)`` (``metric_fn(samples, labels)`` for a
  conditional GAN), by whatever it returns.

A translation recipe (``recipe.translation``, Pix2Pix) is evaluated on the
source's held-out pairs (:class:`jaxgan.data.pairs.PairedSource`) rather
than on latents: its outputs for the held-out inputs are its samples, scored
against their targets (L1, PSNR: :mod:`jaxgan.metrics.translation`), by the
classifier of the target domain (``label_accuracy``: the share of outputs
that show the input's class), by the distribution metrics against the real
reference, and by ``target_frechet_distance``: the Frechet distance of the
outputs to the held-out targets of the same inputs, as translation papers
score a test set. It compares two sets that the classifier never trained on,
where the reference is its training images, which its features hold closer
together than unseen ones (``experiments/results/README.md``, "Which real
digits to compare with"). Its floor is 0, the targets themselves; the
reference's own distance to the targets is ``real_frechet_distance``. A
CycleGAN on two unpaired domains (:class:`jaxgan.data.UnpairedSource`) has
no targets: :class:`TwoWayEvaluation` scores each direction so (its inputs
the held-out images of one domain, the other domain the real data and the
classifier's), and the round trip back to the inputs (``cycle_l1``,
``cycle_psnr``); the direction B to A's metrics carry the prefix
:data:`BACKWARD_PREFIX`. :func:`build_evaluation` builds the right one, with
its classifiers.

A state with a generator moving average is scored on the average, and its
live generator too under the prefix :data:`NO_EMA_PREFIX`.

The fit loop builds one for its run; a script reading a finished run builds
the same one with :meth:`Evaluation.of_run`, and reads one seed's evaluation
samples (:meth:`Evaluation.generate`) or compares any set of features with
the real reference (:meth:`Evaluation.compare`) without re-deriving the
latents, classes, real data or keys by hand.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxgan import parallel
from jaxgan.data.arrays import to_unit_range
from jaxgan.data.source import HostArrays, ModeMixture
from jaxgan.data.stacked import StackedSource
from jaxgan.data.unpaired import UnpairedSource
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
from jaxgan.metrics.frechet import frechet_distance_from_features
from jaxgan.metrics.stacked import (
    StackedClassifier,
    fit_stacked_classifier,
    mode_scores,
    real_mode_scores,
)
from jaxgan.metrics.translation import translation_metrics
from jaxgan.programs import over_seeds
from jaxgan.state import GANRecipe, GANState

Features = Callable[[jax.Array], jax.Array]
MetricFn = Callable[..., dict[str, jax.Array]]

# The scoring classifier, its held-out split and the evaluation latents do not
# depend on the run's seed: runs that differ only in their seed are measured
# with the same yardstick (and share one cached classifier).
EVAL_SEED = 0
# Latents for evaluation come from a key of their own, fixed for the whole run,
# so that evaluation curves compare like with like.
EVAL_KEY_TAG = 0x0E7A1
# Folded into the evaluation key for KID's subsets (1 and 2 draw a mixture's real sets).
KID_KEY_TAG = 3
# Folded into the evaluation key for a translation generator's noise (noise_keys).
NOISE_KEY_TAG = 4
# Evaluation generates and reads its samples this many at a time (lax.map), so
# that its memory does not grow with the number of samples.
EVAL_CHUNK = 500
# Metrics of the live generator, beside those of its moving average, get this prefix.
NO_EMA_PREFIX = "no_ema_"
# The distribution metrics of held-out real data against the real reference
# (the best a generator can hope for) get this prefix.
REAL_PREFIX = "real_"
# A CycleGAN's metrics of the direction B to A get this prefix (A to B's none).
BACKWARD_PREFIX = "ba_"
# Spreads a self-conditioned recipe's evaluation labels (eval_labels).
GOLDEN_RATIO = (1 + 5 ** 0.5) / 2


def is_self_conditioned(recipe) -> bool:
    """Whether ``recipe`` is conditioned on clusters of its own data
    (``GANRecipe.label_frequencies``): unconditional to its users, and scored so."""
    return bool(getattr(recipe, "self_conditioned", False))


def asked_classes(recipe) -> int:
    """The classes a user asks ``recipe``'s generator for: its ``num_classes``,
    or 0 for an unconditional or self-conditioned recipe (sample grids draw
    one row per asked class)."""
    return 0 if is_self_conditioned(recipe) else recipe.num_classes


def eval_labels(recipe: GANRecipe, num: int) -> jax.Array | None:
    """The labels a conditional generator is given in evaluation.

    For classes: ``k mod num_classes`` for sample ``k``, so every class gets
    the same share. For a self-conditioned recipe, its clusters in their
    shares of the data (``label_frequencies``), as its sampler draws them:
    the ``num`` points ``(j + 1/2) / num`` of [0, 1) each take the cluster
    whose interval of the cumulative shares holds them, so every cluster gets
    its share to within one sample; sample ``k`` takes point ``j = k * s mod
    num``, with ``s`` near ``num`` over the golden ratio and coprime with it,
    so that neighbouring samples come from far-apart points, and a grid of
    the first samples shows many clusters.
    """
    if not recipe.conditional:
        return None
    if not is_self_conditioned(recipe):
        return jnp.arange(num) % recipe.num_classes
    stride = max(1, round(num / GOLDEN_RATIO))
    while math.gcd(stride, num) != 1:
        stride += 1
    points = ((np.arange(num) * stride) % num + 0.5) / num
    found = np.searchsorted(np.cumsum(recipe.label_frequencies), points, side="right")
    return jnp.asarray(np.minimum(found, recipe.num_classes - 1), jnp.int32)


def evaluation_key(seed: int = EVAL_SEED) -> jax.Array:
    """The key of a run's evaluation latents (and, for a mixture, its real
    reference sets), fixed for the whole run: see ``EVAL_SEED``."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), EVAL_KEY_TAG)


def kid_key(eval_key: jax.Array) -> jax.Array:
    """The key of KID's random subsets, derived from the evaluation key."""
    return jax.random.fold_in(eval_key, KID_KEY_TAG)


def real_examples(source, num: int, seed: int = EVAL_SEED) -> tuple[jax.Array, jax.Array]:
    """Real data for the distribution metrics: ``(reference, held_out)``.

    For a dataset held as arrays, up to ``num`` of the examples that the
    scoring classifier trains on, and up to ``num`` of those it holds out
    (:func:`holdout_split` with ``seed``); for a mixture, two samples of
    ``num`` points; otherwise the source's own ``real_examples(num, seed)``.
    """
    if isinstance(source, ModeMixture):
        key = evaluation_key(seed)
        return tuple(source.sample(jax.random.fold_in(key, i), num) for i in (1, 2))
    if isinstance(source, HostArrays):
        train_indices, holdout_indices = holdout_split(source.num_examples, seed)
        return tuple(to_unit_range(jnp.asarray(source.images[np.sort(indices[:num])]))
                     for indices in (train_indices, holdout_indices))
    if hasattr(source, "real_examples"):
        return source.real_examples(num, seed)
    raise ValueError(f"{source.name} offers no real examples to compare features with; give "
                     "it real_examples(num, seed) -> (reference, held_out), or pass no features")


def real_label_accuracy(classifier: FittedClassifier, source: HostArrays,
                        seed: int = EVAL_SEED) -> dict[str, float]:
    """The ceiling of a conditional GAN's ``label_accuracy``: how often the
    scoring classifier reads the held-out real images of each class
    (:func:`holdout_split` with ``seed``) as that class, as
    ``real_label_accuracy`` and ``real_label_accuracy_class_k``. A class that
    the classifier misreads in real digits is misread in perfect samples too."""
    held_out = np.sort(holdout_split(source.num_examples, seed)[1])
    images = to_unit_range(jnp.asarray(source.images[held_out]))
    predicted = jax.jit(lambda x: jnp.argmax(map_in_chunks(classifier.probabilities, x,
                                                           EVAL_CHUNK), -1))(images)
    scores = label_accuracy(predicted, jnp.asarray(source.labels[held_out]),
                            source.num_classes)
    return {REAL_PREFIX + name: float(value) for name, value in scores.items()}


def is_translation(recipe) -> bool:
    """Whether ``recipe`` translates images (evaluated on held-out pairs)."""
    return bool(getattr(recipe, "translation", False))


def noise_keys(eval_key: jax.Array, num: int) -> jax.Array:
    """``[num]`` keys, one per held-out input, for a translation generator's
    noise. Input ``i``'s key depends on ``i`` alone, so the first ``n`` outputs
    of an evaluation are those of ``samples/final.npz`` with ``n`` pairs."""
    base = jax.random.fold_in(eval_key, NOISE_KEY_TAG)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num))


def sample_translations(recipe, state, inputs: jax.Array, keys: jax.Array,
                        ema: bool = True) -> jax.Array:
    """``recipe``'s outputs for ``inputs [N, ...]``, each with its generator's
    noise drawn from its own key of ``keys [N]`` (a Pix2Pix U-Net's dropout,
    as the paper samples at test time; BatchNorm in inference): an output
    depends on its input and key alone, not on what else shares the call.

    Evaluation samples a translation generator so, not with its noise off:
    trained to draw with its dropout on, the U-Net draws a blend of its
    completions without it (on the digit completion task the Frechet distance
    of the held-out outputs is twice as far from the real digits'). A
    generator with no dropout is deterministic either way. A CycleGAN's
    round trip (``translate_back``) maps the sampled outputs back with its
    noise off."""
    return jax.vmap(lambda x, k: recipe.translate(state, x[None], ema, key=k)[0])(inputs, keys)


# Why a translation recipe refuses the truncation trick.
NO_LATENTS = ("truncation applies to latents, and a translation generator takes images; set "
              "truncation=0")


def evaluation_inputs(recipe: GANRecipe, source, num_samples: int,
                      eval_key: jax.Array, truncation: float = 0.0) -> dict[str, jax.Array]:
    """What the generator is evaluated on: ``conditions`` (the latents, or a
    translation recipe's held-out inputs), ``labels`` (the classes asked of a
    conditional generator, or the held-out pairs' classes; ``None`` where
    there are none) and, for translation, ``targets`` and ``keys`` (the
    generator's noise for each input: :func:`noise_keys`). ``truncation`` >
    0 draws the latents with the truncation trick
    (:meth:`jaxgan.state.GANRecipe.sample_latent`).

    Raises:
      ValueError: ``truncation`` is set for a translation recipe (it has no latents).
    """
    if is_translation(recipe):
        if truncation:
            raise ValueError(NO_LATENTS)
        pairs = source.held_out_pairs(num_samples)
        return {"conditions": pairs["inputs"], "labels": pairs.get("labels"),
                "targets": pairs.get("targets"),
                "keys": noise_keys(eval_key, pairs["inputs"].shape[0])}
    # Only a truncated draw passes the argument: a recipe of the user's own
    # (jaxgan.loop.Trainable) need not take it.
    latents = (recipe.sample_latent(eval_key, num_samples, truncation=truncation)
               if truncation else recipe.sample_latent(eval_key, num_samples))
    return {"conditions": latents, "labels": eval_labels(recipe, num_samples)}


def make_evaluate(recipe: GANRecipe, source, num_samples: int, eval_key: jax.Array,
                  classifier: FittedClassifier | None = None,
                  features: Features | None = None, real_features: jax.Array | None = None,
                  seeds: str = "vmap", metric_fn: MetricFn | None = None,
                  truncation: float = 0.0):
    """Returns ``evaluate(states) -> (per-seed metrics, per-seed samples)``, jitted.

    Every seed is evaluated on the same latent vectors (and, for a conditional
    GAN, the classes of :func:`eval_labels`), generated ``EVAL_CHUNK`` at a
    time. See the module docstring for what is scored. ``seeds`` (``vmap``
    or ``map``) says how the seeds share the program, as in
    :func:`jaxgan.programs.over_seeds`.
    """
    if (features is None) != (real_features is None):
        raise ValueError("pass both features and real_features (the real data's features), "
                         "or neither")
    translation = is_translation(recipe)
    # A direction of a CycleGAN maps its outputs back: the round trip is scored.
    round_trip = translation and hasattr(recipe, "translate_back")
    inputs = evaluation_inputs(recipe, source, num_samples, eval_key, truncation)
    labels = inputs["labels"]
    num_classes = recipe.num_classes or (source.num_classes if translation else 0)
    # A self-conditioned GAN's labels are clusters, not classes: its samples
    # are scored against the data's classes, as an unconditional GAN's are.
    classes_asked = labels is not None and not is_self_conditioned(recipe)
    subsets_key = kid_key(eval_key)
    compare = features is not None  # real_features too, as checked above
    # Translation with targets: the outputs are also compared with the targets
    # of the same held-out inputs (target_frechet_distance; module docstring).
    target_features = None
    if compare and translation and inputs.get("targets") is not None:
        target_features = features_in_chunks(features, inputs["targets"])
    # The default features are the classifier's own: one pass gives both.
    features_from_classifier = classifier is not None and features == classifier.features
    mixture = isinstance(source, ModeMixture)

    def score(state: GANState, ema: bool, real_features: jax.Array | None,
              target_features: jax.Array | None):
        def read(chunk):  # one chunk: samples and what the networks make of them
            conditions, chunk_labels, chunk_keys = chunk
            samples = (sample_translations(recipe, state, conditions, chunk_keys, ema)
                       if translation else recipe.generate(state, conditions, chunk_labels, ema))
            out = {"samples": samples}
            if round_trip:
                out["cycled"] = recipe.translate_back(state, samples)
            if compare and features_from_classifier:
                out["probabilities"], out["features"] = (
                    classifier.probabilities_and_features(samples))
            else:
                if classifier is not None:
                    out["probabilities"] = classifier.probabilities(samples)
                if compare:
                    out["features"] = features(samples)
            return out

        out = map_in_chunks(read, (inputs["conditions"], labels, inputs.get("keys")),
                            EVAL_CHUNK)
        samples, metrics = out["samples"], {}
        if translation and inputs["targets"] is not None:
            metrics.update(translation_metrics(samples, inputs["targets"]))
        if round_trip:  # cycle_l1, cycle_psnr: the round trip against the inputs
            metrics.update({f"cycle_{name}": value for name, value in
                            translation_metrics(out["cycled"], inputs["conditions"]).items()})
        predicted = None
        if mixture:
            metrics.update(mode_coverage(samples, source.centers, source.std))
            predicted = nearest_modes(samples, source.centers)[0]
        elif classifier is not None:
            # A conditional GAN is asked for balanced classes: compare with those.
            frequencies = (jnp.bincount(labels, length=num_classes) / labels.shape[0]
                           if classes_asked else classifier.class_frequencies)
            metrics.update(classifier_scores(out["probabilities"], frequencies))
            if isinstance(classifier, StackedClassifier):  # Stacked MNIST's own scores
                metrics.update(mode_scores(out["probabilities"]))
            predicted = jnp.argmax(out["probabilities"], -1)
        if compare:
            metrics.update(distribution_metrics(real_features, out["features"], subsets_key))
        if target_features is not None:
            metrics["target_frechet_distance"] = frechet_distance_from_features(
                target_features, out["features"])
        if classes_asked and predicted is not None:
            # For translation: how often the output shows the input's class.
            metrics.update(label_accuracy(predicted, labels, num_classes))
        if metric_fn is not None:
            metrics.update(metric_fn(samples, labels) if recipe.conditional
                           else metric_fn(samples))
        return metrics, samples

    def evaluate_one(state: GANState, compared: tuple[jax.Array | None, jax.Array | None]):
        real_features, target_features = compared
        metrics, samples = score(state, True, real_features, target_features)
        if recipe.has_moving_average:
            live, _ = score(state, False, real_features, target_features)
            metrics.update({NO_EMA_PREFIX + name: value for name, value in live.items()})
        return metrics, samples

    # The real features are arguments, not constants folded into the program.
    evaluate = jax.jit(over_seeds(evaluate_one, seeds))
    return lambda states: evaluate(states, (real_features, target_features))


def features_in_chunks(features: Features, images: jax.Array) -> jax.Array:
    """``features(images)``, jitted, ``EVAL_CHUNK`` images at a time."""
    return jax.jit(lambda x: map_in_chunks(features, x, EVAL_CHUNK))(images)


def real_floor(features: Features, reference: jax.Array, held_out: jax.Array,
               eval_key: jax.Array) -> tuple[jax.Array, dict[str, float]]:
    """The reference's features, and the distribution metrics of held-out real
    data against them (named ``real_...``): the floor that generated data is
    measured against."""
    reference_features, held_out_features = (
        features_in_chunks(features, x) for x in (reference, held_out))
    floor = jax.jit(distribution_metrics)(reference_features, held_out_features,
                                          kid_key(eval_key))
    return reference_features, {REAL_PREFIX + name: float(value) for name, value in floor.items()}


def summarize_seeds(per_seed: dict[str, np.ndarray]) -> dict[str, Any]:
    """Flat summary: each metric's mean, standard error and per-seed list. With
    one seed the standard error is unknown: ``None`` (JSON null), not 0."""
    summary: dict[str, Any] = {}
    for name, values in per_seed.items():
        values = np.asarray(values, np.float64)
        summary[name] = float(values.mean())
        summary[f"{name}_stderr"] = (float(values.std(ddof=1) / math.sqrt(values.size))
                                     if values.size > 1 else None)
        summary[f"{name}_per_seed"] = values.tolist()
    return summary


def wants_classifier(source, classifier_steps: int) -> bool:
    """Whether a run scores its samples with a classifier: it asks
    (``classifier_steps > 0``) and the data are arrays with labels, stacked
    digits (read channel by channel), or translation data whose inputs and
    output domain both have classes (for two unpaired domains, both ways)."""
    if not classifier_steps:
        return False
    if isinstance(source, UnpairedSource):
        return all(wants_classifier(source.direction(backward), classifier_steps)
                   for backward in (False, True))
    if hasattr(source, "targets_source"):  # paired data, or one direction of unpaired
        return source.labels is not None and source.targets_source.labels is not None
    return (isinstance(source, StackedSource)
            or isinstance(source, HostArrays) and source.labels is not None)


def check_sample_sizes(source, num_samples: int, hint: str = "") -> None:
    """Refuses, before anything is trained, sample sizes too small for the
    distribution metrics (precision and recall need more points than
    neighbours, in the samples and in the held-out real data).

    Raises:
      ValueError: one line, naming the sizes and the fix (``hint`` adds one).
    """
    if isinstance(source, HostArrays):
        held_out = len(holdout_split(source.num_examples, EVAL_SEED)[1])
    elif hasattr(source, "num_held_out"):  # translation: outputs and real data both held out
        held_out = source.num_held_out
    else:
        held_out = num_samples
    smallest = min(num_samples, held_out)
    if smallest <= PR_NEIGHBOURS:
        raise ValueError(
            f"the distribution metrics compare sets of at least {PR_NEIGHBOURS + 1} examples; "
            f"this run has {smallest} (num_eval_samples={num_samples}, "
            f"{held_out} held-out real examples); raise num_eval_samples or use a larger "
            "dataset" + hint)


class Evaluation:
    """One run's evaluation protocol: see the module docstring.

    Args:
      recipe: the GAN, a :class:`jaxgan.loop.Trainable` (only its
        ``generate``, ``sample_latent``, classes and ``has_moving_average``
        matter, so the evaluation outlives a rollback's new optimizers).
      source: the training data.
      num_samples: generated samples per seed and evaluation.
      classifier: the scoring classifier, or ``None``.
      features: ``images [N, ...] -> [N, D]`` for the distribution metrics;
        the classifier's features by default when there is a classifier.
      metric_fn: the user's own metrics of the samples (module docstring).
      seeds: ``vmap`` or ``map``.
      log: where to report the real-data floor (a line), or ``None``.
      truncation: > 0 draws the latents of evaluations and final samples
        with the truncation trick (:meth:`jaxgan.state.GANRecipe.sample_latent`);
        0 from the full prior, as in training.

    Attributes:
      key: the evaluation key (:func:`evaluation_key`).
      truncation: the truncation threshold of its latents (0: none).
      features: the feature function in use (the classifier's by default),
        or ``None``.
      reference_features: the real reference's features, ``[N, D]``, that
        samples are compared with, or ``None`` without features.
      floor: the real-data floor (``real_...``, :func:`real_floor`) and the
        sizes of the two real sets behind it (empty without features); with
        a stacked dataset's classifier, also that of the mode scores
        (:func:`jaxgan.metrics.stacked.real_mode_scores`).
    """

    def __init__(self, recipe: GANRecipe, source, num_samples: int, *,
                 classifier: FittedClassifier | None = None, features: Features | None = None,
                 metric_fn: MetricFn | None = None, seeds: str = "vmap",
                 log: Callable[[str], None] | None = None, truncation: float = 0.0):
        self.recipe, self.source, self.num_samples = recipe, source, num_samples
        self.truncation = truncation
        self.classifier = classifier
        self.key = evaluation_key()
        if features is None and classifier is not None:
            features = classifier.features
        self.features = features
        real_features, self.floor = None, {}
        if features is not None:
            reference, held_out = real_examples(source, num_samples, EVAL_SEED)
            real_features, self.floor = real_floor(features, reference, held_out, self.key)
            if log is not None:
                log(f"real data: {len(held_out)} held-out against {len(reference)} reference "
                    f"examples: Frechet distance {self.floor['real_frechet_distance']:.3g}, KID "
                    f"{self.floor['real_kid']:.3g}, precision {self.floor['real_precision']:.3f}"
                    f", recall {self.floor['real_recall']:.3f} (the floor)")
            self.floor["real_floor_num_examples"] = len(held_out)
            self.floor["real_reference_num_examples"] = len(reference)
        if (classifier is not None and asked_classes(recipe) and not is_translation(recipe)
                and isinstance(source, HostArrays) and source.labels is not None):
            self.floor.update(real_label_accuracy(classifier, source))
            if log is not None:
                per_class = [self.floor[f"{REAL_PREFIX}label_accuracy_class_{k}"]
                             for k in range(source.num_classes)]
                log(f"real data: the classifier reads {self.floor['real_label_accuracy']:.3f} "
                    f"of held-out real images as their class ({min(per_class):.3f} to "
                    f"{max(per_class):.3f} by class): the ceiling of label_accuracy")
        if isinstance(classifier, StackedClassifier):
            self.floor.update(real_mode_scores(classifier, source, num_samples, EVAL_SEED))
            if log is not None:
                log(f"real data: {num_samples} real stacked examples cover "
                    f"{self.floor['real_modes_covered']:.0f} modes with reverse KL "
                    f"{self.floor['real_reverse_kl']:.3f} by the classifier (the floor)")
        self.reference_features = real_features
        self._evaluate = make_evaluate(recipe, source, num_samples, self.key, classifier,
                                       features, real_features, seeds, metric_fn, truncation)

    @classmethod
    def of_run(cls, run, workdir: str, *, classifier_steps: int | None = None,
               features: Features | None = None, metric_fn: MetricFn | None = None,
               seeds: str = "vmap", log: Callable[[str], None] | None = None,
               truncation: float | None = None) -> Evaluation | TwoWayEvaluation:
        """The evaluation protocol of a run trained from a config, as its fit
        loop built it (:func:`build_evaluation`): for scripts that read the run back.

        Args:
          run: the run, as :func:`jaxgan.train.restore_run` returns it (its
            ``config``, ``source`` and ``recipe`` are used).
          workdir: the run's workdir, where its scoring classifier is cached
            unless its config names a shared ``classifier_dir``.
          classifier_steps: the scoring classifier's training steps; the
            run's own ``classifier_steps`` by default. As in the loop, there
            is a classifier when these are > 0 and the data are labelled
            images; it is loaded from the cache, or trained now and cached
            (:func:`fit_scoring_classifier`).
          features, metric_fn, seeds, log: as for :class:`Evaluation`.
          truncation: as for :class:`Evaluation`; the run's own
            ``truncation`` by default.
        """
        # The config module imports the fit loop, which imports this module.
        from jaxgan import config as config_lib

        if classifier_steps is None:
            classifier_steps = config_lib.option(run.config, "classifier_steps")
        if truncation is None:
            truncation = config_lib.option(run.config, "truncation")
        return build_evaluation(
            run.recipe, run.source, run.config.num_eval_samples,
            classifier_steps=classifier_steps,
            cache_dir=classifier_cache_dir(config_lib.option(run.config, "classifier_dir"),
                                           workdir),
            features=features, metric_fn=metric_fn, seeds=seeds, log=log,
            truncation=truncation)

    def __call__(self, states: GANState) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Per-seed metrics and samples of stacked ``states``, on the host."""
        return jax.device_get(self._evaluate(states))

    def final(self, per_seed: dict[str, np.ndarray], step: int,
              num_seeds: int) -> dict[str, Any]:
        """What ``eval.json`` holds: the step, each metric's summary over seeds,
        the classifier's own scores on held-out real data and the floor."""
        final = {"step": int(step), "num_seeds": int(num_seeds), **summarize_seeds(per_seed)}
        if self.classifier is not None:
            # What the classifier makes of held-out real images: the yardstick
            # for the generated images' scores.
            final["classifier_accuracy"] = self.classifier.accuracy
            final["real_confident_fraction"] = self.classifier.holdout_confident_fraction
        if self.truncation:  # the samples scored were drawn with the truncation trick
            final["truncation"] = float(self.truncation)
        final.update(self.floor)
        return final

    def generate(self, state: GANState, ema: bool = True) -> jax.Array:
        """The evaluation samples of one seed's (un-stacked) ``state``: the
        latents and classes that a call scores (a translation recipe's
        held-out inputs), generated in one go, from the moving average unless
        ``ema=False``."""
        inputs = evaluation_inputs(self.recipe, self.source, self.num_samples, self.key,
                                   self.truncation)
        if is_translation(self.recipe):
            return sample_translations(self.recipe, state, inputs["conditions"], inputs["keys"],
                                       ema)
        return self.recipe.generate(state, inputs["conditions"], inputs["labels"], ema)

    def compare(self, features: jax.Array) -> dict[str, jax.Array]:
        """The distribution metrics (:func:`distribution_metrics`) of any
        ``features [M, D]``, e.g. those of part of one seed's samples, against
        the real reference's, with the KID subsets of a call.

        Raises:
          ValueError: the evaluation has no features to compare.
        """
        if self.reference_features is None:
            raise ValueError("this evaluation has no features to compare (no classifier and no "
                             "features were given)")
        return distribution_metrics(self.reference_features, features, kid_key(self.key))

    def final_samples(self, states: GANState, num: int) -> dict[str, np.ndarray]:
        """``samples/final.npz``'s arrays: ``num`` samples of every seed from the
        evaluation key (the evaluated samples when ``num == num_samples``).
        A translation run's hold its first ``num`` held-out pairs:
        ``inputs``, ``images`` (the outputs), and ``targets`` and ``labels``
        where the data have them; a direction of a CycleGAN adds ``cycled``,
        the first seed's outputs translated back."""
        # The same inputs (and noise keys) as an evaluation of num samples.
        inputs = evaluation_inputs(self.recipe, self.source, num, self.key, self.truncation)
        labels = inputs["labels"]
        if is_translation(self.recipe):
            outputs = np.asarray(jax.vmap(lambda s: sample_translations(
                self.recipe, s, inputs["conditions"], inputs["keys"]))(states), np.float32)
            arrays = {"inputs": np.asarray(inputs["conditions"], np.float32),
                      "images": outputs[0], "images_per_seed": outputs}
            if inputs["targets"] is not None:
                arrays["targets"] = np.asarray(inputs["targets"], np.float32)
            if labels is not None:
                arrays["labels"] = np.asarray(labels, np.int32)
            if hasattr(self.recipe, "translate_back"):
                first = jax.tree.map(lambda x: x[0], states)
                arrays["cycled"] = np.asarray(self.recipe.translate_back(
                    first, jnp.asarray(outputs[0])), np.float32)
            return arrays
        points = np.asarray(jax.vmap(lambda s: self.recipe.generate(
            s, inputs["conditions"], labels))(states), np.float32)
        arrays = {"images": points[0], "images_per_seed": points}
        if labels is not None:  # a self-conditioned GAN's are its clusters, not classes
            name = "clusters" if is_self_conditioned(self.recipe) else "labels"
            arrays[name] = np.asarray(labels, np.int32)
        return arrays


def _prefixed(values: dict[str, Any]) -> dict[str, Any]:
    return {BACKWARD_PREFIX + name: value for name, value in values.items()}


class TwoWayEvaluation:
    """The evaluation of a CycleGAN between two unpaired domains: an
    :class:`Evaluation` of each direction (:meth:`jaxgan.cyclegan.CycleGANRecipe.direction`
    over :meth:`jaxgan.data.UnpairedSource.direction`), read as one. It keeps
    :class:`Evaluation`'s interface; the metrics, floor, ``eval.json``
    entries and ``final.npz`` arrays of the direction B to A carry the prefix
    :data:`BACKWARD_PREFIX`, and the samples it returns are A to B's.

    Args:
      recipe: a :class:`jaxgan.cyclegan.CycleGANRecipe` (anything with
        ``direction(backward)``).
      source: the :class:`jaxgan.data.UnpairedSource`.
      num_samples: held-out inputs translated per direction, seed and evaluation.
      classifier_for: ``direction's data -> classifier or None``: the
        scoring classifier of that direction's output domain.
      features, metric_fn, seeds, log: as for :class:`Evaluation`.
    """

    def __init__(self, recipe, source: UnpairedSource, num_samples: int,
                 classifier_for: Callable[[Any], FittedClassifier | None], *,
                 features: Features | None = None, metric_fn: MetricFn | None = None,
                 seeds: str = "vmap", log: Callable[[str], None] | None = None):
        self.recipe, self.source, self.num_samples = recipe, source, num_samples

        def one(backward: bool) -> Evaluation:
            data = source.direction(backward)
            say = None if log is None else (lambda line: log(f"{data.name}: {line}"))
            return Evaluation(recipe.direction(backward), data, num_samples,
                              classifier=classifier_for(data), features=features,
                              metric_fn=metric_fn, seeds=seeds, log=say)

        self.forward, self.backward = one(False), one(True)
        self.classifier, self.features = self.forward.classifier, self.forward.features
        self.key = self.forward.key
        self.reference_features = self.forward.reference_features
        self.floor = {**self.forward.floor, **_prefixed(self.backward.floor)}

    def __call__(self, states) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Per-seed metrics of both directions, and A to B's samples."""
        metrics, samples = self.forward(states)
        backward, _ = self.backward(states)
        return {**metrics, **_prefixed(backward)}, samples

    def final(self, per_seed: dict[str, np.ndarray], step: int,
              num_seeds: int) -> dict[str, Any]:
        """``eval.json``: each direction's :meth:`Evaluation.final`, B to A's prefixed."""
        forward = {name: values for name, values in per_seed.items()
                   if not name.startswith(BACKWARD_PREFIX)}
        backward = {name[len(BACKWARD_PREFIX):]: values for name, values in per_seed.items()
                    if name.startswith(BACKWARD_PREFIX)}
        final = self.forward.final(forward, step, num_seeds)
        final.update(_prefixed({name: value for name, value in
                                self.backward.final(backward, step, num_seeds).items()
                                if name not in ("step", "num_seeds")}))
        return final

    def final_samples(self, states, num: int) -> dict[str, np.ndarray]:
        """``final.npz``: A to B's arrays, and B to A's prefixed."""
        return {**self.forward.final_samples(states, num),
                **_prefixed(self.backward.final_samples(states, num))}

    def generate(self, state, ema: bool = True) -> jax.Array:
        """One seed's evaluation outputs A to B (``self.backward.generate``: B to A)."""
        return self.forward.generate(state, ema)

    def compare(self, features: jax.Array) -> dict[str, jax.Array]:
        """As :meth:`Evaluation.compare`, against domain B's reference."""
        return self.forward.compare(features)


def build_evaluation(recipe, source, num_samples: int, *, classifier_steps: int,
                     cache_dir: str, features: Features | None = None,
                     metric_fn: MetricFn | None = None, seeds: str = "vmap",
                     log: Callable[[str], None] | None = None, truncation: float = 0.0
                     ) -> Evaluation | TwoWayEvaluation:
    """A run's evaluation protocol with its scoring classifier(s), loaded from
    ``cache_dir`` or trained now where the data allow one
    (:func:`wants_classifier`): an :class:`Evaluation`, or for two unpaired
    domains a :class:`TwoWayEvaluation` with a classifier for each.

    Raises:
      ValueError: ``truncation`` is set for two unpaired domains (no latents).
    """

    def classifier_for(data):
        if wants_classifier(data, classifier_steps):
            return fit_scoring_classifier(data, classifier_steps, cache_dir)
        return None

    if isinstance(source, UnpairedSource):
        if truncation:
            raise ValueError(NO_LATENTS)
        return TwoWayEvaluation(recipe, source, num_samples, classifier_for, features=features,
                                metric_fn=metric_fn, seeds=seeds, log=log)
    return Evaluation(recipe, source, num_samples, classifier=classifier_for(source),
                      features=features, metric_fn=metric_fn, seeds=seeds, log=log,
                      truncation=truncation)


def classifier_cache_dir(directory: str | None, workdir: str) -> str:
    """Where a run's scoring classifier is cached: ``directory`` (a cache shared
    between runs) or ``<workdir>/classifier``."""
    return os.path.expanduser(directory or os.path.join(workdir, "classifier"))


def fit_scoring_classifier(source, steps: int,
                           cache_dir: str) -> FittedClassifier | StackedClassifier:
    """The classifier that scores samples, from ``cache_dir`` or trained now
    (with :data:`EVAL_SEED`), with a line on how well it reads real data.
    For stacked digits it is the base digits' classifier read channel by
    channel (:class:`jaxgan.metrics.stacked.StackedClassifier`)."""
    start = time.perf_counter()

    def log(line: str) -> None:  # from the first process only
        if parallel.is_primary():
            tqdm.write(line, file=sys.stderr)

    # In a multi-process run every process loads the cache, or fits the same
    # classifier without storing it (orbax would wait for the others to save).
    stacked = isinstance(source, StackedSource)
    if hasattr(source, "targets_source"):  # translation: the output domain's classifier
        source = source.targets_source
    classifier = load_or_fit_classifier(
        source.base if stacked else source, cache_dir, num_steps=steps, seed=EVAL_SEED, log=log,
        write_cache=jax.process_count() == 1)
    what = "held-out real images"
    if stacked:
        log(f"classifier: {classifier.accuracy:.3f} of held-out real digits read right")
        classifier = fit_stacked_classifier(classifier, source, EVAL_SEED)
        what = f"held-out real stacked images (all {source.channels} digits)"
    log(f"classifier: held-out accuracy {classifier.accuracy:.3f}, confident on "
        f"{classifier.holdout_confident_fraction:.1%} of {what} "
        f"({time.perf_counter() - start:.0f} s)")
    return classifier


__all__ = ["BACKWARD_PREFIX", "EVAL_CHUNK", "EVAL_SEED", "NO_EMA_PREFIX", "REAL_PREFIX",
           "GOLDEN_RATIO", "Evaluation", "Features", "MetricFn", "TwoWayEvaluation",
           "asked_classes", "build_evaluation", "real_label_accuracy",
           "check_sample_sizes", "classifier_cache_dir", "eval_labels", "features_in_chunks",
           "NO_LATENTS", "evaluation_inputs", "evaluation_key", "fit_scoring_classifier",
           "is_self_conditioned",
           "is_translation",
           "kid_key", "make_evaluate", "noise_keys", "sample_translations",
           "real_examples", "real_floor", "summarize_seeds", "wants_classifier"]
