"""Training health (jaxgan.health): the in-step signals against hand-computed
values, the monitor's rules on made-up logs, and a dying GAN that warns (or
stops) while a healthy run does not."""

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import health, train
from jaxgan.configs import digits_smoke

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ranking_accuracy_counts_the_pairs_the_discriminator_orders_right():
    real, fake = jnp.array([2.0, 0.0, 1.0]), jnp.array([1.0, -1.0])
    # pairs (real > fake): 2>1, 2>-1, 0>-1, 1>-1 = 4 of 6; the tie 1 = 1 counts half.
    assert float(health.ranking_accuracy(real, fake)) == pytest.approx(4.5 / 6)
    assert float(health.ranking_accuracy(real + 10, fake)) == 1.0
    assert float(health.ranking_accuracy(fake, fake)) == 0.5  # only ties and their mirror


def test_spread_ratio_is_the_fakes_spread_over_the_reals():
    real = jnp.array([[0.0, 0.0], [2.0, 4.0]])   # per-feature std 1 and 2: spread 1.5
    fake = jnp.array([[1.0, 1.0], [1.0, 2.5]])   # std 0 and 0.75: spread 0.375
    assert float(health.spread_ratio(real, fake)) == pytest.approx(0.25)
    same = jnp.ones((8, 4, 4, 1))
    assert float(health.spread_ratio(jnp.arange(128.0).reshape(8, 4, 4, 1), same)) == 0.0


def records(**series):
    steps = range(1, 1 + len(next(iter(series.values()))))
    return [{"step": 10 * s, **{k: v[i] for k, v in series.items()}}
            for i, s in enumerate(steps)]


def warnings(logs, **thresholds):
    monitor = health.HealthMonitor(health.HealthThresholds(**thresholds))
    return [(r["step"], w.split(" (")[0]) for r in logs for w in monitor.update(r)]


def test_one_image_for_every_z_is_named_once_after_patience_and_again_after_recovery():
    logs = records(g_sample_spread=[0.5, 0.01, 0.01, 0.01, 0.01, 0.4, 0.01, 0.01, 0.01])
    assert warnings(logs) == [
        (40, "the generator draws nearly the same image for every z"),
        (90, "the generator draws nearly the same image for every z")]


def test_a_winning_discriminator_needs_the_generators_loss_to_keep_rising():
    sure = [1.0] * 6
    holding = records(d_auc=sure, g_loss=[0.7, 0.7, 0.71, 0.7, 0.69, 0.7])
    slow = records(d_auc=sure, g_loss=[2.0, 2.2, 2.4, 2.6, 2.8, 3.0])  # a long run's rise
    losing = records(d_auc=sure, g_loss=[0.7, 0.75, 0.96, 1.8, 2.8, 3.4])
    unsure = records(d_auc=[0.9] * 6, g_loss=[0.7, 0.75, 0.96, 1.8, 2.8, 3.4])
    assert warnings(holding) == warnings(slow) == warnings(unsure) == []
    assert warnings(losing) == [(50, "the discriminator wins outright")]


def test_coverage_collapse_is_measured_from_the_runs_own_best():
    # Rising coverage never warns; losing half of the best does, once.
    logs = records(classes_covered=[1, 3, 6, 10, 9, 5, 4, 10])
    assert warnings(logs) == [(60, "the samples collapse onto fewer classes")]
    assert warnings(records(modes_covered=[1, 2, 8, 8, 3])) == [
        (50, "the samples collapse onto fewer modes")]
    assert warnings(records(d_loss=[1.0, 2.0])) == []  # nothing to judge by
    # A best of one or two modes is noise, not coverage to lose (the smoke run's 1 -> 0) ...
    assert warnings(records(modes_covered=[1, 0, 2, 1, 0])) == []
    # ... and from three on, losing two thirds is a collapse.
    assert warnings(records(modes_covered=[1, 3, 1])) == [
        (30, "the samples collapse onto fewer modes")]


def test_a_healthy_short_run_logs_the_signals_and_raises_no_warning(tmp_path):
    config = digits_smoke.get_config()
    config.num_steps, config.log_every, config.eval_every = 400, 40, 200
    config.checkpoint_every = 400
    train.train_and_evaluate(config, str(tmp_path))
    logs = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["health_warnings"] for r in logs] == [0] * 10
    for r in logs:
        assert 0.5 <= r["d_auc"] <= 1 and r["g_sample_spread"] > 0.05 and r["g_grad_norm"] > 0


def test_a_dead_generator_stops_the_run_with_one_line_and_keeps_the_last_checkpoint(tmp_path):
    """A generator that cannot learn (its learning rate near zero): the
    discriminator wins outright within 500 steps, and on_collapse='stop' ends
    the run with exit code 1, before saving that state."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "train.py"), "--config",
         "digits_smoke", f"--workdir={tmp_path}", "--config.num_steps=480",
         "--config.log_every=40", "--config.eval_every=240", "--config.checkpoint_every=200",
         "--config.g_learning_rate=1e-12", "--config.lr_schedule=constant",
         "--config.on_collapse=stop"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: stopped at step ") and "(on_collapse='stop'): the " \
        "discriminator wins outright" in last and last.endswith("the last checkpoint is step 200")
    step = int(last.split("stopped at step ")[1].split(" ")[0])
    assert step <= 480
    logs = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert logs[-1]["step"] == step and logs[-1]["health_warnings"] == 1
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["200"]
    assert np.all([r["g_sample_spread"] > 0.05 for r in logs])  # its images still differ
