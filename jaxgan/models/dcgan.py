"""DCGAN generator and discriminator (Radford et al. 2016).

The DCGAN rules: strided convolutions in the discriminator and transposed
convolutions in the generator (no pooling); BatchNorm in both, but not on the
generator's output nor on the discriminator's input layer; ReLU in the
generator with tanh on the output; LeakyReLU(0.2) in the discriminator; no
hidden fully connected layers; weights drawn from N(0, 0.02).

Layer sizes follow the PyTorch DCGAN example. At 64x64 the generator maps
``z [B, nz]`` through a 4x4 transposed convolution to ``4x4x(8*width)`` and
then doubles the resolution four times while halving the channels; the
discriminator mirrors it. With ``width=64``, ``nz=100`` and 3 channels this is
the example's network exactly (G 3,576,704 and D 2,765,568 parameters). 32x32
drops one doubling; 28x28 starts from 7x7 (a 7x7 first kernel) and doubles
twice.

Every kernel keeps PyTorch's layout up to a transpose, so weights copy across
for side-by-side benchmarks: the generator's upsampling layers are
:class:`~jaxgan.models.layers.UpsampleConv` (PyTorch's ``ConvTranspose2d(4, 2,
1)``, computed in a form whose gradients are fast on CPU) and its first layer
is :class:`~jaxgan.models.layers.Project`; the discriminator's convolutions
are flax ``Conv`` with PyTorch's padding written out.

With ``num_classes > 0`` both networks are class-conditional (see
:mod:`jaxgan.models.conditioning`): the generator takes the one-hot class
appended to z, the discriminator takes it as extra input channels
(``conditioning="concat"``) or through a projection term on its last
features (``"projection"``).
"""

from __future__ import annotations

import numbers
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.conditioning import (
    CLASS_LOGITS,
    ProjectionTerm,
    append_to_channels,
    check_conditioning,
    class_weights,
)
from jaxgan.models.layers import IMPLS, Conv, Project, UpsampleConv

# Every DCGAN weight starts from N(0, 0.02^2), as the DCGAN paper and PyTorch's example do.
DCGAN_INIT = nn.initializers.normal(stddev=0.02)


def _bn_scale_init(key, shape, dtype=jnp.float32):
    """BatchNorm scales ~ N(1, 0.02), as in the PyTorch DCGAN example."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


RESOLUTIONS = (28, 32, 64)
NORMALIZATIONS = ("batch", "none", "layer", "instance", "spectral")


def _check_fields(module: nn.Module) -> None:
    """The checks both DCGAN modules make when they are built."""
    name = type(module).__name__
    if module.resolution not in RESOLUTIONS:
        raise ValueError(f"{name} resolution must be one of "
                         f"{', '.join(map(str, RESOLUTIONS))}, got {module.resolution!r}")
    width = module.width
    if not isinstance(width, numbers.Integral) or isinstance(width, bool) or width < 1:
        raise ValueError(f"{name} width must be a positive integer, got {module.width!r}")
    if module.impl not in ("auto", *IMPLS):
        raise ValueError(f"{name} impl must be 'auto' or one of {', '.join(IMPLS)}, got "
                         f"{module.impl!r}")
    body = module.body_resolution
    # (Every pair of RESOLUTIONS differs by an even number: the centre is whole.)
    if (not isinstance(body, numbers.Integral) or isinstance(body, bool)
            or (body != 0 and (body not in RESOLUTIONS or body <= module.resolution))):
        raise ValueError(f"{name} body_resolution must be 0 (the resolution's own layers) or "
                         f"one of {', '.join(map(str, RESOLUTIONS))} larger than the resolution "
                         f"{module.resolution}, got {body!r}")


def _plan(module: nn.Module) -> tuple[int, int, int]:
    """(side of the first feature map, number of resolution doublings, pixels
    cropped or padded on each side) of a DCGAN module's layers: those of its
    ``body_resolution``, where set, else of its ``resolution``."""
    side = module.body_resolution or module.resolution
    start = 7 if side == 28 else 4
    doublings = {28: 2, 32: 3, 64: 4}[side]
    return start, doublings, (side - module.resolution) // 2


def _batch_norm(train: bool, axis_name: str | None, dtype: Any) -> nn.BatchNorm:
    # flax momentum 0.9 is PyTorch's momentum=0.1; epsilon as in PyTorch.
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        scale_init=_bn_scale_init, axis_name=axis_name, dtype=dtype)


def normalize(kind: str, train: bool, x: jax.Array, axis_name: str | None,
              dtype: Any) -> jax.Array:
    """``x`` through the normalisation ``kind`` of :data:`NORMALIZATIONS`
    (``"none"`` and ``"spectral"`` leave it as it is): BatchNorm with PyTorch's
    momentum and epsilon and DCGAN's N(1, 0.02) scales, its statistics over
    ``axis_name`` where set; LayerNorm over each example; or instance norm
    (per example and channel). The image-to-image modules share it."""
    if kind == "batch":
        return _batch_norm(train, axis_name, dtype)(x)
    if kind == "layer":
        return nn.LayerNorm(reduction_axes=(1, 2, 3), feature_axes=-1, epsilon=1e-5,
                            dtype=dtype)(x)
    if kind == "instance":
        return nn.GroupNorm(num_groups=None, group_size=1, epsilon=1e-5, dtype=dtype)(x)
    return x


class DCGANGenerator(nn.Module):
    """``z [B, latent_dim] -> images [B, resolution, resolution, channels]`` in [-1, 1].

    Attributes:
      resolution: 28, 32 or 64.
      channels: output channels (1 for MNIST, 3 for colour).
      width: channels of the last hidden layer (PyTorch's ``ngf``); the first
        has ``width * 2**(doublings - 1)``.
      impl: how the upsampling convolutions are computed: ``"auto"`` (the
        backend's entry in :data:`jaxgan.models.layers.BACKEND_IMPLS`),
        ``"conv"``, ``"subpixel"`` or ``"xla"`` (see
        :mod:`jaxgan.models.layers`); the parameters and the function are the
        same.
      num_classes: 0 for an unconditional generator; otherwise it is called as
        ``generator(z, labels, train=...)`` and the one-hot class is appended
        to z.
      batch_norm_axis_name: the data-parallel axis over which BatchNorm takes
        its batch statistics (synchronised BatchNorm), or ``None``. The train
        step sets it when it runs under ``pmap``; leave it ``None``.
      dtype: the normalisation layers' output dtype; ``None`` follows their
        inputs and float32 statistics. Set it to the recipe's
        ``compute_dtype`` (see :class:`jaxgan.GANRecipe`).
      native_resolution: 0, or the side of the images the data were
        resized up from: the output then goes through
        :func:`native_detail`, so it holds no more detail than such data can
        (scikit-learn's digits are 8x8 drawn at 32x32). Adds no parameters.
      body_resolution: 0, or a larger side of :data:`RESOLUTIONS` whose
        layers the generator uses: it draws at that side and keeps the
        centre ``resolution`` square (28x28 images from the 32x32 body,
        one more doubling than 28's own plan has). The discriminator's
        field of the same name pads its input to match.
    """

    resolution: int = 64
    channels: int = 3
    width: int = 64
    impl: str = "auto"
    num_classes: int = 0
    batch_norm_axis_name: str | None = None
    dtype: Any = None
    native_resolution: int = 0
    body_resolution: int = 0

    def __post_init__(self):
        super().__post_init__()
        _check_fields(self)
        native = self.native_resolution
        if (not isinstance(native, numbers.Integral) or isinstance(native, bool) or native < 0
                or (native and (native >= self.resolution or self.resolution % native))):
            raise ValueError(f"DCGANGenerator native_resolution must be 0 (off) or a side "
                             f"smaller than {self.resolution} that divides it, got "
                             f"{self.native_resolution!r}")

    @nn.compact
    def __call__(self, z: jax.Array, labels: jax.Array | None = None, *,
                 train: bool) -> jax.Array:
        start, doublings, edge = _plan(self)
        weights = class_weights(labels, self.num_classes, "DCGANGenerator")
        if weights is not None:
            z = jnp.concatenate([z, weights.astype(z.dtype)], axis=-1)
        features = self.width * 2 ** (doublings - 1)
        x = Project(features, start, kernel_init=DCGAN_INIT, name="project")(z)
        x = nn.relu(_batch_norm(train, self.batch_norm_axis_name, self.dtype)(x))
        for i in range(doublings):
            last = i == doublings - 1
            features = self.channels if last else features // 2
            x = UpsampleConv(features, kernel_init=DCGAN_INIT, impl=self.impl,
                             name=f"up_{i}")(x)
            x = (jnp.tanh(x) if last else
                 nn.relu(_batch_norm(train, self.batch_norm_axis_name, self.dtype)(x)))
        if edge:  # the centre of the body's output
            x = x[:, edge:edge + self.resolution, edge:edge + self.resolution]
        if self.native_resolution:
            x = native_detail(x, self.native_resolution)
        return x


def native_detail(images: jax.Array, side: int) -> jax.Array:
    """``images [B, H, W, C]`` averaged over ``side x side`` blocks and resized
    back bilinearly: the images that data resized up from ``side`` can be.

    Upscaling is linear, so data drawn at ``side`` and resized to ``H`` lie
    in a subspace of ``side**2`` dimensions per channel, and anything outside
    it tells a discriminator an image is fake. Ending the generator with this
    keeps its output there at no cost in parameters. Bilinear, as
    :func:`jaxgan.data.arrays.resize_images` draws the bundled digits; ``H`` and
    ``W`` must be multiples of ``side``.
    """
    b, h, w, c = images.shape
    blocks = images.reshape(b, side, h // side, side, w // side, c).mean((2, 4))
    return jax.image.resize(blocks, images.shape, "bilinear").astype(images.dtype)


class DCGANDiscriminator(nn.Module):
    """``images [B, resolution, resolution, channels] -> logits [B]``.

    Attributes:
      resolution: 28, 32 or 64.
      width: channels of the first layer (PyTorch's ``ndf``), doubled at each
        downsampling.
      normalization: ``"batch"`` (DCGAN), or for a critic under the gradient
        penalty, which needs each example scored on its own: ``"none"``,
        ``"layer"`` (LayerNorm over each example's H, W and C, as WGAN-GP
        advises) or ``"instance"`` (per example and channel). Never on the
        input layer. ``"spectral"`` (SNGAN, Miyato et al. 2018) is not a
        layer but a reparametrisation: every convolution, the input layer's
        and the logit's included, and the projection embedding, is divided by
        its largest singular value (flax's ``nn.SpectralNorm``, one power
        iteration per call in training; its vectors live in ``batch_stats``).
        It scores each example on its own, so penalties may join it, and it
        keeps the discriminator sensitive to the scale of its input, which
        BatchNorm over a batch of fakes is not (see ``conditioning``).
      num_classes: 0 for an unconditional discriminator; otherwise it is
        called as ``discriminator(x, labels, train=...)``.
      class_head: also classify the image (AC-GAN, Odena et al. 2017): a
        dense layer on the spatially summed last features gives
        ``num_classes`` class logits, which every call sows as
        ``intermediates`` named :data:`CLASS_LOGITS` (the logit it returns is
        unchanged). They read whatever the trunk saw: a concat
        discriminator sees the class in its input channels, so the train
        step (:func:`jaxgan.step.make_train_step`) classifies an image in a
        call of its own with blank class weights (zeros), where the trunk
        sees the image alone.
      conditioning: ``"concat"`` (the one-hot class as extra input channels)
        or ``"projection"`` (a class embedding dotted with the spatially
        summed last features, added to the logit). The projection
        discriminator has a learned bias on its input layer, which the rest
        leave out as PyTorch's DCGAN does. Without it, bias-free
        convolutions and leaky ReLUs up to the first BatchNorm, which
        normalises a batch of fakes by its own statistics, leave the logit
        nearly blind to the scale of the fakes; at 28x28 (one normalised
        layer) the generator's output shrank to a flat grey (its spread over
        samples from 0.18 to 0.009 in 300 steps on mnist5k). Concat
        conditioning never had the problem: its one-hot input channels are
        a per-class bias on the input layer.
      impl: how the convolutions and their derivatives are computed:
        ``"auto"``, ``"conv"`` or ``"xla"`` (:func:`jaxgan.models.layers.conv2d`).
      batch_norm_axis_name, dtype: as in :class:`DCGANGenerator`.
      body_resolution: 0, or a larger side of :data:`RESOLUTIONS` whose
        layers the discriminator uses: its ``resolution`` input is padded
        with zeros (grey, for images in [-1, 1]) to that side first, a
        frame that real and generated images share, so it tells them apart
        by nothing; a concat class's channels cover the padded image.
      pack: 1, or m >= 2 for PacGAN's packing (Lin et al. 2018): each
        example is scored together with the m - 1 examples after it in the
        batch (cyclically; :func:`pack_examples`), their channels side by
        side, so the discriminator judges m independent draws at once and a
        generator that draws few modes is told apart by how alike its
        draws are. It still returns one logit per example. The step calls
        it on real and on fake batches separately, so a tuple is all real
        or all fake. A logit then depends on other examples, as under
        BatchNorm: no input-gradient penalty, and no projection (whose
        class term would read one example's class of m).
    """

    resolution: int = 64
    width: int = 64
    normalization: str = "batch"
    num_classes: int = 0
    conditioning: str = "concat"
    impl: str = "auto"
    batch_norm_axis_name: str | None = None
    dtype: Any = None
    body_resolution: int = 0
    pack: int = 1
    class_head: bool = False

    def __post_init__(self):
        super().__post_init__()
        _check_fields(self)
        if self.class_head and (not self.num_classes or self.pack > 1):
            raise ValueError(f"DCGANDiscriminator class_head classifies each image into its "
                             f"num_classes, and num_classes={self.num_classes}, "
                             f"pack={self.pack}; set num_classes > 0 and pack=1, or "
                             "class_head=False")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got "
                             f"{self.normalization!r}")
        check_conditioning(self.conditioning)
        if not isinstance(self.pack, numbers.Integral) or isinstance(self.pack, bool) or \
                self.pack < 1:
            raise ValueError(f"DCGANDiscriminator pack must be a positive integer (1: no "
                             f"packing), got {self.pack!r}")
        if self.pack > 1 and self.num_classes and self.conditioning == "projection":
            raise ValueError(f"DCGANDiscriminator pack={self.pack} scores several examples "
                             "per logit and a projection reads one class; use "
                             "conditioning='concat' or pack=1")

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array | None = None, *,
                 train: bool) -> jax.Array:
        start, doublings, edge = _plan(self)
        spectral = self.normalization == "spectral"

        def layer(module, *args):
            # flax's SpectralNorm stores the weights it initialises already
            # divided by its first (rough) estimate of their largest singular
            # value, so they start larger than DCGAN_INIT's; the forward pass
            # divides again and sees unit spectral norm either way.
            if spectral:
                # At init in float32 whatever the compute dtype: the stored
                # weights are that normalised kernel, and float32 weights keep
                # all their bits (a bfloat16 run starts where a float32 one does).
                dtype = None if self.is_initializing() else self.dtype
                return nn.SpectralNorm(module, dtype=dtype)(*args, update_stats=train)
            return module(*args)

        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(f"DCGANDiscriminator(resolution={self.resolution}) got images of "
                             f"shape {x.shape[1:]}; resize them or set resolution")
        if edge:
            x = jnp.pad(x, ((0, 0), (edge, edge), (edge, edge), (0, 0)))
        weights = class_weights(labels, self.num_classes, "DCGANDiscriminator")
        if weights is not None and self.conditioning == "concat":
            x = append_to_channels(x, weights)
        if self.pack > 1:
            x = pack_examples(x, self.pack)
        features = self.width
        for i in range(doublings):
            # kernel 4, stride 2, padding 1: halves the side.
            x = layer(Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                           kernel_init=DCGAN_INIT, impl=self.impl, name=f"down_{i}"), x)
            if i == 0 and weights is not None and self.conditioning == "projection":
                x = x + self.param("input_bias", nn.initializers.zeros, (features,),
                                   jnp.float32).astype(x.dtype)
            if i > 0 and not spectral:  # never on the input layer
                x = normalize(self.normalization, train, x, self.batch_norm_axis_name,
                              self.dtype)
            x = nn.leaky_relu(x, 0.2)
            features *= 2
        # start x start -> 1x1: one logit.
        logit = layer(Conv(1, (start, start), kernel_init=DCGAN_INIT, impl=self.impl,
                           name="logit"), x)
        logit = logit.reshape((x.shape[0],))
        if weights is not None and self.conditioning == "projection":
            logit = logit + layer(ProjectionTerm(self.num_classes, DCGAN_INIT, name="projection"),
                                  jnp.sum(x, axis=(1, 2)), weights)
        if self.class_head:
            class_logits = layer(nn.Dense(self.num_classes, kernel_init=DCGAN_INIT,
                                          dtype=self.dtype, name="class_head"),
                                 jnp.sum(x, axis=(1, 2)))
            self.sow("intermediates", CLASS_LOGITS, class_logits.astype(jnp.float32))
        return logit


def pack_examples(x: jax.Array, pack: int) -> jax.Array:
    """PacGAN's packing, one tuple per example: ``[B, H, W, C] ->
    [B, H, W, pack * C]``, example ``i``'s channels followed by those of
    examples ``i + 1, ..., i + pack - 1`` (mod ``B``).

    PacGAN packs disjoint groups and returns ``B / pack`` logits; overlapping
    tuples keep the discriminator's contract (one logit per example, any
    batch size, a single example at init) and give each tuple the same
    distribution, ``pack`` independent draws, so the expected loss is
    PacGAN's. (A batch smaller than ``pack`` repeats its examples.) Under
    ``jax.pmap`` each device packs its own rows, as BatchNorm there
    normalises each device's own: the tuples differ from one device's, their
    distribution does not. Sharded ``jax.jit`` rolls the global batch.
    """
    return jnp.concatenate([jnp.roll(x, -k, axis=0) for k in range(pack)], axis=-1)


__all__ = ["DCGAN_INIT", "NORMALIZATIONS", "RESOLUTIONS", "DCGANDiscriminator", "DCGANGenerator",
           "native_detail", "normalize", "pack_examples"]
