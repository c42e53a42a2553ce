"""Scores for generated images from a classifier trained on the real data.

:func:`fit_classifier` trains :class:`~jaxgan.models.classifier.Classifier` on
a labelled :class:`~jaxgan.data.ArraySource`, holding out a slice of it to
measure accuracy. :func:`classifier_scores` then reads generated samples:

- ``confident_fraction``: the fraction of samples whose top class has
  probability >= ``threshold`` (0.9): samples that clearly look like *some*
  class.
- ``classes_covered``: classes that receive at least a fifth of their share
  in the data (``N * frequency``) of the samples' top-class votes.
- ``class_kl``: KL(generated class histogram || real class histogram), in
  nats: 0 when the generator draws the classes as often as the data does,
  large when it has dropped some (mode collapse).

Reference: the Inception score (Salimans et al. 2016) scores samples by a
classifier's confidence and class spread; these numbers split it in two and
use a classifier of the dataset at hand.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import checkpoint
from jaxgan.data.arrays import ArraySource, to_unit_range
from jaxgan.models.classifier import Classifier


class FittedClassifier(NamedTuple):
    """A trained classifier and what it was measured at."""

    model: Classifier
    params: dict
    accuracy: float          # on the held-out real examples
    class_frequencies: jax.Array  # of the real labels, [num_classes]
    holdout_confident_fraction: float  # the confident_fraction of held-out real examples

    def logits(self, images: jax.Array) -> jax.Array:
        """Class logits ``[B, num_classes]`` of images in [-1, 1] (a frozen
        guide for a loss: :class:`jaxgan.cyclegan.CycleGANRecipe`)."""
        return self.model.apply({"params": self.params}, images)

    def probabilities(self, images: jax.Array) -> jax.Array:
        """Class probabilities ``[B, num_classes]`` of images in [-1, 1]."""
        return jax.nn.softmax(self.logits(images))

    def features(self, images: jax.Array) -> jax.Array:
        """The penultimate layer, ``[B, 4 * width]``: what the distribution
        metrics compare."""
        return self.model.apply({"params": self.params}, images, with_features=True)[1]

    def probabilities_and_features(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Both outputs of one pass of the network."""
        logits, features = self.model.apply({"params": self.params}, images,
                                            with_features=True)
        return jax.nn.softmax(logits), features


def holdout_split(num_examples: int, seed: int = 0, holdout_fraction: float = 0.1,
                  max_examples: int = 60_000) -> tuple[np.ndarray, np.ndarray]:
    """Which examples the classifier trains on and which it holds out.

    A random subset of at most ``max_examples`` examples, in the order of a
    permutation fixed by ``seed``; its last ``holdout_fraction`` (at least one)
    is held out. Returns ``(train_indices, holdout_indices)`` into the source.
    The held-out examples are also the real data that the distribution
    metrics' floor compares with the training examples.
    """
    order = np.random.default_rng(seed).permutation(num_examples)[:max_examples]
    num_holdout = max(1, int(holdout_fraction * len(order)))
    return order[:-num_holdout], order[-num_holdout:]


def fit_classifier(source: ArraySource, num_steps: int = 1000, batch_size: int = 128,
                   seed: int = 0, holdout_fraction: float = 0.1,
                   learning_rate: float = 2e-3,
                   max_examples: int = 60_000) -> FittedClassifier:
    """Trains a classifier on ``source``'s labelled images (one jitted scan).

    At most ``max_examples`` images (a fixed random subset) are put on the
    device for it, so that it fits where the GAN's own data is streamed. The
    last ``holdout_fraction`` of them is held out for the accuracy.
    Deterministic for a given ``seed``.
    """
    if source.labels is None:
        raise ValueError(f"{source.name} has no labels to train a classifier on")
    num_classes = source.num_classes
    train_indices, holdout_indices = holdout_split(source.num_examples, seed, holdout_fraction,
                                                   max_examples)
    order = np.concatenate([train_indices, holdout_indices])
    kept = np.sort(order)  # the subset, gathered in dataset order
    images = jnp.asarray(source.images[kept])
    labels = jnp.asarray(source.labels[kept])
    # Where each example sits in `kept`.
    train_idx, test_idx = (np.searchsorted(kept, i) for i in (train_indices, holdout_indices))
    model = Classifier(num_classes)
    key = jax.random.PRNGKey(seed)
    params = model.init(key, to_unit_range(images[:1]))["params"]
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps))
    train_idx = jnp.asarray(train_idx)

    def loss_fn(params, batch_images, batch_labels):
        logits = model.apply({"params": params}, batch_images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch_labels).mean()

    def step(carry, step_index):
        params, opt_state = carry
        pick = jax.random.choice(jax.random.fold_in(key, step_index), train_idx, (batch_size,))
        batch = to_unit_range(images[pick])
        # Small random shifts make the classifier judge shapes, not positions.
        shift = jax.random.randint(jax.random.fold_in(key, -1 - step_index), (2,), -2, 3)
        batch = jnp.roll(batch, shift, axis=(1, 2))
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, labels[pick])
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def train(params):
        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)),
                                      jnp.arange(num_steps))
        return params

    params = train(params)
    test_images = to_unit_range(images[jnp.asarray(test_idx)])
    logits = jax.jit(lambda p, x: model.apply({"params": p}, x))(params, test_images)
    accuracy = float(jnp.mean(jnp.argmax(logits, -1) == labels[jnp.asarray(test_idx)]))
    frequencies = jnp.asarray(np.bincount(source.labels, minlength=num_classes)
                              / source.num_examples, jnp.float32)
    real_confident = classifier_scores(jax.nn.softmax(logits), frequencies)["confident_fraction"]
    return FittedClassifier(model, params, accuracy, frequencies, float(real_confident))


def load_or_fit_classifier(source: ArraySource, cache_dir: str, num_steps: int = 1000,
                           seed: int = 0, log=None, write_cache: bool = True) -> FittedClassifier:
    """The classifier :func:`fit_classifier` trains, cached on disk with orbax.

    The cache entry is a directory under ``cache_dir`` named after the dataset,
    its image shape and size, a hash of its images and labels, the number of
    steps and the seed; an entry is reused only when all of these match, so
    runs with other settings or data train (and cache) their own. An unreadable
    entry is reported with a warning and trained again.

    Args:
      source: the labelled real data.
      cache_dir: where entries live, e.g. ``<workdir>/classifier``.
      num_steps, seed: as in :func:`fit_classifier`.
      log: called with a line of progress, or ``None``.
      write_cache: store a newly trained classifier (a multi-process run
        passes ``False``: orbax saves collectively, not from one process).
    """
    height, width, channels = source.example_shape
    # The data's own fingerprint: two files of the same name and shape differ here.
    digest = hashlib.sha256(np.ascontiguousarray(source.images).tobytes())
    digest.update(np.ascontiguousarray(source.labels).tobytes())
    fingerprint = digest.hexdigest()[:12]
    description = {"dataset": source.name, "example_shape": [height, width, channels],
                   "num_examples": source.num_examples, "num_classes": source.num_classes,
                   "data_sha256": fingerprint, "num_steps": num_steps, "seed": seed}
    directory = os.path.join(cache_dir, f"{source.name}_{height}x{width}x{channels}_"
                                        f"n{source.num_examples}_{fingerprint}_steps{num_steps}_"
                                        f"seed{seed}")
    model = Classifier(source.num_classes)
    like = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                             jnp.zeros((1, height, width, channels)))["params"])
    try:
        found = checkpoint.restore_tree(directory, like)
    except checkpoint.CheckpointMismatchError as e:
        warnings.warn(f"ignoring the unreadable classifier cache at {directory} ({e}); "
                      "training it again", stacklevel=2)
        found = None
    if found is not None and found[1].get("description") == description:
        params, metadata = found
        if log:
            log(f"classifier: loaded from {directory}")
        return FittedClassifier(model, params, metadata["accuracy"],
                                jnp.asarray(metadata["class_frequencies"], jnp.float32),
                                metadata["holdout_confident_fraction"])
    if log:
        where = f"cached in {directory}" if write_cache else "not cached"
        log(f"training the classifier ({num_steps} steps on real {source.name}), {where}")
    fitted = fit_classifier(source, num_steps=num_steps, seed=seed)
    if not write_cache:
        return fitted
    checkpoint.save_tree(directory, fitted.params, {
        "description": description, "accuracy": fitted.accuracy,
        "class_frequencies": np.asarray(fitted.class_frequencies).tolist(),
        "holdout_confident_fraction": fitted.holdout_confident_fraction})
    return fitted


def classifier_scores(probabilities: jax.Array, class_frequencies: jax.Array,
                      threshold: float = 0.9) -> dict[str, jax.Array]:
    """The scores of the module docstring from ``probabilities [N, num_classes]``.

    Pure ``jax.numpy``: it jits and vmaps over seeds.
    """
    num, num_classes = probabilities.shape
    confident = jnp.max(probabilities, axis=-1) >= threshold
    votes = jnp.bincount(jnp.argmax(probabilities, axis=-1), length=num_classes)
    generated = votes / num
    # Classes the generator never draws contribute 0 (0 log 0); a class the data
    # never has cannot be drawn by a fitted classifier with much mass anyway.
    kl = jnp.sum(jnp.where(generated > 0, generated * jnp.log(
        generated / jnp.maximum(class_frequencies, 1e-12)), 0.0))
    return {
        "confident_fraction": jnp.mean(confident),
        "classes_covered": jnp.sum((votes >= 0.2 * num * class_frequencies)
                                   & (class_frequencies > 0)),
        "class_kl": kl,
    }


def label_accuracy(predicted: jax.Array, requested: jax.Array,
                   num_classes: int) -> dict[str, jax.Array]:
    """How often a conditional generator draws the class it was asked for.

    Args:
      predicted: the class each sample is judged to show, ``[N]`` (a
        classifier's argmax, or the nearest mode of a mixture).
      requested: the class each sample was generated for, ``[N]``.
      num_classes: the number of classes.

    Returns:
      ``label_accuracy``, the fraction of samples with ``predicted ==
      requested``, and ``label_accuracy_class_k`` for each class ``k``: the
      same over the samples requested as ``k`` (0 where none were).
    """
    hits = (predicted == requested).astype(jnp.float32)
    counts = jnp.bincount(requested, length=num_classes)
    per_class = jnp.bincount(requested, weights=hits, length=num_classes) / jnp.maximum(counts, 1)
    return {"label_accuracy": jnp.mean(hits),
            **{f"label_accuracy_class_{k}": per_class[k] for k in range(num_classes)}}


__all__ = ["FittedClassifier", "classifier_scores", "fit_classifier", "holdout_split",
           "label_accuracy", "load_or_fit_classifier"]
