"""A small convolutional image classifier.

It scores generated images (:mod:`jaxgan.metrics.classifier`): a network
trained on the real labelled data says which class a sample looks like and
how sure it is. Three stride-2 3x3 convolutions (width, 2 width, 4 width)
with LeakyReLU, a global average pool and a linear layer to the class logits;
no BatchNorm, so a sample's score does not depend on the rest of its batch.

The pooled activations (``4 * width`` numbers per image) are the features
that the distribution metrics compare (:mod:`jaxgan.metrics.frechet`,
:mod:`jaxgan.metrics.kid`, :mod:`jaxgan.metrics.precision_recall`): a
network trained on the dataset at hand, in place of Inception weights.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.layers import Conv


class Classifier(nn.Module):
    """``images [B, H, W, C] in [-1, 1] -> class logits [B, num_classes]``.

    With ``with_features=True`` it returns ``(logits, features [B, 4 * width])``,
    the penultimate layer's activations.
    """

    num_classes: int
    width: int = 32

    @nn.compact
    def __call__(self, x: jax.Array,
                 with_features: bool = False) -> jax.Array | tuple[jax.Array, jax.Array]:
        init = nn.initializers.lecun_normal()
        for i in range(3):
            x = Conv(self.width * 2 ** i, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),
                     kernel_init=init, name=f"conv_{i}")(x)
            x = x + self.param(f"bias_{i}", nn.initializers.zeros, (x.shape[-1],))
            x = nn.leaky_relu(x, 0.2)
        features = jnp.mean(x, axis=(1, 2))
        logits = nn.Dense(self.num_classes, name="logits")(features)
        return (logits, features) if with_features else logits


__all__ = ["Classifier"]
