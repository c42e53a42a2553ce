"""A function over an array's rows, a chunk of rows at a time.

Evaluation generates and scores thousands of samples, and precision/recall
compares every sample with every real one; doing either in one call would
hold intermediates for all rows at once. :func:`map_in_chunks` bounds them by
the chunk size, inside one compiled loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def map_in_chunks(fn: Callable[[Any], Any], inputs: Any, chunk: int) -> Any:
    """``fn`` over the leading axis of the pytree ``inputs``, ``chunk`` rows per call.

    ``fn`` takes and returns pytrees whose leaves have a leading axis of
    ``chunk`` rows. The rows are padded to whole chunks (repeating the last
    row) and the padding's results dropped, so every chunk runs inside one
    ``lax.map`` loop: ``lax.map(..., batch_size=)`` would run a last partial
    chunk as a separate computation outside the loop, which XLA may merge
    with a twin elsewhere into one far larger intermediate.
    """
    num = jax.tree.leaves(inputs)[0].shape[0]
    chunk = min(chunk, num)
    padded = -(-num // chunk) * chunk

    def split(x):
        x = jnp.concatenate([x, jnp.repeat(x[-1:], padded - num, axis=0)])
        return x.reshape(padded // chunk, chunk, *x.shape[1:])

    out = jax.lax.map(fn, jax.tree.map(split, inputs))
    return jax.tree.map(lambda y: y.reshape(padded, *y.shape[2:])[:num], out)


__all__ = ["map_in_chunks"]
