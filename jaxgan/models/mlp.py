"""The fully connected GAN (Goodfellow et al. 2014), as in most GAN courses.

Generator: ``[Linear -> BatchNorm -> ReLU] * len(features)`` then a linear
output layer (tanh on top for images in [-1, 1]). Discriminator:
``[Linear -> LeakyReLU(0.2)] * len(features)`` then one logit.

With ``num_classes > 0`` both are class-conditional (see
:mod:`jaxgan.models.conditioning`): the one-hot class is appended to z, and to
the discriminator's input (``"concat"``) or dotted with its last hidden
features (``"projection"``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.conditioning import ProjectionTerm, check_conditioning, class_weights


def check_features(module: nn.Module) -> None:
    """Raises ``ValueError`` unless ``module.features`` is a non-empty sequence
    of positive integer widths."""
    widths = module.features
    if (not isinstance(widths, Sequence) or not widths
            or any(not isinstance(w, numbers.Integral) or isinstance(w, bool) or w < 1
                   for w in widths)):
        raise ValueError(f"{type(module).__name__} features must be a non-empty list of "
                         f"positive widths, got {widths!r}")


class MLPGenerator(nn.Module):
    """Maps latent vectors ``[batch, latent_dim]`` to samples ``[batch, *output_shape]``.

    Attributes:
      output_shape: shape of one sample, e.g. ``(2,)`` for points or
        ``(28, 28, 1)`` for images.
      features: widths of the hidden layers (their number is the depth).
      batch_norm: BatchNorm after each hidden Linear (the course's choice).
      output_activation: ``None`` for unbounded data such as 2D points,
        ``"tanh"`` for images scaled to [-1, 1].
      batch_norm_momentum: decay of the running statistics (flax convention:
        0.9 here is PyTorch's ``momentum=0.1``).
      num_classes: 0 for an unconditional generator; otherwise it is called as
        ``generator(z, labels, train=...)``.
      batch_norm_axis_name: the data-parallel axis over which BatchNorm takes
        its batch statistics (synchronised BatchNorm), or ``None``. The train
        step sets it when it runs under ``pmap``; leave it ``None``.
      dtype: the layers' computation dtype; ``None`` follows their inputs
        (BatchNorm's float32 statistics then promote to float32). Set it to
        the recipe's ``compute_dtype`` (see :class:`jaxgan.GANRecipe`).
    """

    output_shape: Sequence[int]
    features: Sequence[int] = (256, 256, 256)
    batch_norm: bool = True
    output_activation: str | None = None
    batch_norm_momentum: float = 0.9
    num_classes: int = 0
    batch_norm_axis_name: str | None = None
    dtype: Any = None

    def __post_init__(self):
        super().__post_init__()
        check_features(self)
        if self.output_activation not in (None, "tanh"):
            raise ValueError(f"unknown output_activation {self.output_activation!r}; "
                             "use None or 'tanh'")

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, *,
                 train: bool) -> jax.Array:
        x = z
        weights = class_weights(labels, self.num_classes, "MLPGenerator")
        if weights is not None:
            x = jnp.concatenate([x, weights.astype(x.dtype)], axis=-1)
        for width in self.features:
            x = nn.Dense(width, use_bias=not self.batch_norm, dtype=self.dtype)(x)
            if self.batch_norm:
                x = nn.BatchNorm(use_running_average=not train,
                                 momentum=self.batch_norm_momentum,
                                 axis_name=self.batch_norm_axis_name, dtype=self.dtype)(x)
            x = nn.relu(x)
        x = nn.Dense(math.prod(self.output_shape), dtype=self.dtype)(x)
        if self.output_activation == "tanh":
            x = jnp.tanh(x)
        return x.reshape((z.shape[0], *self.output_shape))


class MLPDiscriminator(nn.Module):
    """Maps samples ``[batch, ...]`` to logits ``[batch]``.

    Attributes:
      features: widths of the hidden layers.
      negative_slope: slope of the LeakyReLU for negative inputs.
      num_classes: 0 for an unconditional discriminator; otherwise it is
        called as ``discriminator(x, labels, train=...)``.
      conditioning: ``"concat"`` (one-hot class appended to the input) or
        ``"projection"`` (a class embedding dotted with the last hidden layer).
      dtype: as in :class:`MLPGenerator`.
    """

    features: Sequence[int] = (256, 256, 256)
    negative_slope: float = 0.2
    num_classes: int = 0
    conditioning: str = "concat"
    dtype: Any = None

    def __post_init__(self):
        super().__post_init__()
        check_features(self)
        check_conditioning(self.conditioning)

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, *,
                 train: bool) -> jax.Array:
        del train  # no train-dependent layers; kept for the common signature
        weights = class_weights(labels, self.num_classes, "MLPDiscriminator")
        x = x.reshape((x.shape[0], -1))
        if weights is not None and self.conditioning == "concat":
            x = jnp.concatenate([x, weights.astype(x.dtype)], axis=-1)
        for width in self.features:
            x = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(x), self.negative_slope)
        logit = nn.Dense(1, dtype=self.dtype)(x)[:, 0]
        if weights is not None and self.conditioning == "projection":
            logit = logit + ProjectionTerm(self.num_classes, nn.initializers.lecun_normal(),
                                           name="projection")(x, weights)
        return logit


__all__ = ["MLPDiscriminator", "MLPGenerator", "check_features"]
