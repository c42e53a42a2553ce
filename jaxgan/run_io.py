"""What a run writes and hears: metrics.jsonl with TensorBoard events, JSON
written atomically, sample pictures, and Ctrl-C turned into a flag.

Nothing here trains; the loop (:mod:`jaxgan.loop`) calls these between calls
of the compiled program.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxgan.data.source import ModeMixture


class RunLogs:
    """metrics.jsonl and TensorBoard events, written together.

    Opening it on a resumed run drops the records of steps after
    ``start_step``: those steps will run again, and no step is logged twice.
    ``enabled=False`` (every process but the first) writes nothing.
    """

    def __init__(self, workdir: str, start_step: int, enabled: bool = True):
        self.metrics_path = os.path.join(workdir, "metrics.jsonl")
        self.enabled = enabled
        if not enabled:
            return
        from tensorboardX import SummaryWriter  # protobuf only; no TensorFlow

        kept = []
        if os.path.exists(self.metrics_path):
            with open(self.metrics_path) as f:
                kept = [line for line in f if line.strip()
                        and json.loads(line)["step"] <= start_step]
        tmp = f"{self.metrics_path}.tmp"
        with open(tmp, "w") as f:
            f.writelines(kept)
        os.replace(tmp, self.metrics_path)
        self._jsonl = open(self.metrics_path, "a")  # noqa: SIM115  (closed in close())
        self._tensorboard = SummaryWriter(workdir, purge_step=start_step + 1)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        for name, value in record.items():
            if name != "step" and isinstance(value, int | float):
                self._tensorboard.add_scalar(name, value, record["step"])
        self._tensorboard.flush()

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._tensorboard.close()


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
    return scores


def _points_title(source, per_seed: dict[str, np.ndarray], i: int, classes: int) -> str:
    if "modes_covered" not in per_seed:  # a user's metrics: the first two
        shown = [f"{name} {per_seed[name][i]:.3g}" for name in sorted(per_seed)[:2]]
        return ": " + ", ".join(shown) if shown else ""
    return (f": {int(per_seed['modes_covered'][i])}/{source.num_modes} modes, "
            f"hq {per_seed['high_quality_fraction'][i]:.2f}"
            + (f", {per_seed['label_accuracy'][i]:.0%} in their mode" if classes else ""))


def plot_samples(path: str, source, samples: np.ndarray, per_seed: dict[str, np.ndarray],
                 seeds: np.ndarray, step: int, classes: int = 0) -> None:
    """Draws each seed's evaluation samples: image grids (one row per class for
    a conditional GAN), or 2D points over real ones; other shapes are not drawn."""
    from jaxgan import viz  # matplotlib: only when a picture is drawn
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


def plot_losses(metrics_path: str, path: str) -> None:
    """The loss curves of ``metrics.jsonl`` as a PNG."""
    from jaxgan import viz  # matplotlib: only when a picture is drawn

    viz.plot_losses(metrics_path, path)


def console_line(record: dict[str, Any]) -> str:
    """A log record as one console line (per-class accuracies stay in the file)."""
    return " ".join(f"{n}={v:.4g}" if isinstance(v, float) else f"{n}={v}"
                    for n, v in record.items() if not n.startswith("label_accuracy_class_"))


class InterruptFlag:
    """Turns the first Ctrl-C into a flag that the loop checks after each call
    (so it stops with a consistent state and saves it); a second Ctrl-C
    interrupts at once. Only where Ctrl-C has Python's default meaning: a
    process that ignores SIGINT (started in the background) or a host
    program with its own handler keeps it."""

    def __init__(self):
        self.raised = False
        self._previous = None
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True
        tqdm.write("interrupt: saving a checkpoint after this call (Ctrl-C again to abort)",
                   file=sys.stderr)

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


__all__ = ["InterruptFlag", "RunLogs", "class_rows", "console_line", "plot_losses", "plot_samples",
           "write_json", "write_npz"]
