"""DiffAugment: each operation does what it says (checked against the image it
was given), passes gradients, draws from the step's "augment" stream, and is
the identity in inference."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxgan
from jaxgan import augment


def images(n=64, side=16, channels=1, seed=0):
    return jax.random.uniform(jax.random.PRNGKey(seed), (n, side, side, channels), minval=-1)


def shifted(image, dy, dx):
    """``image`` moved down ``dy`` and right ``dx`` pixels, zeros filling in."""
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = (
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)])
    return out


def test_translation_moves_each_image_by_a_whole_shift_within_an_eighth():
    x = np.asarray(images())
    out = np.asarray(augment.translation(jax.random.PRNGKey(1), jnp.asarray(x)))
    shifts = []
    for before, after in zip(x, out, strict=True):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(shifted(before, dy, dx), after)]
        assert len(found) == 1, found  # exactly one shift of at most 16/8 = 2 pixels
        shifts.append(found[0])
    assert len(set(shifts)) > 15  # drawn per example: most of the 25 shifts appear


def test_cutout_zeroes_one_square_of_half_the_side_clipped_by_the_border():
    x = jnp.ones((200, 16, 16, 1))
    out = np.asarray(augment.cutout(jax.random.PRNGKey(2), x))
    for image in out[..., 0]:
        rows, cols = np.nonzero(image == 0)
        assert rows.size > 0  # the square always overlaps the image
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        assert rows.size == (bottom - top + 1) * (right - left + 1)  # one rectangle
        assert bottom - top + 1 <= 8 and right - left + 1 <= 8
        # Cut by the border, or a whole 8x8 square.
        assert (bottom - top + 1 == 8 or top == 0 or bottom == 15)
        assert (right - left + 1 == 8 or left == 0 or right == 15)
    assert (out == 0).mean() == pytest.approx(0.2, abs=0.05)  # about (8/16)^2 minus clipping


def test_color_is_an_affine_map_of_each_greyscale_image():
    x = np.asarray(images(n=32))
    out = np.asarray(augment.color(jax.random.PRNGKey(3), jnp.asarray(x)))
    slopes = []
    for before, after in zip(x.reshape(32, -1), out.reshape(32, -1), strict=True):
        slope, offset = np.polyfit(before, after, 1)
        np.testing.assert_allclose(after, slope * before + offset, atol=1e-5)
        slopes.append(slope)
    # One channel: saturation does nothing, contrast scales by U(0.5, 1.5).
    assert min(slopes) >= 0.5 and max(slopes) <= 1.5 and np.std(slopes) > 0.1


def test_the_policy_is_differentiable_and_checked():
    x = images(n=4, side=8, channels=3)
    for policy in ("color", "translation", "cutout", "color,translation,cutout"):
        # Compiled once per policy: check_grads calls it many times, op by op.
        check_grads(jax.jit(lambda v, p=policy: augment.diff_augment(jax.random.PRNGKey(4), v, p)),
                    (x,), order=1, modes=("rev",))
    with pytest.raises(ValueError, match="comma-separated list of color, translation, cutout"):
        augment.parse_policy("colour")
    with pytest.raises(ValueError, match="probability must be in"):
        augment.DiffAugment(jaxgan.MLPDiscriminator(), probability=0.0)


def test_probability_transforms_about_that_share_of_the_examples():
    x = jnp.ones((1000, 8, 8, 1))
    out = augment.diff_augment(jax.random.PRNGKey(5), x, "cutout", probability=0.3)
    changed = np.asarray(jnp.any(out != x, axis=(1, 2, 3)))
    assert changed.mean() == pytest.approx(0.3, abs=0.05)


class Critic(nn.Module):
    @nn.compact
    def __call__(self, x, *, train):
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


def test_the_wrapper_draws_from_the_augment_stream_and_is_the_identity_in_inference():
    wrapped = augment.DiffAugment(Critic(), policy="translation,cutout")
    x = images(n=8)
    variables = wrapped.init({"params": jax.random.PRNGKey(0)}, x, train=False)
    plain = Critic().apply({"params": variables["params"]["inner"]}, x, train=True)
    np.testing.assert_array_equal(wrapped.apply(variables, x, train=False), plain)
    with pytest.raises(Exception, match="augment"):  # train mode needs its stream
        wrapped.apply(variables, x, train=True)
    draw = lambda k: wrapped.apply(variables, x, train=True, rngs={"augment": k})  # noqa: E731
    np.testing.assert_array_equal(draw(jax.random.PRNGKey(1)), draw(jax.random.PRNGKey(1)))
    assert not np.array_equal(draw(jax.random.PRNGKey(1)), draw(jax.random.PRNGKey(2)))


def test_an_augmented_dcgan_trains_a_step_and_the_state_key_fixes_its_draws():
    recipe = jaxgan.GANRecipe(
        generator=jaxgan.DCGANGenerator(resolution=28, channels=1, width=8),
        discriminator=augment.DiffAugment(jaxgan.DCGANDiscriminator(resolution=28, width=8)),
        latent_dim=8)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
    batch = images(n=16, side=28)[None]
    step = jax.jit(jaxgan.make_train_step(recipe))
    once, metrics = step(state, batch)
    again, _ = step(state, batch)
    jax.tree.map(np.testing.assert_array_equal, once, again)
    assert np.isfinite(metrics["d_loss"]) and np.isfinite(metrics["g_loss"])
    other, _ = step(state.replace(key=jax.random.PRNGKey(9)), batch)
    assert not np.array_equal(other.d_params["inner"]["logit"]["kernel"],
                              once.d_params["inner"]["logit"]["kernel"])


def test_adaptive_probability_moves_p_one_step_towards_the_target_and_stays_in_0_1():
    controller = augment.AdaptiveProbability(target=0.6, step=0.1)
    mean = lambda x: x  # noqa: E731 (one device)
    # Signs of the real logits: 4 of 5 positive, r = (4 - 1) / 5 = 0.6 + 0, so
    # r - target = 0 and p stays; 5 of 5: r = 1 > 0.6, p rises; 1 of 5: falls.
    cases = [(jnp.array([1.0, 2.0, 3.0, 0.5, -1.0]), 0.5, 0.5),
             (jnp.array([1.0, 2.0, 3.0, 0.5, 1.0]), 0.5, 0.6),
             (jnp.array([1.0, -2.0, -3.0, -0.5, -1.0]), 0.5, 0.4),
             (jnp.ones(5), 0.95, 1.0),
             (-jnp.ones(5), 0.05, 0.0)]
    for logits, before, after in cases:
        stats, metrics = controller({"probability": jnp.float32(before), "inner": {}}, logits,
                                    mean)
        np.testing.assert_allclose(stats["probability"], after, atol=1e-6)
        np.testing.assert_allclose(metrics["augment_p"], after, atol=1e-6)
        np.testing.assert_allclose(metrics["d_real_sign"], jnp.mean(jnp.sign(logits)))
        assert stats["inner"] == {}
    with pytest.raises(ValueError, match="adaptive=True"):
        controller({"inner": {}}, jnp.ones(5), mean)
    with pytest.raises(ValueError, match="target must be in"):
        augment.AdaptiveProbability(target=1.0)


def test_a_traced_probability_of_0_is_the_identity_and_of_1_is_always():
    x = images(n=8)
    key = jax.random.PRNGKey(3)
    np.testing.assert_array_equal(augment.diff_augment(key, x, "translation,cutout",
                                                       jnp.float32(0.0)), x)
    np.testing.assert_array_equal(
        augment.diff_augment(key, x, "translation,cutout", jnp.float32(1.0)),
        augment.diff_augment(key, x, "translation,cutout"))


def test_ada_keeps_p_in_the_state_and_steers_it_each_discriminator_update():
    recipe = jaxgan.GANRecipe(
        generator=jaxgan.DCGANGenerator(resolution=28, channels=1, width=4),
        discriminator=augment.DiffAugment(jaxgan.DCGANDiscriminator(resolution=28, width=4),
                                          policy="translation", adaptive=True),
        latent_dim=8, n_disc=2, d_stats_update=augment.AdaptiveProbability(0.6, 0.25))
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (28, 28, 1))
    assert float(state.d_batch_stats["probability"]) == 0.0  # starts off, in the state
    step = jax.jit(jaxgan.make_train_step(recipe))
    batch = jnp.stack([images(n=16, side=28, seed=1), images(n=16, side=28, seed=2)])
    p = 0.0
    for _ in range(3):
        state, metrics = step(state, batch)
        # Two discriminator updates per step; the metric reports the last one's r.
        assert float(metrics["augment_p"]) == float(state.d_batch_stats["probability"])
        assert 0.0 <= float(metrics["augment_p"]) <= 1.0
        assert abs(float(metrics["augment_p"]) - p) <= 0.5 + 1e-6
        p = float(metrics["augment_p"])
    assert "augment_p" in metrics and "d_real_sign" in metrics
    # The recipe records the controller, so a resume with another is refused.
    assert "AdaptiveProbability(target=0.6, step=0.25)" in recipe.describe()["d_stats_update"]
    assert "adaptive = True" in recipe.describe()["discriminator"]
    # Runs saved before DiffAugment had the field record none and still resume.
    fixed = jaxgan.GANRecipe(recipe.generator, augment.DiffAugment(
        jaxgan.DCGANDiscriminator(resolution=28, width=4), policy="translation"), 8)
    assert "adaptive" not in fixed.describe()["discriminator"]
    assert "d_stats_update" not in fixed.describe()
