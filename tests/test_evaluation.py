"""Evaluation as the fit loop runs it: the feature classifier, the generator's
moving average, chunked scoring, the real-data floor and many image seeds."""

import dataclasses
import json
import math

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_step import sampling_step, small_recipe
from test_train import DIGITS_SMOKE, digits_smoke, read_jsonl, run_script

import jaxgan
from jaxgan import checkpoint, evaluation, programs, train
from jaxgan import config as config_lib
from jaxgan.data.arrays import digits, to_unit_range
from jaxgan.metrics.chunks import map_in_chunks
from jaxgan.metrics.classifier import classifier_scores, fit_classifier, holdout_split
from jaxgan.metrics.distribution import distribution_metrics


def test_classifier_reaches_97_percent_on_held_out_digits_and_exposes_its_features():
    source = digits(28)
    fitted = fit_classifier(source, num_steps=1000)
    assert fitted.accuracy >= 0.97, fitted.accuracy
    _, held_out = holdout_split(source.num_examples)
    images = to_unit_range(jnp.asarray(source.images[held_out]))
    probabilities, features = fitted.probabilities_and_features(images)
    assert features.shape == (len(held_out), 4 * fitted.model.width)
    chex.assert_trees_all_close(features, fitted.features(images))
    chex.assert_trees_all_close(probabilities, fitted.probabilities(images))
    # They are the penultimate layer: the last linear layer maps them to the logits.
    dense = fitted.params["logits"]
    np.testing.assert_allclose(jax.nn.softmax(features @ dense["kernel"] + dense["bias"]),
                               probabilities, rtol=1e-4, atol=1e-6)


def test_holdout_split_is_disjoint_fixed_by_the_seed_and_capped():
    train_a, held_a = holdout_split(1000, seed=3)
    train_b, held_b = holdout_split(1000, seed=3)
    np.testing.assert_array_equal(train_a, train_b)
    assert len(held_a) == 100 and len(train_a) == 900
    assert not set(train_a) & set(held_a)
    assert not np.array_equal(held_a, holdout_split(1000, seed=4)[1])
    train_c, held_c = holdout_split(1000, max_examples=200)
    assert len(train_c) + len(held_c) == 200


def test_moving_average_follows_its_formula_and_leaves_training_alone():
    decay, start = 0.8, 2
    plain, averaged = small_recipe(), small_recipe(ema_decay=decay, ema_start=start)
    key = jax.random.PRNGKey(0)
    state_plain = jaxgan.create_state(plain, key, (2,))
    state = jaxgan.create_state(averaged, key, (2,))
    assert state_plain.g_ema is None
    step_plain, step = jax.jit(sampling_step(plain)), jax.jit(sampling_step(averaged))
    expected = None
    for i in range(5):
        state_plain, _ = step_plain(state_plain, None)
        state, _ = step(state, None)
        live = {"params": state.g_params, "batch_stats": state.g_batch_stats}
        # The average is a copy until ema_start, then decays towards the live weights.
        expected = live if i < start else jax.tree.map(
            lambda e, x: decay * e + (1 - decay) * x, expected, live)
        chex.assert_trees_all_close(state.g_ema, expected, rtol=1e-6, atol=1e-7)
    # Keeping an average changes nothing that is trained.
    chex.assert_trees_all_equal(dataclasses.replace(state, g_ema=None), state_plain)
    assert not np.allclose(state.g_ema["params"]["Dense_0"]["kernel"],
                           state.g_params["Dense_0"]["kernel"])
    # generate() draws from the average unless asked for the live generator.
    z = averaged.sample_latent(jax.random.PRNGKey(1), 8)
    live_out = jaxgan.generate_from(plain, state_plain, z)
    np.testing.assert_allclose(jaxgan.generate_from(averaged, state, z, ema=False), live_out,
                               rtol=1e-6)
    by_hand = averaged.generator.apply(state.g_ema, z, train=False)
    np.testing.assert_allclose(jaxgan.generate_from(averaged, state, z), by_hand, rtol=1e-6)
    assert not np.allclose(by_hand, live_out)


def test_moving_average_state_compiles_once_and_survives_vmap_over_seeds():
    recipe = small_recipe(ema_decay=0.9)
    traces = []

    def counted(states, data):
        traces.append(1)
        return jax.vmap(sampling_step(recipe), in_axes=(0, None))(states, data)

    step = jax.jit(counted, donate_argnums=0)
    states = jaxgan.create_states(recipe, [0, 1], (2,))
    for _ in range(3):
        states, _ = step(states, None)
    assert len(traces) == 1
    assert states.g_ema["params"]["Dense_0"]["kernel"].shape[0] == 2


@pytest.mark.parametrize("value, message", [(1.0, "ema_decay"), (-0.1, "ema_decay")])
def test_recipe_rejects_bad_moving_average_decay(value, message):
    with pytest.raises(ValueError, match=message):
        small_recipe(ema_decay=value)


def test_map_in_chunks_equals_one_call_with_a_ragged_last_chunk():
    x = jax.random.normal(jax.random.PRNGKey(0), (23, 3))
    labels = jnp.arange(23)

    def fn(inputs):
        rows, row_labels = inputs
        return {"sum": rows.sum(-1) + row_labels, "outer": rows[:, :, None] * rows[:, None]}

    chunked = map_in_chunks(fn, (x, labels), chunk=5)
    chex.assert_trees_all_close(chunked, fn((x, labels)), rtol=1e-6)


def test_real_examples_are_disjoint_real_images_in_the_generators_range():
    source = digits(28)
    reference, held_out = evaluation.real_examples(source, 100, seed=0)
    assert reference.shape == (100, 28, 28, 1) and held_out.shape == (100, 28, 28, 1)
    assert float(reference.min()) >= -1 and float(reference.max()) <= 1
    flat_ref = np.asarray(reference).reshape(100, -1)
    flat_held = np.asarray(held_out).reshape(100, -1)
    # No held-out image appears in the reference.
    assert np.min(((flat_held[:, None] - flat_ref[None]) ** 2).sum(-1)) > 0


def test_distribution_metrics_put_real_data_near_the_floor_and_a_collapsed_set_far_away():
    """A "generator" that outputs real points of the ring, and one stuck on
    one mode, scored on the points themselves as features."""
    source = jaxgan.ring()
    reference, held_out = evaluation.real_examples(source, 400, seed=0)
    key = jax.random.PRNGKey(0)
    floor = distribution_metrics(reference, held_out, key)
    collapsed = held_out[:, :] * 0.0 + source.centers[0]
    stuck = distribution_metrics(reference, collapsed + 0.02 * held_out, key)
    assert float(floor["frechet_distance"]) < 0.05 < float(stuck["frechet_distance"])
    assert abs(float(floor["kid"])) < 3 * float(floor["kid_subset_stderr"]) + 1e-3
    assert float(stuck["kid"]) > 10 * float(floor["kid_subset_stderr"])
    assert float(floor["recall"]) > 0.9 and float(stuck["recall"]) < 0.3


def test_digits_run_with_two_seeds_and_moving_average_reports_every_metric(tmp_path):
    result = run_script(f"--config={DIGITS_SMOKE}", f"--workdir={tmp_path}",
                        "--config.num_seeds=2", "--config.ema_decay=0.5")
    assert result.returncode == 0, result.stderr
    final = json.loads((tmp_path / "eval.json").read_text())
    names = ("frechet_distance", "kid", "kid_subset_stderr", "precision", "recall",
             "confident_fraction", "classes_covered", "class_kl")
    for name in names:
        for prefix in ("", evaluation.NO_EMA_PREFIX):
            values = final[f"{prefix}{name}_per_seed"]
            assert len(values) == 2 and all(np.isfinite(values)), (prefix, name)
            np.testing.assert_allclose(final[prefix + name], np.mean(values), rtol=1e-6)
            np.testing.assert_allclose(final[f"{prefix}{name}_stderr"],
                                       np.std(values, ddof=1) / np.sqrt(2), rtol=1e-6)
    # The two seeds trained differently, and the average differs from the live generator.
    assert final["frechet_distance_per_seed"][0] != final["frechet_distance_per_seed"][1]
    assert final["frechet_distance_per_seed"] != final["no_ema_frechet_distance_per_seed"]
    # An 8-step generator is far from the data; the held-out real digits are close.
    assert final["real_frechet_distance"] < min(final["frechet_distance_per_seed"])
    assert final["real_precision"] > 0.5 and final["real_recall"] > 0.5
    assert final["real_floor_num_examples"] == 64 and final["real_reference_num_examples"] == 64
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert all("frechet_distance" in r and r["eval_seconds"] > 0 for r in records)
    assert "(the floor)" in result.stderr
    with np.load(tmp_path / "samples" / "final.npz") as npz:
        assert npz["images_per_seed"].shape == (2, 64, 28, 28, 1)


def test_class_scores_count_a_dropped_class_and_a_starved_one():
    """100 samples over 10 equally frequent classes: class 9 never drawn, class
    8 drawn once (under a fifth of its share of 10), the rest 12 times each
    (and class 0 fifteen times)."""
    votes = np.array([15, 12, 12, 12, 12, 12, 12, 12, 1, 0])
    labels = np.repeat(np.arange(10), votes)
    # Confident one-hot-ish probabilities for half of the samples, flat-topped for the rest.
    probabilities = np.full((100, 10), 0.05 / 9)
    probabilities[np.arange(100), labels] = 0.95
    probabilities[1::2] = 0.5 / 9
    probabilities[np.arange(1, 100, 2), labels[1::2]] = 0.5
    frequencies = jnp.full((10,), 0.1)
    scores = classifier_scores(jnp.asarray(probabilities, jnp.float32), frequencies)
    assert int(scores["classes_covered"]) == 8
    generated = votes / 100
    expected_kl = sum(p * np.log(p / 0.1) for p in generated if p > 0)
    np.testing.assert_allclose(scores["class_kl"], expected_kl, rtol=1e-5)
    np.testing.assert_allclose(scores["confident_fraction"], 0.5)
    # Every class drawn its share: all covered, KL 0.
    balanced = jax.nn.one_hot(jnp.arange(100) % 10, 10)
    scores = classifier_scores(balanced, frequencies)
    assert int(scores["classes_covered"]) == 10
    np.testing.assert_allclose(scores["class_kl"], 0.0, atol=1e-7)


class StateBeforeMovingAverages(flax.struct.PyTreeNode):
    """GANState's fields as they were before ``g_ema`` existed."""

    step: jax.Array
    key: jax.Array
    g_params: dict
    d_params: dict
    g_batch_stats: dict
    d_batch_stats: dict
    g_opt_state: tuple
    d_opt_state: tuple


def test_a_checkpoint_from_before_moving_averages_restores_bit_for_bit(tmp_path):
    recipe = small_recipe()
    state, _ = jax.jit(sampling_step(recipe))(
        jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,)), None)
    old = StateBeforeMovingAverages(**{f.name: getattr(state, f.name)
                                       for f in dataclasses.fields(StateBeforeMovingAverages)})
    saver = checkpoint.Checkpointer(str(tmp_path), 2)
    saver.save(1, old, {"seed": 0})
    saver.close()
    reader = checkpoint.Checkpointer(str(tmp_path), 2)
    try:
        step, _, restored = reader.restore_latest(
            like=jaxgan.create_state(recipe, jax.random.PRNGKey(1), (2,)))
    finally:
        reader.close()
    assert step == 1 and isinstance(restored, jaxgan.GANState) and restored.g_ema is None
    chex.assert_trees_all_equal(restored, state)
    # And a state with a moving average does not fit it: named, not a crash.
    with pytest.raises(checkpoint.CheckpointMismatchError, match="g_ema"):
        reader = checkpoint.Checkpointer(str(tmp_path), 2)
        try:
            reader.restore_latest(like=jaxgan.create_state(small_recipe(ema_decay=0.9),
                                                           jax.random.PRNGKey(1), (2,)))
        finally:
            reader.close()


def test_evaluate_in_chunks_equals_scoring_all_samples_at_once():
    """A conditional ring GAN with a moving average, 501 samples (a ragged
    last chunk), the points themselves as features."""
    source = jaxgan.ring()
    recipe = jaxgan.GANRecipe(
        generator=jaxgan.MLPGenerator(output_shape=(2,), features=(8,), num_classes=8),
        discriminator=jaxgan.MLPDiscriminator(features=(8,), num_classes=8), latent_dim=4,
        num_classes=8, ema_decay=0.5)
    states = jaxgan.create_states(recipe, [0, 1], (2,))
    step = jaxgan.make_sampling_step(jaxgan.make_train_step(recipe), source.sample_labelled,
                                     16, 1)
    states, _ = jax.jit(jax.vmap(jaxgan.make_multi_step(step, 3), in_axes=(0, None)))(
        states, None)
    num, eval_key = evaluation.EVAL_CHUNK + 1, jax.random.PRNGKey(7)
    reference, _ = evaluation.real_examples(source, 300, seed=0)
    evaluate = evaluation.make_evaluate(recipe, source, num, eval_key, features=lambda x: 2.0 * x,
                                   real_features=2.0 * reference)
    per_seed, samples = evaluate(states)
    labels = evaluation.eval_labels(recipe, num)

    @jax.jit  # the metrics recomputed in one program, compiled once for the four sets
    def expected_metrics(points):
        expected = {**jaxgan.mode_coverage(points, source.centers, source.std),
                    **distribution_metrics(2.0 * reference, 2.0 * points,
                                           jax.random.fold_in(eval_key, 3))}
        predicted = jnp.argmin(((points[:, None] - source.centers) ** 2).sum(-1), 1)
        expected["label_accuracy"] = jnp.mean(predicted == labels)
        return expected

    for i in range(2):
        state = jax.tree.map(lambda x, i=i: x[i], states)
        for prefix, ema in (("", True), (evaluation.NO_EMA_PREFIX, False)):
            points = jaxgan.generate(recipe, state, eval_key, num, labels, ema=ema)
            if ema:
                np.testing.assert_allclose(samples[i], points, rtol=1e-5, atol=1e-6)
            expected = expected_metrics(points)
            for name, value in expected.items():
                np.testing.assert_allclose(per_seed[prefix + name][i], value, rtol=2e-4,
                                           atol=1e-5, err_msg=prefix + name)
    assert not np.allclose(per_seed["frechet_distance"], per_seed["no_ema_frechet_distance"])


def test_truncation_draws_a_truncated_normal_for_samples_and_is_refused_where_it_cannot_be(
        tmp_path):
    """The truncation trick: latents of the standard normal truncated to
    [-t, t], in evaluations and final samples only; the generator scored is
    the one trained from the full prior."""
    recipe = small_recipe()
    z = np.asarray(recipe.sample_latent(jax.random.PRNGKey(0), 4000, truncation=1.0))
    assert z.shape == (4000, 4) and np.abs(z).max() <= 1.0
    # E|z| of the normal truncated to [-1, 1]: 2 (phi(0) - phi(1)) / (2 Phi(1) - 1) = 0.4599,
    # where the full normal gives sqrt(2 / pi) = 0.798; the s.e. of the mean is 0.002.
    phi = lambda x: np.exp(-x * x / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    expected = 2 * (phi(0.0) - phi(1.0)) / math.erf(1 / np.sqrt(2))
    assert abs(np.abs(z).mean() - expected) < 0.01, (np.abs(z).mean(), expected)
    np.testing.assert_array_equal(recipe.sample_latent(jax.random.PRNGKey(0), 8, 0.0),
                                  recipe.sample_latent(jax.random.PRNGKey(0), 8))
    with pytest.raises(ValueError, match="truncation must be >= 0"):
        recipe.sample_latent(jax.random.PRNGKey(0), 8, truncation=-1.0)
    with pytest.raises(ValueError, match="latent_sampler is another prior; set truncation=0"):
        small_recipe(latent_sampler=jax.random.uniform).sample_latent(
            jax.random.PRNGKey(0), 8, truncation=1.0)
    # An evaluation scores, and final samples hold, the truncated draws.
    source, num, eval_key = jaxgan.ring(), 64, evaluation.evaluation_key()
    state = jaxgan.create_state(recipe, jax.random.PRNGKey(0), (2,))
    protocol = evaluation.Evaluation(recipe, source, num, truncation=1.5)
    expected_samples = jaxgan.generate(recipe, state, eval_key, num, truncation=1.5)
    np.testing.assert_allclose(protocol.generate(state), expected_samples, rtol=1e-6)
    states = jax.tree.map(lambda x: x[None], state)
    _, samples = protocol(states)
    np.testing.assert_allclose(samples[0], expected_samples, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(protocol.final_samples(states, 16)["images"],
                               expected_samples[:16], rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected_samples, jaxgan.generate(recipe, state, eval_key, num))
    # The fit loop scores and saves truncated draws and says so in its records;
    # what it trains is the same as without truncation.
    def fit(name, truncation):
        final = jaxgan.fit(recipe, source, str(tmp_path / name), num_steps=4, batch_size=16,
                           log_every=2, eval_every=4, checkpoint_every=4, num_eval_samples=64,
                           num_final_samples=16, truncation=truncation)
        records = [json.loads(line)
                   for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        with np.load(tmp_path / name / "samples" / "final.npz") as saved:
            return final, records, saved["images"]

    final, records, images = fit("truncated", 1.5)
    plain_final, plain_records, plain_images = fit("plain", 0.0)
    assert [r.get("truncation") for r in records] == [None, 1.5]  # the evaluation's record
    assert final["truncation"] == 1.5 and "truncation" not in plain_final
    for record, plain_record in zip(records, plain_records, strict=True):
        assert record["d_loss"] == plain_record["d_loss"]  # the same training
        assert record["g_loss"] == plain_record["g_loss"]
    assert images.shape == plain_images.shape == (16, 2)
    assert not np.allclose(images, plain_images)
    # fit refuses a recipe that cannot draw truncated latents, before it writes anything.
    with pytest.raises(jaxgan.FitError, match=r"truncation=1.0: the recipe cannot draw "
                                              r"truncated latents \(.*\); set truncation=0"):
        jaxgan.fit(small_recipe(latent_sampler=jax.random.uniform), source,
                   str(tmp_path / "run"), num_steps=2, batch_size=8, truncation=1.0)
    assert not (tmp_path / "run").exists()
    # The config refuses a bad threshold, and truncation of a generator without latents.
    config = digits_smoke.get_config()
    config.truncation = -0.5
    with pytest.raises(config_lib.ConfigError, match="config.truncation must be a number >= 0"):
        config_lib.fit_options(config)
    from jaxgan.configs import pix2pix_smoke

    config = pix2pix_smoke.get_config()
    config.truncation = 1.0
    with pytest.raises(config_lib.ConfigError, match="a translation generator takes images"):
        config_lib.validate_config(config)


def test_the_protocol_of_a_restored_run_reads_one_seed_as_a_call_does(tmp_path):
    """Evaluation.of_run builds a config run's protocol (its classifier cache
    and sample count); generate and compare give one seed's samples and
    distribution metrics as a call on the stacked states does."""
    config = digits_smoke.get_config()
    config.num_seeds = 2
    recipe, source, _ = config_lib.build(config)
    states = jaxgan.create_states(recipe, [0, 1], source.example_shape)
    run = train.TrainedRun(config, source, recipe, states, 0)
    protocol = evaluation.Evaluation.of_run(run, str(tmp_path))
    assert protocol.num_samples == config.num_eval_samples
    assert protocol.features == protocol.classifier.features
    assert (tmp_path / "classifier").is_dir()
    reference, held_out = evaluation.real_examples(source, config.num_eval_samples)
    reference_features, floor = evaluation.real_floor(protocol.features, reference, held_out,
                                                      evaluation.evaluation_key())
    np.testing.assert_array_equal(protocol.reference_features, reference_features)
    assert floor.items() <= protocol.floor.items()
    per_seed, samples = protocol(states)
    for i in range(2):
        state = jax.tree.map(lambda x, i=i: x[i], states)
        for prefix, ema in (("", True), (evaluation.NO_EMA_PREFIX, False)):
            points = protocol.generate(state, ema)
            if ema:
                np.testing.assert_allclose(points, samples[i], rtol=1e-5, atol=1e-6)
            metrics = protocol.compare(protocol.features(points))
            for name in ("frechet_distance", "kid", "precision", "recall"):
                np.testing.assert_allclose(metrics[name], per_seed[prefix + name][i],
                                           rtol=2e-4, atol=1e-5, err_msg=prefix + name)
    # Without a classifier (nor features) there is nothing to compare.
    bare = evaluation.Evaluation.of_run(run, str(tmp_path), classifier_steps=0)
    assert bare.classifier is None and bare.reference_features is None and bare.floor == {}
    with pytest.raises(ValueError, match="no features to compare"):
        bare.compare(jnp.zeros((4, 2)))


def test_too_few_evaluation_samples_for_the_metrics_is_refused_before_training(tmp_path):
    config = digits_smoke.get_config()
    config.num_eval_samples = 3
    config.num_final_samples = 3
    with pytest.raises(train.ConfigError, match="at least 4 examples"):
        train.train_and_evaluate(config, str(tmp_path))
    assert not (tmp_path / "config.json").exists()



def test_seeds_mapped_or_vmapped_train_alike_and_as_each_seed_alone():
    """The two ways a run's seeds share its program (config.seed_batching)
    compute the same thing: what each seed computes in a run of its own."""
    config = digits_smoke.get_config()
    config.num_seeds = 2
    recipe, source, _ = config_lib.build(config)
    states = jaxgan.create_states(recipe, [config.seed, config.seed + 1], source.example_shape)
    data = source.device_data()
    finals = {}
    for how in ("vmap", "map"):
        layout = programs.Layout("none", config.n_disc, how)
        program = layout.program(recipe, source.sample_real, config.batch_size, 4, False)
        finals[how], metrics = program(jax.tree.map(jnp.copy, states), data)
        assert metrics["g_loss"].shape == (2, 4)  # [seeds, steps]
    chex.assert_trees_all_close(finals["map"], finals["vmap"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(finals["map"].g_params["project"]["kernel"][0],
                           finals["map"].g_params["project"]["kernel"][1])
    alone = jaxgan.create_states(recipe, [config.seed + 1], source.example_shape)
    layout = programs.Layout("none", config.n_disc, "map")
    program = layout.program(recipe, source.sample_real, config.batch_size, 4, False)
    chex.assert_trees_all_close(program(alone, data)[0],
                                jax.tree.map(lambda x: x[1:], finals["map"]), rtol=1e-6,
                                atol=1e-7)
    # auto: the DCGAN is mapped on the CPU, vmapped on accelerators
    assert config_lib.seed_batching(config) == ("map" if jax.default_backend() == "cpu" else "vmap")
    config.seed_batching = "vmap"
    assert config_lib.seed_batching(config) == "vmap"
