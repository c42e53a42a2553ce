"""Controllable generation: latent editing on a toy problem with known gradients,
interpolation endpoints, the cached classifier, and the control script end to end."""

import json
import os
import re
import subprocess
import sys
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import control
from jaxgan.data import ArraySource, digits
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
        control.edit_latents(toy_generate, toy_classify, jnp.zeros((1, 2)), 0, num_steps=0)


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_endpoints_reproduce_the_endpoint_images(spherical):
    generator = DCGANGenerator(resolution=28, channels=1, width=4)
    z0, z1 = jax.random.normal(jax.random.PRNGKey(0), (2, 8))
    variables = generator.init(jax.random.PRNGKey(1), z0[None], train=False)
    path = control.interpolate_latents(z0, z1, 7, spherical=spherical)
    chex.assert_shape(path, (7, 8))
    images = generator.apply(variables, path, train=False)
    np.testing.assert_array_equal(images[0], generator.apply(variables, z0[None], train=False)[0])
    np.testing.assert_array_equal(images[-1], generator.apply(variables, z1[None], train=False)[0])
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
    np.testing.assert_array_equal(images[0], ends[0])
    np.testing.assert_array_equal(images[-1], ends[1])
    with pytest.raises(ValueError, match="label_b=10"):
        control.interpolate_classes(0, 10, 10, 5)


def test_the_classifier_is_cached_and_reused_and_a_damaged_cache_is_retrained(tmp_path,
                                                                              monkeypatch):
    source = digits(16)
    first = classifier_lib.load_or_fit_classifier(source, str(tmp_path), num_steps=20, seed=3)
    (entry,) = os.listdir(tmp_path)
    assert re.fullmatch(r"digits_16x16x1_n1797_[0-9a-f]{12}_steps20_seed3", entry), entry

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


def test_control_script_edits_interpolates_and_reports(conditional_smoke_run):
    workdir = conditional_smoke_run
    result = run_control(f"--workdir={workdir}", "--num_latents=4", "--num_steps=3",
                         "--targets=1,2")
    assert result.returncode == 0, result.stderr
    report = json.loads((workdir / "control" / "control.json").read_text())
    assert report["conditional"] and report["targets"] == [1, 2]
    assert sum(report["start_class_counts"]) == 4  # the 4 starting latents
    for setting in ("free", "penalised"):
        summary = report[setting]
        assert 0 <= summary["success_rate"] <= 1
        assert {"success_rate_class_1", "success_rate_class_2"} <= summary.keys()
    assert report["penalised"]["other_weight"] == 1.0
    for name in ("trajectory.png", "interpolation.png"):
        assert (workdir / "control" / name).stat().st_size > 1000


@pytest.mark.parametrize("args, expected", [
    (["--workdir=/nonexistent/run"], "holds no trained run"),
    (["--num_latents=1", "--workdir=x"], "--num_latents must be at least 2"),
    (["--workdir=x", "--num_steps=abc"], "num_steps"),
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
