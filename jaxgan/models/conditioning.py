"""Class conditioning for the conditional generators and discriminators.

A conditional module takes its labels beside its usual input, either as
integer classes ``[B]`` or as class weights ``[B, num_classes]``: a one-hot
row, or a blend of two rows, which is how :mod:`jaxgan.control` interpolates
between classes. Two ways to condition a discriminator:

- ``"concat"`` (Mirza & Osindero 2014, the course construction): the one-hot
  class is appended to the input, as extra constant image channels for a
  convolutional network or as extra features for a fully connected one.
- ``"projection"`` (Miyato & Koyama 2018): the logit gains the inner product of
  a learned class embedding with the network's last features,
  ``logit = psi(phi(x)) + <embed(y), phi(x)>``. The class enters where the
  decision is made rather than at the pixels, which is the stronger choice.

Generators always take the one-hot class appended to the latent vector.

A class can also be a tuple, as Stacked MNIST's are (one digit, or one
cluster, per channel): :class:`PerChannelConditions` gives the wrapped module
one one-hot per channel side by side instead of one one-hot over every tuple,
so each channel's class has a row of its own in the generator's first layer
and in the projection embedding, trained by every batch, rather than a row per
tuple that only a thousandth of the data trains.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.layers import with_batch_norm_axis

CONDITIONINGS = ("concat", "projection")

# Where a discriminator with a class head (AC-GAN) sows its class logits
# ``[B, num_classes]``, in the ``intermediates`` collection.
CLASS_LOGITS = "class_logits"


def check_conditioning(conditioning: str) -> None:
    """Raises ``ValueError`` unless ``conditioning`` is one of :data:`CONDITIONINGS`."""
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got "
                         f"{conditioning!r}")


def class_weights(labels: jax.Array | None, num_classes: int, module: str) -> jax.Array | None:
    """Labels as float class weights ``[B, num_classes]`` (``None`` for unconditional).

    Raises:
      ValueError: labels given to an unconditional module, missing for a
        conditional one, or of the wrong shape.
    """
    if num_classes == 0:
        if labels is not None:
            raise ValueError(f"{module} is unconditional (num_classes=0) but got labels; "
                             "set num_classes to condition it")
        return None
    if labels is None:
        raise ValueError(f"{module} is conditional (num_classes={num_classes}); pass labels "
                         "[batch] or class weights [batch, num_classes]")
    labels = jnp.asarray(labels)
    if labels.ndim == 1 and jnp.issubdtype(labels.dtype, jnp.integer):
        return jax.nn.one_hot(labels, num_classes)
    if labels.ndim == 2 and labels.shape[-1] == num_classes:
        return labels.astype(jnp.float32)
    raise ValueError(f"{module} takes integer labels [batch] or class weights [batch, "
                     f"{num_classes}], got {labels.dtype} {labels.shape}")


def append_to_channels(x: jax.Array, weights: jax.Array) -> jax.Array:
    """Appends class weights ``[B, K]`` to ``x [B, ..., C]`` as K constant channels."""
    planes = jnp.broadcast_to(weights.reshape(weights.shape[0], *([1] * (x.ndim - 2)), -1),
                              (*x.shape[:-1], weights.shape[-1]))
    return jnp.concatenate([x, planes.astype(x.dtype)], axis=-1)


class ProjectionTerm(nn.Module):
    """``<embed(y), features>``: the projection discriminator's class term.

    ``features [B, F]`` and class weights ``[B, num_classes]`` give ``[B]``.
    With class weights the embedding is their weighted sum of rows.
    """

    num_classes: int
    embedding_init: nn.initializers.Initializer = nn.initializers.normal(stddev=0.02)

    @nn.compact
    def __call__(self, features: jax.Array, weights: jax.Array) -> jax.Array:
        embedding = self.param("embedding", self.embedding_init,
                               (self.num_classes, features.shape[-1]))
        # In the features' dtype: under bfloat16 compute the product is bfloat16
        # too (one-hot weights are exact in it).
        embedded = weights.astype(features.dtype) @ embedding.astype(features.dtype)
        return jnp.sum(embedded * features, axis=-1)


def per_channel_weights(weights: jax.Array, classes: int, channels: int) -> jax.Array:
    """Class weights over tuples ``[B, classes ** channels]`` (tuple ``y`` is
    the digits of ``y`` in base ``classes``, the first channel's the most
    significant) -> each channel's class weights side by side, ``[B, channels *
    classes]``: the marginals, so a one-hot tuple gives one one-hot per channel
    and a blend of tuples the blend of their channels' classes."""
    grid = weights.reshape(weights.shape[0], *([classes] * channels))
    axes = range(1, channels + 1)
    return jnp.concatenate([jnp.sum(grid, axis=tuple(a for a in axes if a != c))
                            for c in axes], axis=-1)


class PerChannelConditions(nn.Module):
    """A conditional ``module`` whose classes are tuples of ``channels``
    classes each (module docstring).

    It takes the labels of ``classes ** channels`` tuples, as integers
    ``[B]`` or class weights, and calls ``module`` (built with ``num_classes =
    channels * classes``) with :func:`per_channel_weights`.

    Attributes:
      module: the wrapped generator or discriminator; its variables sit under
        ``inner``.
      classes: classes per channel.
      channels: entries of a tuple.
      batch_norm_axis_name: passed on to the wrapped module where it has that
        attribute (the train step sets it under ``pmap``).
    """

    module: nn.Module
    classes: int
    channels: int
    batch_norm_axis_name: str | None = None

    def __post_init__(self):
        super().__post_init__()
        for name in ("classes", "channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PerChannelConditions {name} must be a positive integer, "
                                 f"got {value!r}")
        inner = getattr(self.module, "num_classes", None)
        if inner != self.classes * self.channels:
            raise ValueError(f"PerChannelConditions gives its module {self.channels} x "
                             f"{self.classes} class weights; build the module with "
                             f"num_classes={self.channels * self.classes}, not {inner!r}")

    @property
    def num_classes(self) -> int:
        """The tuples (the module contract and the recipe read them)."""
        return self.classes ** self.channels

    @property
    def pack(self):
        """The wrapped module's examples per logit (a discriminator's PacGAN
        packing; the module contract reads it)."""
        return getattr(self.module, "pack", 1)

    def setup(self):
        """Binds the wrapped module under one name, with the data-parallel
        axis where it has one."""
        self.inner = with_batch_norm_axis(self.module, self.batch_norm_axis_name, parent=None)

    def __call__(self, x: jax.Array, labels: jax.Array | None = None, **kwargs) -> jax.Array:
        if (labels is not None and jnp.ndim(labels) == 1
                and jnp.issubdtype(jnp.asarray(labels).dtype, jnp.integer)):
            # Integer tuples: each channel's class is a digit of the label
            # (without a one-hot over every tuple, which k ** channels makes large).
            powers = self.classes ** jnp.arange(self.channels - 1, -1, -1)
            digits = (jnp.asarray(labels)[:, None] // powers) % self.classes
            weights = jax.nn.one_hot(digits, self.classes).reshape(len(labels), -1)
        else:
            weights = per_channel_weights(
                class_weights(labels, self.num_classes, "PerChannelConditions"),
                self.classes, self.channels)
        return self.inner(x, weights, **kwargs)


__all__ = ["CLASS_LOGITS", "CONDITIONINGS", "PerChannelConditions", "ProjectionTerm",
           "append_to_channels", "check_conditioning", "class_weights", "per_channel_weights"]
