"""Frechet distance, KID and precision/recall against closed forms and brute force."""

import functools

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jaxgan.metrics.frechet import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_fit,
)
from jaxgan.metrics.kid import (
    kernel_inception_distance,
    mmd2_subsets,
    mmd2_unbiased,
    polynomial_kernel,
)
from jaxgan.metrics.precision_recall import in_manifold, knn_radii, precision_recall


def _correlated_features(seed, num, dim, shift=0.0):
    """Gaussian features with a dense, anisotropic covariance."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return (rng.normal(size=(num, dim)) @ mixing + shift).astype(np.float32)


def _random_spd(rng, dim):
    a = rng.normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


# --- Frechet distance ---------------------------------------------------------------------------

def test_gaussian_fit_matches_numpy_unbiased_covariance():
    features = _correlated_features(0, 50, 4, shift=3.0)
    mean, cov = gaussian_fit(jnp.asarray(features))
    np.testing.assert_allclose(mean, features.mean(0), rtol=1e-5)
    np.testing.assert_allclose(cov, np.cov(features.astype(np.float64), rowvar=False),
                               rtol=1e-4, atol=1e-6)
    assert cov.dtype == jnp.float32


def _decaying_spectrum_features(seed, num, dim):
    """Features whose variances fall like 1/i^2 along random directions, as learned ones do."""
    rng = np.random.default_rng(seed)
    rotation = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    return (rng.normal(size=(num, dim)) @ (rotation / np.arange(1, dim + 1)) + 3.0).astype(
        np.float32)


def _frechet_float64(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(c1 @ c2).real
    return np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(root)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = _correlated_features(1, 500, 16, shift=5.0)
    _, cov = gaussian_fit(jnp.asarray(features))
    distance = float(frechet_distance_from_features(features, features))
    assert 0.0 <= distance < 1e-5 * float(jnp.trace(cov))


def test_frechet_distance_float32_error_is_small_for_a_decaying_spectrum():
    # 128-D, variances from 1 down to 6e-5. Square roots of eigvalsh(S C S)
    # would be off by ~1e-3 tr C here (sqrt of float32 eps); the SVD route is not.
    features = _decaying_spectrum_features(2, 1000, 128)
    half = features[np.random.default_rng(3).permutation(1000)[:500]]
    trace = np.trace(np.cov(features.astype(np.float64), rowvar=False))
    assert float(frechet_distance_from_features(features, features)) < 1e-5 * trace
    expected = _frechet_float64(features, half)
    assert expected > 1e-3 * trace  # two halves differ by more than the tolerance
    np.testing.assert_allclose(frechet_distance_from_features(features, half), expected,
                               atol=1e-5 * trace)


def test_frechet_distance_diagonal_gaussians_closed_form():
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(*map(lambda v: jnp.asarray(v, jnp.float32),
                                (m1, np.diag(a), m2, np.diag(b))))
    np.testing.assert_allclose(got, expected, rtol=1e-5)  # 1 + 6.25 + 4 + 1 + 0 = 12.25


def test_frechet_distance_non_commuting_covariances_match_scipy_float64():
    rng = np.random.default_rng(2)
    dim = 8
    c1, c2 = _random_spd(rng, dim), _random_spd(rng, dim)
    assert not np.allclose(c1 @ c2, c2 @ c1, atol=1e-3)  # the case a diagonal test misses
    m1, m2 = rng.normal(size=dim), rng.normal(size=dim)
    root = scipy.linalg.sqrtm(c1 @ c2).real
    expected = np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(root)
    got = frechet_distance(*(jnp.asarray(v, jnp.float32) for v in (m1, c1, m2, c2)))
    # float32 inputs: relative error ~1e-6 of the trace terms (~2 dim), far below 1e-3.
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.trace(c1 + c2))
    # Swapping the Gaussians gives the same distance.
    swapped = frechet_distance(*(jnp.asarray(v, jnp.float32) for v in (m2, c2, m1, c1)))
    np.testing.assert_allclose(swapped, got, rtol=1e-5)


def test_vmapped_frechet_distance_decomposes_one_matrix_at_a_time_and_agrees():
    """Batched eigh or svd on the CPU can deadlock XLA's thread pool (see
    frechet.trace_sqrt_product): under vmap (over seeds, the real statistics
    shared) every decomposition must see a single matrix, and the distances
    must equal those computed one seed at a time."""
    rng = np.random.default_rng(4)
    dim, seeds = 6, 3
    real = [jnp.asarray(v, jnp.float32) for v in (rng.normal(size=dim), _random_spd(rng, dim))]
    means = jnp.asarray(rng.normal(size=(seeds, dim)), jnp.float32)
    covs = jnp.asarray(np.stack([_random_spd(rng, dim) for _ in range(seeds)]), jnp.float32)
    batched = jax.vmap(frechet_distance, in_axes=(None, None, 0, 0))

    def decompositions(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in ("eigh", "svd"):
                yield eqn
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                yield from decompositions(sub)

    found = list(decompositions(jax.make_jaxpr(batched)(*real, means, covs).jaxpr))
    assert found and all(eqn.invars[0].aval.ndim == 2 for eqn in found), found
    np.testing.assert_allclose(
        jax.jit(batched)(*real, means, covs),
        [frechet_distance(*real, means[i], covs[i]) for i in range(seeds)], rtol=1e-5)


def test_frechet_distance_singular_covariance():
    # Rank-1 covariances: the clipped eigenvalues must not produce NaNs.
    u, v = np.array([1.0, 0.0, 0.0]), np.array([0.6, 0.8, 0.0])
    c1, c2 = np.outer(u, u) * 4.0, np.outer(v, v)
    zero = np.zeros(3)
    # tr sqrt(C1 C2) = sqrt(4 * (u.v)^2) = 2 * 0.6 for two rank-1 matrices.
    expected = 4.0 + 1.0 - 2 * 2 * 0.6
    got = frechet_distance(*(jnp.asarray(x, jnp.float32) for x in (zero, c1, zero, c2)))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_frechet_distance_from_large_samples_approaches_closed_form():
    rng = np.random.default_rng(3)
    dim, num = 4, 20_000
    c1, c2 = _random_spd(rng, dim), _random_spd(rng, dim)
    m1, m2 = np.zeros(dim), np.full(dim, 0.5)
    x = rng.multivariate_normal(m1, c1, size=num).astype(np.float32)
    y = rng.multivariate_normal(m2, c2, size=num).astype(np.float32)
    root = scipy.linalg.sqrtm(c1 @ c2).real
    expected = np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(root)
    got = float(frechet_distance_from_features(x, y))
    # Sampling error of the fitted moments ~ 1/sqrt(num); the distance is ~1.
    np.testing.assert_allclose(got, expected, rtol=0.05)


# --- KID ----------------------------------------------------------------------------------------

def _mmd2_loops(x, y):
    """MMD^2, unbiased, written out pair by pair in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    dim = x.shape[1]

    def k(a, b):
        return (a @ b / dim + 1.0) ** 3

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("sizes", [(5, 5), (5, 4)], ids=["equal", "unequal"])
def test_mmd2_unbiased_matches_double_loop(sizes):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(sizes[0], 3)).astype(np.float32)
    y = (rng.normal(size=(sizes[1], 3)) + 0.7).astype(np.float32)
    np.testing.assert_allclose(mmd2_unbiased(x, y), _mmd2_loops(x, y), rtol=1e-4, atol=1e-5)


def test_polynomial_kernel_scales_by_dimension():
    x = jnp.array([[1.0, 2.0]])
    y = jnp.array([[3.0, -1.0], [0.0, 0.0]])
    # (1*3 + 2*(-1)) / 2 + 1 = 1.5; 1.5^3 = 3.375. The zero vector gives 1.
    np.testing.assert_allclose(polynomial_kernel(x, y), [[3.375, 1.0]])


def _population_mmd2(mu):
    """MMD^2 between N(0, 1) and N(mu, 1) under k(x, y) = (x y + 1)^3.

    The kernel's feature map is (1, sqrt3 x, sqrt3 x^2, x^3), so MMD^2 is the
    squared distance between the mean embeddings (moments 1 to 3).
    """
    return 3 * mu**2 + 3 * (1 - (1 + mu**2)) ** 2 + (0 - (mu**3 + 3 * mu)) ** 2


def _mmd2_biased(x, y):
    """The V-statistic: within-set diagonals included."""
    return (jnp.mean(polynomial_kernel(x, x)) + jnp.mean(polynomial_kernel(y, y))
            - 2 * jnp.mean(polynomial_kernel(x, y)))


def _many_small_estimates(mu, estimator, draws=2000, size=10):
    kx, ky = jax.random.split(jax.random.PRNGKey(5))
    x = jax.random.normal(kx, (draws, size, 1))
    y = jax.random.normal(ky, (draws, size, 1)) + mu
    estimates = np.asarray(jax.jit(jax.vmap(estimator))(x, y), np.float64)
    return estimates.mean(), estimates.std(ddof=1) / np.sqrt(draws)


def test_mmd2_unbiased_averages_to_the_population_value():
    mu = 0.5
    expected = _population_mmd2(mu)  # 0.75 + 0.1875 + 2.640625
    np.testing.assert_allclose(expected, 3.578125)
    mean, stderr = _many_small_estimates(mu, mmd2_unbiased)
    assert abs(mean - expected) < 4 * stderr, (mean, expected, stderr)
    assert stderr < 0.1 * expected  # the check above is not vacuous


def test_mmd2_unbiased_is_unbiased_at_zero_and_the_biased_estimate_is_not():
    mean, stderr = _many_small_estimates(0.0, mmd2_unbiased)
    assert abs(mean) < 4 * stderr, (mean, stderr)
    biased_mean, biased_stderr = _many_small_estimates(0.0, _mmd2_biased)
    # The V-statistic's bias is ~(E k(x,x) - E k(x,y)) * 2 / size: clearly positive.
    assert biased_mean > 10 * biased_stderr, (biased_mean, biased_stderr)
    assert biased_mean - mean > 10 * max(stderr, biased_stderr)


def test_mmd2_unbiased_can_be_negative():
    # Half the estimates are below zero when both sets come from one distribution.
    x = jax.random.normal(jax.random.PRNGKey(6), (200, 10, 2))
    y = jax.random.normal(jax.random.PRNGKey(7), (200, 10, 2))
    fraction_negative = float(jnp.mean(jax.vmap(mmd2_unbiased)(x, y) < 0))
    assert 0.3 < fraction_negative < 0.8


def test_kid_mean_and_standard_error_are_those_of_the_subset_estimates():
    real = jnp.asarray(_correlated_features(8, 120, 6))
    fake = jnp.asarray(_correlated_features(9, 100, 6, shift=0.3))
    key = jax.random.PRNGKey(10)
    mean, stderr = kernel_inception_distance(real, fake, key, num_subsets=20, subset_size=50)
    estimates = np.asarray(mmd2_subsets(real, fake, key, num_subsets=20, subset_size=50))
    assert estimates.shape == (20,) and np.isfinite(float(mean))
    assert np.ptp(estimates) > 0  # the subsets differ
    assert float(stderr) > 0
    np.testing.assert_allclose(mean, estimates.mean(), rtol=1e-5)
    np.testing.assert_allclose(stderr, estimates.std(ddof=1) / np.sqrt(20), rtol=1e-4)
    # The shifted fake set is detected: the mean is many standard errors above 0.
    assert float(mean) > 3 * float(stderr)


def test_kid_with_whole_sets_as_subsets_is_the_full_estimate():
    real = jnp.asarray(_correlated_features(11, 40, 5))
    fake = jnp.asarray(_correlated_features(12, 40, 5, shift=0.2))
    # subset_size >= both sizes: each subset is a permutation of everything.
    mean, stderr = kernel_inception_distance(real, fake, jax.random.PRNGKey(0), num_subsets=4,
                                             subset_size=1000)
    np.testing.assert_allclose(mean, mmd2_unbiased(real, fake), rtol=1e-4)
    assert float(stderr) < 1e-4 * abs(float(mean))


# --- Precision and recall -----------------------------------------------------------------------

def _knn_radii_brute_force(features, k):
    features = np.asarray(features, np.float64)
    distances = np.linalg.norm(features[:, None] - features[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return np.sort(distances, axis=1)[:, k - 1]


@pytest.mark.parametrize("k", [1, 3])
def test_knn_radii_match_brute_force(k):
    features = _correlated_features(13, 9, 3)
    np.testing.assert_allclose(knn_radii(features, k=k, block_size=4),
                               _knn_radii_brute_force(features, k), rtol=1e-5)


def test_knn_radii_count_a_duplicate_as_a_neighbour():
    features = jnp.array([[0.0], [0.0], [1.0], [3.0]])
    # Each 0 has the other at distance 0; 1's nearest is 0 at 1; 3's is 1 at 2.
    np.testing.assert_allclose(knn_radii(features, k=1), [0.0, 0.0, 1.0, 2.0])
    np.testing.assert_allclose(knn_radii(features, k=2), [1.0, 1.0, 1.0, 3.0])


def test_in_manifold_by_hand():
    references = jnp.array([[0.0, 0.0], [10.0, 0.0]])
    radii = jnp.array([1.0, 2.0])
    queries = jnp.array([[0.0, 1.0], [0.0, 1.5], [8.0, 0.0], [5.0, 0.0]])
    # On the first ball's boundary (inside), outside it, on the second's boundary, in neither.
    np.testing.assert_array_equal(in_manifold(queries, references, radii),
                                  [True, False, True, False])


def test_identical_sets_score_exactly_one():
    features = _correlated_features(14, 64, 8, shift=100.0)  # far from the origin
    scores = precision_recall(features, features, k=3, block_size=16)
    assert float(scores["precision"]) == 1.0 and float(scores["recall"]) == 1.0


def _two_clusters(seed, sizes, dim=2, spread=0.1, apart=10.0):
    rng = np.random.default_rng(seed)
    clusters = [rng.normal(size=(n, dim)) * spread + c * apart for c, n in enumerate(sizes)]
    return [c.astype(np.float32) for c in clusters]


def test_dropping_a_mode_halves_recall_but_keeps_precision():
    big, small = _two_clusters(15, (60, 40))
    real = np.concatenate([big, small])
    # Fake = exactly the points of one mode: each lies on a real point.
    only_big = precision_recall(real, big)
    assert float(only_big["precision"]) == 1.0
    np.testing.assert_allclose(only_big["recall"], 60 / 100)
    only_small = precision_recall(real, small)
    np.testing.assert_allclose(only_small["recall"], 40 / 100)
    # Fake = fresh draws of the big mode: precision near 1, recall near 60%.
    fresh_big, _ = _two_clusters(16, (60, 40))
    scores = precision_recall(real, fresh_big)
    assert float(scores["precision"]) > 0.85
    assert 0.45 < float(scores["recall"]) <= 0.6


def test_precision_recall_does_not_depend_on_block_size():
    real = _correlated_features(17, 50, 3)
    fake = _correlated_features(18, 37, 3, shift=0.5)
    whole = precision_recall(real, fake, block_size=1024)
    blocked = precision_recall(real, fake, block_size=8)  # 50 and 37 are not multiples of 8
    assert 0 < float(whole["precision"]) < 1 and 0 < float(whole["recall"]) < 1
    for name in ("precision", "recall"):
        assert float(whole[name]) == float(blocked[name])
    # The radii may differ in the last bit: each block shape compiles its own reduction order.
    np.testing.assert_allclose(knn_radii(real, block_size=7), knn_radii(real, block_size=64),
                               rtol=1e-6)


@pytest.mark.parametrize("k, sizes", [(5, (5, 10)), (10, (20, 10)), (0, (5, 5))])
def test_precision_recall_rejects_k_too_large(k, sizes):
    real = jnp.zeros((sizes[0], 2))
    fake = jnp.zeros((sizes[1], 2))
    with pytest.raises(ValueError, match="k must satisfy"):
        precision_recall(real, fake, k=k)
    with pytest.raises(ValueError, match="k must satisfy"):
        jax.jit(functools.partial(precision_recall, k=k))(real, fake)


# --- jit and vmap over generated sets -------------------------------------------------------------

def _fake_sets():
    """Two generated sets ("seeds") stacked, [2, M, D], and a shared real set."""
    real = jnp.asarray(_correlated_features(19, 48, 4))
    fakes = jnp.stack([jnp.asarray(_correlated_features(20, 40, 4, shift=0.3)),
                       jnp.asarray(_correlated_features(21, 40, 4, shift=-0.8))])
    return real, fakes


def _metrics(real, fake):
    kid_mean, kid_stderr = kernel_inception_distance(real, fake, jax.random.PRNGKey(3),
                                                     num_subsets=5, subset_size=30)
    return {"fd": frechet_distance_from_features(real, fake), "kid": kid_mean,
            "kid_stderr": kid_stderr, **precision_recall(real, fake, k=3, block_size=16)}


def test_metrics_under_jit_and_vmap_match_separate_calls():
    real, fakes = _fake_sets()
    jitted = jax.jit(_metrics)
    separate = [jitted(real, fake) for fake in fakes]
    # The seeds differ, so the per-seed comparison below checks the batching.
    assert abs(float(separate[0]["fd"]) - float(separate[1]["fd"])) > 0.1
    batched = jax.jit(jax.vmap(_metrics, in_axes=(None, 0)))(real, fakes)
    eager = _metrics(real, fakes[1])  # without jit (slow: one seed only)
    for name in separate[0]:
        for seed, expected in enumerate(separate):
            np.testing.assert_allclose(batched[name][seed], expected[name], rtol=1e-4, atol=1e-6,
                                       err_msg=name)
        np.testing.assert_allclose(eager[name], separate[1][name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
