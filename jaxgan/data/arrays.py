"""Datasets that fit in device memory, sampled inside the jitted step.

:class:`ArraySource` puts a dataset on the device once; batches are then drawn
inside the train step with no host round trip. The order is a fresh
permutation each epoch, computed from ``(shuffle_seed, epoch)`` alone, so the
batch of any step is a pure function of the step: a resumed run reads exactly
the data it would have read, and nothing about the data position needs
saving.

:func:`digits` is the bundled default: scikit-learn's 1,797 handwritten 8x8
digits (shipped inside the scikit-learn package; no network), scaled to
[-1, 1] and resized to the requested resolution.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class ArraySource:
    """Images (and optional labels) held on the device.

    Attributes:
      name: short name for logs and plots.
      images: ``[N, H, W, C]`` float32 in [-1, 1], on the host.
      labels: ``[N]`` int32 class labels, or ``None``.
      shuffle_seed: seeds the per-epoch permutations. Every seed of a vmapped
        run reads the same order; they differ in initialisation and noise.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray | None = None
    shuffle_seed: int = 0

    def __post_init__(self):
        if self.images.ndim != 4:
            raise ValueError(f"images must be [N, H, W, C], got shape {self.images.shape}")
        if self.labels is not None and self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must be [N] = [{self.images.shape[0]}], got shape "
                             f"{self.labels.shape}")

    @property
    def num_examples(self) -> int:
        return self.images.shape[0]

    @property
    def example_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def device_data(self) -> dict[str, jax.Array]:
        """The arrays to put on the device once and pass to every step."""
        data = {"images": jnp.asarray(self.images, jnp.float32)}
        if self.labels is not None:
            data["labels"] = jnp.asarray(self.labels, jnp.int32)
        return data

    def indices(self, step: jax.Array, num: int) -> jax.Array:
        """Dataset indices of the ``num`` examples read at ``step``.

        Position ``p = step * num + i`` of the stream is example
        ``perm(p // N)[p % N]``: every example once per epoch.
        """
        n = self.num_examples
        if num > n:
            raise ValueError(f"a step reads {num} examples but the dataset has only {n}; "
                             "lower the batch size (or n_disc)")
        # step * num overflows int32 on long runs; split it as
        # step * num = (step // n) * num * n + (step % n) * num, whose second
        # term stays below n * num.
        step = jnp.asarray(step, jnp.int32)
        start = (step % n) * num
        first_epoch = (step // n) * num + start // n
        offsets = start % n + jnp.arange(num)   # < 2n: the step spans <= 2 epochs
        base = jax.random.PRNGKey(self.shuffle_seed)
        perms = jnp.stack([jax.random.permutation(jax.random.fold_in(base, first_epoch + j), n)
                           for j in range(2)])
        return perms[offsets // n, offsets % n]

    def sample_real(self, key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                    num: int) -> jax.Array:
        """The sampler signature that :func:`jaxgan.step.make_sampling_step` takes.

        Returns the images of the ``num`` examples that ``step`` reads. The key
        is unused: the order comes from the epoch permutations.
        """
        del key
        return data["images"][self.indices(step, num)]


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``[N, H, W, C]`` images to ``[N, size, size, C]``."""
    n, _, _, c = images.shape
    resized = jax.image.resize(jnp.asarray(images, jnp.float32), (n, size, size, c), "bilinear")
    return np.asarray(resized, np.float32)


def digits(image_size: int = 32, shuffle_seed: int = 0) -> ArraySource:
    """scikit-learn's handwritten digits: 1,797 images, 10 classes, no network.

    The 8x8 images (ink 0..16) are scaled to [-1, 1] (background -1) and
    resized bilinearly to ``image_size``.
    """
    from sklearn.datasets import load_digits  # the data ship inside the package

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 8.0 - 1.0)[..., None]
    if image_size != 8:
        images = np.clip(resize_images(images, image_size), -1.0, 1.0)
    return ArraySource("digits", images, bunch.target.astype(np.int32), shuffle_seed)
