"""Adversarial losses against hand-computed values, at extreme logits, and
their gradients against finite differences."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxgan import losses

LOGITS = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], np.float32)
FAKE = np.array([2.0, -1.0, 0.0, 1.5, -4.0], np.float32)


def log_sigmoid(x):
    """Reference log(sigmoid(x)) in float64."""
    x = np.asarray(x, np.float64)
    return -np.log1p(np.exp(-x))


@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_bce_discriminator_loss_matches_hand_computation(real_label):
    expected = (-real_label * log_sigmoid(LOGITS) - (1 - real_label) * log_sigmoid(-LOGITS)
                - log_sigmoid(-FAKE))
    got = losses.bce_discriminator_loss(LOGITS, FAKE, real_label)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_bce_at_zero_logits_is_two_log_two():
    np.testing.assert_allclose(losses.bce_discriminator_loss(jnp.zeros(3), jnp.zeros(3)),
                               2 * math.log(2), rtol=1e-7)


def test_label_smoothing_raises_the_loss_of_a_confident_discriminator():
    confident = jnp.array([10.0])
    assert (losses.bce_discriminator_loss(confident, -confident, 0.9)
            > losses.bce_discriminator_loss(confident, -confident, 1.0) + 0.9)


def test_generator_losses_match_hand_computation():
    np.testing.assert_allclose(losses.minimax_generator_loss(FAKE), log_sigmoid(-FAKE),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.non_saturating_generator_loss(FAKE), -log_sigmoid(FAKE),
                               rtol=1e-6)


def test_wasserstein_hinge_least_squares_match_hand_computation():
    r, f = LOGITS.astype(np.float64), FAKE.astype(np.float64)
    np.testing.assert_allclose(losses.wasserstein_critic_loss(LOGITS, FAKE), f - r, rtol=1e-6)
    np.testing.assert_allclose(losses.wasserstein_generator_loss(FAKE), -f, rtol=1e-6)
    np.testing.assert_allclose(losses.hinge_discriminator_loss(LOGITS, FAKE),
                               np.maximum(0, 1 - r) + np.maximum(0, 1 + f), rtol=1e-6)
    np.testing.assert_allclose(losses.hinge_generator_loss(FAKE), -f, rtol=1e-6)
    np.testing.assert_allclose(losses.least_squares_discriminator_loss(LOGITS, FAKE),
                               0.5 * (r - 1) ** 2 + 0.5 * f ** 2, rtol=1e-6)
    np.testing.assert_allclose(losses.least_squares_generator_loss(FAKE),
                               0.5 * (f - 1) ** 2, rtol=1e-6)


EXTREME = jnp.array([-1e4, 1e4], jnp.float32)


@pytest.mark.parametrize("fn", [
    lambda x: losses.bce_discriminator_loss(x, x),
    lambda x: losses.bce_discriminator_loss(x, x, 0.9),
    losses.minimax_generator_loss,
    losses.non_saturating_generator_loss,
])
def test_bce_family_is_finite_with_finite_gradients_at_extreme_logits(fn):
    values = fn(EXTREME)
    grads = jax.grad(lambda x: fn(x).sum())(EXTREME)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(grads))


def test_bce_values_are_exact_at_extreme_logits():
    # A discriminator sure that fakes are fake: the non-saturating loss is
    # -log sigmoid(-1e4) = 1e4 exactly; the minimax loss log(1 - sigmoid(-1e4)) = 0.
    np.testing.assert_allclose(losses.non_saturating_generator_loss(EXTREME), [1e4, 0.0])
    np.testing.assert_allclose(losses.minimax_generator_loss(EXTREME), [0.0, -1e4])
    # Gradients: the minimax loss saturates where the discriminator wins, the
    # non-saturating one does not.
    ns = jax.grad(lambda x: losses.non_saturating_generator_loss(x).sum())(EXTREME)
    mm = jax.grad(lambda x: losses.minimax_generator_loss(x).sum())(EXTREME)
    np.testing.assert_allclose(ns, [-1.0, 0.0])
    np.testing.assert_allclose(mm, [0.0, -1.0])


@pytest.mark.parametrize("name", losses.LOSS_NAMES)
def test_loss_pair_gradients_match_finite_differences(name):
    pair = losses.get_loss_pair(name)
    # Stay away from the hinge's kinks at +-1, where finite differences lie.
    real = jnp.array([0.3, -0.2, 2.5], jnp.float64 if jax.config.x64_enabled else jnp.float32)
    fake = jnp.array([-0.4, 0.1, -2.2], real.dtype)
    check_grads(lambda r, f: pair.discriminator(r, f).sum(), (real, fake), order=1,
                modes=["rev"], atol=1e-2, rtol=1e-2, eps=1e-2)
    if getattr(pair.generator, "uses_real_logits", False):  # relativistic: g(fake, real)
        check_grads(lambda f, r: pair.generator(f, r).sum(), (fake, real), order=1,
                    modes=["rev"], atol=1e-2, rtol=1e-2, eps=1e-2)
    else:
        check_grads(lambda f: pair.generator(f).sum(), (fake,), order=1, modes=["rev"],
                    atol=1e-2, rtol=1e-2, eps=1e-2)


def test_get_loss_pair_errors_name_the_fix():
    with pytest.raises(ValueError, match="unknown loss 'bce'.*non_saturating"):
        losses.get_loss_pair("bce")
    with pytest.raises(ValueError, match="only to BCE"):
        losses.get_loss_pair("hinge", real_label=0.9)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        losses.get_loss_pair("minimax", real_label=1.5)


def test_equal_configs_give_equal_loss_pairs():
    # Recipes built twice from one config must compare equal (jit cache hits).
    assert losses.get_loss_pair("non_saturating", 0.9) == losses.get_loss_pair(
        "non_saturating", 0.9)
