"""Two unpaired image domains, for CycleGAN (:mod:`jaxgan.cyclegan`).

An :class:`UnpairedSource` holds the images of domain A (the inputs of the
forward generator) and of domain B (its outputs), with optional class labels
in each, which only the metrics read (does a translated digit keep its
class?). Nothing matches an A image with a B image: a batch is one draw from
each domain, in orders of their own.

Each domain holds out a fixed tenth of its images
(:func:`jaxgan.metrics.classifier.holdout_split` with the evaluation seed, as
the scoring classifier of that domain holds out), never trained on: what the
translations in both directions are evaluated on. Training batches are drawn
on the device in :class:`jaxgan.data.ArraySource`'s O(batch) per-epoch order
over the rest.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.arrays import ArraySource, to_unit_range
from jaxgan.data.pairs import HOLDOUT_SEED
from jaxgan.metrics.classifier import holdout_split

DOMAINS = ("a", "b")


@dataclasses.dataclass(frozen=True, eq=False)
class UnpairedSource:
    """Images of two domains, unpaired; see the module docstring.

    Attributes:
      name: short name for logs and plots.
      domain_a: domain A's images (and labels) as an :class:`ArraySource`.
      domain_b: domain B's, of the same height and width (channels may differ).
      shuffle_seed: seeds the training orders (domain A's from ``2 * seed``,
        B's from ``2 * seed + 1``, so the two never march in step).
    """

    name: str
    domain_a: ArraySource
    domain_b: ArraySource
    shuffle_seed: int = 0

    def __post_init__(self):
        shapes = [domain.example_shape for domain in (self.domain_a, self.domain_b)]
        if shapes[0][:2] != shapes[1][:2]:
            raise ValueError(f"{self.name}: domain A's images are {shapes[0]} and B's "
                             f"{shapes[1]}; load both at one image size")
        splits, orders = {}, {}
        for offset, (key, domain) in enumerate(zip(DOMAINS, (self.domain_a, self.domain_b),
                                                   strict=True)):
            if domain.num_examples < 2:
                raise ValueError(f"{self.name}: domain {key.upper()} ({domain.name}) has "
                                 f"{domain.num_examples} image(s); training and the held-out "
                                 "evaluation need at least 2")
            train, held_out = holdout_split(domain.num_examples, HOLDOUT_SEED)
            # Images past the split's cap (it samples at most 60,000) train too.
            train = np.concatenate([train, np.setdiff1d(
                np.arange(domain.num_examples), np.concatenate([train, held_out]))])
            splits[key] = (train, held_out)
            orders[key] = ArraySource(domain.name, domain.images[train], None,
                                      2 * self.shuffle_seed + offset, domain.shuffle)
        object.__setattr__(self, "_splits", splits)
        object.__setattr__(self, "_orders", orders)

    def domain(self, key: str) -> ArraySource:
        """Domain ``"a"`` or ``"b"``, all its images and labels (what that
        domain's scoring classifier learns from, holding out the same tenth)."""
        if key not in DOMAINS:
            raise ValueError(f"a domain is 'a' or 'b', got {key!r}")
        return self.domain_a if key == "a" else self.domain_b

    @property
    def example_shape(self) -> tuple[int, ...]:
        """One domain-B image's shape: what the forward generator makes."""
        return self.domain_b.example_shape

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One domain-A image's shape."""
        return self.domain_a.example_shape

    @property
    def num_examples(self) -> int:
        """Domain B's training images (the held-out ones are not)."""
        return len(self._splits["b"][0])

    @property
    def num_classes(self) -> int:
        """Domain B's classes (0 without labels): what the metrics read."""
        return self.domain_b.num_classes

    def training_domain(self, key: str) -> ArraySource:
        """Domain ``key``'s training images and labels, without its held-out
        tenth: what a model that steers training (a CycleGAN's semantic guide)
        may learn from."""
        domain, rows = self.domain(key), self._splits[key][0]
        return ArraySource(domain.name, domain.images[rows],
                           None if domain.labels is None else domain.labels[rows],
                           domain.shuffle_seed, domain.shuffle)

    def device_data(self) -> dict[str, jax.Array]:
        """Both domains' training images, put on the device once."""
        return {key: jnp.asarray(self.domain(key).images[self._splits[key][0]])
                for key in DOMAINS}

    def sample_real(self, key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                    num: int) -> tuple[jax.Array, jax.Array]:
        """``(a, b)``: ``num`` training images of each domain that ``step``
        reads, in [-1, 1] (the key is unused: the orders are the epochs')."""
        del key
        return tuple(to_unit_range(data[name][self._orders[name].indices(step, num)])
                     for name in DOMAINS)

    def sample_labelled(self, key, step, data, num):
        """Refused: the domains are translated, not drawn for a class-conditional GAN."""
        raise ValueError(f"{self.name} holds two domains for translation; their labels are "
                         "for the metrics, not for a class-conditional GAN")

    def held_out(self, key: str, num: int | None = None) -> dict[str, jax.Array]:
        """The first ``num`` (all by default) held-out images of domain
        ``key``, in [-1, 1], as ``images`` and, where it has them, ``labels``."""
        domain, rows = self.domain(key), self._splits[key][1][:num]
        out = {"images": to_unit_range(jnp.asarray(domain.images[rows]))}
        if domain.labels is not None:
            out["labels"] = jnp.asarray(domain.labels[rows], jnp.int32)
        return out

    def held_out_count(self, key: str) -> int:
        """How many images domain ``key`` holds out."""
        return len(self._splits[key][1])

    @property
    def num_held_out(self) -> int:
        """The smaller domain's held-out images: what an evaluation can compare."""
        return min(self.held_out_count(key) for key in DOMAINS)

    def held_out_pairs(self, num: int | None = None) -> dict[str, jax.Array]:
        """The forward direction's held-out inputs (:meth:`direction`), as a
        translation run reads them: ``inputs`` and, where domain A has them,
        ``labels``; no ``targets``, since nothing pairs them."""
        return self.direction().held_out_pairs(num)

    def direction(self, backward: bool = False) -> UnpairedDirection:
        """The translation A -> B (B -> A with ``backward``) as an evaluation reads it."""
        return UnpairedDirection(self, backward)

    def real_examples(self, num: int, seed: int = HOLDOUT_SEED, key: str = "b"
                      ) -> tuple[jax.Array, jax.Array]:
        """Up to ``num`` training images of domain ``key`` and up to ``num``
        held-out ones: the distribution metrics' reference and the real-data floor."""
        del seed  # the split is fixed: the held-out images are never trained on
        images = self.domain(key).images
        return tuple(to_unit_range(jnp.asarray(images[rows[:num]]))
                     for rows in self._splits[key])


@dataclasses.dataclass(frozen=True, eq=False)
class UnpairedDirection:
    """One direction of an :class:`UnpairedSource`, shaped like the paired
    data that :mod:`jaxgan.evaluation` scores: held-out inputs of one domain
    (with their classes), and the other domain as the real data that outputs
    are compared with and that its scoring classifier learns from."""

    source: UnpairedSource
    backward: bool = False

    @property
    def _keys(self) -> tuple[str, str]:
        return ("b", "a") if self.backward else ("a", "b")

    @property
    def name(self) -> str:
        return f"{self.source.name} ({'B to A' if self.backward else 'A to B'})"

    @property
    def example_shape(self) -> tuple[int, ...]:
        """An output's shape: the output domain's images'."""
        return self.source.domain(self._keys[1]).example_shape

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.source.domain(self._keys[0]).example_shape

    @property
    def num_classes(self) -> int:
        """The classes that outputs are read as: the output domain's."""
        return self.source.domain(self._keys[1]).num_classes

    @property
    def labels(self) -> np.ndarray | None:
        """The input domain's labels (what an output's class is checked against)."""
        return self.source.domain(self._keys[0]).labels

    @property
    def num_held_out(self) -> int:
        return self.source.num_held_out

    @property
    def targets_source(self) -> ArraySource:
        """The output domain: what the scoring classifier learns."""
        return self.source.domain(self._keys[1])

    def held_out_pairs(self, num: int | None = None) -> dict[str, jax.Array]:
        """The input domain's first ``num`` held-out images as ``inputs``, and
        their ``labels`` where it has them."""
        held_out = self.source.held_out(self._keys[0], num)
        return {"inputs": held_out["images"],
                **({"labels": held_out["labels"]} if "labels" in held_out else {})}

    def real_examples(self, num: int, seed: int = HOLDOUT_SEED) -> tuple[jax.Array, jax.Array]:
        """The output domain's reference and held-out images."""
        return self.source.real_examples(num, seed, key=self._keys[1])


__all__ = ["DOMAINS", "UnpairedDirection", "UnpairedSource"]
