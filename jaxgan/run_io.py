"""What a run writes and hears: metrics.jsonl with TensorBoard events, JSON
written atomically, sample pictures, the workdir's lock, and Ctrl-C or
SIGTERM turned into a flag.

Nothing here trains; the loop (:mod:`jaxgan.loop`) calls these between calls
of the compiled program.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
import warnings
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxgan.data.source import ModeMixture

# Record fields that time the run, not the GAN: TensorBoard's time/ group.
TIME_FIELDS = frozenset({"steps_per_sec", "compile_seconds", "eval_seconds"})


def tensorboard_tag(name: str, evaluated: frozenset[str] | set[str] = frozenset()) -> str:
    """The TensorBoard tag of a record field: ``time/`` for timings, ``eval/``
    for the evaluation's metrics (``evaluated``), ``train/`` for the rest (the
    step's losses, logits and penalties). metrics.jsonl keeps the bare names."""
    group = "time" if name in TIME_FIELDS else "eval" if name in evaluated else "train"
    return f"{group}/{name}"


class RunLogs:
    """metrics.jsonl and TensorBoard events, written together.

    TensorBoard gets each record's numbers grouped by :func:`tensorboard_tag`,
    the sample picture of every evaluation (tag ``samples``), and the run's
    config as text (tag ``config``). Opening it on a resumed run drops the
    records of steps after ``start_step``: those steps will run again, and no
    step is logged twice. ``enabled=False`` (every process but the first)
    writes nothing.
    """

    def __init__(self, workdir: str, start_step: int, enabled: bool = True,
                 config: dict[str, Any] | None = None):
        self.metrics_path = os.path.join(workdir, "metrics.jsonl")
        self.enabled = enabled
        if not enabled:
            return
        from tensorboardX import SummaryWriter  # protobuf only; no TensorFlow

        kept = []
        if os.path.exists(self.metrics_path):
            records, torn = read_records(self.metrics_path)
            if torn:
                warnings.warn(f"dropped {torn} unreadable line(s) of {self.metrics_path} (a "
                              "crash in the middle of a write)", stacklevel=2)
            kept = [json.dumps(r) + "\n" for r in records if r["step"] <= start_step]
        tmp = f"{self.metrics_path}.tmp"
        with open(tmp, "w") as f:
            f.writelines(kept)
        os.replace(tmp, self.metrics_path)
        self._jsonl = open(self.metrics_path, "a")  # noqa: SIM115  (closed in close())
        self._tensorboard = SummaryWriter(workdir, purge_step=start_step + 1)
        if config is not None:  # markdown: a code block keeps the JSON's layout
            text = json.dumps(config, indent=2, sort_keys=True)
            self._tensorboard.add_text("config", "```\n" + text + "\n```", start_step)

    def write(self, record: dict[str, Any], evaluated: frozenset[str] | set[str] = frozenset(),
              picture: str | None = None) -> None:
        """Appends ``record`` (its ``step`` and numbers) to both logs;
        ``evaluated`` names its evaluation metrics, and ``picture`` is a PNG
        of the evaluation's samples to show in TensorBoard at this step."""
        if not self.enabled:
            return
        if not os.path.exists(self.metrics_path):  # deleted (or moved) while the run goes on
            warnings.warn(f"{self.metrics_path} disappeared; starting it again from step "
                          f"{record['step']}", stacklevel=2)
            self._jsonl.close()
            self._jsonl = open(self.metrics_path, "a")  # noqa: SIM115  (closed in close())
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        for name, value in record.items():
            if name != "step" and isinstance(value, int | float):
                self._tensorboard.add_scalar(tensorboard_tag(name, evaluated), value,
                                             record["step"])
        if picture is not None and os.path.exists(picture):  # some shapes are not drawn
            from PIL import Image

            with Image.open(picture) as image:
                pixels = np.asarray(image.convert("RGB"))
            self._tensorboard.add_image("samples", pixels, record["step"], dataformats="HWC")
        self._tensorboard.flush()

    def close(self) -> None:
        """Closes both logs."""
        if self.enabled:
            self._jsonl.close()
            self._tensorboard.close()


def read_records(metrics_path: str) -> tuple[list[dict[str, Any]], int]:
    """The records of a ``metrics.jsonl`` and how many lines could not be read
    (a line cut off by a crash mid-write, or otherwise damaged), which are
    skipped."""
    records, torn = [], 0
    with open(metrics_path) as f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                torn += 1
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
            else:
                torn += 1
    return records, torn


def write_json(path: str, obj: Any) -> None:
    """Writes JSON atomically: a crash never leaves a half-written file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Writes an ``.npz`` atomically (read back with ``allow_pickle=False``)."""
    tmp = f"{path[:-4]}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def class_rows(samples: np.ndarray, classes: int, columns: int) -> np.ndarray:
    """Reorders samples generated for :func:`jaxgan.evaluation.eval_labels`
    into rows of ``columns`` samples, one row per class."""
    grid = samples[:columns * classes].reshape(columns, classes, *samples.shape[1:])
    return grid.swapaxes(0, 1).reshape(-1, *samples.shape[1:])


def _image_title(per_seed: dict[str, np.ndarray], i: int, num_classes: int) -> str:
    scores = ""
    if "label_accuracy" in per_seed:
        scores = f": {per_seed['label_accuracy'][i]:.1%} show their class"
    elif "confident_fraction" in per_seed:
        scores = (f": {per_seed['confident_fraction'][i]:.0%} confident, "
                  f"{int(per_seed['classes_covered'][i])}/{num_classes} classes")
    if "frechet_distance" in per_seed:
        scores += f"{',' if scores else ':'} FD {per_seed['frechet_distance'][i]:.3g}"
    if "l1" in per_seed:  # translation: the outputs against their targets
        scores += f"{',' if scores else ':'} L1 {per_seed['l1'][i]:.3f}"
    if "cycle_l1" in per_seed:  # CycleGAN: the round trip against the inputs
        scores += f"{',' if scores else ':'} cycle L1 {per_seed['cycle_l1'][i]:.3f}"
    return scores


def _points_title(source, per_seed: dict[str, np.ndarray], i: int, classes: int) -> str:
    if "modes_covered" not in per_seed:  # a user's metrics: the first two
        shown = [f"{name} {per_seed[name][i]:.3g}" for name in sorted(per_seed)[:2]]
        return ": " + ", ".join(shown) if shown else ""
    return (f": {int(per_seed['modes_covered'][i])}/{source.num_modes} modes, "
            f"high-quality {per_seed['high_quality_fraction'][i]:.2f}"
            + (f", {per_seed['label_accuracy'][i]:.0%} in their mode" if classes else ""))


def plot_samples(path: str, source, samples: np.ndarray, per_seed: dict[str, np.ndarray],
                 seeds: np.ndarray, step: int, classes: int = 0) -> None:
    """Draws each seed's evaluation samples: image grids (one row per class for
    a conditional GAN; input | output | target triples for translation, whose
    samples are the outputs for the held-out pairs, or input | output where
    the data are unpaired), or 2D points over real
    ones; other shapes are not drawn."""
    from jaxgan import viz  # matplotlib: only when a picture is drawn
    if hasattr(source, "held_out_pairs"):
        shown = min(len(seeds), 4)
        pairs = source.held_out_pairs(min(24, samples.shape[1]))
        count = pairs["inputs"].shape[0]
        channels = samples.shape[-1]

        # Unpaired data (CycleGAN) have no targets: input | output.
        parts = 3 if "targets" in pairs else 2

        def side_by_side(outputs):  # input, output (and target) of each pair
            inputs = np.asarray(pairs["inputs"])
            if inputs.shape[-1] != channels:  # shown in the outputs' channels
                inputs = np.broadcast_to(inputs.mean(-1, keepdims=True),
                                         (*inputs.shape[:-1], channels))
            shown_parts = [inputs, outputs[:count]] + (
                [np.asarray(pairs["targets"])] if parts == 3 else [])
            return np.stack(shown_parts, axis=1).reshape(-1, *samples.shape[2:])

        titles = [f"seed {seeds[i]}{_image_title(per_seed, i, source.num_classes)}"
                  for i in range(shown)]
        viz.image_grids(path, [side_by_side(s) for s in samples[:shown]], titles,
                        columns=3 * parts, suptitle=f"{source.name}, step {step}\ninput | "
                        "output" + (" | target" if parts == 3 else ""))
        return
    if len(source.example_shape) == 3:
        shown = min(len(seeds), 4)
        titles = [f"seed {seeds[i]}{_image_title(per_seed, i, source.num_classes)}"
                  for i in range(shown)]
        if classes:  # row k holds samples generated for class k
            columns = min(8, samples.shape[1] // classes)
            viz.image_grids(path, [class_rows(s, classes, columns) for s in samples[:shown]],
                            titles, columns=columns,
                            suptitle=f"{source.name}, step {step}, one row per class")
        else:
            viz.image_grids(path, [s[:64] for s in samples[:shown]], titles,
                            suptitle=f"{source.name}, step {step}")
        return
    if tuple(source.example_shape) != (2,):
        return
    shown = min(len(seeds), 10)
    key = jax.random.PRNGKey(0)
    if isinstance(source, ModeMixture):
        real, centers, radius = source.sample(key, 2500), source.centers, 3 * source.std
    else:  # any 2D source: its own sampler, read at step 0
        real = source.sample_real(key, 0, source.device_data(), 2500)
        centers = radius = None
    titles = [f"seed {seeds[i]}{_points_title(source, per_seed, i, classes)}"
              for i in range(shown)]
    viz.scatter_2d(path, np.asarray(real), list(samples[:shown]), centers, radius=radius,
                   titles=titles, suptitle=f"{source.name}, step {step}")


def experiment_title(config: dict[str, Any]) -> str:
    """A run's name for its pictures, from its config record: the dataset,
    the model and the loss, as far as the record names them."""
    parts = [f"{config[key]}{suffix}" for key, suffix in (("model", ""), ("loss", " loss"))
             if config.get(key)]
    return (f"{config.get('dataset', 'run')}: {', '.join(parts)}" if parts
            else str(config.get("dataset", "run")))


def plot_losses(metrics_path: str, path: str, title: str | None = None,
                floor: dict[str, Any] | None = None) -> None:
    """The curves of ``metrics.jsonl`` as a PNG (:func:`jaxgan.viz.plot_losses`:
    losses, and evaluation metrics against their real-data ``floor``), or a
    warning instead when the log is gone."""
    from jaxgan import viz  # matplotlib: only when a picture is drawn

    if not os.path.exists(metrics_path):
        warnings.warn(f"{metrics_path} is gone; no loss curves drawn", stacklevel=2)
        return

    viz.plot_losses(metrics_path, path, title, floor)


def console_line(record: dict[str, Any]) -> str:
    """A log record as one console line (per-class accuracies stay in the file)."""
    return " ".join(f"{n}={v:.4g}" if isinstance(v, float) else f"{n}={v}"
                    for n, v in record.items() if not n.startswith("label_accuracy_class_"))


class WorkdirBusyError(RuntimeError):
    """Another live run holds the workdir's lock."""


LOCK_NAME = ".lock"


class WorkdirLock:
    """One run at a time in a workdir: ``<workdir>/.lock`` names the holder
    (host, pid, start time) for as long as the run lasts.

    Taking it creates the file with ``O_CREAT | O_EXCL``, which is atomic on a
    local filesystem and on NFSv3 and later. A lock left by a process that is
    gone (same host, no such pid) is taken over with a warning. A lock held
    from another host cannot be checked from here and is refused; the message
    says to delete the file if that run is gone. A lock that this process
    already holds is re-entered (:func:`jaxgan.train.train_and_evaluate`
    takes it before loading data, then :func:`jaxgan.fit` again), and only the
    outermost holder releases it.

    What it does not promise: on a filesystem without atomic exclusive
    create (some object-store mounts), two runs starting within the same
    instant may both get it; and a pid reused by an unrelated process keeps
    a stale lock looking alive (delete the file by hand).

    Use it as a context manager; a workdir that it created, and that is
    still empty on release, is removed again.
    """

    def __init__(self, workdir: str):
        self.workdir = os.path.abspath(workdir)
        self.path = os.path.join(self.workdir, LOCK_NAME)
        self._owned = False
        self._token: str | None = None
        self._created_workdir = False

    @staticmethod
    def _me() -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def _holder(self) -> dict[str, Any] | None:
        """The lock file's holder, ``{}`` if unreadable, ``None`` if there is none."""
        try:
            with open(self.path) as f:
                holder = json.load(f)
            return holder if isinstance(holder, dict) else {}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # half-written by a holder killed mid-write
            return {}

    def _alive(self, holder: dict[str, Any]) -> bool:
        """Whether the lock's holder may still run (yes, where it cannot be told)."""
        if not holder:  # unreadable: being written now, or by a holder killed mid-write
            try:
                return time.time() - os.path.getmtime(self.path) < 60
            except FileNotFoundError:
                return False
        if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
            return True  # another host's process cannot be checked from here
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
        return True

    def acquire(self) -> WorkdirLock:
        """Takes the lock.

        Raises:
          WorkdirBusyError: a live run holds it (one line naming the holder).
          OSError: the workdir cannot be created or written.
        """
        if not os.path.isdir(self.workdir):
            os.makedirs(self.workdir)
            self._created_workdir = True
        for _ in range(3):  # a stale lock taken over by another starter in between
            holder = self._holder()
            if holder is not None and holder.get("host") == socket.gethostname() \
                    and holder.get("pid") == os.getpid():
                return self  # re-entered: the outer holder releases it
            if holder is not None:
                if self._alive(holder):
                    since = time.strftime("%Y-%m-%d %H:%M:%S",
                                          time.localtime(holder.get("started", 0)))
                    raise WorkdirBusyError(
                        f"{self.workdir} is in use by another run (pid {holder.get('pid')} on "
                        f"{holder.get('host')}, since {since}); wait for it, use another "
                        f"--workdir, or delete {self.path} if that run is gone")
                try:  # stale: move it aside atomically, so only one starter takes over
                    aside = f"{self.path}.stale.{os.getpid()}"
                    os.rename(self.path, aside)
                    os.remove(aside)
                except FileNotFoundError:
                    continue
                warnings.warn(f"took over the lock of {self.workdir} from a run that is gone "
                              f"(pid {holder.get('pid')} on {holder.get('host')})", stacklevel=2)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            self._token = f"{os.getpid()}-{time.time_ns()}-{id(self)}"
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({**self._me(), "started": time.time(), "token": self._token}, f)
            except BaseException:  # a full disk, a signal: leave no half-written lock
                with contextlib.suppress(OSError):
                    os.remove(self.path)
                raise
            self._owned = True
            return self
        raise WorkdirBusyError(f"could not take the lock {self.path}: other runs keep "
                               "starting in this workdir; use another --workdir")

    def release(self) -> None:
        """Removes the lock file, if this lock still owns it."""
        if self._owned:
            self._owned = False
            # Only our own file: a starter that took over a lock it judged
            # stale (wrongly, in a race) must not lose its lock to us.
            if (self._holder() or {}).get("token") == self._token:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.path)
        if self._created_workdir:
            self._created_workdir = False
            with contextlib.suppress(OSError):  # only if nothing else was written
                os.rmdir(self.workdir)

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM stopped the run, after saving a checkpoint where it
    stopped (when it had trained since the last one).

    A ``BaseException``, like ``KeyboardInterrupt``: raised from the signal
    handler during the set-up, it must pass through the ``except Exception``
    of code that reads checkpoints or data (which would take it for damage
    and, say, set a good checkpoint aside).

    Attributes:
      signum: the signal that stopped it (``signal.SIGINT`` or ``SIGTERM``);
        the scripts exit with ``128 + signum``, as a shell reports a process
        that such a signal ended.
    """

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = signum


BEFORE_TRAINING = ("interrupted before training began; nothing new to save; run the same "
                   "command to resume")


class InterruptFlag:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM, what a cluster scheduler
    sends before it preempts a job, into a flag that the loop checks after
    each call (so it stops with a consistent state and saves it).

    A second Ctrl-C interrupts at once (``KeyboardInterrupt``); a second
    SIGTERM has its default meaning and ends the process at once. Each signal
    is taken only where it has its default meaning (Python's for SIGINT, the
    system's for SIGTERM) in the main thread: a process started ignoring
    SIGINT (in the background) or a host program with its own handlers keeps
    them. :meth:`restore` gives the previous handlers back.

    While :attr:`immediate` is true (the set-up before the first step, in a
    single-process run: nothing is trained yet, so nothing needs saving), the
    first signal raises :class:`Interrupted` at once instead, as soon as
    Python runs again (a compile in progress finishes first).

    A flag made while another is installed (the config path takes one
    before it loads data, and :func:`jaxgan.fit` one of its own) reads that
    one's signals and shares its :attr:`immediate`.
    """

    _DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}

    def __init__(self, immediate: bool = False):
        self._received: int | None = None
        self._immediate = immediate
        self._previous: dict[int, Any] = {}
        self._outer: InterruptFlag | None = None
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, default in self._DEFAULTS.items():
            handler = signal.getsignal(signum)
            if handler is default:
                self._previous[signum] = signal.signal(signum, self._handle)
            elif isinstance(getattr(handler, "__self__", None), InterruptFlag):
                self._outer = handler.__self__

    @property
    def signum(self) -> int | None:
        """The first signal received (here or by the flag this one reads), or ``None``."""
        if self._received is None and self._outer is not None:
            return self._outer.signum
        return self._received

    @property
    def raised(self) -> bool:
        return self.signum is not None

    @property
    def immediate(self) -> bool:
        return self._outer.immediate if self._outer is not None else self._immediate

    @immediate.setter
    def immediate(self, value: bool) -> None:
        if self._outer is not None:
            self._outer.immediate = value
        else:
            self._immediate = value

    def _handle(self, signum, frame):
        if self.raised:
            raise KeyboardInterrupt
        self._received = signum
        if self._immediate:
            raise Interrupted(BEFORE_TRAINING, signum)
        if signum == signal.SIGTERM:  # a second one ends the process, even mid-call
            signal.signal(signum, signal.SIG_DFL)
        again = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        tqdm.write(f"{signal.Signals(signum).name}: saving a checkpoint after this call "
                   f"({again} again to abort)", file=sys.stderr)

    def restore(self) -> None:
        """Puts back the signal handlers that were there before."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}


__all__ = ["BEFORE_TRAINING", "LOCK_NAME", "TIME_FIELDS", "InterruptFlag", "Interrupted",
           "RunLogs", "WorkdirBusyError", "WorkdirLock", "class_rows", "console_line",
           "experiment_title", "plot_losses", "plot_samples", "read_records", "tensorboard_tag",
           "write_json", "write_npz"]
