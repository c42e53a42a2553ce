"""Scoring Stacked MNIST (:mod:`jaxgan.data.stacked`): modes covered and the
reverse KL of the mode histogram.

The scoring classifier is trained on the base digits (one channel, 10
classes) and reads each channel of a sample on its own, as VEEGAN, PacGAN and
R3GAN do. :class:`StackedClassifier` wraps it so that the evaluation treats it
like any classifier:

- its class probabilities are over the 1,000 modes, the product of the
  channels' (``p(a, b, c) = p_0(a) p_1(b) p_2(c)``), so ``confident_fraction``
  counts samples whose three digits are all clear, and ``class_kl`` is the
  KL of the generated mode histogram to the data's mode frequencies (the
  product of the digits'; uniform for ``mnist5k``'s 500 digits a class, where
  it equals ``reverse_kl`` below);
- its features are the channels' features side by side, for the Frechet
  distance, KID and precision/recall.

:func:`mode_scores` adds what the papers report: ``modes_covered``, the modes
that at least one sample lands on (the papers draw 26,000 samples), and
``reverse_kl``, the KL of the mode histogram to the uniform one;
and ``confident_modes_covered``, counting only samples read with p >= 0.9,
since the most likely mode of an unreadable sample still counts in the
papers' number.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.arrays import to_unit_range
from jaxgan.metrics.classifier import FittedClassifier, classifier_scores, holdout_split


class StackedClassifier(NamedTuple):
    """A digit classifier read channel by channel (module docstring).

    Attributes:
      base: the classifier of one channel's digits.
      channels: channels per sample (3).
      accuracy: the share of held-out real stacked examples whose every
        channel it reads right.
      holdout_confident_fraction: the ``confident_fraction`` of held-out real
        stacked examples (the floor for samples' confidence).
    """

    base: FittedClassifier
    channels: int
    accuracy: float
    holdout_confident_fraction: float

    @property
    def class_frequencies(self) -> jax.Array:
        """The modes' frequencies in the data: the product of the channels'."""
        joint = jnp.ones(())
        for _ in range(self.channels):
            joint = jnp.multiply.outer(joint, self.base.class_frequencies)
        return joint.reshape(-1)

    def channel_outputs(self, images: jax.Array) -> tuple[list[jax.Array], list[jax.Array]]:
        """Per channel: class probabilities ``[B, 10]`` and features ``[B, F]``."""
        outputs = [self.base.probabilities_and_features(images[..., c:c + 1])
                   for c in range(self.channels)]
        return [p for p, _ in outputs], [f for _, f in outputs]

    def probabilities_and_features(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mode probabilities ``[B, 10 ** channels]`` and the channels'
        features side by side ``[B, channels * F]``, from one pass per channel."""
        probabilities, features = self.channel_outputs(images)
        return joint_probabilities(probabilities), jnp.concatenate(features, axis=-1)

    def probabilities(self, images: jax.Array) -> jax.Array:
        """Mode probabilities ``[B, 10 ** channels]`` of images in [-1, 1]."""
        return self.probabilities_and_features(images)[0]

    def features(self, images: jax.Array) -> jax.Array:
        """The channels' features side by side: what the distribution metrics compare."""
        return self.probabilities_and_features(images)[1]


def joint_probabilities(per_channel: list[jax.Array]) -> jax.Array:
    """``[B, K]`` per channel -> ``[B, K ** channels]``, the first channel's
    class the most significant digit of the mode (as :func:`jaxgan.data.stacked.mode_of`)."""
    joint = per_channel[0]
    for p in per_channel[1:]:
        joint = (joint[:, :, None] * p[:, None, :]).reshape(joint.shape[0], -1)
    return joint


def mode_scores(probabilities: jax.Array, threshold: float = 0.9) -> dict[str, jax.Array]:
    """Of mode probabilities ``[N, modes]``: ``modes_covered`` (modes that at
    least one sample's most likely mode is, as the papers count them),
    ``reverse_kl`` (KL of that mode histogram to the uniform one, in nats),
    and ``confident_modes_covered``, the modes covered by samples read with
    probability >= ``threshold`` only: the argmax of an unreadable image is a
    mode too, so a generator of noise covers many modes by the papers' count.
    Pure ``jax.numpy``."""
    num, modes = probabilities.shape
    predicted = jnp.argmax(probabilities, axis=-1)
    votes = jnp.bincount(predicted, length=modes)
    confident = (jnp.max(probabilities, -1) >= threshold).astype(jnp.float32)
    sure = jnp.bincount(predicted, weights=confident, length=modes)
    drawn = votes / num
    kl = jnp.sum(jnp.where(drawn > 0, drawn * jnp.log(drawn * modes), 0.0))
    return {"modes_covered": jnp.sum(votes > 0), "reverse_kl": kl,
            "confident_modes_covered": jnp.sum(sure > 0)}


def fit_stacked_classifier(base: FittedClassifier, source, seed: int = 0,
                           num_examples: int = 2_000) -> StackedClassifier:
    """``base`` read channel by channel, measured on ``num_examples`` real
    stacked examples drawn from the base's held-out digits."""
    _, holdout = holdout_split(source.base.num_examples, seed)
    rows = np.random.default_rng(seed).choice(holdout, size=(num_examples, source.channels))
    images, modes = source.stack(rows)
    untrusted = StackedClassifier(base, source.channels, 0.0, 0.0)
    probabilities = jax.jit(untrusted.probabilities)(jnp.asarray(images))
    accuracy = float(jnp.mean(jnp.argmax(probabilities, -1) == jnp.asarray(modes)))
    confident = float(classifier_scores(probabilities,
                                        untrusted.class_frequencies)["confident_fraction"])
    return StackedClassifier(base, source.channels, accuracy, confident)


def real_mode_scores(classifier: StackedClassifier, source, num: int,
                     seed: int = 0) -> dict[str, float]:
    """:func:`mode_scores` of ``num`` real stacked examples, named ``real_...``:
    the floor of ``modes_covered`` and ``reverse_kl`` at the evaluation's
    sample size. A generator that draws the data's own distribution still
    scores a reverse KL above zero, from the finite sample and from the
    digits the classifier misreads.

    Each channel's class is drawn from the base's class frequencies (the
    data's mode frequencies, uniform for ``mnist5k``), then one of the
    classifier's held-out digits of that class (:func:`holdout_split` with
    ``seed``), so the histogram is that of a perfect generator rather than of
    the held-out tenth's chance class shares. The channels are read on their
    own, so the digits are classified once and their probabilities combined
    (:func:`joint_probabilities`), as the classifier combines the channels of
    a stacked image."""
    base = source.base
    frequencies = np.asarray(classifier.base.class_frequencies, np.float64)
    if len(frequencies) != source.digit_classes:
        raise ValueError(f"the classifier reads {len(frequencies)} classes and {base.name}'s "
                         f"digits have {source.digit_classes}; score them with a classifier "
                         "of their own classes")
    _, holdout = holdout_split(base.num_examples, seed)
    labels = np.asarray(base.labels)[holdout]
    by_class = [holdout[labels == k] for k in range(source.digit_classes)]
    if any(len(rows) == 0 for rows in by_class):
        missing = [k for k, rows in enumerate(by_class) if len(rows) == 0]
        raise ValueError(f"the classifier's held-out tenth of {base.name} has no digit of "
                         f"classes {missing}, so the real floor of the mode scores cannot be "
                         "drawn; use a base dataset with more examples of each class")
    rng = np.random.default_rng(seed)
    classes = rng.choice(len(frequencies), size=(num, source.channels),
                         p=frequencies / frequencies.sum())
    picks = rng.random((num, source.channels))
    chosen = np.empty((num, source.channels), np.int64)
    for k, members in enumerate(by_class):
        where = classes == k
        chosen[where] = members[(picks[where] * len(members)).astype(np.int64)]
    digits = np.unique(chosen)
    images = to_unit_range(jnp.asarray(base.images[digits]))
    read = jax.jit(classifier.base.probabilities)(images)
    position = np.searchsorted(digits, chosen)
    # One program: un-jitted, the [num, 1,000] products take minutes on a CPU.
    scores = jax.jit(lambda reads: mode_scores(joint_probabilities(reads)))(
        [read[position[:, c]] for c in range(source.channels)])
    return {"real_" + name: float(value) for name, value in scores.items()}


__all__ = ["StackedClassifier", "fit_stacked_classifier", "joint_probabilities", "mode_scores",
           "real_mode_scores"]
