"""Controllable generation: latent editing on a toy problem with known gradients,
interpolation endpoints, the cached classifier, and the control script end to end."""

import json
import os
import re
import shutil
import subprocess
import sys
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import control, evaluation, train
from jaxgan.data import ArraySource, digits
from jaxgan.data.arrays import to_unit_range
from jaxgan.metrics import classifier as classifier_lib
from jaxgan.models import DCGANGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The toy: the "generator" is the identity on the plane and the "classifier" a
# linear map to 3 classes, so every gradient is known in closed form.
CLASS_DIRECTIONS = jnp.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])  # [C, 2]


def toy_generate(z):
    return z


def toy_classify(x):
    return 3.0 * x @ CLASS_DIRECTIONS.T


def test_one_edit_step_is_gradient_ascent_on_the_target_log_probability():
    """d/dz log softmax(3 A z)_t = 3 (A_t - A^T p), by hand."""
    z = jnp.array([[0.2, -0.1], [-0.3, 0.4]])
    target = jnp.array([1, 2])
    path = control.edit_latents(toy_generate, toy_classify, z, target, num_steps=1,
                                stop_probability=None, optimizer=optax.sgd(0.1))
    p = jax.nn.softmax(toy_classify(z))
    gradient = 3.0 * (CLASS_DIRECTIONS[target] - p @ CLASS_DIRECTIONS)
    np.testing.assert_allclose(path.latents[1], z + 0.1 * gradient, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(path.logits[0], toy_classify(z), rtol=1e-6)


def test_editing_raises_the_target_score_until_it_stops_at_the_threshold():
    z = jnp.array([[1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])  # classes 0, 2 and about 1/2
    path = control.edit_latents(toy_generate, toy_classify, z, 1, num_steps=100,
                                learning_rate=0.05)
    probability = np.asarray(path.target_probability)
    assert probability[0].max() < 0.5
    # Every latent gets there; before that its score rises at every step.
    assert (path.first_success > 0).all()
    for i, stop in enumerate(np.asarray(path.first_success)):
        assert probability[stop, i] >= 0.9 > probability[stop - 1, i]
        assert (np.diff(probability[:stop + 1, i]) > 0).all()
        # Once there it stays put.
        np.testing.assert_array_equal(path.latents[stop:, i], np.broadcast_to(
            path.latents[stop, i], path.latents[stop:, i].shape))


def test_the_penalty_keeps_the_other_classes_logits_closer_to_where_they_started():
    z = jax.random.normal(jax.random.PRNGKey(0), (64, 2))
    changes = []
    for weight in (0.0, 2.0):
        path = control.edit_latents(toy_generate, toy_classify, z, 0, num_steps=50,
                                    learning_rate=0.05, other_weight=weight,
                                    stop_probability=None)
        drift = jnp.abs(path.logits[-1] - path.logits[0])[:, 1:].mean()
        changes.append(float(drift))
    assert changes[1] < 0.8 * changes[0], changes


def test_edit_latents_refuses_bad_shapes():
    with pytest.raises(ValueError, match="z must be"):
        control.edit_latents(toy_generate, toy_classify, jnp.zeros(2), 0)
    with pytest.raises(ValueError, match="num_steps"):
        control.edit_latents(toy_generate, toy_classify, jnp.zeros((1, 2)), 0, num_steps=-1)


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_endpoints_reproduce_the_endpoint_images(spherical):
    generator = DCGANGenerator(resolution=28, channels=1, width=4)
    z0, z1 = jax.random.normal(jax.random.PRNGKey(0), (2, 8))
    variables = generator.init(jax.random.PRNGKey(1), z0[None], train=False)
    path = control.interpolate_latents(z0, z1, 7, spherical=spherical)
    chex.assert_shape(path, (7, 8))
    images = generator.apply(variables, path, train=False)
    # Equal up to rounding: XLA:CPU may sum a row differently in a batch of 7
    # than alone (seen on AMD EPYC: 1e-11 apart), so not bit for bit.
    np.testing.assert_allclose(images[0], generator.apply(variables, z0[None], train=False)[0],
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(images[-1], generator.apply(variables, z1[None], train=False)[0],
                               rtol=1e-5, atol=1e-8)
    if spherical:  # the closed form at t = 1/3, for unit vectors 90 degrees apart
        a, b = jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 2.0, 0.0])
        third = control.interpolate_latents(a, b, 4, spherical=True)[1]
        np.testing.assert_allclose(third, (1 + 1 / 3) * jnp.array(
            [np.cos(np.pi / 6), np.sin(np.pi / 6), 0.0]), rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(path[3], (z0 + z1) / 2, rtol=1e-6)


def test_class_interpolation_runs_from_one_class_to_the_other():
    generator = DCGANGenerator(resolution=28, channels=1, width=4, num_classes=10)
    z = jnp.ones((5, 8))
    variables = generator.init(jax.random.PRNGKey(1), z, jnp.zeros(5, jnp.int32), train=False)
    weights = control.interpolate_classes(3, 7, 10, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weights[2, [3, 7]], [0.5, 0.5])
    images = generator.apply(variables, z, weights, train=False)
    ends = generator.apply(variables, z[:2], jnp.array([3, 7]), train=False)
    # To rounding, as in the test above: another batch, another summation order.
    np.testing.assert_allclose(images[0], ends[0], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(images[-1], ends[1], rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match="label_b=10"):
        control.interpolate_classes(0, 10, 10, 5)


def test_the_classifier_is_cached_and_reused_and_a_damaged_cache_is_retrained(tmp_path,
                                                                              monkeypatch):
    source = digits(8)  # small and quick: four classifiers train here
    first = classifier_lib.load_or_fit_classifier(source, str(tmp_path), num_steps=20, seed=3)
    (entry,) = os.listdir(tmp_path)
    assert re.fullmatch(r"digits_8x8x1_n1797_[0-9a-f]{12}_steps20_seed3", entry), entry

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the cache holds this classifier")

    monkeypatch.setattr(classifier_lib, "fit_classifier", no_training)
    again = classifier_lib.load_or_fit_classifier(source, str(tmp_path), num_steps=20, seed=3)
    chex.assert_trees_all_equal(again.params, first.params)
    assert (again.accuracy, again.holdout_confident_fraction) == (
        first.accuracy, first.holdout_confident_fraction)
    np.testing.assert_array_equal(again.class_frequencies, first.class_frequencies)
    monkeypatch.undo()
    # Another seed is another entry, and so are other data of the same name and
    # shape; the first entry stays.
    classifier_lib.load_or_fit_classifier(source, str(tmp_path), num_steps=20, seed=4)
    relabelled = ArraySource("digits", source.images, (source.labels + 1) % 10)
    classifier_lib.load_or_fit_classifier(relabelled, str(tmp_path), num_steps=20, seed=3)
    assert len(os.listdir(tmp_path)) == 3 and entry in os.listdir(tmp_path)
    # Damage the first entry's arrays: a warning, then a retrained classifier.
    for folder, _, files in os.walk(tmp_path / entry / "tree"):
        for name in files:
            if "manifest" in name or name.startswith("_"):
                with open(os.path.join(folder, name), "wb") as f:
                    f.write(b"damaged")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        retrained = classifier_lib.load_or_fit_classifier(source, str(tmp_path), num_steps=20,
                                                          seed=3)
    assert any("unreadable classifier cache" in str(w.message) for w in caught)
    chex.assert_trees_all_equal(retrained.params, first.params)  # deterministic training


@pytest.fixture(scope="module")
def conditional_smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cgan")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "train.py"),
         f"--config={os.path.join(ROOT, 'experiments', 'configs', 'digits_smoke.py')}",
         f"--workdir={workdir}", "--config.conditioning=concat"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    return workdir


def run_control(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "control.py"),
                           *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_conditional_run_writes_labels_and_one_row_per_class(conditional_smoke_run):
    workdir = conditional_smoke_run
    with np.load(workdir / "samples" / "final.npz") as final:
        assert final["labels"].tolist() == [k % 10 for k in range(len(final["images"]))]
    result = json.loads((workdir / "eval.json").read_text())
    per_class = [result[f"label_accuracy_class_{k}"] for k in range(10)]
    # Balanced requests: the overall accuracy is the mean of the per-class ones
    # (64 samples: classes 0-3 asked 7 times, the others 6).
    counts = np.bincount(np.arange(64) % 10)
    np.testing.assert_allclose(result["label_accuracy"], np.dot(per_class, counts) / 64,
                               rtol=1e-5)
    assert (workdir / "classifier").is_dir()
    # Beside it, its ceiling: the cached classifier's reading of each class's
    # held-out real digits, counted here by hand.
    run = train.restore_run(str(workdir))
    classifier = evaluation.fit_scoring_classifier(run.source, run.config.classifier_steps,
                                                   str(workdir / "classifier"))
    held_out = classifier_lib.holdout_split(run.source.num_examples, evaluation.EVAL_SEED)[1]
    read = np.asarray(classifier.probabilities(
        to_unit_range(run.source.images[held_out]))).argmax(-1)
    truth = run.source.labels[held_out]
    for k in range(10):
        assert result[f"real_label_accuracy_class_{k}"] == pytest.approx(
            np.mean(read[truth == k] == k), abs=1e-6), k
    assert result["real_label_accuracy"] == pytest.approx(np.mean(read == truth), abs=1e-6)


def test_control_script_edits_judges_and_keeps_the_edits_contract(conditional_smoke_run):
    workdir = conditional_smoke_run
    result = run_control(f"--workdir={workdir}", "--num_latents=4", "--num_steps=3",
                         "--targets=1,2", "--settings=free,realism", "--ensemble=2")
    assert result.returncode == 0, result.stderr
    out = workdir / "control"
    report = json.loads((out / "control.json").read_text())
    assert report["conditional"] and report["targets"] == [1, 2]
    assert sum(report["start_class_counts"]) == 4  # the 4 starting latents
    assert list(report["settings"]) == ["free", "realism"]
    assert report["settings"]["realism"]["ensemble"] == 2
    assert len(report["ensemble_accuracies"]) == 2
    for setting in ("free", "realism"):
        summary = report[setting]
        for name in ("success_rate", "twin_success_rate", "judge_success_rate"):
            assert 0 <= summary[name] <= 1, (setting, name)
        assert {"success_rate_class_1", "judge_success_rate_class_2"} <= summary.keys()
    # The digits have a judge: its floor on real images is recorded beside.
    assert report["judge"]["real_accuracy"] > 0.95
    attribute = report["attribute"]
    assert attribute["name"] == "stroke_width" and attribute["data_std"] > 0
    assert {"moved_sd_mean", "judge_class_held", "slant_drift_sd"} <= attribute["raise"].keys()
    # edits.npz: the last setting's edited images, their targets and starts.
    with np.load(out / "edits.npz", allow_pickle=False) as edits:
        images, targets, starts = edits["images"], edits["targets"], edits["starts"]
        assert str(edits["setting"]) == "realism"
        assert edits["judge_classes"].shape == (8,)
    assert images.shape == starts.shape == (8, 28, 28, 1)
    assert targets.tolist() == [1] * 4 + [2] * 4
    assert images.min() >= -1 and images.max() <= 1
    # Every latent starts from the same image whatever its target.
    # The same latents at other rows of the batch: equal to rounding (see above).
    np.testing.assert_allclose(starts[:4], starts[4:], rtol=1e-5, atol=1e-8)
    assert not np.array_equal(images, starts)
    for name in ("trajectory.png", "trajectory_free.png", "attribute.png",
                 "interpolation.png"):
        assert (out / name).stat().st_size > 1000


@pytest.mark.parametrize("args, expected", [
    (["--workdir=/nonexistent/run"], "holds no trained run"),
    (["--num_latents=1", "--workdir=x"], "--num_latents must be at least 2"),
    (["--workdir=x", "--num_steps=abc"], "num_steps"),
    (["--workdir=x", "--settings=free,magic"], "--settings takes names of free"),
    (["--workdir=x", "--noise_std=-1"], "--noise_std must be >= 0"),
])
def test_control_script_bad_input_exits_2_with_one_line(args, expected):
    result = run_control(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_control_script_refuses_targets_that_are_not_classes(conditional_smoke_run):
    result = run_control(f"--workdir={conditional_smoke_run}", "--targets=3,12")
    assert result.returncode == 2
    assert "--targets must be classes of 0..9" in result.stderr.strip().splitlines()[-1]
    # Settling snaps clusters: a conditional generator's edits have none to snap.
    result = run_control(f"--workdir={conditional_smoke_run}", "--settings=free,settled")
    assert result.returncode == 2
    assert "leave settled out" in result.stderr.strip().splitlines()[-1]


def test_truncation_script_scores_a_finished_run_as_its_loop_would(conditional_smoke_run,
                                                                     tmp_path):
    """experiments/truncation.py (here beside the conditional smoke run it
    reads): without truncation it reproduces the run's own eval.json; at a
    threshold, what the run's command gives when run again with
    --config.truncation (a finished run is evaluated afresh); bad input exits 2."""
    workdir = conditional_smoke_run
    script = os.path.join(ROOT, "experiments", "truncation.py")
    before = (workdir / "eval.json").read_text()
    result = subprocess.run([sys.executable, script, f"--workdir={workdir}",
                             "--thresholds=0,1"], capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert (workdir / "eval.json").read_text() == before  # the run's own results untouched
    swept = json.loads((workdir / "truncation.json").read_text())
    assert swept["thresholds"] == [0.0, 1.0]
    evaluated = json.loads(before)
    plain, truncated = swept["scores"]["0.0"], swept["scores"]["1.0"]
    for name in ("confident_fraction", "label_accuracy", "frechet_distance", "precision",
                 "recall", "real_frechet_distance"):
        np.testing.assert_allclose(plain[name], evaluated[name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    assert "truncation" not in plain and truncated["truncation"] == 1.0
    assert truncated["frechet_distance"] != plain["frechet_distance"]
    per_class = [plain[f"label_accuracy_class_{k}"] for k in range(10)]
    assert plain["worst_class_label_accuracy"] == pytest.approx(min(per_class))
    assert plain["real_worst_class_label_accuracy"] == min(
        evaluated[f"real_label_accuracy_class_{k}"] for k in range(10))
    assert plain["frechet_distance_at_floor_size"] > 0
    assert (workdir / "truncation.png").stat().st_size > 1000
    # The fit loop's own path: the finished run (a copy) evaluated again at 1.
    again = tmp_path / "again"
    shutil.copytree(workdir, again)
    rerun = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "train.py"),
         f"--config={os.path.join(ROOT, 'experiments', 'configs', 'digits_smoke.py')}",
         f"--workdir={again}", "--config.conditioning=concat", "--config.truncation=1.0"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    reevaluated = json.loads((again / "eval.json").read_text())
    assert reevaluated["truncation"] == 1.0
    for name in ("confident_fraction", "label_accuracy", "frechet_distance", "recall"):
        np.testing.assert_allclose(reevaluated[name], truncated[name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    with np.load(again / "samples" / "final.npz") as final:
        assert not np.allclose(final["images"], np.load(
            workdir / "samples" / "final.npz")["images"])
    assert result.stdout.count("truncation ") == 2 and "worst class" in result.stdout
    for args, expected in (([f"--workdir={workdir}", "--thresholds=0,-1"], "numbers >= 0"),
                           ([f"--workdir={workdir / 'none'}"], "holds no trained run")):
        refused = subprocess.run([sys.executable, script, *args], capture_output=True,
                                 text=True, cwd=ROOT, timeout=600)
        assert refused.returncode == 2 and expected in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_feature_editing_raises_one_sigmoid_score_and_can_hold_the_others():
    """Multi-label features: the score is log sigmoid of the target's logit."""
    z = jnp.array([[-1.0, 0.0]])
    free = control.edit_latents(toy_generate, toy_classify, z, 0, num_steps=1,
                                stop_probability=None, features=True,
                                optimizer=optax.sgd(0.1))
    # d/dz log sigmoid(3 a_0 . z) = 3 a_0 (1 - sigmoid(3 a_0 . z)), by hand.
    logit = 3.0 * z[0] @ CLASS_DIRECTIONS[0]
    expected = z[0] + 0.1 * 3.0 * CLASS_DIRECTIONS[0] * (1 - jax.nn.sigmoid(logit))
    np.testing.assert_allclose(free.latents[1, 0], expected, rtol=1e-5)
    path = control.edit_latents(toy_generate, toy_classify, z, 0, num_steps=200,
                                features=True)
    assert path.first_success[0] > 0
    np.testing.assert_allclose(path.target_probability[:, 0],
                               jax.nn.sigmoid(path.logits[:, 0, 0]), rtol=1e-5)


def test_the_typical_set_penalty_is_the_squared_z_score_of_the_squared_norm():
    d = 50  # |z|^2 of N(0, I_50) has mean 50 and standard deviation 10
    z = jnp.stack([jnp.full(d, 1.0), jnp.full(d, jnp.sqrt(70.0 / d)), jnp.zeros(d)])
    np.testing.assert_allclose(control.typical_set_penalty(z), [0.0, 4.0, 25.0], rtol=1e-5)


def lift(z):
    """A generator of the toy whose latents have 64 dimensions: the first two
    draw the point, the others do nothing."""
    return z[:, :2]


def test_the_prior_term_keeps_the_latents_norm_in_its_typical_range():
    z = jax.random.normal(jax.random.PRNGKey(0), (32, 64))
    sigma = {}

    def classify(x):  # gentler logits: the free score saturates only far out
        return toy_classify(x) / 6

    for weight in (0.0, 1.0):
        path = control.edit_latents(lift, classify, z, 1, num_steps=300,
                                    learning_rate=0.1, stop_probability=None,
                                    prior_weight=weight)
        sigma[weight] = np.sqrt(np.asarray(control.typical_set_penalty(path.final_latents)))
        # The target is still reached: the prior does not stop the edit.
        assert (path.target_probability[-1] > 0.9).mean() > 0.9, weight
    start = np.sqrt(np.asarray(control.typical_set_penalty(z)))
    assert sigma[0.0].mean() > 4  # the free edit runs out of the prior's shell...
    assert sigma[1.0].max() < 1.0 and sigma[1.0].mean() < start.mean()  # ...the prior holds it


def test_a_self_conditioned_edit_moves_the_cluster_that_z_alone_cannot():
    """A toy self-conditioned generator: the point is its cluster's centre
    (the three class directions) plus a small move by z. With the clusters
    fixed, an edit to another class stays where it is; with the latents
    carrying their cluster weights, it ends in the target's cluster, and the
    prior term sees only z."""
    d = 2

    def draw(z, weights):
        return weights @ CLASS_DIRECTIONS + 0.05 * jnp.tanh(z)

    z = jax.random.normal(jax.random.PRNGKey(2), (12, d))
    start = jnp.arange(12) % 3
    target = (start + 1) % 3
    latents = control.with_conditions(z, start, 3)
    z_back, weights = control.split_conditions(latents, d)
    np.testing.assert_array_equal(z_back, z)
    assert (weights[jnp.arange(12), start] > 0.99).all()
    kept = control.edit_latents(lambda z: draw(z, jax.nn.one_hot(start, 3)), toy_classify, z,
                                target, num_steps=100, prior_weight=1.0)
    moved = control.edit_latents(lambda u: draw(*control.split_conditions(u, d)),
                                 toy_classify, latents, target, num_steps=100,
                                 prior_weight=1.0, prior_dims=d)
    assert (kept.first_success < 0).all()
    assert (moved.first_success > 0).all()
    final_weights = control.split_conditions(moved.final_latents, d)[1]
    np.testing.assert_array_equal(final_weights.argmax(-1), target)
    # The prior term differentiates z only: with the classifier indifferent,
    # the cluster part does not move.
    flat = control.edit_latents(lambda u: draw(*control.split_conditions(u, d)),
                                lambda x: jnp.zeros((x.shape[0], 3)), latents * 1.0, 0,
                                num_steps=5, stop_probability=None, prior_weight=1.0,
                                prior_dims=d)
    np.testing.assert_array_equal(flat.final_latents[:, d:], latents[:, d:])
    assert not np.array_equal(flat.final_latents[:, :d], z)


def test_an_edit_of_no_steps_is_its_start_with_its_verdict():
    z = jnp.array([[0.1, 0.2], [1.0, 0.0]])
    path = control.edit_latents(toy_generate, toy_classify, z, 0, num_steps=0)
    np.testing.assert_array_equal(path.latents, z[None])
    np.testing.assert_allclose(path.target_probability[0],
                               jax.nn.softmax(toy_classify(z))[:, 0], rtol=1e-6)
    np.testing.assert_array_equal(path.first_success, [-1, 0])  # p 0.41 and 0.98


def test_settling_snaps_a_blend_to_the_candidate_the_classifier_likes_and_goes_on_in_z():
    """The toy self-conditioned generator, its three latents ending an edit in
    the same blend of clusters 0 (largest weight), 1 and 2 (smallest). Of the
    two largest, the snap takes the one whose image the classifier gives the
    target's highest probability, not the largest weight; a target outside
    them cannot be reached in z alone (its move is too small)."""
    d = 2

    def generate(latents):
        z, weights = control.split_conditions(latents, d)
        return weights @ CLASS_DIRECTIONS + 0.05 * jnp.tanh(z)

    blend = jnp.tile(jnp.array([[0.3, -0.2, 0.6, 0.5, -1.0]]), (3, 1))
    target = jnp.array([1, 0, 2])
    # A first edit of 3 steps that did not move; the first latent "stopped" at 1.
    path = control.edit_latents(generate, toy_classify, blend, target, num_steps=3,
                                stop_probability=None, optimizer=optax.sgd(0.0))
    path = path._replace(first_success=jnp.array([1, -1, -1]))
    settled = control.settle_conditions(generate, toy_classify, path, target, d,
                                        num_steps=30, candidates=2, learning_rate=0.1)
    assert settled.latents.shape == (4 + 31, 3, d + 3)
    # Each latent's path goes on from where its first edit stopped (step 1,
    # and the end, 3, for those that never did).
    stops = [1, 3, 3]
    for i, stop in enumerate(stops):
        np.testing.assert_array_equal(settled.latents[:stop + 1, i], path.latents[:stop + 1, i])
        held = np.asarray(settled.latents[stop + 1:, i, d:])
        # One-hot from the snap on, held there: 1 and 0 as the targets ask
        # (the largest weight is 0's); of 0 and 1, class 2's direction is nearer 1's.
        np.testing.assert_array_equal(held, np.broadcast_to(np.eye(3)[[1, 0, 1][i]], held.shape))
    # The snapped images are the targets' already (p 0.97, 0.98 by hand), so
    # success is at the snap, counted from the start; the third never.
    np.testing.assert_array_equal(settled.first_success, [2, 4, -1])
    probability = np.asarray(settled.target_probability)
    assert probability[2, 0] > 0.9 and probability[4, 1] > 0.9 and probability[-1, 2] < 0.5
    # The third went on in z, the condition held, as far as the target pulls it.
    assert np.abs(settled.latents[-1, 2, :d] - blend[2, :d]).min() > 1.0
    np.testing.assert_allclose(settled.logits, jax.vmap(
        lambda u: toy_classify(generate(u)))(settled.latents), rtol=1e-5, atol=1e-6)
    # A first edit that moves, and stops at different steps: each latent's
    # path is its own up to its stop, and the snap keeps the z it stopped at.
    start = jnp.concatenate([jax.random.normal(jax.random.PRNGKey(3), (6, d)),
                             jax.nn.one_hot(jnp.arange(6) % 3, 3)], -1)
    goal = (jnp.arange(6) + 1) % 3
    moving = control.edit_latents(generate, toy_classify, start, goal, num_steps=40,
                                  learning_rate=0.05)
    stops = np.where(moving.first_success >= 0, moving.first_success, 40)
    assert len(set(stops.tolist())) > 1, stops
    settled = control.settle_conditions(generate, toy_classify, moving, goal, d, num_steps=5)
    for i, stop in enumerate(stops):
        np.testing.assert_array_equal(settled.latents[:stop + 1, i], moving.latents[:stop + 1, i])
        np.testing.assert_array_equal(settled.latents[stop + 1, i, :d], moving.latents[stop, i, :d])
    with pytest.raises(ValueError, match="with_conditions"):
        control.settle_conditions(generate, toy_classify, moving._replace(
            latents=moving.latents[..., :d]), goal, d)


def test_an_edit_towards_the_class_a_sample_has_moves_it_less_than_one_to_another():
    z = jax.random.normal(jax.random.PRNGKey(1), (64, 2))
    own = jnp.argmax(toy_classify(z), -1)
    moved = {}
    for name, target in (("own", own), ("other", (own + 1) % 3)):
        path = control.edit_latents(toy_generate, toy_classify, z, target, num_steps=200,
                                    learning_rate=0.02, prior_weight=0.0)
        assert (path.first_success >= 0).all()
        moved[name] = np.linalg.norm(np.asarray(path.final_latents - z), axis=-1)
    # The same rule moves a latent only as far as the boundary of p >= 0.9.
    assert moved["own"].mean() < 0.25 * moved["other"].mean(), moved


def test_an_ensemble_scores_with_the_log_of_its_members_mean_probabilities():
    a = lambda x: jnp.array([[2.0, 0.0, -1.0]])  # noqa: E731
    b = lambda x: jnp.array([[0.0, 1.0, 0.0]])  # noqa: E731
    mean = (jax.nn.softmax(a(None)) + jax.nn.softmax(b(None))) / 2
    np.testing.assert_allclose(control.ensemble_logits([a, b])(None), jnp.log(mean), rtol=1e-6)
    np.testing.assert_allclose(jax.nn.softmax(control.ensemble_logits([a, b])(None)), mean,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        control.ensemble_logits([])


def test_realism_and_noise_terms_enter_the_gradient_as_written():
    z = jnp.array([[0.2, -0.1], [-0.3, 0.4]])
    target = jnp.array([1, 2])
    # A realism score -|x|^2 adds -2 rho z to the ascent direction, by hand.
    path = control.edit_latents(toy_generate, toy_classify, z, target, num_steps=1,
                                stop_probability=None, optimizer=optax.sgd(0.1),
                                realism=lambda x: -jnp.sum(x * x, -1), realism_weight=0.5)
    p = jax.nn.softmax(toy_classify(z))
    gradient = 3.0 * (CLASS_DIRECTIONS[target] - p @ CLASS_DIRECTIONS) - 2 * 0.5 * z
    np.testing.assert_allclose(path.latents[1], z + 0.1 * gradient, rtol=1e-5, atol=1e-7)
    # Noise of (nearly) zero size averages to the clean score; real noise differs
    # by key, and needs one.
    clean = control.edit_latents(toy_generate, toy_classify, z, target, num_steps=5,
                                 stop_probability=None)
    paths = [control.edit_latents(toy_generate, toy_classify, z, target, num_steps=5,
                                  stop_probability=None, noise_std=std, noise_samples=3,
                                  key=jax.random.PRNGKey(k))
             for std, k in ((1e-6, 0), (1.0, 0), (1.0, 1))]
    np.testing.assert_allclose(paths[0].latents, clean.latents, atol=1e-4)
    assert not np.allclose(paths[1].latents, paths[2].latents)
    with pytest.raises(ValueError, match="pass key"):
        control.edit_latents(toy_generate, toy_classify, z, target, noise_std=0.5)
    with pytest.raises(ValueError, match="needs realism"):
        control.edit_latents(toy_generate, toy_classify, z, target, realism_weight=1.0)


def bar(width: int, length: int = 24, size: int = 32) -> jnp.ndarray:
    """A white horizontal bar on black, ``[1, size, size, 1]`` in [-1, 1]."""
    image = -np.ones((size, size), np.float32)
    top, left = (size - width) // 2, (size - length) // 2
    image[top:top + width, left:left + length] = 1.0
    return jnp.asarray(image)[None, ..., None]


def test_stroke_width_reads_the_width_of_a_drawn_bar():
    """A w x L bar has ink w L and edge 2 (w + L), so 2 ink / edge = w L / (w + L)
    (the corners add a little: the measure reads a few per cent low)."""
    for width in (2, 4, 6):
        expected = width * 24 / (width + 24)
        measured = float(control.stroke_width(bar(width))[0])
        assert abs(measured - expected) < 0.1 * expected, (width, measured, expected)
    # It does not grow with the stroke's length, as ink alone would.
    np.testing.assert_allclose(control.stroke_width(bar(3, length=12)),
                               3 * 12 / 15, rtol=0.1)


@pytest.mark.parametrize("lean", [-0.4, 0.0, 0.3])
def test_slant_reads_the_lean_of_a_drawn_line(lean):
    size = 32
    y, x = np.mgrid[:size, :size].astype(np.float32)
    centre = 15.5
    # A stroke 2 pixels wide whose top leans right by `lean` pixels per row.
    image = np.where(np.abs(x - (centre + lean * (centre - y))) < 1.0, 1.0, -1.0)
    image[:4], image[-4:] = -1.0, -1.0
    measured = float(control.slant(jnp.asarray(image)[None, ..., None])[0])
    assert abs(measured - lean) < 0.05, (lean, measured)


def test_an_attribute_edit_moves_the_attribute_and_the_hold_keeps_the_class():
    """On the toy plane: the attribute is the first coordinate; the class
    boundary between 0 and 1 lies on the way down."""
    z = jnp.array([[1.0, 0.0], [1.0, 0.4], [0.6, -0.2]])  # class 0, confidently
    attribute = lambda x: x[:, 0]  # noqa: E731
    held, free = [control.edit_attribute(toy_generate, attribute, toy_classify, z,
                                         direction=-1.0, scale=0.5, num_steps=300,
                                         learning_rate=0.02, hold_weight=w,
                                         stop_change=3.0)
                  for w in (20.0, 0.0)]
    # Without the hold, all three fall 3 units of 0.5 and leave class 0.
    assert (free.first_success > 0).all()
    moved = -(free.values[-1] - free.values[0]) / 0.5
    assert (moved >= 3.0).all() and (moved < 3.2).all()
    assert (free.logits[-1].argmax(-1) != 0).all()
    # With a strong hold the class stays, and the attribute moves less.
    assert (held.logits[-1].argmax(-1) == 0).all()
    assert (held.values[-1] > free.values[-1]).all()
    # Raising it needs no trade-off: every latent gets there and stays class 0.
    up = control.edit_attribute(toy_generate, attribute, toy_classify, z, scale=0.5,
                                num_steps=200, learning_rate=0.02, stop_change=1.0)
    assert (up.first_success > 0).all() and (up.logits[-1].argmax(-1) == 0).all()
    np.testing.assert_array_equal(up.values[:, 0][up.first_success[0]:],
                                  up.values[up.first_success[0], 0])


def test_reading_sheet_hides_the_answers_and_scores_a_reader_against_them(tmp_path):
    """experiments/reading_sheet.py: edits and real digits shuffled on one
    sheet, the answers in key.json; a reader who names every digit right
    scores all of both, and one who names none scores nothing."""
    script = os.path.join(ROOT, "experiments", "reading_sheet.py")
    starts = -np.ones((12, 32, 32, 1), np.float32)
    images = starts.copy()
    images[:9, 10:20, 10:20] = 1.0  # nine edits changed the image; three did not
    counted = np.arange(12) != 8  # and one of the nine was no edit: its start was the target
    np.savez(tmp_path / "edits.npz", images=images, starts=starts,
             targets=np.arange(12) % 10, counted=counted)
    make = [sys.executable, script, "make", f"--edits={tmp_path / 'edits.npz'}",
            "--dataset=digits", f"--out={tmp_path / 'sheet'}"]
    made = subprocess.run([*make, "--num=6"], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "sheet" / "sheet.png").stat().st_size > 1000
    key = json.loads((tmp_path / "sheet" / "key.json").read_text())
    assert sorted(key["kind"]) == ["edit"] * 6 + ["real"] * 6
    edited = [t for t, k in zip(key["truth"], key["kind"], strict=True) if k == "edit"]
    assert set(edited) <= set(range(8))  # the targets of counted, changed edits only
    shown = [i for i, k in zip(key["index"], key["kind"], strict=True) if k == "edit"]
    assert [int(t) for t in np.arange(12)[shown] % 10] == edited

    def score(readings):
        return subprocess.run([sys.executable, script, "score",
                               f"--key={tmp_path / 'sheet' / 'key.json'}",
                               f"--readings={','.join(readings)}"],
                              capture_output=True, text=True, timeout=300)

    right = json.loads(score([str(t) for t in key["truth"]]).stdout.splitlines()[-1])
    assert right == {"edit": {"read_right": 6, "unnamed": 0, "shown": 6},
                     "real": {"read_right": 6, "unnamed": 0, "shown": 6}}
    none = json.loads(score(["?"] * 12).stdout.splitlines()[-1])
    assert none["edit"]["read_right"] == none["real"]["read_right"] == 0
    assert none["edit"]["unnamed"] == 6
    short = score(["1"] * 11)
    assert short.returncode == 2 and "has 11 answers; the sheet has 12" in short.stderr
    typo = score(["1"] * 11 + ["x"])
    assert typo.returncode == 2 and "a digit or ? per image, got 'x'" in typo.stderr
    # Only eight pairs changed their image and count as edits: nine cannot be shown.
    few = subprocess.run([*make, "--num=9"], capture_output=True, text=True, timeout=300)
    assert few.returncode == 2 and "8 changed edits, fewer than --num 9" in few.stderr
    # A CycleGAN's final.npz: each output should show its input's class.
    np.savez(tmp_path / "final.npz", ba_inputs=starts[:6], ba_images=images[:6],
             ba_labels=np.arange(6) + 2)
    made = subprocess.run([sys.executable, script, "make", f"--edits={tmp_path / 'final.npz'}",
                           "--prefix=ba_", "--dataset=digits_framed", "--num=6",
                           f"--out={tmp_path / 'translations'}"],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    key = json.loads((tmp_path / "translations" / "key.json").read_text())
    assert sorted(t for t, k in zip(key["truth"], key["kind"], strict=True)
                  if k == "edit") == list(range(2, 8))
