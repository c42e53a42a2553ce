"""The pure train step: against a hand-written reference, deterministic, compiled
once, and the same under vmap and scan as run alone."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgan
from jaxgan import losses


class Linear1D(nn.Module):
    """x -> w x + c on 1-D inputs; one logit (or one coordinate) per example."""

    squeeze: bool

    @nn.compact
    def __call__(self, x, train):
        del train
        out = nn.Dense(1, kernel_init=nn.initializers.constant(0.7 if self.squeeze else 1.3),
                       bias_init=nn.initializers.constant(0.1 if self.squeeze else -0.2))(x)
        return out[:, 0] if self.squeeze else out


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("r1_weight", [0.0, 0.3])
def test_step_matches_hand_written_reference(r1_weight):
    """Two discriminator updates then one generator update, by hand in float64.

    G(z) = a z + b and D(x) = w x + c, non-saturating BCE, plain SGD, and
    optionally the R1 penalty gamma/2 |dD/dx|^2 = gamma/2 w^2, whose gradient
    is gamma w. The noise follows the documented derivation: update i draws
    from fold_in(fold_in(fold_in(key, step), 0), i); the generator's i = n_disc.
    """
    lr_g, lr_d, n_disc, batch_size = 0.1, 0.05, 2, 4
    recipe = jaxgan.GANRecipe(
        generator=Linear1D(squeeze=False), discriminator=Linear1D(squeeze=True), latent_dim=1,
        g_optimizer=optax.sgd(lr_g), d_optimizer=optax.sgd(lr_d), n_disc=n_disc,
        penalty=jaxgan.penalties.r1_penalty if r1_weight else None, penalty_weight=r1_weight)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(3), (1,))
    real = jax.random.normal(jax.random.PRNGKey(9), (n_disc, batch_size, 1)) + 2.0
    new_state, metrics = jax.jit(jaxgan.make_train_step(recipe))(state, real)

    noise_key = jax.random.fold_in(jax.random.fold_in(state.key, state.step), 0)
    z = [np.asarray(jax.random.normal(jax.random.fold_in(noise_key, i), (batch_size, 1)),
                    np.float64)[:, 0] for i in range(n_disc + 1)]
    a, b, w, c = 1.3, -0.2, 0.7, 0.1
    d_losses, d_penalties = [], []
    for i in range(n_disc):
        xr = np.asarray(real[i, :, 0], np.float64)
        xf = a * z[i] + b
        sr, sf = sigmoid(w * xr + c), sigmoid(w * xf + c)
        d_losses.append(np.mean(-np.log(sr) - np.log(1 - sf)))
        d_penalties.append(0.5 * w ** 2 if r1_weight else 0.0)
        grad_w = np.mean(-(1 - sr) * xr + sf * xf) + r1_weight * w
        grad_c = np.mean(-(1 - sr) + sf)
        w, c = w - lr_d * grad_w, c - lr_d * grad_c
    xf = a * z[n_disc] + b
    sf = sigmoid(w * xf + c)
    g_loss = np.mean(-np.log(sf))
    grad_a, grad_b = np.mean(-(1 - sf) * w * z[n_disc]), np.mean(-(1 - sf) * w)
    a, b = a - lr_g * grad_a, b - lr_g * grad_b

    got = new_state
    np.testing.assert_allclose(got.d_params["Dense_0"]["kernel"][0, 0], w, rtol=1e-5)
    np.testing.assert_allclose(got.d_params["Dense_0"]["bias"][0], c, rtol=1e-5)
    np.testing.assert_allclose(got.g_params["Dense_0"]["kernel"][0, 0], a, rtol=1e-5)
    np.testing.assert_allclose(got.g_params["Dense_0"]["bias"][0], b, rtol=1e-5)
    np.testing.assert_allclose(metrics["d_loss"], np.mean(d_losses), rtol=1e-5)
    np.testing.assert_allclose(metrics["d_penalty"], np.mean(d_penalties), rtol=1e-5)
    np.testing.assert_allclose(metrics["g_loss"], g_loss, rtol=1e-5)
    assert int(got.step) == 1
    np.testing.assert_array_equal(got.key, state.key)


def small_recipe(n_disc=1, **changes):
    return jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8, 8)),
        discriminator=jaxgan.MLPDiscriminator(features=(8,)),
        latent_dim=4, n_disc=n_disc, **changes)


def sampling_step(recipe, batch_size=16):
    mixture = jaxgan.ring()
    return jaxgan.make_sampling_step(jaxgan.make_train_step(recipe), mixture.sample_real,
                                     batch_size, recipe.n_disc)


def test_each_discriminator_update_uses_its_own_real_batch():
    """(Fresh noise per update is checked by the hand-written reference above.)"""
    recipe = small_recipe(n_disc=2)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    batch = jax.random.normal(jax.random.PRNGKey(1), (1, 16, 2))
    same_batch_twice = jnp.concatenate([batch, batch])
    step = jax.jit(jaxgan.make_train_step(recipe))
    state_a, _ = step(state, same_batch_twice)
    state_b, _ = step(state, jnp.concatenate([batch, batch * 2.0]))
    # The second real batch is used: changing it changes the discriminator.
    assert not np.allclose(state_a.d_params["Dense_1"]["kernel"],
                           state_b.d_params["Dense_1"]["kernel"])


def test_generator_update_leaves_discriminator_params_to_the_discriminator_update():
    """With the discriminator's learning rate 0, a whole step leaves its params
    unchanged: the generator update never writes them."""
    recipe = jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,)),
        discriminator=jaxgan.MLPDiscriminator(features=(8,)), latent_dim=4,
        d_optimizer=optax.sgd(0.0))
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    new_state, _ = jax.jit(sampling_step(recipe))(state, None)
    chex.assert_trees_all_equal(new_state.d_params, state.d_params)
    assert not np.allclose(new_state.g_params["Dense_0"]["kernel"],
                           state.g_params["Dense_0"]["kernel"])
    # BatchNorm statistics of the generator are threaded and updated.
    assert not np.allclose(new_state.g_batch_stats["BatchNorm_0"]["mean"],
                           state.g_batch_stats["BatchNorm_0"]["mean"])


def test_same_state_same_result():
    recipe = small_recipe(n_disc=2)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(5), (2,))
    step = jax.jit(sampling_step(recipe))
    first, m1 = step(state, None)
    second, m2 = step(state, None)
    chex.assert_trees_all_equal((first, m1), (second, m2))
    # and a different step index draws different noise and data
    third, _ = step(state.replace(step=state.step + 7), None)
    assert not np.allclose(first.g_params["Dense_0"]["kernel"],
                           third.g_params["Dense_0"]["kernel"])


def test_jitted_donated_step_compiles_once():
    recipe = small_recipe()
    traces = []

    def counted(state, data):
        traces.append(1)  # runs only while tracing
        return sampling_step(recipe)(state, data)

    step = jax.jit(counted, donate_argnums=0)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    for _ in range(3):
        state, metrics = step(state, None)
    jax.block_until_ready(metrics)
    assert len(traces) == 1, "the state's types changed across steps, forcing a retrace"
    assert int(state.step) == 3


def test_vmap_over_seeds_equals_each_seed_alone():
    recipe = small_recipe(n_disc=2)
    seeds = [0, 1, 2]
    step = sampling_step(recipe)
    batched, batched_metrics = jax.jit(jax.vmap(step, in_axes=(0, None)))(
        jaxgan.create_states(recipe, seeds, (2,)), None)
    for i, seed in enumerate(seeds):
        alone, alone_metrics = jax.jit(step)(
            jaxgan.create_state(recipe, jax.random.PRNGKey(seed), (2,)), None)
        chex.assert_trees_all_close(jax.tree.map(lambda x, i=i: x[i], batched), alone,
                                    rtol=1e-5, atol=1e-6)
        chex.assert_trees_all_close(jax.tree.map(lambda x, i=i: x[i], batched_metrics),
                                    alone_metrics, rtol=1e-5, atol=1e-6)
    # the seeds really differ
    assert not np.allclose(batched.g_params["Dense_0"]["kernel"][0],
                           batched.g_params["Dense_0"]["kernel"][1])


def test_multi_step_scan_equals_sequential_steps():
    recipe = small_recipe()
    step = sampling_step(recipe)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(2), (2,))
    scanned, metrics = jax.jit(jaxgan.make_multi_step(step, 3))(state, None)
    sequential = state
    losses_seen = []
    for _ in range(3):
        sequential, m = jax.jit(step)(sequential, None)
        losses_seen.append(m["g_loss"])
    chex.assert_trees_all_close(scanned, sequential, rtol=1e-5, atol=1e-6)
    assert metrics["g_loss"].shape == (3,)
    np.testing.assert_allclose(metrics["g_loss"], losses_seen, rtol=1e-5)


def test_multi_step_over_stacked_batches_uses_each_batch():
    recipe = small_recipe()
    step = jaxgan.make_train_step(recipe)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(2), (2,))
    batches = jax.random.normal(jax.random.PRNGKey(3), (2, 1, 16, 2))
    scanned, _ = jax.jit(jaxgan.make_multi_step(step, 2, stacked=True))(state, batches)
    sequential = state
    for i in range(2):
        sequential, _ = jax.jit(step)(sequential, batches[i])
    chex.assert_trees_all_close(scanned, sequential, rtol=1e-5, atol=1e-6)


def test_axis_name_averages_across_devices_like_one_big_batch():
    """Under vmap with an axis name (a stand-in for pmap), a step on two halves of
    a batch equals a step on the whole batch for a BatchNorm-free model, once
    both devices draw the same noise (shared state, same key)."""
    recipe = jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,), batch_norm=False),
        discriminator=jaxgan.MLPDiscriminator(features=(8,)), latent_dim=4,
        latent_sampler=lambda key, shape: jnp.ones(shape))  # identical noise everywhere
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    batch = jax.random.normal(jax.random.PRNGKey(1), (1, 8, 2))
    whole, whole_metrics = jax.jit(jaxgan.make_train_step(recipe))(state, batch)
    halves = batch.reshape(1, 2, 4, 2).transpose(1, 0, 2, 3)
    parallel = jax.vmap(jaxgan.make_train_step(recipe, axis_name="devices"),
                        in_axes=(None, 0), axis_name="devices")
    split, split_metrics = jax.jit(parallel)(state, halves)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[0], split), whole, rtol=1e-5,
                                atol=1e-6)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[1], split), whole, rtol=1e-5,
                                atol=1e-6)
    np.testing.assert_allclose(split_metrics["d_loss"][0], whole_metrics["d_loss"], rtol=1e-5)


def test_replicas_stay_in_sync_and_draw_their_own_noise():
    """Two "devices" (vmap with an axis name) with different real batches, a
    BatchNorm generator and real noise. If any pmean (gradients, either
    network's statistics) were missing, the replicas would drift apart. Each
    device keeps its own rows of the global batch's noise: if both drew the
    same noise, the step would equal the single-device step on that batch."""
    recipe = small_recipe(n_disc=2)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    parallel = jax.jit(jax.vmap(jaxgan.make_train_step(recipe, axis_name="devices"),
                                in_axes=(None, 0), axis_name="devices"))
    batches = jax.random.normal(jax.random.PRNGKey(1), (2, 2, 16, 2))
    replicas, _ = parallel(state, batches)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[0], replicas),
                                jax.tree.map(lambda x: x[1], replicas), rtol=1e-6, atol=1e-7)

    same_batch = jnp.stack([batches[0], batches[0]])
    replicas, _ = parallel(state, same_batch)
    alone, _ = jax.jit(jaxgan.make_train_step(recipe))(state, batches[0])
    assert not np.allclose(replicas.g_params["Dense_0"]["kernel"][0],
                           alone.g_params["Dense_0"]["kernel"], rtol=1e-4)


def test_wrong_batch_leading_dimension_is_a_clear_error():
    recipe = small_recipe(n_disc=2)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    with pytest.raises(ValueError, match=r"leading dimension 1 .* 2 discriminator update"):
        jaxgan.make_train_step(recipe)(state, jnp.zeros((1, 16, 2)))


def test_recipe_rejects_bad_values():
    with pytest.raises(ValueError, match="n_disc"):
        small_recipe(n_disc=0)
    with pytest.raises(ValueError, match="n_disc must be an integer >= 1, got 1.5"):
        small_recipe(n_disc=1.5)
    with pytest.raises(ValueError, match="compute_dtype must be None or a floating-point"):
        small_recipe(compute_dtype=jnp.int32)


def test_compute_dtype_policy_keeps_state_in_float32_and_computes_in_bfloat16():
    def recipe(dtype, module_dtype=None):
        return jaxgan.GANRecipe(
            generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8, 8),
                                          dtype=module_dtype),
            discriminator=jaxgan.MLPDiscriminator(features=(8,), dtype=module_dtype),
            latent_dim=4, penalty=jaxgan.penalties.r1_penalty, penalty_weight=0.5,
            compute_dtype=dtype)

    def run(recipe):
        state = jaxgan.create_state(recipe, jax.random.PRNGKey(3), (2,))
        step = jax.jit(jaxgan.make_multi_step(sampling_step(recipe), 3))
        return step, state, step(state, None)

    _, _, (plain, plain_metrics) = run(recipe(None))
    # A float32 policy is the identity: bit for bit the run without one.
    chex.assert_trees_all_equal(run(recipe(jnp.float32))[2], (plain, plain_metrics))
    step, state, (low, low_metrics) = run(recipe(jnp.bfloat16, jnp.bfloat16))
    # Parameters, statistics and optimizer moments stay float32; metrics too.
    chex.assert_trees_all_equal_dtypes(low, plain)
    chex.assert_trees_all_equal_dtypes(low_metrics, plain_metrics)
    # The networks' matrix products run in bfloat16, so the numbers move a little.
    products = [line for line in step.lower(state, None).as_text().splitlines()
                if "stablehlo.dot_general" in line]
    assert products and all("bf16>, tensor<" in line for line in products), products[:2]
    assert not np.array_equal(low_metrics["d_loss"], plain_metrics["d_loss"])
    np.testing.assert_allclose(low_metrics["d_loss"], plain_metrics["d_loss"], rtol=0.05)
    samples = jaxgan.generate(recipe(jnp.bfloat16, jnp.bfloat16), low, jax.random.PRNGKey(0), 5)
    assert samples.dtype == jnp.float32


# Each family of the curriculum as its shipped config builds it, shrunk to
# width 4 (the ring's as the smoke config has it): (config module, example shape,
# classes, overrides). The DCGAN row adds augmentation and a moving average.
BFLOAT16_FAMILIES = {
    "ring_mlp_r1": ("smoke", (2,), 0, {}),
    "dcgan_augmented": ("dcgan_digits", (28, 28, 1), 0,
                        {"augment": "color,translation,cutout", "ema_decay": 0.9}),
    "wgan_gp": ("wgan_gp_digits", (28, 28, 1), 0, {"n_disc": 2, "g_native_size": 0}),
    "conditional_projection": ("cgan_digits", (28, 28, 1), 10, {}),
    "r3gan": ("r3gan_digits", (28, 28, 1), 0, {}),
    "sngan": ("sngan_digits", (28, 28, 1), 0, {}),
}


@pytest.mark.parametrize("family", list(BFLOAT16_FAMILIES))
def test_every_family_in_bfloat16_keeps_float32_state_and_tracks_its_float32_twin(family):
    """``config.compute_dtype = "bfloat16"`` against ``"float32"``: the same
    initial state, batches and noise, three steps.

    Tolerances. bfloat16 keeps 8 significant bits, a relative rounding of at
    most 2^-8 = 0.4% per cast; inputs and weights are cast once per layer and
    products summed in float32, so a logit of these 3-5 layer networks moves by
    a few tenths of a percent to a few percent. Losses are compared relative to
    their size (or to 0.01 near zero, as WGAN's difference of means can be):
    measured at most 1.4% in step 1 and 1.8% over three steps (WGAN-GP's
    critic loss), so 5% and 10%. Adam's first update is lr * sign(gradient) per
    parameter, so the share of parameters that moved the same way in both
    precisions is the share of gradient signs that bfloat16 kept: measured
    98.0% (R3GAN) to 100% (the ring). A cast in the wrong place pulls it
    towards the 50% of unrelated signs: augmentation drawing its random
    numbers in bfloat16 gave 77%, spectral norm storing bfloat16-rounded
    initial weights 93% (both mended), so at least 95%.
    """
    import importlib

    from jaxgan import config as config_lib

    module, shape, classes, overrides = BFLOAT16_FAMILIES[family]
    rng = np.random.default_rng(0)
    results = {}
    for dtype in ("float32", "bfloat16"):
        config = importlib.import_module(f"jaxgan.configs.{module}").get_config()
        if config.model == "dcgan":
            config.g_width = config.d_width = 4
        config.update(latent_dim=8, compute_dtype=dtype, **overrides)
        recipe = config_lib.build_recipe(config, shape, classes)
        if dtype == "float32":
            images = rng.uniform(-1, 1, (3, recipe.n_disc, 8, *shape)).astype(np.float32)
            labels = rng.integers(0, 10, (3, recipe.n_disc, 8))
            batches = [(i, y) if classes else i for i, y in zip(images, labels, strict=True)]
        start = jaxgan.create_state(recipe, jax.random.PRNGKey(0), shape)
        step = jax.jit(jaxgan.make_train_step(recipe))
        states, metrics = [start], []
        for batch in batches:
            state, step_metrics = step(states[-1], batch)
            states.append(state)
            metrics.append(step_metrics)
        results[dtype] = start, states[1], states[-1], metrics
        if dtype == "bfloat16":   # the networks' products run in bfloat16
            text = step.lower(start, batches[0]).as_text()
            products = [line.split(":")[-1] for line in text.splitlines()
                        if "stablehlo.convolution" in line or "stablehlo.dot_general" in line]
            # except spectral norm's power iteration, vector-matrix products with
            # its float32 running vector u (a statistic, like BatchNorm's).
            products = [p for p in products if not p.strip().startswith("(tensor<1x")]
            assert products and all("bf16>" in p for p in products), products[:2]

    (start, first, plain, plain_metrics), (low_start, low_first, low, low_metrics) = (
        results["float32"], results["bfloat16"])
    chex.assert_trees_all_equal(low_start, start)           # parameters are float32 at init
    chex.assert_trees_all_equal_dtypes((low, low_metrics), (plain, plain_metrics))

    def relative(step, name):
        a, b = float(plain_metrics[step][name]), float(low_metrics[step][name])
        return abs(a - b) / max(abs(a), 1e-2)

    for name in ("d_loss", "g_loss", "d_penalty"):
        assert relative(0, name) < 0.05, (name, plain_metrics[0][name], low_metrics[0][name])
        assert max(relative(s, name) for s in range(3)) < 0.1, name

    def signs(after):
        return np.concatenate([np.sign(np.asarray(a) - np.asarray(b)).ravel() for a, b in zip(
            jax.tree.leaves((after.g_params, after.d_params)),
            jax.tree.leaves((start.g_params, start.d_params)), strict=True)])

    agreement = np.mean(signs(low_first) == signs(first))
    assert agreement >= 0.95, agreement
    # Not a comparison of two runs that stand still.
    assert float(plain_metrics[0]["g_loss"]) != float(plain_metrics[-1]["g_loss"])


def test_every_loss_pair_trains_one_step_with_finite_results():
    for name in losses.LOSS_NAMES:
        pair = losses.get_loss_pair(name)
        recipe = jaxgan.GANRecipe(
            generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,)),
            discriminator=jaxgan.MLPDiscriminator(features=(8,)), latent_dim=4,
            d_loss=pair.discriminator, g_loss=pair.generator)
        state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
        new_state, metrics = sampling_step(recipe)(state, None)
        assert all(np.isfinite(float(v)) for v in metrics.values()), name


def test_one_jitted_wgan_gp_step_runs_five_critic_updates_on_fresh_draws():
    """n_critic = 5 in one call: five noise draws, five real batches and five
    interpolation keys, all different, then the generator's own draw."""
    latents, penalty_keys = [], []

    def recording_sampler(key, shape):
        z = jax.random.normal(key, shape)
        jax.debug.callback(lambda z: latents.append(np.asarray(z)), z)
        return z

    def recording_penalty(discriminator_fn, real, fake, keys, with_norm=False):
        jax.debug.callback(lambda k: penalty_keys.append(np.asarray(k)), keys)
        return jaxgan.penalties.gradient_penalty(discriminator_fn, real, fake, keys, with_norm)

    recipe = jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,)),
        discriminator=jaxgan.MLPDiscriminator(features=(8,)), latent_dim=3, n_disc=5,
        d_loss=losses.wasserstein_critic_loss, g_loss=losses.wasserstein_generator_loss,
        latent_sampler=recording_sampler, penalty=recording_penalty, penalty_weight=10.0)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    batches = jax.random.normal(jax.random.PRNGKey(1), (5, 4, 2))
    step = jax.jit(jaxgan.make_train_step(recipe))
    new_state, metrics = step(state, batches)
    jax.effects_barrier()
    assert int(new_state.step) == 1  # one call, one step
    assert len(latents) == 6 and len(penalty_keys) == 5  # 5 critic updates + the generator's
    for i in range(6):
        for j in range(i):
            assert not np.allclose(latents[i], latents[j]), (i, j)
    assert len({k.tobytes() for k in penalty_keys}) == 5
    # They are the documented streams: noise of update i from fold_in(fold_in(k, 0), i).
    k = jax.random.fold_in(state.key, 0)
    for i in range(6):
        expected = jax.random.normal(jax.random.fold_in(jax.random.fold_in(k, 0), i), (4, 3))
        np.testing.assert_array_equal(latents[i], expected)
    # The penalty of update i gets one key per example, split from fold_in(fold_in(k, 2), i).
    for i in range(5):
        np.testing.assert_array_equal(penalty_keys[i], jax.random.split(
            jax.random.fold_in(jax.random.fold_in(k, 2), i), 4))
    # The logged Wasserstein estimate is the mean real-minus-fake logit over the updates.
    assert np.isfinite(metrics["d_wasserstein"]) and metrics["d_grad_norm"] > 0
    assert metrics["d_grad_norm_max"] >= metrics["d_grad_norm"]


def test_gradient_norm_metrics_are_absent_without_a_penalty():
    recipe = small_recipe()
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    _, metrics = jax.jit(jaxgan.make_train_step(recipe))(state, jnp.ones((1, 4, 2)))
    assert "d_grad_norm" not in metrics
    np.testing.assert_allclose(metrics["d_wasserstein"],
                               metrics["d_real_logit"] - metrics["d_fake_logit"], rtol=1e-6)


def test_a_users_penalty_without_with_norm_still_trains():
    def my_penalty(discriminator_fn, real, fake, key):  # the documented 4-argument form
        return jnp.sum(real ** 2, axis=1) * 0.0 + 1.5

    recipe = jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,)),
        discriminator=jaxgan.MLPDiscriminator(features=(8,)), latent_dim=3,
        penalty=my_penalty, penalty_weight=2.0)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    _, metrics = jax.jit(jaxgan.make_train_step(recipe))(state, jnp.ones((1, 4, 2)))
    np.testing.assert_allclose(metrics["d_penalty"], 1.5)
    assert "d_grad_norm" not in metrics
