"""Mode-coverage statistics on hand-built point sets, and the mixtures."""

import jax
import numpy as np
import pytest

import jaxgan
from jaxgan.metrics import mode_coverage


def test_ring_of_8_has_angles_2_pi_k_over_8_without_a_repeated_endpoint():
    ring = jaxgan.ring()
    angles = np.arctan2(ring.centers[:, 1], ring.centers[:, 0]) % (2 * np.pi)
    np.testing.assert_allclose(np.sort(angles), 2 * np.pi * np.arange(8) / 8, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ring.centers, axis=1), 1.0, rtol=1e-6)
    assert ring.std == 0.01


def test_grid_of_25_has_spacing_2_centred_on_origin():
    grid = jaxgan.grid()
    assert grid.num_modes == 25 and grid.std == 0.05
    np.testing.assert_allclose(np.unique(grid.centers[:, 0]), [-4, -2, 0, 2, 4])
    np.testing.assert_allclose(grid.centers.mean(axis=0), [0, 0], atol=1e-6)


@pytest.mark.parametrize("mixture", [jaxgan.ring(), jaxgan.grid()], ids=["ring8", "grid25"])
def test_real_samples_score_perfectly(mixture):
    points = jax.jit(mixture.sample, static_argnums=1)(jax.random.PRNGKey(0), 2500)
    stats = mode_coverage(points, mixture.centers, mixture.std)
    assert int(stats["modes_covered"]) == mixture.num_modes
    # 3 std in 2D holds 1 - exp(-9/2) = 98.9% of a Gaussian's mass.
    assert float(stats["high_quality_fraction"]) > 0.98
    # Multinomial noise over 2500 points: KL ~ (K-1)/(2N), far below 0.05.
    assert float(stats["reverse_kl"]) < 0.02
    std = np.std(np.asarray(points) - mixture.centers[
        np.argmin(((np.asarray(points)[:, None] - mixture.centers) ** 2).sum(-1), axis=1)])
    np.testing.assert_allclose(std, mixture.std, rtol=0.05)


def test_hand_built_points():
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    std = 0.1
    points = np.array([
        [0.0, 0.0], [0.05, 0.0], [0.0, 0.29],  # mode 0, all within 3 std = 0.3
        [1.0, 0.2],                            # mode 1
        [0.5, 0.5],                            # nobody's: 0.71 from every mode
        [0.0, 0.69],                           # nearest mode 2 but 0.31 away: low quality
    ], np.float32)
    stats = mode_coverage(points, centers, std)
    assert int(stats["modes_covered"]) == 2
    np.testing.assert_allclose(stats["high_quality_fraction"], 4 / 6, rtol=1e-6)
    # histogram of good points over the 4 modes: (3, 1, 0, 0) / 4
    p = np.array([0.75, 0.25])
    np.testing.assert_allclose(stats["reverse_kl"], np.sum(p * np.log(4 * p)), rtol=1e-5)


def test_collapse_to_one_mode_has_kl_log_k_and_so_does_nothing_good():
    centers = jaxgan.ring().centers
    collapsed = np.repeat(centers[:1], 100, axis=0)
    np.testing.assert_allclose(mode_coverage(collapsed, centers, 0.01)["reverse_kl"],
                               np.log(8), rtol=1e-6)
    far = np.full((10, 2), 50.0, np.float32)
    stats = mode_coverage(far, centers, 0.01)
    assert int(stats["modes_covered"]) == 0
    np.testing.assert_allclose(stats["reverse_kl"], np.log(8), rtol=1e-6)


def test_vmaps_over_seeds():
    centers = jaxgan.ring().centers
    points = np.stack([np.repeat(centers[:2], 5, axis=0), centers[np.arange(10) % 5]])
    stats = jax.vmap(lambda p: mode_coverage(p, centers, 0.01))(points)
    np.testing.assert_array_equal(stats["modes_covered"], [2, 5])
