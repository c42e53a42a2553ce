r"""The truncation trick's trade on a finished run: its samples scored at several thresholds.

  python experiments/truncation.py --workdir runs/cgan5k [--thresholds 0,2,1.5,1]

``config.truncation`` (experiments/README.md, "The truncation trick") draws
the latents of samples to look at or score from a normal truncated to
[-t, t]; training never sees it. So one trained run can be scored at every
threshold, and this script does that from the run's last checkpoint: for
each threshold (0: none, the full normal) it draws the run's evaluation
samples, every seed, on the same evaluation key, and scores them with the
run's own protocol and scoring classifier (``Evaluation.of_run``), as the
fit loop would with ``--config.truncation=t``.

It writes, beside ``eval.json``:

- ``truncation.json``: for each threshold, what ``eval.json`` would hold
  after a run with ``--config.truncation`` at it (each metric's mean over
  seeds, ``_stderr`` and ``_per_seed``; the real floor), plus
  ``frechet_distance_at_floor_size`` (the distance of each seed's first
  samples, as many as the real floor's held-out images, so that it compares
  with ``real_frechet_distance`` at equal size) and, for a conditional run,
  ``worst_class_label_accuracy`` (each seed's worst class) beside
  ``real_worst_class_label_accuracy`` (the classifier's reading of the
  real digits of the class it reads worst);
- ``truncation.png``: those scores against the threshold, the real floor
  dashed beside each.

It prints one line per threshold. It needs a run of a generator from noise
with a scoring classifier (``classifier_steps`` > 0, labelled images). Exit
code 0 on success, 2 on a user error (no run in the workdir, a bad
threshold, a run without latents or classifier), with one line on stderr.
"""

import math
import os

from absl import app, flags

from jaxgan.cli import quiet_logs, usage_error

_WORKDIR = flags.DEFINE_string("workdir", None, "Workdir of a finished run.")
_THRESHOLDS = flags.DEFINE_list("thresholds", ["0", "2", "1.5", "1"],
                                "Truncation thresholds to score, comma-separated (0: none).")


def thresholds(values: list[str]) -> list[float]:
    """The thresholds as floats, each a finite number >= 0, in the order given."""
    parsed = []
    for value in values:
        try:
            t = float(value)
        except ValueError:
            t = math.nan
        if not math.isfinite(t) or t < 0:
            usage_error(f"--thresholds takes numbers >= 0 (0: none), got {value!r}")
        parsed.append(t)
    if not parsed:
        usage_error("--thresholds is empty; pass e.g. --thresholds 0,2,1.5,1")
    return parsed


def sweep(workdir: str, values: list[float]) -> dict:
    """Scores ``workdir``'s run at each threshold; returns ``truncation.json``'s dict."""
    import jax
    import numpy as np

    from jaxgan.evaluation import Evaluation, asked_classes, is_translation
    from jaxgan.train import ConfigError, restore_run

    try:
        run = restore_run(workdir)
    except ConfigError as e:
        usage_error(str(e))
    if is_translation(run.recipe):
        usage_error(f"{workdir} holds a translation run, whose generator takes images: it has "
                    "no latents to truncate")
    result = {"thresholds": values, "num_seeds": run.config.num_seeds, "scores": {}}
    for t in values:
        try:
            evaluation = Evaluation.of_run(run, workdir, truncation=t)
        except ValueError as e:  # a recipe without latents, or another prior
            usage_error(f"{workdir}: {e}")
        if evaluation.classifier is None:
            usage_error(f"{workdir}'s run has no scoring classifier (classifier_steps=0 or "
                        "unlabelled data); train one with classifier_steps > 0")
        per_seed, samples = evaluation(run.states)
        size = evaluation.floor["real_floor_num_examples"]
        per_seed = {name: np.asarray(v) for name, v in per_seed.items()}
        per_seed["frechet_distance_at_floor_size"] = np.array([
            float(evaluation.compare(evaluation.classifier.features(
                jax.numpy.asarray(images[:size])))["frechet_distance"])
            for images in samples])
        classes = asked_classes(run.recipe)
        if classes:
            per_seed["worst_class_label_accuracy"] = np.min(
                [per_seed[f"label_accuracy_class_{k}"] for k in range(classes)], axis=0)
        # What eval.json would hold after a run with --config.truncation=t.
        scores = evaluation.final(per_seed, run.step, run.config.num_seeds)
        if classes:  # the ceiling: the classifier's reading of real digits' worst class
            scores["real_worst_class_label_accuracy"] = min(
                scores[f"real_label_accuracy_class_{k}"] for k in range(classes))
        result["scores"][str(t)] = scores
        print(line(t, scores), flush=True)
    return result


def line(t: float, scores: dict) -> str:
    """One threshold's console line."""
    text = (f"truncation {t:g}{' (none)' if not t else ''}: confident "
            f"{scores['confident_fraction']:.3f} (real {scores['real_confident_fraction']:.3f}"
            f"), Frechet distance {scores['frechet_distance_at_floor_size']:.1f} at "
            f"{scores['real_floor_num_examples']} (real floor "
            f"{scores['real_frechet_distance']:.1f}), precision {scores['precision']:.3f}, "
            f"recall {scores['recall']:.3f}, class KL {scores['class_kl']:.4f}")
    if "label_accuracy" in scores:
        text += (f", label accuracy {scores['label_accuracy']:.3f}, worst class "
                 f"{', '.join(f'{v:.2f}' for v in scores['worst_class_label_accuracy_per_seed'])}"
                 " (per seed)")
    return text


def plot(result: dict, path: str, title: str) -> None:
    """``truncation.png``: the scores against the threshold, the floor dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values, scores = result["thresholds"], result["scores"]
    # No truncation is the widest threshold: drawn at the right, past the largest.
    widest = max([v for v in values if v] or [1.0])
    xs = [v if v else widest * 1.25 for v in values]
    order = sorted(range(len(values)), key=lambda i: xs[i])
    x = [xs[i] for i in order]
    ticks = [f"{values[i]:g}" if values[i] else "none" for i in order]
    panels = [("confident_fraction", "confident fraction", "real_confident_fraction"),
              ("precision", "precision", "real_precision"),
              ("recall", "recall", "real_recall"),
              ("frechet_distance_at_floor_size", "Frechet distance (floor's size)",
               "real_frechet_distance")]
    if "label_accuracy" in scores[str(values[0])]:
        panels.insert(1, ("worst_class_label_accuracy", "worst class's label accuracy",
                          "real_worst_class_label_accuracy"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for ax, (name, label, real) in zip(axes[0], panels, strict=True):
        means = [scores[str(values[i])][name] for i in order]
        errors = [scores[str(values[i])][f"{name}_stderr"] or 0.0 for i in order]
        ax.errorbar(x, means, yerr=errors, marker="o", capsize=3)
        if real in scores[str(values[0])]:
            ax.axhline(scores[str(values[0])][real], color="grey", linestyle="--",
                       label="real data")
            ax.legend(fontsize=7)
        ax.set_xticks(x, ticks)
        ax.set_xlabel("truncation threshold")
        ax.set_title(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv):
    if len(argv) > 1:
        usage_error(f"unexpected arguments {argv[1:]}; pass the run with --workdir")
    if not _WORKDIR.value:
        usage_error("pass the run with --workdir")
    values = thresholds(_THRESHOLDS.value)
    quiet_logs()
    from jaxgan.run_io import write_json

    result = sweep(_WORKDIR.value, values)
    write_json(os.path.join(_WORKDIR.value, "truncation.json"), result)
    plot(result, os.path.join(_WORKDIR.value, "truncation.png"),
         f"{os.path.basename(os.path.normpath(_WORKDIR.value))}: the truncation trick's trade")
    print(f"wrote truncation.json and truncation.png in {_WORKDIR.value}")


if __name__ == "__main__":
    app.run(main)
