"""Input-gradient penalties: known answers on linear critics, finite
differences, and no NaN where the critic's gradient is zero."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

from jaxgan import penalties

W = jnp.array([[0.5, -1.5], [2.0, 0.25]])  # a linear critic on 2x2 "images"


def keys(seed, num):
    """One key per example, as the train step passes them."""
    return jax.random.split(jax.random.PRNGKey(seed), num)


def linear_critic(w):
    return lambda x: jnp.sum(x * w, axis=(1, 2))


def test_gradient_penalty_of_linear_critic_is_known_exactly():
    real = jax.random.normal(jax.random.PRNGKey(0), (5, 2, 2))
    fake = jax.random.normal(jax.random.PRNGKey(1), (5, 2, 2))
    got = penalties.gradient_penalty(linear_critic(W), real, fake, keys(2, 5))
    # grad_x <w, x> = w everywhere, so every interpolate has norm ||w||.
    expected = (np.sqrt(np.sum(np.asarray(W) ** 2)) - 1.0) ** 2
    np.testing.assert_allclose(got, np.full(5, expected), rtol=1e-6)
    # with_norm also returns the norms the train step logs: ||w|| for every example.
    values, norms = penalties.gradient_penalty(linear_critic(W), real, fake, keys(2, 5),
                                               with_norm=True)
    np.testing.assert_allclose(values, got, rtol=1e-6)
    np.testing.assert_allclose(norms, np.full(5, np.sqrt(np.sum(np.asarray(W) ** 2))), rtol=1e-6)


def test_r1_of_linear_critic_is_half_squared_norm():
    real = jax.random.normal(jax.random.PRNGKey(0), (3, 2, 2))
    got = penalties.r1_penalty(linear_critic(W), real, None, None)
    np.testing.assert_allclose(got, np.full(3, 0.5 * np.sum(np.asarray(W) ** 2)), rtol=1e-6)


def test_r2_and_r1_r2_take_the_slope_where_each_is_defined():
    # f(x) = c . x^2 (per example) has gradient 2 c x: R1 reads the real
    # inputs, R2 the fake ones, and R1+R2 adds the two.
    c = jnp.array([[1.0, -2.0]])
    critic = lambda x: jnp.sum(c * x ** 2, axis=1)  # noqa: E731
    real = jnp.array([[1.0, 0.5], [0.0, 2.0]])
    fake = jnp.array([[-1.0, 1.0], [3.0, 0.0]])

    def half_squared(x):
        return 0.5 * np.sum((2 * np.asarray(c) * np.asarray(x)) ** 2, axis=1)

    np.testing.assert_allclose(penalties.r2_penalty(critic, real, fake, None), half_squared(fake),
                               rtol=1e-6)
    both, norm = penalties.r1_r2_penalty(critic, real, fake, None, with_norm=True)
    np.testing.assert_allclose(both, half_squared(real) + half_squared(fake), rtol=1e-6)
    np.testing.assert_allclose(norm, np.sqrt(2 * (half_squared(real) + half_squared(fake))),
                               rtol=1e-6)


def test_penalties_are_per_example():
    # Critic with a different slope per example position: f(x_i) = c * x_i^2,
    # grad = 2 c x_i, so each example's penalty depends on its own input only.
    real = jnp.array([[1.0], [2.0], [0.0]])
    got = penalties.r1_penalty(lambda x: 3.0 * x[:, 0] ** 2, real, None, None)
    np.testing.assert_allclose(got, 0.5 * (6.0 * np.array([1.0, 2.0, 0.0])) ** 2, rtol=1e-6)


def test_gradient_penalty_interpolates_with_one_weight_per_example():
    # f(x) = sum(x^2) / 2 has gradient x, so the penalty reveals the
    # interpolate: real = 1 and fake = 0 everywhere give x_hat = eps.
    real, fake = jnp.ones((4, 3)), jnp.zeros((4, 3))
    # Compiled, with the critic fixed: op by op, this test took a minute.
    penalty = jax.jit(functools.partial(penalties.gradient_penalty,
                                        lambda x: 0.5 * jnp.sum(x ** 2, axis=1)))
    got = penalty(real, fake, keys(7, 4))
    eps = np.array([jax.random.uniform(k, ()) for k in keys(7, 4)])
    np.testing.assert_allclose(got, (np.sqrt(3) * eps - 1.0) ** 2, rtol=1e-5)
    # An example's weight comes from its own key only: the first two of the
    # four, passed alone, get the same weights.
    np.testing.assert_allclose(penalty(real[:2], fake[:2], keys(7, 4)[:2]), got[:2], rtol=1e-6)


def test_zero_gradient_gives_finite_penalty_and_finite_parameter_gradient():
    real = jnp.ones((4, 2, 2))
    fake = jnp.zeros((4, 2, 2))

    @jax.jit
    def loss(w):
        return penalties.gradient_penalty(linear_critic(w), real, fake, keys(0, 4)).mean()

    zero = jnp.zeros((2, 2))
    # (sqrt(0 + eps) - 1)^2 = (1e-6 - 1)^2
    np.testing.assert_allclose(loss(zero), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(jax.jit(jax.grad(loss))(zero)))


def test_penalty_gradients_match_finite_differences():
    real = jax.random.normal(jax.random.PRNGKey(0), (3, 2, 2))
    fake = jax.random.normal(jax.random.PRNGKey(1), (3, 2, 2))

    def tanh_critic(w):
        return lambda x: jnp.tanh(jnp.sum(x * w, axis=(1, 2)))

    for penalty in (penalties.gradient_penalty, penalties.r1_penalty, penalties.r1_r2_penalty):
        def loss(w, penalty=penalty):
            return penalty(tanh_critic(w), real, fake, keys(3, 3)).mean()

        check_grads(jax.jit(loss), (W,), order=1, modes=["rev"], atol=2e-2, rtol=2e-2, eps=1e-2)
