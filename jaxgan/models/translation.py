"""Image-to-image modules: the U-Net generator and the PatchGAN discriminator
of Pix2Pix (Isola et al. 2017).

The U-Net maps an input image to an output image of the same side. Its
encoder halves the side ``depth`` times with strided 4x4 convolutions; its
decoder doubles it back with learned 2x upsamplings (PyTorch's
``ConvTranspose2d(4, 2, 1)``, :class:`~jaxgan.models.layers.UpsampleConv`),
and each decoder block takes the encoder's feature map of the same side
beside its own (the skip connections), so detail that the input already has
need not pass through the bottleneck. There is no latent vector: Pix2Pix
found the generator learns to ignore one, and takes its noise from dropout in
the first decoder blocks instead, drawn from the train step's ``dropout``
stream. In inference (``train=False``) the modules are deterministic, as the
module contract asks, unless the caller asks the U-Net for its noise
(``noise=True``): then the dropout is drawn in inference too, from the
``dropout`` stream the caller gives, while BatchNorm reads its running
statistics. That is how Pix2Pix samples its generator at test time, and how
:func:`jaxgan.state.translate` does when given a key: the generator was
trained to draw with its noise on, and with it off its outputs are a blend
that no training target looks like (on the completion task, the Frechet
distance of the held-out outputs doubles).

The PatchGAN sees the input and an output (real target or generated) side
by side as channels and returns a map of logits, one per overlapping patch:
it judges local texture and leaves the large scale to the L1 term of the
generator's loss. The step's losses act on each patch logit and average over
them (see :class:`jaxgan.GANRecipe`, ``translation``).

Weights start from N(0, 0.02) and BatchNorm scales from N(1, 0.02), as in
the Pix2Pix code. Both modules take ``batch_norm_axis_name`` and ``dtype``
like the DCGAN modules, so they train under ``pmap`` and in bfloat16 the same
way.
"""

from __future__ import annotations

import numbers
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.dcgan import DCGAN_INIT, normalize
from jaxgan.models.layers import Conv, UpsampleConv

# Kernel 4, stride 2, padding 1 halves an even side.
_HALVE = {"kernel_size": (4, 4), "strides": (2, 2), "padding": ((1, 1), (1, 1))}


def _positive_int(module: nn.Module, name: str, least: int = 1) -> None:
    value = getattr(module, name)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        raise ValueError(f"{type(module).__name__} {name} must be an integer >= {least}, "
                         f"got {value!r}")


def _bias(module: nn.Module, name: str, x: jax.Array) -> jax.Array:
    """``x`` plus a learned per-channel bias (for layers with no normalisation after them)."""
    bias = module.param(name, nn.initializers.zeros, (x.shape[-1],), jnp.float32)
    return x + bias.astype(x.dtype)


class UNetGenerator(nn.Module):
    """``inputs [B, H, W, C_in] -> images [B, H, W, channels]`` in [-1, 1].

    Attributes:
      channels: output channels.
      width: channels of the first encoder block; block ``i`` has
        ``width * 2**min(i, 3)``.
      depth: how many times the encoder halves the side; ``H`` and ``W``
        must be divisible by ``2**depth`` (28 allows 2, 32 allows 5).
      dropout: the rate of the dropout that is the generator's noise (0.5 in
        Pix2Pix), in the first ``dropout_blocks`` decoder blocks, in training
        and where a call asks for the noise.
      dropout_blocks: how many decoder blocks (from the bottleneck out) drop.
      impl: how the convolutions are computed (see :mod:`jaxgan.models.layers`).
      batch_norm_axis_name, dtype: as in :class:`jaxgan.models.DCGANGenerator`.
    """

    channels: int = 1
    width: int = 64
    depth: int = 2
    dropout: float = 0.5
    dropout_blocks: int = 3
    impl: str = "auto"
    batch_norm_axis_name: str | None = None
    dtype: Any = None

    def __post_init__(self):
        super().__post_init__()
        for name in ("channels", "width", "depth"):
            _positive_int(self, name)
        _positive_int(self, "dropout_blocks", least=0)
        if not isinstance(self.dropout, numbers.Real) or not 0 <= self.dropout < 1:
            raise ValueError(f"UNetGenerator dropout must be in [0, 1), got {self.dropout!r}")

    @nn.compact
    def __call__(self, inputs: jax.Array, *, train: bool,
                 noise: bool | None = None) -> jax.Array:
        """``noise``: whether the dropout (the generator's noise) is drawn;
        ``train`` by default. ``train=False, noise=True`` samples the trained
        generator as Pix2Pix does at test time (the ``dropout`` stream needed)."""
        if noise is None:
            noise = train
        side = 2 ** self.depth
        if inputs.ndim != 4 or inputs.shape[1] % side or inputs.shape[2] % side:
            raise ValueError(f"UNetGenerator(depth={self.depth}) needs images [B, H, W, C] with "
                             f"H and W divisible by {side}, got shape {inputs.shape}; lower "
                             "depth or resize the images")

        def features(level):
            return self.width * 2 ** min(level, 3)

        x, skips = inputs, []
        for level in range(self.depth):
            x = Conv(features(level), **_HALVE, kernel_init=DCGAN_INIT, impl=self.impl,
                     name=f"down_{level}")(x)
            # No normalisation on the input block, nor on a 1x1 bottleneck
            # (Pix2Pix's innermost block, where the statistics are one number).
            if level > 0 and x.shape[1] * x.shape[2] > 1:
                x = normalize("batch", train, x, self.batch_norm_axis_name, self.dtype)
            else:
                x = _bias(self, f"down_{level}_bias", x)
            x = nn.leaky_relu(x, 0.2)
            skips.append(x)
        for block, level in enumerate(range(self.depth - 1, 0, -1)):
            x = UpsampleConv(features(level - 1), kernel_init=DCGAN_INIT, impl=self.impl,
                             name=f"up_{level}")(x)
            x = normalize("batch", train, x, self.batch_norm_axis_name, self.dtype)
            if block < self.dropout_blocks and self.dropout:
                x = nn.Dropout(self.dropout, deterministic=not noise)(x)
            x = jnp.concatenate([nn.relu(x), skips[level - 1].astype(x.dtype)], axis=-1)
        x = UpsampleConv(self.channels, kernel_init=DCGAN_INIT, impl=self.impl, name="up_0")(x)
        return jnp.tanh(_bias(self, "up_0_bias", x))


class PatchDiscriminator(nn.Module):
    """``(images [B, H, W, C], inputs [B, H, W, C_in]) -> patch logits [B, h, w]``.

    Without ``inputs`` it judges the images alone (CycleGAN's discriminators,
    which see one domain and have no paired input).

    The 70x70 PatchGAN of Pix2Pix at ``width=64, layers=3`` on 256x256
    images; on 28x28 digits ``layers=2`` gives a 5x5 map of patches 34 pixels
    across (overlapping, and reaching past the border).

    Attributes:
      width: channels of the first layer, doubled by each further one (up to 8x).
      layers: stride-2 layers; two stride-1 layers follow, the last making the logits.
      normalization: ``"batch"`` (Pix2Pix), ``"instance"`` (CycleGAN) or
        ``"none"`` (with a gradient penalty); never on the first layer.
      impl, batch_norm_axis_name, dtype: as in :class:`jaxgan.models.DCGANDiscriminator`.
    """

    width: int = 64
    layers: int = 2
    normalization: str = "batch"
    impl: str = "auto"
    batch_norm_axis_name: str | None = None
    dtype: Any = None

    def __post_init__(self):
        super().__post_init__()
        _positive_int(self, "width")
        _positive_int(self, "layers")
        if self.normalization not in ("batch", "instance", "none"):
            raise ValueError("PatchDiscriminator normalization must be batch, instance or none, "
                             f"got {self.normalization!r}")

    @nn.compact
    def __call__(self, images: jax.Array, inputs: jax.Array | None = None, *,
                 train: bool) -> jax.Array:
        if inputs is not None and images.shape[:3] != inputs.shape[:3]:
            raise ValueError(f"PatchDiscriminator got images of shape {images.shape} and inputs "
                             f"of shape {inputs.shape}; they need the same batch, height and "
                             "width")
        side = min(images.shape[1:3]) // 2 ** self.layers - 2  # the patch map's
        if side < 1:
            least = 3 * 2 ** self.layers
            raise ValueError(f"PatchDiscriminator(layers={self.layers}) needs images of at least "
                             f"{least}x{least}, got "
                             f"{images.shape[1]}x{images.shape[2]}; lower layers")
        x = (images if inputs is None  # unconditional: CycleGAN's, judging one domain
             else jnp.concatenate([inputs.astype(images.dtype), images], axis=-1))
        for layer in range(self.layers + 1):
            # The stride-2 layers, then one of stride 1 (kernel 4, padding 1:
            # the side shrinks by one).
            halve = layer < self.layers
            x = Conv(self.width * 2 ** min(layer, 3),
                     **(_HALVE if halve else {"kernel_size": (4, 4),
                                              "padding": ((1, 1), (1, 1))}),
                     kernel_init=DCGAN_INIT, impl=self.impl, name=f"conv_{layer}")(x)
            if layer == 0:
                x = _bias(self, "conv_0_bias", x)
            else:
                x = normalize(self.normalization, train, x, self.batch_norm_axis_name,
                              self.dtype)
            x = nn.leaky_relu(x, 0.2)
        logits = Conv(1, (4, 4), padding=((1, 1), (1, 1)), kernel_init=DCGAN_INIT,
                      impl=self.impl, name="logits")(x)
        return _bias(self, "logits_bias", logits)[..., 0]


__all__ = ["PatchDiscriminator", "UNetGenerator"]
