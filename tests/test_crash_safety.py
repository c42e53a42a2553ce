"""Surviving crashes, NaNs and damage: SIGKILL at many points and an exact resume,
Ctrl-C, a damaged newest checkpoint, the divergence guard and its rollback, and
no pickle anywhere."""

import contextlib
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import checkpoint, loop, run_io, train
from jaxgan import config as config_lib
from jaxgan.state import GANRecipe, create_states

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "experiments", "train.py")
from jaxgan.configs import digits_smoke, smoke  # noqa: E402


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
    sums_path = reference / "checkpoints" / "20" / "checksums" / "metadata"
    sums = json.loads(sums_path.read_text())  # an edit by hand, not damage: sign it
    sums[checkpoint.CONFIG_CHECKSUM] = checkpoint.config_checksum(saved_20)
    sums_path.write_text(json.dumps(sums))
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


@pytest.fixture(scope="module")
def ring_reference(tmp_path_factory):
    """A finished ring run (checkpoints every 20 steps), to compare resumes with."""
    workdir = tmp_path_factory.mktemp("ring_reference")
    train.train_and_evaluate(ring_config(checkpoint_every=20), str(workdir))
    return workdir


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_ctrl_c_or_sigterm_saves_a_checkpoint_where_it_stopped_and_the_resume_is_exact(
        tmp_path, monkeypatch, ring_reference, signum):
    real_check = loop.divergence
    sent = []

    def signal_once(means, states):  # runs after each logged call
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signum)
        return real_check(means, states)

    monkeypatch.setattr(loop, "divergence", signal_once)
    # Each signal with its usual meaning, as in a terminal (CI may start us ignoring SIGINT).
    default = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}[signum]
    previous = signal.signal(signum, default)
    workdir = tmp_path / "interrupted"
    try:
        with pytest.raises(train.Interrupted,
                           match="interrupted at step 10; saved a checkpoint") as stopped:
            train.train_and_evaluate(ring_config(checkpoint_every=20), str(workdir))
        assert stopped.value.signum == signum
        assert signal.getsignal(signum) is default  # restored
    finally:
        signal.signal(signum, previous)
    assert checkpoint_steps(workdir) == [10]  # saved although 10 is not a checkpoint step
    assert not (workdir / ".lock").exists()  # released
    monkeypatch.undo()
    train.train_and_evaluate(ring_config(checkpoint_every=20), str(workdir))
    np.testing.assert_array_equal(final_images(workdir), final_images(ring_reference))


def test_sigterm_during_the_set_up_stops_at_once_with_nothing_to_save(tmp_path, monkeypatch):
    real = loop.available_memory

    def signal_during_set_up(device=None):  # the memory check, before the state is made
        os.kill(os.getpid(), signal.SIGTERM)
        return real(device)

    monkeypatch.setattr(loop, "available_memory", signal_during_set_up)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with pytest.raises(train.Interrupted, match="before training began; nothing new to "
                                                    "save") as stopped:
            train.train_and_evaluate(ring_config(), str(tmp_path / "w"))
        assert stopped.value.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not (tmp_path / "w").exists()  # no lock, checkpoint or config left behind


def test_a_signal_while_resuming_moves_no_good_checkpoint_aside(tmp_path, monkeypatch):
    """Raised from the handler in the middle of reading a checkpoint, the
    interruption is not taken for damage (nothing is set aside)."""
    train.train_and_evaluate(ring_config(num_steps=20), str(tmp_path))
    real_restore = checkpoint.Checkpointer.restore

    def signal_while_reading(self, step, like):
        os.kill(os.getpid(), signal.SIGTERM)
        return real_restore(self, step, like)

    monkeypatch.setattr(checkpoint.Checkpointer, "restore", signal_while_reading)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with pytest.raises(train.Interrupted, match="before training began"):
            train.train_and_evaluate(ring_config(num_steps=40), str(tmp_path))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert checkpoint_steps(tmp_path) == [10, 20]
    assert not (tmp_path / "checkpoints-unreadable").exists()
    assert not (tmp_path / ".lock").exists()


# --------------------------------------------------------------------------
# SIGKILL, on the real script
# --------------------------------------------------------------------------


def start(config_path, workdir, *overrides, to_be_killed=False):
    """The script in a process of its own. One ``to_be_killed`` only reads the
    session's compilation cache (tests/conftest.py): it writes no entry, since
    a kill mid-write would leave a torn one for every later process to warn
    about (nothing it compiles takes the 10^9 s that writing asks for)."""
    env = dict(os.environ)
    if to_be_killed:
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "1e9"
    return subprocess.Popen([sys.executable, SCRIPT, f"--config={config_path}",
                             f"--workdir={workdir}", *overrides],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=env)


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
        process = start(config_path, workdir, *args, to_be_killed=True)
        wait_for(reached, process)
        process.kill()
        process.wait()
    finish = start(config_path, workdir, *args)
    _, stderr = finish.communicate(timeout=600)
    assert finish.returncode == 0, stderr
    np.testing.assert_array_equal(final_images(workdir), final_images(reference))
    return reference, workdir


def test_killed_at_many_points_and_resumed_ends_bit_identical_fully_connected(tmp_path):
    """One workdir killed again and again, then finished; each kill point is a
    moment a real crash could hit: at start-up, right after a checkpoint and in
    the middle of writing one.

    One kill of each kind (each costs a process start and its compile): at
    start-up, before anything is on disk; right after the checkpoint at 100,
    in a fresh run (keep_checkpoints=2 holds the ones at 50 and 100); and
    mid-write in the run resumed from 100, so a run that restored its state is
    killed too and the finishing run starts beside a torn write. The kill
    mid-write in a fresh run is the DCGAN test's below; a second kill right
    after a checkpoint proved nothing the first does not."""
    args = ["--config.num_steps=300", "--config.steps_per_dispatch=10",
            "--config.checkpoint_every=50", "--config.log_every=50",
            "--config.eval_every=300", "--config.keep_checkpoints=2"]
    _, workdir = kill_repeatedly_then_finish(
        tmp_path, "smoke.py", args, [after_seconds(0.5), after_checkpoint(100), mid_write])
    assert logged_steps(workdir) == list(range(50, 301, 50))  # each interval logged once


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


# --------------------------------------------------------------------------
# SIGTERM and the workdir lock, on the real script
# --------------------------------------------------------------------------


def test_a_second_run_is_refused_while_the_first_holds_the_workdir_and_sigterm_saves_it(
        tmp_path):
    """Run A trains; run B on A's workdir exits 2 with one line naming A,
    before it reads data (B's dataset does not exist, and that is not what it
    reports) and without touching A's files; SIGTERM then stops A with a
    checkpoint at the step it names and exit code 143; the same command resumes
    A to the end, every interval logged once."""
    config_path = os.path.join(ROOT, "experiments", "configs", "smoke.py")
    args = ["--config.steps_per_dispatch=10", "--config.checkpoint_every=50",
            "--config.log_every=50", "--config.eval_every=100000"]
    workdir = tmp_path / "run"
    first = start(config_path, workdir, "--config.num_steps=100000", *args)
    try:
        wait_for(after_checkpoint(50)(workdir), first)
        config_json = (workdir / "config.json").read_text()
        second = start(config_path, workdir, "--config.dataset=npz:/no/such/file.npz",
                       "--config.image_size=8")
        _, stderr = second.communicate(timeout=120)
        assert second.returncode == 2, stderr
        assert stderr.strip().splitlines()[-1].startswith(
            f"error: {workdir} is in use by another run (pid {first.pid} on "), stderr
        assert "file.npz" not in stderr
        assert (workdir / "config.json").read_text() == config_json
        assert json.loads((workdir / ".lock").read_text())["pid"] == first.pid
        assert first.poll() is None  # A trains on

        began = time.monotonic()
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=120)
        print(f"SIGTERM to exit: {time.monotonic() - began:.2f} s")
        assert first.returncode == 143, stderr
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("interrupted at step ") and "saved a checkpoint there" in last, last
        stopped = int(last.split()[3].rstrip(";"))
        assert stopped in checkpoint_steps(workdir)
    finally:
        if first.poll() is None:
            first.kill()
    assert not (workdir / ".lock").exists()

    final = stopped + 20
    resumed = start(config_path, workdir, f"--config.num_steps={final}", *args)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert logged_steps(workdir) == sorted({*range(50, final + 1, 50), final})


def test_a_refusal_by_process_0_ends_every_process_of_a_multi_process_run(tmp_path):
    """Only process 0 takes the lock and checks the outputs; before, process 1
    went on past its refusal, loaded data, compiled, and died 30 s later at
    its first collective with a timeout's traceback. Now both print process
    0's line and exit 2: for a held workdir before the data load (the
    dataset named does not exist), and for a file where the checkpoints go."""
    config_path = os.path.join(ROOT, "experiments", "configs", "smoke.py")

    def two_processes(workdir, *overrides):
        with socket.socket() as s:
            s.bind(("localhost", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COORDINATOR_ADDRESS=f"localhost:{port}",
                   JAX_NUM_PROCESSES="2")
        processes = [subprocess.Popen(
            [sys.executable, SCRIPT, f"--config={config_path}", f"--workdir={workdir}",
             "--config.parallel=jit", *overrides], env=dict(env, JAX_PROCESS_ID=str(i)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            for i in range(2)]
        try:
            results = [p.communicate(timeout=120) for p in processes]
        finally:
            for p in processes:
                if p.poll() is None:
                    p.kill()
        for p, (_, stderr) in zip(processes, results, strict=True):
            assert p.returncode == 2, stderr[-2000:]
        # The last line, past the collective library's own notes on its peers.
        return [[line for line in stderr.strip().splitlines() if not line.startswith("[Gloo]")][-1]
                for _, stderr in results]

    held = tmp_path / "held"
    with run_io.WorkdirLock(str(held)):  # held by this live process
        lines = two_processes(held, "--config.dataset=npz:/no/such/file.npz",
                              "--config.image_size=8")
        assert lines[0] == lines[1], lines
        assert lines[0].startswith(f"error: {held} is in use by another run (pid {os.getpid()}")
        assert sorted(os.listdir(held)) == [".lock"]

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "checkpoints").write_text("not a folder")
    lines = two_processes(outputs)
    assert lines[0] == lines[1] == (f"error: {outputs / 'checkpoints'} is a file where the run "
                                    "keeps a folder; move it away or use another --workdir")
    assert sorted(os.listdir(outputs)) == ["checkpoints"]


def test_a_checkpoint_write_that_fails_mid_run_ends_the_script_at_once_with_one_line(tmp_path):
    """The checkpoints folder replaced by a file mid-run: the next save fails,
    and the script exits 2 with one line within seconds (it used to wait for
    ever on orbax's threads); the checkpoints written before are intact."""
    config_path = os.path.join(ROOT, "experiments", "configs", "smoke.py")
    workdir = tmp_path / "run"
    process = start(config_path, workdir, "--config.num_steps=100000",
                    "--config.steps_per_dispatch=10", "--config.checkpoint_every=50",
                    "--config.log_every=50", "--config.eval_every=100000")
    try:
        wait_for(after_checkpoint(50)(workdir), process)
        os.rename(workdir / "checkpoints", tmp_path / "moved")
        (workdir / "checkpoints").write_text("in the way")
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot write the checkpoint at step ") and (
        f"in {workdir / 'checkpoints'} (Not a directory" in last), last
    ckpt = checkpoint.Checkpointer(str(tmp_path / "moved"), keep=5)
    try:
        assert ckpt.restore_latest(create_states(
            config_lib.build(ring_config())[0], [0], (2,)))[0] >= 50
    finally:
        ckpt.close()


def test_no_room_for_a_checkpoint_is_one_line_naming_the_sizes(tmp_path, monkeypatch):
    real = shutil.disk_usage
    calls = []

    def full_after_the_first_save(path):
        calls.append(path)
        usage = real(path)
        return usage._replace(free=0) if len(calls) > 1 else usage

    monkeypatch.setattr(checkpoint.shutil, "disk_usage", full_after_the_first_save)
    with pytest.raises(train.ConfigError,
                       match=r"^no room for the checkpoint at step 20 in .*checkpoints: it needs "
                             r"[0-9.]+ MB and 0.0 MB is free; free some space"):
        train.train_and_evaluate(ring_config(num_steps=40), str(tmp_path))
    assert checkpoint_steps(tmp_path) == [10]


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MB filesystem (tmpfs), where this machine lets the tests mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                              capture_output=True, text=True)
    except OSError as e:  # no mount command
        pytest.skip(f"cannot mount a tmpfs here: {e}")
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()[:100]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_disk_that_fills_mid_write_ends_the_script_with_one_line_and_the_run_resumes(
        small_disk):
    """Before, a real full disk under orbax's background write ended the
    script in some 190 lines: tensorstore's error (a ValueError, not an
    OSError) as a traceback, orbax's two logged copies of it, and "Event loop
    is closed" tracebacks from the writes still in flight. Now: one line
    naming the cause and the fix, exit 2; the checkpoints before it restore,
    and the same command resumes once there is room."""
    config_path = os.path.join(ROOT, "experiments", "configs", "smoke.py")
    workdir = small_disk / "run"
    args = ["--config.steps_per_dispatch=10", "--config.checkpoint_every=10",
            "--config.log_every=10", "--config.eval_every=100000", "--config.keep_checkpoints=3"]
    process = start(config_path, workdir, "--config.num_steps=100000", *args)
    try:
        wait_for(after_checkpoint(20)(workdir), process)
        # The disk full, to its last byte. Unbuffered, and the suppression
        # outermost: closing a buffered file on a full disk raises too, and the
        # run's own writes may already have filled it before the open.
        with contextlib.suppress(OSError), open(small_disk / "filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 65536)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip() and "step/s" not in line]
    assert len(lines) == 1, stderr[-3000:]
    # Mid-write, orbax's failure; between two saves, the estimate before the next.
    assert lines[0].startswith(("error: cannot write ", "error: no room for the checkpoint "))
    assert lines[0].endswith("free some space (the checkpoints already there are intact)"), lines
    written = checkpoint_steps(workdir)
    assert written and written[-1] >= 20

    (small_disk / "filler").unlink(missing_ok=True)
    final = written[-1] + 10
    resumed = start(config_path, workdir, f"--config.num_steps={final}", *args)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-3000:]
    assert "unreadable" not in stderr  # the checkpoints it had kept read back
    assert checkpoint_steps(workdir)[-1] == final


def test_the_commands_drop_only_the_noise_of_orbax_s_closed_event_loop(monkeypatch):
    """What a read or write still in flight prints when orbax has closed its
    event loop is dropped by the hook that the commands install (once); any
    other unraisable error, even one worded the same, reaches the hook that
    was there before."""
    import asyncio

    from absl import logging as absl_logging

    from jaxgan import cli

    loop = asyncio.new_event_loop()
    loop.close()
    caught = []
    for call in (lambda: loop.call_soon_threadsafe(print),
                 lambda: (_ for _ in ()).throw(RuntimeError("Event loop is closed"))):
        try:
            call()
        except RuntimeError as e:
            caught.append(types.SimpleNamespace(exc_type=type(e), exc_value=e,
                                                exc_traceback=e.__traceback__, object=None))
    noise, lookalike = caught
    assert cli.is_closed_loop_noise(noise)
    assert not cli.is_closed_loop_noise(lookalike)  # not raised inside asyncio

    # asyncio's "Task exception was never retrieved" about a write of orbax's
    # (a frame in orbax) is dropped too; the same record about other code is not.
    def unretrieved(filename):
        try:
            exec(compile("raise ValueError('RESOURCE_EXHAUSTED')", filename, "exec"))
        except ValueError as e:
            return logging.LogRecord("asyncio", logging.ERROR, asyncio.__file__, 1,
                                     "Task exception was never retrieved", None,
                                     (type(e), e, e.__traceback__))

    orbax_task = unretrieved(os.path.join(os.sep, "site", "orbax", "type_handlers.py"))
    other_task = unretrieved(os.path.join(os.sep, "site", "mine", "task.py"))

    # asyncio's "Future exception was never retrieved": tensorstore's error set
    # on a future from C++, with no frame at all. Dropped when it is a failure
    # of the disk (the command's line said so); kept when it is anything else.
    def unretrieved_future(error):
        # As asyncio words it: the sentence, then the future's repr (a CI run
        # printed these records when the filter read only the last line).
        return logging.LogRecord("asyncio", logging.ERROR, asyncio.__file__, 1,
                                 "Future exception was never retrieved\nfuture: "
                                 f"<Future finished exception={error!r}>", None,
                                 (type(error), error, None))

    full_disk = unretrieved_future(ValueError(
        'RESOURCE_EXHAUSTED: Error opening "zarr" driver: Error writing "d_params.Dense_0.bias/'
        '.zarray" in OCDBT database at local file "/x/30.orbax-checkpoint-tmp/state"'))
    other_future = unretrieved_future(ValueError("a bug of someone else's"))
    # Worded like a disk error but not tensorstore's (a device out of memory),
    # or an OSError of other asyncio code: kept.
    out_of_memory = unretrieved_future(RuntimeError("RESOURCE_EXHAUSTED: Out of memory"))
    broken_pipe = unretrieved_future(BrokenPipeError(32, "Broken pipe"))
    # The same error in another asyncio record than an unawaited one: kept.
    in_callback = logging.LogRecord("asyncio", logging.ERROR, asyncio.__file__, 1,
                                    "Exception in callback", None,
                                    full_disk.exc_info)

    passed_on = []
    monkeypatch.setattr(sys, "unraisablehook", passed_on.append)
    verbosity = absl_logging.get_verbosity()
    logger = absl_logging.get_absl_logger()
    asyncio_logger = logging.getLogger("asyncio")
    filters, asyncio_filters = list(logger.filters), list(asyncio_logger.filters)
    try:
        assert asyncio_logger.filter(orbax_task) and asyncio_logger.filter(full_disk)
        cli.quiet_logs()
        hook = sys.unraisablehook
        cli.quiet_logs()  # a second call keeps the one hook
        assert sys.unraisablehook is hook
        hook(noise)
        hook(lookalike)
        assert passed_on == [lookalike]
        assert not asyncio_logger.filter(orbax_task)
        assert asyncio_logger.filter(other_task)
        assert not asyncio_logger.filter(full_disk)
        assert asyncio_logger.filter(other_future)
        assert asyncio_logger.filter(out_of_memory) and asyncio_logger.filter(broken_pipe)
        assert asyncio_logger.filter(in_callback)
    finally:
        absl_logging.set_verbosity(verbosity)
        logger.filters[:] = filters
        asyncio_logger.filters[:] = asyncio_filters


def test_tensorstore_s_wording_of_a_full_disk_is_a_write_error_and_a_bug_is_not(
        tmp_path, monkeypatch):
    """tensorstore reports the disk's errors as ValueErrors; those become the
    one-line CheckpointWriteError, with the errno read from the text, while
    orbax's own ValueErrors (bugs) pass through."""
    ckpt = checkpoint.Checkpointer(str(tmp_path), keep=2)
    full = ValueError('RESOURCE_EXHAUSTED: Failed writing: "/x/d/1": Failed to write 8927 bytes '
                      "to file 10: No space left on device [os_error_code='28']")
    bug = ValueError("Checkpoint for step 3 already exists.")
    try:
        for error in (full, bug):
            def fail(self, error=error):
                raise error
            monkeypatch.setattr(checkpoint.ocp.CheckpointManager, "wait_until_finished", fail)
            if error is full:
                with pytest.raises(checkpoint.CheckpointWriteError,
                                   match=r"\(No space left on device: .*\); free some space"):
                    ckpt.wait()
            else:
                with pytest.raises(ValueError, match="already exists") as raised:
                    ckpt.wait()
                assert not isinstance(raised.value, checkpoint.CheckpointWriteError)
    finally:
        monkeypatch.undo()
        ckpt.close()


def test_a_compiled_program_too_big_for_the_device_is_refused_before_its_first_call(
        tmp_path, monkeypatch):
    real = loop.available_memory
    calls = []

    def room_for_the_estimate_only(device=None):  # the shapes' estimate, then the program's
        calls.append(device)
        return real(device) if len(calls) == 1 else 1024

    monkeypatch.setattr(loop, "available_memory", room_for_the_estimate_only)
    with pytest.raises(train.ConfigError, match=r"^the compiled train program needs [0-9.e-]+ "
                                                r"GiB beyond its .* and 9.54e-07 GiB is "
                                                "available; lower batch_size"):
        train.train_and_evaluate(ring_config(), str(tmp_path / "w"))
    assert not (tmp_path / "w").exists()  # nothing written, the workdir not even made


def test_the_workdir_lock_refuses_live_holders_takes_over_dead_ones_and_re_enters(tmp_path):
    workdir = tmp_path / "held"
    workdir.mkdir()
    lock_path = workdir / run_io.LOCK_NAME

    def hold(host, pid):
        lock_path.write_text(json.dumps({"host": host, "pid": pid, "started": time.time()}))

    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                              stdin=subprocess.PIPE)
    try:
        hold(socket.gethostname(), holder.pid)
        with pytest.raises(run_io.WorkdirBusyError, match=f"pid {holder.pid} on "):
            run_io.WorkdirLock(str(workdir)).acquire()
        hold("another-host", 1)  # cannot be checked from here: refused
        with pytest.raises(run_io.WorkdirBusyError, match=f"delete {lock_path} if that run"):
            run_io.WorkdirLock(str(workdir)).acquire()
    finally:
        holder.stdin.close()
        holder.wait()
    hold(socket.gethostname(), holder.pid)  # that process is gone now
    with pytest.warns(UserWarning, match=f"from a run that is gone \\(pid {holder.pid}"), \
            run_io.WorkdirLock(str(workdir)):
        assert json.loads(lock_path.read_text())["pid"] == os.getpid()
        with run_io.WorkdirLock(str(workdir)):  # this process holds it: re-entered
            pass
        assert lock_path.exists()  # only the outer holder releases it
    assert not lock_path.exists() and workdir.is_dir()
    fresh = tmp_path / "fresh"  # a workdir the lock created, and nothing else wrote to
    with run_io.WorkdirLock(str(fresh)):
        assert fresh.is_dir()
    assert not fresh.exists()


def test_a_torn_log_line_is_dropped_a_deleted_log_restarted_and_pictures_still_drawn(
        tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"step": 10, "d_loss": 1.0, "g_loss": 2.0}\n'
                       '{"step": 20, "d_loss": 0.5, "g_loss": 1.5}\n'
                       '{"step": 30, "d_loss": 0.')  # a crash in the middle of a write
    with pytest.warns(UserWarning, match="dropped 1 unreadable line"):
        logs = run_io.RunLogs(str(tmp_path), start_step=20)
    assert logged_steps(tmp_path) == [10, 20]
    logs.write({"step": 30, "d_loss": 0.25, "g_loss": 1.0})
    os.remove(metrics)
    with pytest.warns(UserWarning, match="disappeared; starting it again from step 40"):
        logs.write({"step": 40, "d_loss": 0.125, "g_loss": 0.5})
    logs.close()
    assert logged_steps(tmp_path) == [40]
    run_io.plot_losses(str(metrics), str(tmp_path / "losses.png"))
    assert (tmp_path / "losses.png").stat().st_size > 0
    os.remove(metrics)
    with pytest.warns(UserWarning, match="no loss curves drawn"):
        run_io.plot_losses(str(metrics), str(tmp_path / "again.png"))


# --------------------------------------------------------------------------
# Silent corruption: checksums
# --------------------------------------------------------------------------


def flip_bits_and_restore(directory, flips, seed=0):
    """Saves checkpoints of a small state at steps 1 and 2 under ``directory``,
    then ``flips`` times: copies them, flips one random bit in the files of
    step 2 (a file picked in proportion to its size) and restores the latest.
    Returns how often the newest came back unchanged, the older one was used
    instead, the restore refused, or values came back changed."""
    rng = np.random.default_rng(seed)
    base = directory / "base"
    like = {"params": {"kernel": np.zeros((64, 32), np.float32),
                       "bias": np.zeros(32, np.float32)},
            "step": np.zeros((), np.int32)}
    saved = {}
    checkpointer = checkpoint.Checkpointer(str(base), keep=3)
    for step in (1, 2):
        saved[step] = jax.tree.map(lambda x: (rng.normal(size=x.shape) * 100).astype(x.dtype),
                                   like)
        checkpointer.save(step, saved[step], {"step": step})
    checkpointer.close()
    files = sorted(p for p in (base / "2").rglob("*") if p.is_file())
    sizes = np.array([p.stat().st_size for p in files], np.float64)
    outcomes = dict.fromkeys(("unchanged", "older used", "refused", "changed"), 0)
    for i in range(flips):
        copy = directory / f"flip{i}"
        shutil.copytree(base, copy)
        target = copy / files[rng.choice(len(files), p=sizes / sizes.sum())].relative_to(base)
        data = bytearray(target.read_bytes())
        bit = int(rng.integers(len(data) * 8))
        data[bit // 8] ^= 1 << (bit % 8)
        target.write_bytes(bytes(data))
        checkpointer = checkpoint.Checkpointer(str(copy), keep=3)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step, _, state = checkpointer.restore_latest(like)
        except Exception:  # refusing is safe: nothing was read wrongly
            outcomes["refused"] += 1
            continue
        finally:
            checkpointer.close()
            shutil.rmtree(copy)
        same = all(np.array_equal(np.asarray(a), b) for a, b in
                   zip(jax.tree.leaves(state), jax.tree.leaves(saved[step]), strict=True))
        outcomes["changed" if not same else "unchanged" if step == 2 else "older used"] += 1
    return outcomes


def test_no_bit_flip_in_a_checkpoint_restores_different_values(tmp_path):
    """Before checksums, about 60% of single-bit flips in a checkpoint's data
    restored silently different arrays. Now each flip is caught (the older
    checkpoint is used) or changes nothing that is read back."""
    outcomes = flip_bits_and_restore(tmp_path, flips=24, seed=1)
    assert outcomes["changed"] == 0, outcomes
    assert outcomes["older used"] >= 6, outcomes  # the checksums did catch flips
