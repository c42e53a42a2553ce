"""jaxgan.fit with a user's own modules and data: a discriminator with dropout
(a random stream) and one with flax's spectral norm, on jaxgan's ring and on a
source written here with its own evaluation function. Each learns the ring,
resumes bit for bit and writes every contract file; the module contract is
checked with one-line errors when the state is created."""

import dataclasses
import json
import os
import shutil
import time
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import struct

import jaxgan

RING_STEPS = 3000


class DropoutCritic(nn.Module):
    """A user's discriminator that draws dropout masks (the "dropout" stream)."""

    rate: float = 0.1

    @nn.compact
    def __call__(self, x, *, train):
        for _ in range(3):
            x = nn.leaky_relu(nn.Dense(64)(x), 0.2)
            x = nn.Dropout(self.rate, deterministic=not train)(x)
        return nn.Dense(1)(x)[:, 0]


class SpectralCritic(nn.Module):
    """A user's discriminator with flax's spectral norm on every layer (its
    power-iteration state lives in the batch_stats collection)."""

    @nn.compact
    def __call__(self, x, *, train):
        for _ in range(3):
            x = nn.leaky_relu(nn.SpectralNorm(nn.Dense(64))(x, update_stats=train), 0.2)
        return nn.SpectralNorm(nn.Dense(1))(x, update_stats=train)[:, 0]


class UserRing:
    """A data source written against the protocol alone: 8 Gaussians on a
    circle, drawn on the device from centers that the loop places there."""

    name = "user_ring"
    example_shape = (2,)
    num_classes = 0

    def __init__(self):
        angles = 2 * np.pi * np.arange(8) / 8
        self.centers = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)

    def device_data(self):
        return {"centers": jnp.asarray(self.centers)}

    def sample_real(self, key, step, data, num):
        mode_key, noise_key = jax.random.split(key)
        modes = jax.random.randint(mode_key, (num,), 0, 8)
        return data["centers"][modes] + 0.01 * jax.random.normal(noise_key, (num, 2))

    def sample_labelled(self, key, step, data, num):
        raise NotImplementedError("unlabelled")


def user_metrics(samples):
    """The user's own evaluation: modes with at least 1% of the samples within
    0.05 of them, and the share of samples that near any mode."""
    centers = jnp.asarray(UserRing().centers)
    distance = jnp.linalg.norm(samples[:, None] - centers[None], axis=-1)
    near = distance.min(1) < 0.05
    hits = jnp.bincount(jnp.where(near, distance.argmin(1), 8), length=9)[:8]
    return {"user_modes": jnp.sum(hits >= 0.01 * samples.shape[0]),
            "user_near_share": near.mean()}


def ring_recipe(discriminator, steps=RING_STEPS):
    def adam(rate):
        return optax.adam(optax.cosine_decay_schedule(rate, steps), b1=0.5, b2=0.999)

    return jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(64, 64, 64)),
        discriminator=discriminator, latent_dim=16,
        g_optimizer=adam(1e-3), d_optimizer=adam(1e-3),
        penalty=jaxgan.penalties.r1_penalty, penalty_weight=0.1)


class TwoCriticState(struct.PyTreeNode):
    """The state of a recipe of three networks: what the loop asks of any
    state is a scalar ``step`` and the run's ``key``."""

    step: jax.Array
    key: jax.Array
    g_params: Any
    d_params: Any  # one parameter tree per critic
    g_opt_state: Any
    d_opt_state: Any


@dataclasses.dataclass(frozen=True)
class TwoCriticRecipe:
    """A user's recipe of three networks, written against jaxgan.loop.Trainable
    alone: one generator against the mean of two discriminators (GMAN, Durugkar
    et al. 2017), each with the non-saturating loss and R1."""

    critics: tuple = (jaxgan.MLPDiscriminator(features=(64, 64, 64)),
                      jaxgan.MLPDiscriminator(features=(32, 32)))
    generator: nn.Module = jaxgan.MLPGenerator(output_shape=(2,), features=(64, 64, 64),
                                               batch_norm=False)
    latent_dim: int = 16
    g_optimizer: Any = optax.adam(optax.cosine_decay_schedule(1e-3, RING_STEPS), b1=0.5)
    d_optimizer: Any = optax.adam(optax.cosine_decay_schedule(1e-3, RING_STEPS), b1=0.5)
    r1_weight: float = 0.1
    n_disc = 1
    num_classes = 0
    conditional = False
    has_moving_average = False

    def check(self, example_shape):
        for critic in self.critics:  # jaxgan's contract, one pair at a time
            jaxgan.check_modules(jaxgan.GANRecipe(self.generator, critic, self.latent_dim),
                                 example_shape)

    def uses_convolution(self, example_shape):
        return False

    def describe(self):
        return {"generator": repr(self.generator), "critics": [repr(c) for c in self.critics],
                "latent_dim": self.latent_dim, "r1_weight": self.r1_weight}

    def sample_latent(self, key, num):
        return jax.random.normal(key, (num, self.latent_dim))

    def create_states(self, seeds, example_shape):
        def create(seed):
            g_key, *d_keys, key = jax.random.split(jax.random.PRNGKey(seed), 2 + len(self.critics))
            g_params = self.generator.init(g_key, jnp.zeros((1, self.latent_dim)),
                                           train=False)["params"]
            d_params = tuple(c.init(k, jnp.zeros((1, *example_shape)), train=False)["params"]
                             for c, k in zip(self.critics, d_keys, strict=True))
            return TwoCriticState(jnp.zeros((), jnp.int32), key, g_params, d_params,
                                  self.g_optimizer.init(g_params),
                                  self.d_optimizer.init(d_params))

        return jax.vmap(create)(jnp.asarray(seeds))

    def make_train_step(self, axis_name=None):
        if axis_name is not None:
            raise NotImplementedError("this recipe runs on one device or under sharded jit")

        def logits(params, x):
            return [c.apply({"params": p}, x, train=True)
                    for c, p in zip(self.critics, params, strict=True)]

        def step(state, batch):
            real = batch[0]  # [n_disc = 1, batch, 2]
            key = jaxgan.step_key(state)
            fake = self.generator.apply({"params": state.g_params}, self.sample_latent(
                jax.random.fold_in(key, 0), real.shape[0]), train=True)

            def d_loss_fn(d_params):
                losses = [jaxgan.losses.bce_discriminator_loss(r, f).mean()
                          for r, f in zip(logits(d_params, real), logits(d_params, fake),
                                          strict=True)]
                r1 = [jaxgan.penalties.r1_penalty(
                    lambda x, c=c, p=p: c.apply({"params": p}, x, train=True),
                    real, fake, None).mean() for c, p in zip(self.critics, d_params, strict=True)]
                return sum(losses) + self.r1_weight * sum(r1), jnp.mean(jnp.stack(losses))

            (_, d_loss), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(state.d_params)
            updates, d_opt_state = self.d_optimizer.update(grads, state.d_opt_state)
            d_params = optax.apply_updates(state.d_params, updates)

            def g_loss_fn(g_params):
                fake = self.generator.apply({"params": g_params}, self.sample_latent(
                    jax.random.fold_in(key, 1), real.shape[0]), train=True)
                return jnp.mean(jnp.stack([
                    jaxgan.losses.non_saturating_generator_loss(f).mean()
                    for f in logits(d_params, fake)]))

            g_loss, g_grads = jax.value_and_grad(g_loss_fn)(state.g_params)
            updates, g_opt_state = self.g_optimizer.update(g_grads, state.g_opt_state)
            new = state.replace(step=state.step + 1, g_params=optax.apply_updates(
                state.g_params, updates), d_params=d_params, g_opt_state=g_opt_state,
                d_opt_state=d_opt_state)
            return new, {"d_loss": d_loss, "g_loss": g_loss}

        return step

    def with_learning_rate_scale(self, scale):
        return dataclasses.replace(
            self, g_optimizer=jaxgan.state.scale_updates(self.g_optimizer, scale),
            d_optimizer=jaxgan.state.scale_updates(self.d_optimizer, scale))

    def generate(self, state, z, labels=None, ema=True):
        return self.generator.apply({"params": state.g_params}, z, train=False)


OPTIONS = dict(batch_size=128, steps_per_dispatch=500, log_every=500, eval_every=RING_STEPS,
               checkpoint_every=1500, num_eval_samples=2500, num_final_samples=500)


def final_samples(workdir):
    with np.load(os.path.join(workdir, "samples", "final.npz")) as final:
        return final["images"]


def assert_contract_files(workdir, metric):
    for name in ("config.json", "metrics.jsonl", "eval.json", "samples/final.npz",
                 "samples/final.png", "samples/losses.png"):
        assert os.path.exists(os.path.join(workdir, name)), name
    assert os.listdir(os.path.join(workdir, "checkpoints"))
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    assert [r["step"] for r in records] == list(range(500, RING_STEPS + 1, 500))
    assert all({"d_loss", "g_loss", "steps_per_sec"} <= r.keys() for r in records)
    with open(os.path.join(workdir, "eval.json")) as f:
        assert metric in json.load(f)
    assert final_samples(workdir).shape == (500, 2)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["dropout_on_jaxgan_ring", "spectral_norm_on_user_source",
                                  "three_networks_on_jaxgan_ring"])
def test_user_modules_learn_the_ring_and_resume_bit_for_bit(case, tmp_path):
    if case == "dropout_on_jaxgan_ring":
        recipe, source, hooks, metric = ring_recipe(DropoutCritic()), jaxgan.ring(), {}, (
            "modes_covered")
    elif case == "three_networks_on_jaxgan_ring":
        recipe, source, hooks, metric = TwoCriticRecipe(), jaxgan.ring(), {}, "modes_covered"
    else:
        recipe, source, metric = ring_recipe(SpectralCritic()), UserRing(), "user_modes"
        hooks = {"metric_fn": user_metrics}
    whole = str(tmp_path / "whole")
    result = jaxgan.fit(recipe, source, whole, num_steps=RING_STEPS, **OPTIONS, **hooks)
    assert result[metric] == 8, result
    assert_contract_files(whole, metric)
    # Stopped half-way (a copy of the run cut back to its checkpoint at 1500, as
    # a run stopped there leaves it: a third fit call of 1500 steps would
    # recompute exactly that checkpoint), then resumed by a second call.
    halves = str(tmp_path / "halves")
    shutil.copytree(whole, halves)
    shutil.rmtree(os.path.join(halves, "checkpoints", str(RING_STEPS)))
    # and without the finished run's results, so that those checked below are
    # the resumed run's own.
    shutil.rmtree(os.path.join(halves, "samples"))
    os.remove(os.path.join(halves, "eval.json"))
    assert os.listdir(os.path.join(halves, "checkpoints")) == [str(RING_STEPS // 2)]
    again = jaxgan.fit(recipe, source, halves, num_steps=RING_STEPS, **OPTIONS, **hooks)
    np.testing.assert_array_equal(final_samples(halves), final_samples(whole))
    assert again[metric] == result[metric]
    assert_contract_files(halves, metric)  # every interval logged once


# --------------------------------------------------------------------------
# The module contract, checked when the state is created
# --------------------------------------------------------------------------


class PositionalTrain(nn.Module):
    @nn.compact
    def __call__(self, x, train):  # train is not keyword-only: still callable as train=...
        return nn.Dense(1)(x)[:, 0]


class NoTrain(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(x)[:, 0]


class ColumnLogits(nn.Module):
    @nn.compact
    def __call__(self, x, *, train):
        return nn.Dense(1)(x)  # [B, 1], not [B]


class BatchNormCritic(nn.Module):
    @nn.compact
    def __call__(self, x, *, train):
        x = nn.BatchNorm(use_running_average=not train)(nn.Dense(8)(x))
        return nn.Dense(1)(x)[:, 0]


class OwnStream(nn.Module):
    @nn.compact
    def __call__(self, x, *, train):
        return nn.Dense(1)(x + jax.random.normal(self.make_rng("jitter"), x.shape))[:, 0]


class NoisyGenerator(nn.Module):
    """Draws noise even in inference mode, where it gets no stream."""

    @nn.compact
    def __call__(self, z, *, train):
        return nn.Dense(2)(z + jax.random.normal(self.make_rng("noise"), z.shape))


def small_recipe(discriminator, **kwargs):
    return jaxgan.GANRecipe(generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,)),
                            discriminator=discriminator, latent_dim=4, **kwargs)


@pytest.mark.parametrize("discriminator, kwargs, expected", [
    (NoTrain(), {}, "cannot be called as discriminator(x, *, train)"),
    (ColumnLogits(), {}, "returns logits of shape (8, 1) for a batch of 8"),
    (BatchNormCritic(), {"penalty": jaxgan.penalties.r1_penalty},
     "the discriminator has BatchNorm"),
    (jaxgan.MLPDiscriminator(features=(8,), num_classes=3), {},
     "the discriminator has num_classes=3 but the recipe has num_classes=0"),
    (jaxgan.MLPDiscriminator(features=(8,)), {"num_classes": 3},
     "the generator has num_classes=0 but the recipe has num_classes=3"),
    (OwnStream(), {}, "name its stream one of dropout, noise"),
])
def test_a_broken_module_contract_is_one_line_naming_the_fix(discriminator, kwargs, expected):
    recipe = small_recipe(discriminator, **kwargs)
    with pytest.raises(jaxgan.ModuleContractError) as raised:
        jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    assert expected in str(raised.value) and len(str(raised.value).splitlines()) == 1


def test_the_contract_accepts_what_it_should():
    # train as a plain argument passed by keyword; spectral norm (state in
    # batch_stats) with a penalty; BatchNorm without one.
    for discriminator, kwargs in ((PositionalTrain(), {}),
                                  (SpectralCritic(), {"penalty": jaxgan.penalties.r1_penalty}),
                                  (BatchNormCritic(), {})):
        jaxgan.create_state(small_recipe(discriminator, **kwargs), jax.random.PRNGKey(0), (2,))
    with pytest.raises(jaxgan.ModuleContractError, match="the generator makes examples of shape"):
        jaxgan.create_state(small_recipe(SpectralCritic()), jax.random.PRNGKey(0), (3,))
    noisy = jaxgan.GANRecipe(generator=NoisyGenerator(), discriminator=SpectralCritic(),
                             latent_dim=4)
    with pytest.raises(jaxgan.ModuleContractError, match="random numbers in inference mode"):
        jaxgan.create_state(noisy, jax.random.PRNGKey(0), (2,))
    with pytest.raises(jaxgan.ModuleContractError, match="example_shape must be the shape"):
        jaxgan.create_state(small_recipe(SpectralCritic()), jax.random.PRNGKey(0), 2)


def test_dropout_masks_come_from_the_state_key():
    recipe = small_recipe(DropoutCritic(rate=0.5))
    step = jax.jit(jaxgan.make_train_step(recipe))
    batch = jaxgan.ring().sample(jax.random.PRNGKey(1), 32)[None]
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    once, again = step(state, batch)[0], step(state, batch)[0]
    chex_equal = jax.tree.map(np.testing.assert_array_equal, once, again)
    assert chex_equal is not None  # the same key and step: the same masks, the same result
    other = step(state.replace(key=jax.random.PRNGKey(5)), batch)[0]
    # Another key draws other masks (and other noise): other parameters.
    assert not np.array_equal(other.d_params["Dense_0"]["kernel"],
                              once.d_params["Dense_0"]["kernel"])
    # Without dropout the key still changes the noise, so compare like with like:
    # at rate 0 the masks drop nothing, and the update differs from rate 0.5's.
    plain = small_recipe(DropoutCritic(rate=0.0))
    unmasked = jax.jit(jaxgan.make_train_step(plain))(state, batch)[0]
    assert not np.array_equal(unmasked.d_params["Dense_0"]["kernel"],
                              once.d_params["Dense_0"]["kernel"])


def test_step_errors_name_their_own_cause():
    recipe = small_recipe(jaxgan.MLPDiscriminator(features=(8,)), n_disc=2)
    step = jaxgan.make_train_step(recipe)
    with pytest.raises(ValueError, match="pass n_disc=recipe.n_disc"):
        jaxgan.make_sampling_step(step, jaxgan.ring().sample_real, 16, n_disc=1)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    stacked = jnp.zeros((3, 2, 16, 2))  # three steps' batches
    with pytest.raises(ValueError, match="stacked=True"):
        step(state, stacked)


def test_a_recipes_record_leaves_out_the_module_dtype_at_its_default():
    """Runs saved before jaxgan's modules had a dtype field still resume."""
    record = small_recipe(jaxgan.MLPDiscriminator(features=(8,))).describe()
    assert "dtype" not in record["generator"] and "dtype" not in record["discriminator"]
    low = jaxgan.MLPGenerator(output_shape=(2,), features=(8,), dtype=jnp.bfloat16)
    assert "dtype = bfloat16" in jaxgan.GANRecipe(low, SpectralCritic(), 4).describe()[
        "generator"]


def test_fit_refuses_what_is_not_a_source_or_a_bad_option(tmp_path):
    recipe = small_recipe(jaxgan.MLPDiscriminator(features=(8,)))
    with pytest.raises(jaxgan.FitError, match="is not a data source: it lacks .*device_data"):
        jaxgan.fit(recipe, object(), str(tmp_path / "a"), num_steps=10, batch_size=8)
    with pytest.raises(jaxgan.FitError, match="log_every=3 is not a multiple"):
        jaxgan.fit(recipe, jaxgan.ring(), str(tmp_path / "b"), num_steps=10, batch_size=8,
                   log_every=3, steps_per_dispatch=2)
    with pytest.raises(jaxgan.FitError, match="logits of shape"):
        jaxgan.fit(small_recipe(ColumnLogits()), jaxgan.ring(), str(tmp_path / "c"),
                   num_steps=10, batch_size=8)
    assert not os.listdir(tmp_path)  # refused before anything was written


# --------------------------------------------------------------------------
# Extension points: a relativistic objective, metrics computed in the step
# --------------------------------------------------------------------------


def test_relativistic_pairing_losses_by_hand():
    real, fake = jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0])
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    np.testing.assert_allclose(jaxgan.losses.relativistic_discriminator_loss(real, fake),
                               [softplus(-1.0), softplus(2.0)], rtol=1e-6)
    np.testing.assert_allclose(jaxgan.losses.relativistic_generator_loss(fake, real),
                               [softplus(1.0), softplus(-2.0)], rtol=1e-6)
    pair = jaxgan.losses.get_loss_pair("relativistic")
    recipe = small_recipe(SpectralCritic(), d_loss=pair.discriminator, g_loss=pair.generator)
    assert recipe.generator_loss_uses_real  # read from the loss; False for the others
    assert not small_recipe(SpectralCritic()).generator_loss_uses_real


def test_a_generator_loss_that_uses_real_logits_sees_the_last_real_batch():
    """g_loss(fake, real) in the step equals the relativistic loss computed
    by hand from the step's own latents, its last real batch and the
    discriminator as just updated."""
    pair = jaxgan.losses.get_loss_pair("relativistic")
    recipe = jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,), batch_norm=False),
        discriminator=jaxgan.MLPDiscriminator(features=(8,)), latent_dim=4, n_disc=2,
        d_loss=pair.discriminator, g_loss=pair.generator)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    batch = jaxgan.ring().sample(jax.random.PRNGKey(1), 2 * 16).reshape(2, 16, 2)
    new, metrics = jax.jit(jaxgan.make_train_step(recipe))(state, batch)
    noise = jax.random.fold_in(jax.random.fold_in(jaxgan.step_key(state), 0), recipe.n_disc)
    fake = recipe.generator.apply({"params": state.g_params}, recipe.sample_latent(noise, 16),
                                  train=True)
    logits = lambda x: recipe.discriminator.apply({"params": new.d_params}, x,  # noqa: E731
                                                 train=True)
    expected = jaxgan.losses.relativistic_generator_loss(logits(fake), logits(batch[-1]))
    np.testing.assert_allclose(metrics["g_loss"], expected.mean(), rtol=1e-5)


def test_step_metrics_are_averaged_over_the_updates_and_logged(tmp_path):
    def gap(real, fake, real_logits, fake_logits):
        return {"logit_gap": real_logits.mean() - fake_logits.mean(),
                "fake_spread": fake.std(0).mean()}

    recipe = small_recipe(jaxgan.MLPDiscriminator(features=(8,)), n_disc=3, step_metrics=gap)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    batch = jaxgan.ring().sample(jax.random.PRNGKey(1), 3 * 16).reshape(3, 16, 2)
    _, metrics = jax.jit(jaxgan.make_train_step(recipe))(state, batch)
    # d_wasserstein is the same gap, averaged over the 3 updates by the step itself.
    np.testing.assert_allclose(metrics["logit_gap"], metrics["d_wasserstein"], rtol=1e-5)
    assert metrics["fake_spread"] > 0
    jaxgan.fit(recipe, jaxgan.ring(), str(tmp_path), num_steps=4, batch_size=16, log_every=2,
               eval_every=4, checkpoint_every=4, num_eval_samples=100, num_final_samples=10)
    with open(tmp_path / "metrics.jsonl") as f:
        assert all("logit_gap" in json.loads(line) for line in f)


def test_the_progress_bar_counts_only_steps_that_have_run(tmp_path, monkeypatch):
    """A train call returns before its steps run (JAX dispatches
    asynchronously), so a bar moved at dispatch runs a call ahead of the
    device, with a rate and a time left that are too good. Each step here is
    made slow (T seconds, measured first, the fastest of three); a bar that
    shows n steps must have waited for them, so at least about n * T seconds
    have passed since it was made (a quarter of that here, for a machine whose
    load changes between the measurement and the run; a bar moved at dispatch
    shows its first step within milliseconds)."""
    def busy(real, fake, real_logits, fake_logits):
        x = jnp.full((400, 400), 1e-3) * real_logits.mean()
        for _ in range(40):  # a chain of products XLA cannot fold away
            x = jnp.tanh(x @ x + 1e-3)
        return {"busy": x.mean()}

    recipe = small_recipe(jaxgan.MLPDiscriminator(features=(8,)), step_metrics=busy)
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    batch = jaxgan.ring().sample(jax.random.PRNGKey(1), 16)[None]
    step = jax.jit(jaxgan.make_train_step(recipe))
    jax.block_until_ready(step(state, batch))
    seconds = []
    for _ in range(3):
        began = time.perf_counter()
        jax.block_until_ready(step(state, batch))
        seconds.append(time.perf_counter() - began)
    step_s = min(seconds)
    if step_s < 0.02:
        pytest.skip(f"a step takes {step_s * 1e3:.1f} ms here: too fast to tell a bar moved "
                    "at dispatch from one moved after the work")
    counted = []

    class Recorder(jaxgan.loop.tqdm):
        def __init__(self, *args, **kwargs):
            # Refresh at every chance: the loop then counts after every call,
            # not only at log steps.
            super().__init__(*args, **{**kwargs, "mininterval": 0})
            self.made = time.perf_counter()

        def update(self, n=1):
            super().update(n)
            counted.append((self.n, time.perf_counter() - self.made))

    monkeypatch.setattr(jaxgan.loop, "tqdm", Recorder)
    jaxgan.fit(recipe, jaxgan.ring(), str(tmp_path), num_steps=4, batch_size=16,
               steps_per_dispatch=1, log_every=4, eval_every=4, checkpoint_every=4,
               num_eval_samples=100, num_final_samples=10)
    assert sorted({shown for shown, _ in counted}) == [1, 2, 3, 4]  # counted after each call
    assert all(elapsed >= 0.25 * shown * step_s for shown, elapsed in counted), (step_s, counted)


def test_between_syncs_the_bar_waits_only_once_per_refresh_interval(tmp_path, monkeypatch):
    """With a refresh interval longer than the run, the host never waits just
    for the bar (it may queue calls ahead); it counts where it waits anyway:
    at a checkpoint save (step 2) and at the log step (4)."""
    counted = []

    class Recorder(jaxgan.loop.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "mininterval": 1e9})

        def update(self, n=1):
            super().update(n)
            counted.append(self.n)

    monkeypatch.setattr(jaxgan.loop, "tqdm", Recorder)
    recipe = small_recipe(jaxgan.MLPDiscriminator(features=(8,)))
    jaxgan.fit(recipe, jaxgan.ring(), str(tmp_path), num_steps=4, batch_size=16,
               steps_per_dispatch=1, log_every=4, eval_every=4, checkpoint_every=2,
               num_eval_samples=100, num_final_samples=10)
    assert counted == [2, 4]
