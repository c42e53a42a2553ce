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
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

CONDITIONINGS = ("concat", "projection")


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


__all__ = ["CONDITIONINGS", "ProjectionTerm", "append_to_channels", "check_conditioning",
           "class_weights"]
