"""Image datasets held in memory, sampled inside the jitted step or streamed.

:class:`ArraySource` holds a dataset as arrays. When it fits in device memory
it is put there once and batches are drawn inside the train step with no host
round trip; otherwise :class:`HostStream` gathers each call's batches on the
host and copies them to the device while the previous call runs. Either way
the order is a fresh shuffle each epoch, computed from ``(shuffle_seed,
epoch)`` alone, so the batch of any step is a pure function of the step: the
two placements read the same examples, a resumed run reads exactly the data it
would have read, and nothing about the data position needs saving. A step
computes only its own positions of the shuffle (:mod:`jaxgan.data.shuffle`),
so drawing a batch costs the same at any dataset size.

Images are kept as ``uint8`` (0..255) where the data come that way, a quarter
of the memory of ``float32``; :func:`to_unit_range` maps them to [-1, 1] on the
device, after sampling.

:func:`digits` is the bundled default: scikit-learn's 1,797 handwritten 8x8
digits (shipped inside the scikit-learn package; no network), scaled to
[-1, 1] and resized to the requested resolution.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data import shuffle as shuffles

# How an epoch's order is computed. "feistel": each position alone, O(batch)
# per step (jaxgan.data.shuffle). "permutation": the whole epoch's
# jax.random.permutation, O(dataset) per step: the order of runs made before
# the Feistel shuffle, kept so that their checkpoints resume on the same data.
SHUFFLES = ("feistel", "permutation")


@dataclasses.dataclass(frozen=True, eq=False)
class ArraySource:
    """Images (and optional labels) held in host memory.

    The fit loop copies them to the device once when they fit there
    (:meth:`device_data`), or streams each call's batches (:class:`HostStream`).

    Attributes:
      name: short name for logs and plots.
      images: ``[N, H, W, C]``, on the host: ``uint8`` in 0..255, or float32
        in [-1, 1].
      labels: ``[N]`` int32 class labels, or ``None``.
      conditions: ``[N]`` int32, what a conditional GAN is conditioned on
        where that is not the labels (the clusters of a self-conditioned
        GAN, :mod:`jaxgan.data.clusters`), or ``None``: the labels. The
        labels still go to the scoring classifier.
      shuffle_seed: seeds the per-epoch orders. Every seed of a vmapped run
        reads the same order; they differ in initialisation and noise.
      shuffle: how each epoch's order is computed, one of :data:`SHUFFLES`
        (``"feistel"``, the default, or ``"permutation"``, the order of runs
        made before it). A checkpoint records it: a run resumes on the order
        it started with.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray | None = None
    shuffle_seed: int = 0
    shuffle: str = "feistel"
    conditions: np.ndarray | None = None

    def __post_init__(self):
        if self.shuffle not in SHUFFLES:
            raise ValueError(f"shuffle must be one of {', '.join(SHUFFLES)}, got "
                             f"{self.shuffle!r}")
        if self.images.ndim != 4:
            raise ValueError(f"images must be [N, H, W, C], got shape {self.images.shape}")
        if self.images.dtype not in (np.uint8, np.float32):
            raise ValueError(f"images must be uint8 (0..255) or float32 ([-1, 1]), got "
                             f"{self.images.dtype}")
        if self.labels is not None and self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must be [N] = [{self.images.shape[0]}], got shape "
                             f"{self.labels.shape}")
        if self.conditions is not None and self.conditions.shape != (self.images.shape[0],):
            raise ValueError(f"conditions must be [N] = [{self.images.shape[0]}], got shape "
                             f"{self.conditions.shape}")

    @property
    def num_examples(self) -> int:
        return self.images.shape[0]

    @property
    def example_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def nbytes(self) -> int:
        labels = self.condition_labels  # what device_data holds beside the images
        return self.images.nbytes + (0 if labels is None else labels.nbytes)

    @property
    def num_classes(self) -> int:
        return 0 if self.labels is None else int(self.labels.max()) + 1

    @property
    def condition_labels(self) -> np.ndarray | None:
        """What a conditional GAN is conditioned on: ``conditions`` where set,
        else the labels."""
        return self.labels if self.conditions is None else self.conditions

    @property
    def num_conditions(self) -> int:
        """The classes (or clusters) a conditional GAN on this source takes."""
        found = self.condition_labels
        return 0 if found is None else int(found.max()) + 1

    def device_data(self) -> dict[str, jax.Array]:
        """The arrays to put on the device once and pass to every step."""
        data = {"images": jnp.asarray(self.images)}
        if self.condition_labels is not None:  # what the conditional sampler reads
            data["labels"] = jnp.asarray(self.condition_labels, jnp.int32)
        return data

    def indices(self, step: jax.Array, num: int) -> jax.Array:
        """Dataset indices of the ``num`` examples read at ``step``.

        Position ``p = step * num + i`` of the stream is example
        ``order(p // N)[p % N]``, where ``order(e)`` is epoch ``e``'s shuffle
        of ``0..N-1``: every example once per epoch. With ``shuffle="feistel"``
        only these ``num`` positions of it are computed.
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
        epoch_keys = [jax.random.fold_in(base, first_epoch + j) for j in range(2)]
        if self.shuffle == "permutation":
            perms = jnp.stack([jax.random.permutation(key, n) for key in epoch_keys])
            return perms[offsets // n, offsets % n]
        round_keys = jnp.stack([shuffles.round_keys(key) for key in epoch_keys])
        return shuffles.shuffle_index(offsets % n, n, round_keys[offsets // n])

    def sample_real(self, key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                    num: int) -> jax.Array:
        """The sampler signature that :func:`jaxgan.step.make_sampling_step` takes.

        Returns the images of the ``num`` examples that ``step`` reads. The key
        is unused: the order comes from the epoch permutations.
        """
        del key
        return to_unit_range(data["images"][self.indices(step, num)])

    def sample_labelled(self, key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                        num: int) -> tuple[jax.Array, jax.Array]:
        """Like :meth:`sample_real`, with the examples' labels: the conditional sampler."""
        del key
        if "labels" not in data:
            raise ValueError(f"{self.name} has no labels to condition on")
        indices = self.indices(step, num)
        return to_unit_range(data["images"][indices]), data["labels"][indices]


def to_unit_range(images: jax.Array) -> jax.Array:
    """``uint8`` 0..255 -> float32 [-1, 1]; float images are returned as they are."""
    if images.dtype == jnp.uint8:
        return images.astype(jnp.float32) / 127.5 - 1.0
    return images


def sample_streamed(key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                    num: int) -> jax.Array | tuple[jax.Array, jax.Array]:
    """The sampler for batches that :class:`HostStream` already gathered.

    Returns the images, or ``(images, labels)`` when the stream carries labels.
    """
    del key, step
    if data["images"].shape[0] != num:
        raise ValueError(f"streamed batch holds {data['images'].shape[0]} examples, the step "
                         f"reads {num}")
    images = to_unit_range(data["images"])
    return (images, data["labels"]) if "labels" in data else images


class HostStream:
    """Streams the batches of ``steps_per_call`` steps at a time from the host.

    Call ``i`` of a run that starts at ``start_step`` gets the examples of steps
    ``start_step + i * steps_per_call ...``, stacked ``[steps_per_call,
    examples_per_step, H, W, C]`` (the input of ``make_multi_step(...,
    stacked=True)``), in the same order as the device-resident sampler. The
    next call's batches are gathered and copied on a worker thread while the
    device runs the current call. With ``with_labels`` each call also gets the
    examples' labels, ``[steps_per_call, examples_per_step]``. ``put`` copies
    a call's host arrays to the devices (``jax.device_put`` by default; data
    parallelism spreads the examples over the devices instead, see
    :mod:`jaxgan.parallel`).
    """

    def __init__(self, source: ArraySource, start_step: int, steps_per_call: int,
                 examples_per_step: int, with_labels: bool = False,
                 put: Callable[[dict[str, np.ndarray]], dict[str, jax.Array]] = jax.device_put):
        if with_labels and source.condition_labels is None:
            raise ValueError(f"{source.name} has no labels to stream")
        self._source = source
        self._with_labels = with_labels
        self._put = put
        self._next_step = start_step
        self._shape = (steps_per_call, examples_per_step)
        steps = jnp.arange(steps_per_call)
        self._indices = jax.jit(lambda first: jax.vmap(
            lambda s: source.indices(first + s, examples_per_step))(steps))
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="host-stream")
        self._pending = self._pool.submit(self._gather, self._next_step)

    def _gather(self, first_step: int) -> dict[str, jax.Array]:
        indices = np.asarray(self._indices(jnp.int32(first_step)))
        batches = {"images": self._source.images[indices]}
        if self._with_labels:
            batches["labels"] = self._source.condition_labels[indices].astype(np.int32)
        return self._put(batches)

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, jax.Array]:
        batches = self._pending.result()
        self._next_step += self._shape[0]
        self._pending = self._pool.submit(self._gather, self._next_step)
        return batches

    def close(self) -> None:
        """Stops the background gathering of batches."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of float ``[N, H, W, C]`` images to ``[N, size, size, C]``."""
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


# MNIST's digits fill a 20x20 box centred in 28x28 (LeCun et al.'s normalisation).
MNIST_BOX = 20 / 28


def mnist_box(side: int) -> tuple[int, int]:
    """``(top, inner)``: where MNIST's box starts in a frame of ``side`` pixels
    (from the top and from the left) and how wide it is."""
    inner = max(1, round(side * MNIST_BOX))
    return (side - inner) // 2, inner


def framed_digits(image_size: int = 32, shuffle_seed: int = 0) -> ArraySource:
    """scikit-learn's digits in MNIST's frame: each 8x8 digit, which fills its
    box, upscaled bilinearly to the central ``20/28`` of the side with
    background around it, as MNIST places its digits. Still blurry and
    thick, but where an MNIST digit would be: translating between the two
    then asks for the strokes to change, not the size and place."""
    base = digits(8, shuffle_seed)
    top, inner = mnist_box(image_size)
    images = np.clip(resize_images(base.images, inner), -1.0, 1.0)
    after = image_size - inner - top
    images = np.pad(images, ((0, 0), (top, after), (top, after), (0, 0)),
                    constant_values=-1.0)
    return ArraySource("digits_framed", images, base.labels, shuffle_seed)


__all__ = ["MNIST_BOX", "ArraySource", "HostStream", "digits", "framed_digits", "mnist_box",
           "resize_images", "sample_streamed", "to_unit_range"]
