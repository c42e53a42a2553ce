"""Differentiable augmentation of what the discriminator sees (DiffAugment).

With little data the discriminator learns the training images by heart, its
judgement stops generalising, and the generator's samples degrade (Zhao et
al. 2020; Karras et al. 2020). DiffAugment's remedy: transform every image
the discriminator sees, real and fake alike, with random, differentiable
operations, so that it cannot memorise the real set and the generator's
gradient still passes through the transform. It leaves the generator's
output distribution alone, because fakes and reals are transformed the same
way. On 10% of CIFAR-10 it took BigGAN's FID from 39.8 to 22.4.

:class:`DiffAugment` wraps any discriminator. It draws from the ``augment``
random stream (:data:`jaxgan.state.RNG_STREAMS`), which the train step gives
each discriminator call from the state's key, so every call (reals, fakes,
the penalty's call) gets its own draw and a run stays a pure function of its
key that resumes exactly. In inference (``train=False``) it is the identity.

The operations, on images in [-1, 1] (``[B, H, W, C]``), each drawn per
example: ``color`` (brightness shifted by U(-0.5, 0.5), saturation scaled by
U(0, 2) about the pixel's channel mean, contrast scaled by U(0.5, 1.5) about
the image's mean, as the paper's code has them), ``translation`` (shifted by
up to 1/8 of the side in each direction, zeros filling in) and ``cutout``
(a square of half the side, anywhere it at least partly fits, set to zero).

Adaptive augmentation (ADA; Karras et al. 2020): rather than always
transforming, each operation transforms an example with probability ``p``,
and ``p`` is steered by how sure the discriminator is of the real images it
trains on. The signal is ``r = E[sign(D(real))]``: near 0 while the
discriminator generalises, near 1 once it has learned the real set by heart.
:class:`AdaptiveProbability` raises ``p`` while ``r`` is above a target
(ADA's 0.6) and lowers it while below. ``DiffAugment(adaptive=True)`` keeps
``p`` as a variable of its ``batch_stats`` collection, which the train state
carries and checkpoints, so a resumed run continues with the same ``p``; the
recipe's ``d_stats_update`` hook (:class:`jaxgan.GANRecipe`) runs the
controller after every discriminator update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.layers import with_batch_norm_axis

TRANSLATION_RATIO = 0.125
PROBABILITY = "probability"  # an adaptive DiffAugment's p, in its batch_stats
CUTOUT_RATIO = 0.5


def color(key: jax.Array, x: jax.Array) -> jax.Array:
    """Random brightness, saturation and contrast, per example."""
    k1, k2, k3 = jax.random.split(key, 3)
    shape = (x.shape[0], 1, 1, 1)
    x = x + jax.random.uniform(k1, shape, x.dtype) - 0.5
    mean = x.mean(axis=3, keepdims=True)
    x = (x - mean) * jax.random.uniform(k2, shape, x.dtype, 0.0, 2.0) + mean
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * jax.random.uniform(k3, shape, x.dtype, 0.5, 1.5) + mean


def translation(key: jax.Array, x: jax.Array, ratio: float = TRANSLATION_RATIO) -> jax.Array:
    """Each image shifted by a random whole number of pixels, up to
    ``ratio`` of its side in each direction; zeros fill in."""
    batch, height, width, _ = x.shape
    sy, sx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ky, kx = jax.random.split(key)
    dy = jax.random.randint(ky, (batch,), -sy, sy + 1)
    dx = jax.random.randint(kx, (batch,), -sx, sx + 1)
    padded = jnp.pad(x, ((0, 0), (sy, sy), (sx, sx), (0, 0)))

    def shift(image, dy, dx):  # the window whose top-left is (sy - dy, sx - dx)
        return jax.lax.dynamic_slice(image, (sy - dy, sx - dx, 0), (height, width, x.shape[3]))

    return jax.vmap(shift)(padded, dy, dx)


def cutout(key: jax.Array, x: jax.Array, ratio: float = CUTOUT_RATIO) -> jax.Array:
    """A random square of ``ratio`` of the side set to zero in each image."""
    batch, height, width, _ = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    ky, kx = jax.random.split(key)
    # The square's center, as in the paper's code: anywhere it overlaps the image.
    cy = jax.random.randint(ky, (batch, 1, 1), 0, height + (1 - size_y % 2))
    cx = jax.random.randint(kx, (batch, 1, 1), 0, width + (1 - size_x % 2))
    rows = jnp.arange(height)[None, :, None] - (cy - size_y // 2)
    cols = jnp.arange(width)[None, None, :] - (cx - size_x // 2)
    inside = (rows >= 0) & (rows < size_y) & (cols >= 0) & (cols < size_x)
    return jnp.where(inside[..., None], jnp.zeros((), x.dtype), x)


OPERATIONS: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> the operations' names, checked.

    Raises:
      ValueError: an empty policy or an unknown operation.
    """
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in OPERATIONS]
    if not names or unknown:
        raise ValueError(f"augmentation policy {policy!r} must be a comma-separated list of "
                         f"{', '.join(OPERATIONS)}")
    return names


def diff_augment(key: jax.Array, x: jax.Array, policy: str,
                 probability: float | jax.Array = 1.0) -> jax.Array:
    """``x`` transformed by each operation of ``policy`` in turn; each example
    is transformed by each operation with ``probability`` (1: always, as in
    DiffAugment; an array: ADA's traced ``p``)."""
    always = isinstance(probability, int | float) and probability >= 1.0
    for i, name in enumerate(parse_policy(policy)):
        op_key, coin_key = jax.random.split(jax.random.fold_in(key, i))
        augmented = OPERATIONS[name](op_key, x)
        if not always:
            apply = jax.random.bernoulli(coin_key, probability, (x.shape[0], 1, 1, 1))
            augmented = jnp.where(apply, augmented, x)
        x = augmented
    return x


class DiffAugment(nn.Module):
    """``discriminator`` that sees its images through :func:`diff_augment`
    when ``train`` is true (module docstring).

    Attributes:
      discriminator: the wrapped module, called as ``discriminator(x,
        [labels,] train=...)``; its variables sit under ``inner``.
      policy: the operations, e.g. ``"color,translation,cutout"``.
      probability: the chance that each operation transforms an example.
      adaptive: ADA: the chance is instead the variable
        ``batch_stats["probability"]``, starting at 0, which
        :class:`AdaptiveProbability` steers (module docstring).
      batch_norm_axis_name: passed on to the wrapped module where it has
        that attribute (the train step sets it under ``pmap``).
    """

    discriminator: nn.Module
    policy: str = "color,translation,cutout"
    probability: float = 1.0
    adaptive: bool = False
    batch_norm_axis_name: str | None = None

    def __post_init__(self):
        super().__post_init__()
        parse_policy(self.policy)
        if not 0 < self.probability <= 1:
            raise ValueError(f"augmentation probability must be in (0, 1], got "
                             f"{self.probability!r}")

    @property
    def num_classes(self):
        """The wrapped discriminator's classes (the module contract reads them)."""
        return getattr(self.discriminator, "num_classes", None)

    @property
    def pack(self):
        """The wrapped discriminator's examples per logit (PacGAN's; the module
        contract reads them)."""
        return getattr(self.discriminator, "pack", 1)

    def setup(self):
        """Binds the wrapped discriminator under one name."""
        # One name for the wrapped module, with or without the data-parallel
        # axis, so that parameters keep their paths under pmap.
        self.inner = with_batch_norm_axis(self.discriminator, self.batch_norm_axis_name,
                                          parent=None)
        if self.adaptive:  # ADA's p, in the state beside the discriminator's statistics
            self.p = self.variable("batch_stats", PROBABILITY,
                                   lambda: jnp.zeros((), jnp.float32))

    def __call__(self, x: jax.Array, *labels: jax.Array, train: bool) -> jax.Array:
        if x.ndim != 4:
            raise ValueError(f"DiffAugment transforms images [batch, height, width, channels], "
                             f"got shape {x.shape}")
        probability = self.p.value if self.adaptive else self.probability
        if train:
            # In float32 under any compute dtype: the random draws are then the
            # same ones, and the colour transforms' means keep their bits; the
            # inner module casts back.
            x = diff_augment(self.make_rng("augment"), x.astype(jnp.float32), self.policy,
                             probability).astype(x.dtype)
        return self.inner(x, *labels, train=train)


@dataclasses.dataclass(frozen=True)
class AdaptiveProbability:
    """ADA's controller of an adaptive :class:`DiffAugment`'s ``p``, as a
    recipe's ``d_stats_update`` hook.

    After every discriminator update, with ``r`` the mean sign of that
    update's real logits over the whole batch (all devices)::

        p <- clip(p + step * sign(r - target), 0, 1)

    ADA moves ``p`` every 4 updates by ``batch * 4 / 500,000``, so that it
    can cross from 0 to 1 in 500k images; runs here are shorter, so the
    default ``step`` lets it cross in 2,000 updates (128k images at batch 64).

    A frozen dataclass so that two recipes built alike compare equal (and
    share a jit cache entry).

    Attributes:
      target: the value of ``r`` to hold (ADA: 0.6).
      step: the change of ``p`` per discriminator update.
    """

    target: float = 0.6
    step: float = 5e-4

    def __post_init__(self):
        if not 0 <= self.target < 1:
            raise ValueError(f"the adaptive augmentation target must be in [0, 1), got "
                             f"{self.target!r}")
        if not 0 < self.step <= 1:
            raise ValueError(f"the adaptive augmentation step must be in (0, 1], got "
                             f"{self.step!r}")

    def __call__(self, d_stats: dict, real_logits: jax.Array,
                 mean: Callable[[jax.Array], jax.Array]) -> tuple[dict, dict[str, jax.Array]]:
        """``(d_batch_stats, real_logits, mean over devices) -> (d_batch_stats,
        metrics)``; the metrics are ``augment_p`` (after the update) and
        ``d_real_sign`` (``r``)."""
        if PROBABILITY not in d_stats:
            raise ValueError("AdaptiveProbability steers an adaptive DiffAugment; wrap the "
                             "discriminator in DiffAugment(..., adaptive=True)")
        overfitting = mean(jnp.mean(jnp.sign(real_logits).astype(jnp.float32)))
        p = jnp.clip(d_stats[PROBABILITY] + self.step * jnp.sign(overfitting - self.target),
                     0.0, 1.0)
        return {**d_stats, PROBABILITY: p}, {"augment_p": p, "d_real_sign": overfitting}


__all__ = ["CUTOUT_RATIO", "OPERATIONS", "PROBABILITY", "TRANSLATION_RATIO", "AdaptiveProbability",
           "DiffAugment", "color", "cutout",
           "diff_augment", "parse_policy", "translation"]
