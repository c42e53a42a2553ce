"""Improved precision and recall of generated features (k-nearest-neighbour manifolds).

Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
Generative Models". Each set of features is turned into an estimate of the
region ("manifold") it occupies: the union of balls around its points, each
ball's radius the distance from its point to its ``k``-th nearest neighbour in
the same set. Then

* ``precision``: the fraction of generated points inside the real manifold
  (how many samples look real);
* ``recall``: the fraction of real points inside the generated manifold (how
  much of the data the generator reaches; dropped modes lower it).

A set compared with itself scores exactly 1 and 1: distances are computed
from coordinate differences, so a point's distance to its copy is exactly 0.
(The expansion :math:`\\|a\\|^2 + \\|b\\|^2 - 2 a \\cdot b` would be about 3x
faster on CPU as a matrix product, but cancels badly for features far from
the origin and under TF32 matrix products on GPUs.)

Distances are computed ``block_size`` query rows at a time
(:func:`~jaxgan.metrics.chunks.map_in_chunks`), so memory is ``block_size x
N``, never ``N x N``. Written in ``jax.numpy``: everything jits and vmaps over
the generated features (real features shared).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgan.metrics.chunks import map_in_chunks


def _distances(query: jax.Array, references: jax.Array) -> jax.Array:
    """Euclidean distances from one ``query [D]`` to each of ``references [R, D]``, ``[R]``."""
    # XLA fuses the difference into the reduction, so no [R, D] temporary is
    # kept per row (see map_in_chunks for the one case where it was).
    return jnp.sqrt(jnp.sum((references - query) ** 2, axis=-1))


def _check_k(k: int, num: int, name: str) -> None:
    if not 1 <= k < num:
        raise ValueError(f"k must satisfy 1 <= k < number of {name} points; got k={k} for {num}")


def knn_radii(features: jax.Array, k: int = 3, block_size: int = 1024) -> jax.Array:
    """The distance from each point to its ``k``-th nearest neighbour in the set.

    The point itself is not its own neighbour (it is left out by index, so an
    exact duplicate elsewhere in the set still counts as a neighbour at
    distance 0).

    Args:
      features: ``[N, D]``.
      k: which neighbour, ``1 <= k < N``.
      block_size: rows whose distances are computed at once.

    Returns:
      The radii, ``[N]``.
    """
    num = features.shape[0]
    _check_k(k, num, "features")

    def radius(row):
        point, index = row
        distances = _distances(point, features)
        positions = jnp.arange(num)
        distances = jnp.where(positions == index, jnp.inf, distances)
        # Drop the nearest k - 1 one at a time (by position, so that ties
        # count once each), then take the nearest left: k passes over the row,
        # much faster than lax.top_k (a full sort on CPU) for small k.
        for _ in range(k - 1):
            distances = jnp.where(positions == jnp.argmin(distances), jnp.inf, distances)
        return jnp.min(distances)

    return map_in_chunks(jax.vmap(radius), (features, jnp.arange(num)), block_size)


def in_manifold(queries: jax.Array, references: jax.Array, radii: jax.Array,
                block_size: int = 1024) -> jax.Array:
    """Whether each query lies in the union of balls around ``references``.

    Args:
      queries: ``[Q, D]``.
      references: ``[R, D]``, the balls' centres.
      radii: ``[R]``, the balls' radii (from :func:`knn_radii`).
      block_size: queries whose distances are computed at once.

    Returns:
      ``[Q]`` booleans: distance <= radius for at least one reference.
    """
    def inside(query):
        return jnp.any(_distances(query, references) <= radii)

    return map_in_chunks(jax.vmap(inside), queries, block_size)


def precision_recall(real: jax.Array, fake: jax.Array, k: int = 3,
                     block_size: int = 1024) -> dict[str, jax.Array]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Args:
      real: ``[N, D]`` features of real data.
      fake: ``[M, D]`` features of generated data.
      k: the neighbour whose distance sets each ball's radius (the paper
        uses 3); ``k < N`` and ``k < M``.
      block_size: rows whose distances are computed at once.

    Returns:
      ``precision``: the fraction of ``fake`` inside the real manifold;
      ``recall``: the fraction of ``real`` inside the generated manifold.
    """
    _check_k(k, real.shape[0], "real")
    _check_k(k, fake.shape[0], "fake")
    real_radii = knn_radii(real, k, block_size)
    fake_radii = knn_radii(fake, k, block_size)
    return {
        "precision": jnp.mean(in_manifold(fake, real, real_radii, block_size).astype(real.dtype)),
        "recall": jnp.mean(in_manifold(real, fake, fake_radii, block_size).astype(real.dtype)),
    }


__all__ = ["in_manifold", "knn_radii", "precision_recall"]
