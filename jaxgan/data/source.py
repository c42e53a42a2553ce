"""The data-source protocol: what the fit loop asks of training data.

Any object with these members can be passed to :func:`jaxgan.fit`; the loop
never checks a concrete class. Every sampler is pure, so the examples a step
reads are a function of the step alone (exact resume, any device count).

``Source`` (required):
  - ``name``: short name for logs and plots.
  - ``example_shape``: shape of one example, e.g. ``(2,)`` or ``(32, 32, 1)``.
  - ``num_classes``: label classes, 0 when the data are unlabelled.
  - ``device_data()``: the arrays the samplers read, which the loop puts on
    the device(s) once and passes to every step; ``None`` for procedural data.
  - ``sample_real(key, step, data, num)``: ``num`` examples for ``step``.
  - ``sample_labelled(key, step, data, num)``: ``(examples, labels [num])``;
    only called for a class-conditional recipe.

Optional capabilities, each a protocol of its own, that the loop looks for:
  - :class:`HostArrays`: the data as host arrays with a pure per-step index,
    so that a dataset too large for the device is streamed from the host
    (``data_placement``), the scoring classifier can be trained on it, and
    held-out examples give the real-data floor of the evaluation.
  - :class:`ModeMixture`: a mixture of known modes (``centers``, ``std``), scored
    by mode coverage and drawn as a scatter plot.
  - ``real_examples(num, seed) -> (reference, held_out)``: real data for the
    distribution metrics, where the source is neither of the above.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np

PyTree = Any


@runtime_checkable
class Source(Protocol):
    """Training data the fit loop can sample inside its jitted step."""

    name: str

    @property
    def example_shape(self) -> tuple[int, ...]: ...

    @property
    def num_classes(self) -> int: ...

    def device_data(self) -> PyTree | None:
        """What the jitted step needs of the data, put on the device once (or
        ``None`` for a source that samples from nothing)."""

    def sample_real(self, key: jax.Array, step: jax.Array, data: PyTree, num: int) -> PyTree:
        """``num`` real examples for train step ``step``, drawn inside jit from
        ``data`` (what :meth:`device_data` returned); a pure function of its
        arguments, so a resumed run draws the same batches."""

    def sample_labelled(self, key: jax.Array, step: jax.Array, data: PyTree,
                        num: int) -> tuple[PyTree, jax.Array]:
        """As :meth:`sample_real`, with each example's class ``[num]`` int32
        (a conditional GAN's batches)."""


@runtime_checkable
class HostArrays(Protocol):
    """A source held as host arrays (see :class:`jaxgan.data.ArraySource`)."""

    images: np.ndarray
    labels: np.ndarray | None

    @property
    def num_examples(self) -> int: ...

    @property
    def nbytes(self) -> int: ...

    def indices(self, step: jax.Array, num: int) -> jax.Array:
        """The dataset rows of train step ``step``'s ``num`` examples."""


@runtime_checkable
class ModeMixture(Protocol):
    """A source made of known modes (see :class:`jaxgan.data.Mixture`)."""

    centers: np.ndarray
    std: float

    @property
    def num_modes(self) -> int: ...

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        """``num`` points ``[num, 2]`` of the mixture, for pictures and scoring."""


def check_source(source: Any) -> None:
    """Raises a one-line ``TypeError`` naming what ``source`` lacks of :class:`Source`."""
    missing = [name for name in ("name", "example_shape", "num_classes", "device_data",
                                 "sample_real", "sample_labelled") if not hasattr(source, name)]
    if missing:
        raise TypeError(f"{type(source).__name__} is not a data source: it lacks "
                        f"{', '.join(missing)} (see jaxgan.data.Source)")


__all__ = ["HostArrays", "ModeMixture", "Source", "check_source"]
