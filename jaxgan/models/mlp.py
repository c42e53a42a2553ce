"""The fully connected GAN (Goodfellow et al. 2014), as in most GAN courses.

Generator: ``[Linear -> BatchNorm -> ReLU] * len(features)`` then a linear
output layer (tanh on top for images in [-1, 1]). Discriminator:
``[Linear -> LeakyReLU(0.2)] * len(features)`` then one logit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


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
    """

    output_shape: Sequence[int]
    features: Sequence[int] = (256, 256, 256)
    batch_norm: bool = True
    output_activation: str | None = None
    batch_norm_momentum: float = 0.9

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        x = z
        for width in self.features:
            x = nn.Dense(width, use_bias=not self.batch_norm)(x)
            if self.batch_norm:
                x = nn.BatchNorm(use_running_average=not train,
                                 momentum=self.batch_norm_momentum)(x)
            x = nn.relu(x)
        x = nn.Dense(math.prod(self.output_shape))(x)
        if self.output_activation == "tanh":
            x = jnp.tanh(x)
        elif self.output_activation is not None:
            raise ValueError(f"unknown output_activation {self.output_activation!r}; "
                             "use None or 'tanh'")
        return x.reshape((z.shape[0], *self.output_shape))


class MLPDiscriminator(nn.Module):
    """Maps samples ``[batch, ...]`` to logits ``[batch]``.

    Attributes:
      features: widths of the hidden layers.
      negative_slope: slope of the LeakyReLU for negative inputs.
    """

    features: Sequence[int] = (256, 256, 256)
    negative_slope: float = 0.2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        del train  # no train-dependent layers; kept for the common signature
        x = x.reshape((x.shape[0], -1))
        for width in self.features:
            x = nn.leaky_relu(nn.Dense(width)(x), self.negative_slope)
        return nn.Dense(1)(x)[:, 0]
