"""Kernel distance between two sets of features: the squared MMD (KID).

The maximum mean discrepancy between distributions :math:`P` and :math:`Q`
under a kernel :math:`k` is, squared,

.. math::

    \\mathrm{MMD}^2 = E\\,k(x, x') + E\\,k(y, y') - 2 E\\,k(x, y),
    \\qquad x, x' \\sim P,\\; y, y' \\sim Q \\text{ independent}.

:func:`mmd2_unbiased` estimates it from samples ``x [n, D]``, ``y [m, D]``
without bias: the within-set averages leave out the pairs of a sample with
itself (whose :math:`k(x_i, x_i)` is not a draw of :math:`k(x, x')`):

.. math::

    \\frac{\\sum_{i \\ne j} k(x_i, x_j)}{n(n-1)}
    + \\frac{\\sum_{i \\ne j} k(y_i, y_j)}{m(m-1)}
    - 2 \\frac{\\sum_{i, j} k(x_i, y_j)}{n m}.

Being unbiased, it is negative about half the time when :math:`P = Q`; it is
never clipped, or averages of it would be biased again.

The kernel inception distance (Binkowski et al. 2018, "Demystifying MMD
GANs") is this estimate with the cubic polynomial kernel
:math:`k(x, y) = (x \\cdot y / D + 1)^3`, averaged over random subsets of the
two sets. The features are whatever extractor the caller uses: in jaxgan a
classifier trained on the real data, not Inception, so the numbers are not
comparable with published KIDs.

Written in ``jax.numpy``: everything jits and vmaps over the generated
features (real features shared).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

# Float32 products, not TF32 (which GPUs may use by default): the cubic kernel
# triples relative errors, and the estimate is a small difference of large terms.
_HIGHEST = jax.lax.Precision.HIGHEST

Kernel = Callable[[jax.Array, jax.Array], jax.Array]


def polynomial_kernel(x: jax.Array, y: jax.Array, degree: int = 3,
                      coef0: float = 1.0) -> jax.Array:
    """The polynomial kernel :math:`(x \\cdot y / D + c)^d`, KID's default.

    Args:
      x: ``[N, D]``.
      y: ``[M, D]``.
      degree: :math:`d`.
      coef0: :math:`c`.

    Returns:
      The kernel matrix, ``[N, M]``.
    """
    dim = x.shape[-1]
    return (jnp.matmul(x, y.T, precision=_HIGHEST) / dim + coef0) ** degree


def mmd2_unbiased(x: jax.Array, y: jax.Array,
                  kernel: Kernel = polynomial_kernel) -> jax.Array:
    """The unbiased estimate of MMD^2 of the module docstring.

    Args:
      x: ``[n, D]`` samples of one distribution, ``n >= 2``.
      y: ``[m, D]`` samples of the other, ``m >= 2``.
      kernel: maps ``[n, D], [m, D]`` to the ``[n, m]`` kernel matrix.

    Returns:
      A scalar; it can be negative.
    """
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"mmd2_unbiased needs at least 2 samples in each set, got {n} and {m}")
    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    within_x = (jnp.sum(k_xx) - jnp.trace(k_xx)) / (n * (n - 1))
    within_y = (jnp.sum(k_yy) - jnp.trace(k_yy)) / (m * (m - 1))
    return within_x + within_y - 2 * jnp.mean(k_xy)


def mmd2_subsets(real: jax.Array, fake: jax.Array, key: jax.Array, num_subsets: int = 100,
                 subset_size: int = 1000, kernel: Kernel = polynomial_kernel) -> jax.Array:
    """:func:`mmd2_unbiased` on random subsets of ``real`` and ``fake``.

    Each subset takes ``s = min(subset_size, N, M)`` rows of each set, drawn
    without replacement (so ``s`` equal to a set's size uses all of it), with
    keys split from ``key``. The subsets are evaluated one after another by
    ``jax.lax.map``, compiled once, holding three ``[s, s]`` kernel matrices
    at a time.

    Args:
      real: ``[N, D]`` features of real data.
      fake: ``[M, D]`` features of generated data.
      key: a PRNG key.
      num_subsets: the number of subsets.
      subset_size: the rows drawn from each set per subset, at most.
      kernel: as in :func:`mmd2_unbiased`.

    Returns:
      The estimate of each subset, ``[num_subsets]``.
    """
    size = min(subset_size, real.shape[0], fake.shape[0])

    def one_subset(subset_key):
        key_real, key_fake = jax.random.split(subset_key)
        rows_real = jax.random.permutation(key_real, real.shape[0])[:size]
        rows_fake = jax.random.permutation(key_fake, fake.shape[0])[:size]
        return mmd2_unbiased(real[rows_real], fake[rows_fake], kernel)

    return jax.lax.map(one_subset, jax.random.split(key, num_subsets))


def kernel_inception_distance(real: jax.Array, fake: jax.Array, key: jax.Array,
                              num_subsets: int = 100, subset_size: int = 1000,
                              kernel: Kernel = polynomial_kernel) -> tuple[jax.Array, jax.Array]:
    """KID (Binkowski et al. 2018) on the caller's features.

    The mean of :func:`mmd2_subsets` and its standard error. The subsets
    overlap when ``num_subsets * subset_size`` exceeds the data, so the error
    measures the spread of the subset draws, not the sampling error of the
    whole sets.

    Args:
      real: ``[N, D]`` features of real data (from any extractor; in jaxgan
        a classifier trained on the real data).
      fake: ``[M, D]`` features of generated data.
      key: a PRNG key for the subsets.
      num_subsets: the number of subsets; at least 2 for a standard error.
      subset_size: the rows drawn from each set per subset, at most.
      kernel: the cubic polynomial kernel unless given.

    Returns:
      ``(mean, standard_error)``: the mean estimate (never clipped: it can be
      negative) and ``std(ddof=1) / sqrt(num_subsets)`` of the estimates.
    """
    if num_subsets < 2:
        raise ValueError(f"kernel_inception_distance needs num_subsets >= 2, got {num_subsets}")
    estimates = mmd2_subsets(real, fake, key, num_subsets, subset_size, kernel)
    return jnp.mean(estimates), jnp.std(estimates, ddof=1) / jnp.sqrt(num_subsets)


__all__ = ["Kernel", "kernel_inception_distance", "mmd2_subsets", "mmd2_unbiased",
           "polynomial_kernel"]
