"""Stacked MNIST: the image benchmark for mode collapse (VEEGAN, PacGAN, R3GAN).

Each example stacks ``channels`` (3) greyscale digits as the channels of one
image, each drawn independently, so the data have ``10 ** channels`` (1,000)
equally likely modes, one per triple of classes. A generator that covers them
all has to draw every combination; a collapsed one shows up as modes missing
from the histogram of its samples' triples (:mod:`jaxgan.metrics.stacked`).

:class:`StackedSource` draws the triples on the device from the base dataset
(the bundled ``mnist5k`` for the dataset name ``stacked_mnist5k``): channel
``c`` of the examples a step reads is the base example that channel ``c``'s
own shuffle puts at that position, so each channel walks through every base
example once per epoch in an order of its own, and no stacked copy of the data
is ever made. Channel 0 reads the base dataset's own order; channel ``c``
reads the order of shuffle seed ``shuffle_seed + c * CHANNEL_SEED_STRIDE``. A
step's batch is a pure function of the step, as for any
:class:`~jaxgan.data.ArraySource`: exact resume and any device count.

The mode of an example is ``sum_c label_c * 10 ** (channels - 1 - c)``: the
digits read as a number, red channel first (``label`` of a labelled batch).
Where the base carries ``conditions`` (the clusters of its digits, for a
self-conditioned GAN: :mod:`jaxgan.data.clusters`), a labelled batch's
labels are the channels' clusters read as a number in base ``k`` instead,
``k ** channels`` conditions; the scores still read the digits' classes.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.arrays import ArraySource, to_unit_range

# Channel c's shuffle seed is the base's plus c times this (a prime: channels
# of neighbouring seeds do not share orders).
CHANNEL_SEED_STRIDE = 1_000_003
# The real sets that the distribution metrics compare with are at most this
# many stacked examples each (drawn, not stored: 5,000 at 28x28x3 is 47 MB).
MAX_REAL_EXAMPLES = 5_000


@dataclasses.dataclass(frozen=True, eq=False)
class StackedSource:
    """``channels`` independent draws of a greyscale labelled ``base`` per example.

    Attributes:
      base: the digits, ``[N, H, W, 1]`` with labels (an :class:`ArraySource`).
      channels: digits per example (3 for Stacked MNIST's 1,000 modes).
      name: for logs and plots.
    """

    base: ArraySource
    channels: int = 3
    name: str = "stacked_mnist5k"

    def __post_init__(self):
        if self.base.example_shape[-1] != 1 or self.base.labels is None:
            raise ValueError(f"a stacked dataset stacks greyscale labelled images; "
                             f"{self.base.name} has shape {self.base.example_shape} and "
                             f"{'no' if self.base.labels is None else 'its'} labels")
        if not isinstance(self.channels, int) or self.channels < 1:
            raise ValueError(f"channels must be a positive integer, got {self.channels!r}")

    @property
    def example_shape(self) -> tuple[int, ...]:
        return (*self.base.example_shape[:-1], self.channels)

    @property
    def num_examples(self) -> int:
        """The base's examples: an epoch of every channel."""
        return self.base.num_examples

    @property
    def digit_classes(self) -> int:
        """Classes of one channel (10)."""
        return self.base.num_classes

    @property
    def num_classes(self) -> int:
        """Modes: ``digit_classes ** channels``."""
        return self.digit_classes ** self.channels

    @property
    def num_conditions(self) -> int:
        """What a conditional GAN on these data takes: the modes, or where the
        base has clusters, the ``k ** channels`` triples of clusters."""
        return self.base.num_conditions ** self.channels

    @property
    def shuffle(self) -> str:
        """The base's data order (a checkpoint records it)."""
        return self.base.shuffle

    def channel_sources(self) -> list[ArraySource]:
        """One view of the base per channel, each with its own shuffle seed
        (the arrays are shared, not copied)."""
        return [dataclasses.replace(self.base,
                                    shuffle_seed=self.base.shuffle_seed + c * CHANNEL_SEED_STRIDE)
                for c in range(self.channels)]

    def device_data(self) -> dict[str, jax.Array]:
        """The base's arrays: every channel reads from them."""
        return self.base.device_data()

    def indices(self, step: jax.Array, num: int) -> jax.Array:
        """Base indices ``[num, channels]`` of the examples read at ``step``."""
        return jnp.stack([view.indices(step, num) for view in self.channel_sources()], axis=-1)

    def _gather(self, data: dict[str, jax.Array], indices: jax.Array, radix: int):
        images = jnp.concatenate([data["images"][indices[:, c]] for c in range(self.channels)],
                                 axis=-1)
        return to_unit_range(images), mode_of(data["labels"][indices], radix)

    def sample_real(self, key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                    num: int) -> jax.Array:
        """The ``num`` stacked examples of ``step``, in [-1, 1] (the key is unused)."""
        del key
        return self._gather(data, self.indices(step, num), self.digit_classes)[0]

    def sample_labelled(self, key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                        num: int) -> tuple[jax.Array, jax.Array]:
        """As :meth:`sample_real`, with each example's mode (or, where the
        base has clusters, its triple of clusters)."""
        del key
        return self._gather(data, self.indices(step, num), self.base.num_conditions)

    def stack(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Host-side: the stacked images (in [-1, 1]) and modes of base rows
        ``[M, channels]``."""
        # The digits' own classes, whatever the base's device data condition on.
        data = {"images": jnp.asarray(self.base.images),
                "labels": jnp.asarray(self.base.labels, jnp.int32)}
        images, modes = self._gather(data, jnp.asarray(rows), self.digit_classes)
        return np.asarray(images), np.asarray(modes)

    def real_examples(self, num: int, seed: int = 0) -> tuple[jax.Array, jax.Array]:
        """Real data for the distribution metrics (``(reference, held_out)``,
        at most :data:`MAX_REAL_EXAMPLES` each): triples drawn independently
        from the rows that the scoring classifier trains on, and from those it
        holds out (:func:`jaxgan.metrics.classifier.holdout_split`)."""
        from jaxgan.metrics.classifier import holdout_split

        num = min(num, MAX_REAL_EXAMPLES)
        rng = np.random.default_rng(seed)
        sets = []
        for rows in holdout_split(self.base.num_examples, seed):
            drawn = rng.choice(rows, size=(num, self.channels))
            sets.append(jnp.asarray(self.stack(drawn)[0]))
        return tuple(sets)


def mode_of(labels: jax.Array, digit_classes: int = 10) -> jax.Array:
    """The mode of digit labels ``[..., channels]``: the digits read as a
    number in base ``digit_classes``, first channel first."""
    channels = labels.shape[-1]
    weights = digit_classes ** jnp.arange(channels - 1, -1, -1)
    return jnp.sum(labels * weights, axis=-1).astype(jnp.int32)


def stacked_mnist5k(image_size: int = 28, shuffle_seed: int = 0) -> StackedSource:
    """Stacked MNIST from the bundled ``mnist5k`` (its extra), 3 channels."""
    from jaxgan.data.images import load_mnist5k

    return StackedSource(load_mnist5k(image_size, shuffle_seed=shuffle_seed))


__all__ = ["CHANNEL_SEED_STRIDE", "MAX_REAL_EXAMPLES", "StackedSource", "mode_of",
           "stacked_mnist5k"]
