"""Surviving crashes, NaNs and damage: SIGKILL at many points and an exact resume,
Ctrl-C, a damaged newest checkpoint, the divergence guard and its rollback, and
no pickle anywhere."""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import checkpoint, loop, train
from jaxgan import config as config_lib
from jaxgan.state import GANRecipe, create_states

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "experiments", "train.py")
sys.path.insert(0, os.path.join(ROOT, "experiments"))
from configs import digits_smoke, smoke  # noqa: E402


def ring_config(**overrides):
    config = smoke.get_config()
    config.update(dict(num_steps=40, checkpoint_every=10, log_every=10, eval_every=40,
                       keep_checkpoints=5))
    config.update(overrides)
    return config


def final_images(workdir):
    with np.load(os.path.join(workdir, "samples", "final.npz")) as final:
        return final["images_per_seed"]


def logged_steps(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line)["step"] for line in f if line.strip()]


def checkpoint_steps(workdir):
    directory = os.path.join(workdir, "checkpoints")
    return sorted(int(n) for n in os.listdir(directory) if n.isdigit())


# --------------------------------------------------------------------------
# The divergence guard
# --------------------------------------------------------------------------


def poison_after(monkeypatch, step, builds=None):
    """Makes the train step write NaN into the generator from ``step`` on (in
    the first ``builds`` programs built; all if None)."""
    real = GANRecipe.make_train_step
    built = []

    def poisoned(recipe, axis_name=None):
        train_step = real(recipe, axis_name)
        built.append(recipe)
        poison = builds is None or len(built) <= builds

        def step_fn(state, batch):
            new, metrics = train_step(state, batch)
            if poison:
                bad = new.step > step
                new = new.replace(g_params=jax.tree.map(
                    lambda x: jnp.where(bad, jnp.nan, x), new.g_params))
            return new, metrics

        return step_fn

    monkeypatch.setattr(GANRecipe, "make_train_step", poisoned)
    return built


def test_a_nan_stops_the_run_naming_the_step_and_keeps_the_last_good_checkpoint(
        tmp_path, monkeypatch):
    poison_after(monkeypatch, 25)
    with pytest.raises(train.DivergenceError) as raised:
        train.train_and_evaluate(ring_config(), str(tmp_path))
    message = str(raised.value)
    assert "training diverged at step 30" in message and "g_loss=nan" in message
    assert "non-finite parameters" in message and "last good checkpoint is step 20" in message
    assert len(message.splitlines()) == 1
    # Nothing non-finite was saved: 30 never was, and 20 reads back finite.
    assert checkpoint_steps(tmp_path) == [10, 20]
    config = ring_config()
    recipe = config_lib.build_recipe(config, (2,))
    like = create_states(recipe, np.arange(config.num_seeds), (2,))
    checkpointer = checkpoint.Checkpointer(str(tmp_path / "checkpoints"), 5)
    step, _, states = checkpointer.restore_latest(like)
    checkpointer.close()
    assert step == 20
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(states))
    assert logged_steps(tmp_path) == [10, 20]


def test_rollback_reloads_the_last_good_checkpoint_and_halves_the_rates(tmp_path, monkeypatch):
    built = poison_after(monkeypatch, 25, builds=1)  # only the first program is poisoned
    result = train.train_and_evaluate(ring_config(on_nan="rollback"), str(tmp_path))
    assert result["step"] == 40 and np.isfinite(final_images(tmp_path)).all()
    # Rebuilt once, from step 20, with both rates halved; recorded for a resume.
    assert len(built) == 2
    saved = json.loads((tmp_path / "checkpoints" / "40" / "config" / "metadata").read_text())
    assert saved[loop.LR_SCALE_KEY] == 0.5
    assert logged_steps(tmp_path) == [10, 20, 30, 40]
    # The rollback's run equals a run that had the halved rates from step 20:
    # a clean run, cut back to its step-20 checkpoint marked with lr_scale 0.5.
    monkeypatch.undo()
    reference = tmp_path / "reference"
    train.train_and_evaluate(ring_config(), str(reference))
    clean = final_images(reference)
    assert not np.array_equal(clean, final_images(tmp_path))  # the halved rates show
    for step in ("30", "40"):
        shutil.rmtree(reference / "checkpoints" / step)
    config_path = reference / "checkpoints" / "20" / "config" / "metadata"
    saved_20 = json.loads(config_path.read_text())
    saved_20[loop.LR_SCALE_KEY] = 0.5
    config_path.write_text(json.dumps(saved_20))
    train.train_and_evaluate(ring_config(), str(reference))
    np.testing.assert_array_equal(final_images(reference), final_images(tmp_path))


def test_rollback_gives_up_after_three_tries(tmp_path, monkeypatch):
    poison_after(monkeypatch, 25)
    with pytest.raises(train.DivergenceError, match="diverged at step 30 after 3 rollback"):
        train.train_and_evaluate(ring_config(on_nan="rollback"), str(tmp_path))
    assert checkpoint_steps(tmp_path) == [10, 20]


# --------------------------------------------------------------------------
# Damage on disk
# --------------------------------------------------------------------------


def test_a_damaged_newest_checkpoint_is_set_aside_and_the_one_before_used(tmp_path):
    train.train_and_evaluate(ring_config(), str(tmp_path))
    reference = final_images(tmp_path)
    state_dir = tmp_path / "checkpoints" / "40" / "state"
    for folder, _, files in os.walk(state_dir):
        for name in files:
            if os.sep + "d" in folder:  # the array chunks
                path = os.path.join(folder, name)
                with open(path, "r+b") as f:
                    f.truncate(8)
    with pytest.warns(UserWarning, match="the checkpoint at step 40 is unreadable"):
        train.train_and_evaluate(ring_config(), str(tmp_path))
    np.testing.assert_array_equal(final_images(tmp_path), reference)  # redone from step 30
    assert checkpoint_steps(tmp_path) == [10, 20, 30, 40]
    (aside,) = os.listdir(tmp_path / "checkpoints-unreadable")
    assert os.listdir(tmp_path / "checkpoints-unreadable" / aside) == ["40"]  # kept, not deleted


def test_nothing_is_unpickled_when_resuming_or_reading_caches(tmp_path, monkeypatch):
    """Checkpoints, caches and data files are read without pickle. (TensorBoard's
    writer thread passes its own messages through an in-memory multiprocessing
    queue, which pickles; it is bound before the patch, since it loads nothing
    from disk.)"""
    import multiprocessing.queues  # noqa: F401

    def refuse(*args, **kwargs):
        raise AssertionError("something unpickled")

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    config = digits_smoke.get_config()
    train.train_and_evaluate(config, str(tmp_path))
    # Again: restores the finished run's checkpoint and the cached classifier.
    train.train_and_evaluate(config, str(tmp_path))
    assert train.restore_run(str(tmp_path)).step == config.num_steps
    # And no module of the package unpickles or lets numpy do it.
    for folder, _, files in os.walk(os.path.join(ROOT, "jaxgan")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name)) as f:
                    source = f.read()
                assert "import pickle" not in source and "allow_pickle=True" not in source, name


def test_ctrl_c_saves_a_checkpoint_where_it_stopped_and_the_resume_is_exact(
        tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    train.train_and_evaluate(ring_config(checkpoint_every=20), str(reference))
    real_check = loop.divergence
    presses = []

    def press_ctrl_c_once(means, states):  # runs after each logged call
        if not presses:
            presses.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return real_check(means, states)

    monkeypatch.setattr(loop, "divergence", press_ctrl_c_once)
    # Ctrl-C with its usual meaning, as in a terminal (CI may start us ignoring it).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    workdir = tmp_path / "interrupted"
    try:
        with pytest.raises(train.Interrupted, match="interrupted at step 10; saved a checkpoint"):
            train.train_and_evaluate(ring_config(checkpoint_every=20), str(workdir))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, previous)
    assert checkpoint_steps(workdir) == [10]  # saved although 10 is not a checkpoint step
    monkeypatch.undo()
    train.train_and_evaluate(ring_config(checkpoint_every=20), str(workdir))
    np.testing.assert_array_equal(final_images(workdir), final_images(reference))


# --------------------------------------------------------------------------
# SIGKILL, on the real script
# --------------------------------------------------------------------------


def start(config_path, workdir, *overrides):
    return subprocess.Popen([sys.executable, SCRIPT, f"--config={config_path}",
                             f"--workdir={workdir}", *overrides],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def wait_for(condition, process, timeout=300):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.005)


def _listing(workdir):
    directory = os.path.join(workdir, "checkpoints")
    return os.listdir(directory) if os.path.isdir(directory) else []


# Kill points: each makes, before the process starts, a condition to kill at.
def mid_write(workdir):
    """Once a checkpoint write starts (orbax's temporary directory appears) that
    was not on disk before: leftovers of earlier kills do not count."""
    stale = set(_listing(workdir))
    return lambda: any("tmp" in name and name not in stale for name in _listing(workdir))


def after_checkpoint(step):
    return lambda workdir: lambda: os.path.isdir(
        os.path.join(workdir, "checkpoints", str(step), "state"))


def after_seconds(seconds):
    def make(workdir):
        deadline = time.monotonic() + seconds
        return lambda: time.monotonic() >= deadline
    return make


def kill_repeatedly_then_finish(tmp_path, config_name, args, kill_points):
    """Runs the script to the end once, then on a second workdir kills it at
    each kill point in turn (SIGKILL) before letting it finish; returns both
    workdirs."""
    config_path = os.path.join(ROOT, "experiments", "configs", config_name)
    reference = tmp_path / "reference"
    done = start(config_path, reference, *args)
    assert done.wait(timeout=600) == 0, done.stderr.read()
    workdir = tmp_path / "killed"
    for kill_point in kill_points:
        reached = kill_point(workdir)
        process = start(config_path, workdir, *args)
        wait_for(reached, process)
        process.kill()
        process.wait()
    finish = start(config_path, workdir, *args)
    _, stderr = finish.communicate(timeout=600)
    assert finish.returncode == 0, stderr
    np.testing.assert_array_equal(final_images(workdir), final_images(reference))
    return reference, workdir


@pytest.mark.slow
def test_killed_at_many_points_and_resumed_ends_bit_identical_fully_connected(tmp_path):
    """One workdir killed again and again, then finished; each kill point is a
    moment a real crash could hit: at start-up, in the middle of writing a
    checkpoint and right after one."""
    args = ["--config.num_steps=600", "--config.steps_per_dispatch=10",
            "--config.checkpoint_every=50", "--config.log_every=50",
            "--config.eval_every=600", "--config.keep_checkpoints=2"]
    _, workdir = kill_repeatedly_then_finish(
        tmp_path, "smoke.py", args,
        [after_seconds(0.5), mid_write, after_checkpoint(100), mid_write,
         after_checkpoint(300)])
    assert logged_steps(workdir) == list(range(50, 601, 50))  # each interval logged once


@pytest.mark.slow
def test_killed_mid_write_and_resumed_ends_bit_identical_dcgan(tmp_path):
    args = ["--config.num_steps=48", "--config.checkpoint_every=8", "--config.log_every=8",
            "--config.eval_every=48", "--config.classifier_steps=0"]
    kill_repeatedly_then_finish(tmp_path, "digits_smoke.py", args,
                                [mid_write, after_checkpoint(24)])


def test_when_no_checkpoint_reads_back_the_run_refuses_and_moves_nothing(tmp_path):
    train.train_and_evaluate(ring_config(num_steps=20), str(tmp_path))
    for step in ("10", "20"):
        os.remove(tmp_path / "checkpoints" / step / "state" / "_METADATA")
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(train.ConfigError, match="none of the 2 checkpoints .* reads back"):
        train.train_and_evaluate(ring_config(num_steps=20), str(tmp_path))
    assert checkpoint_steps(tmp_path) == [10, 20]
    assert not (tmp_path / "checkpoints-unreadable").exists()
    assert (tmp_path / "metrics.jsonl").read_text() == before  # the logs are not restarted
