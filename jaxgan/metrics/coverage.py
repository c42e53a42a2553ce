"""Mode coverage of samples from a known mixture (PacGAN's protocol).

Each generated point is assigned to its nearest mode; it is *high quality* if
it lies within ``threshold`` standard deviations of that mode. Reported:

* ``modes_covered``: modes with at least one high-quality point;
* ``high_quality_fraction``: the fraction of points that are high quality;
* ``reverse_kl``: :math:`KL(p \\| u) = \\sum_k p_k \\log(K p_k)`, where
  :math:`p` is the histogram of high-quality points over the :math:`K` modes
  and :math:`u` the uniform distribution. 0 is perfect balance, :math:`\\log K`
  means every point in one mode (also reported when no point is high quality).

Written in ``jax.numpy`` so that it runs on the device and under ``vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def nearest_modes(points: jax.Array, centers: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The index of each point's nearest center, ``[N]``, and its distance to it."""
    centers = jnp.asarray(centers, points.dtype)
    sq_dist = jnp.sum((points[:, None, :] - centers[None, :, :]) ** 2, axis=-1)
    return jnp.argmin(sq_dist, axis=1), jnp.sqrt(jnp.min(sq_dist, axis=1))


def mode_coverage(points: jax.Array, centers: jax.Array, std: float,
                  threshold: float = 3.0) -> dict[str, jax.Array]:
    """Mode-coverage statistics of ``points [N, D]`` against ``centers [K, D]``.

    Example:
      >>> centers = jnp.array([[0., 0.], [1., 0.]])
      >>> stats = mode_coverage(jnp.array([[0., 0.], [0.9, 0.], [5., 5.]]), centers, 0.05)
      >>> int(stats["modes_covered"]), float(stats["high_quality_fraction"])
      (1, 0.3333333432674408)
    """
    num_modes = centers.shape[0]
    nearest, distance = nearest_modes(points, centers)
    high_quality = distance <= threshold * std
    counts = jnp.sum(jax.nn.one_hot(nearest, num_modes) * high_quality[:, None], axis=0)
    total = counts.sum()
    p = counts / jnp.maximum(total, 1.0)
    kl = jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0) * num_modes), 0.0))
    return {
        "modes_covered": jnp.sum(counts > 0),
        "high_quality_fraction": jnp.mean(high_quality.astype(points.dtype)),
        "reverse_kl": jnp.where(total > 0, kl, jnp.log(float(num_modes))),
    }


__all__ = ["mode_coverage", "nearest_modes"]
