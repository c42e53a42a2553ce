r"""An independent judge of generated digits: a scikit-learn SVM on real pixels.

  python experiments/judge.py --workdir runs/digits [--workdir runs/other ...]

The project scores samples with its own small CNN (``eval.json``). A
generator can please one network and still look wrong, so this script asks a
judge of another kind (:mod:`jaxgan.metrics.judge`): an RBF support-vector
machine trained on the real images' raw pixels, at the dataset's native
resolution (scikit-learn's digits at 8x8, ``mnist5k`` at 28x28).

For each run it reads ``samples/final.npz`` and writes ``judge.json`` beside
``eval.json``, and prints one line per run:

- ``judge_plausible``: the share of samples as close (Euclidean, in pixels)
  to their nearest real training image as 95% of the held-out real images
  are to theirs. An SVM extrapolates: far from every real image it can still
  be sure of a class (uniform noise gets p >= 0.9 two times in three), so
  confidence alone does not say "a digit";
- ``judge_confident``: the share of samples that are plausible and whose top
  class has probability >= 0.9;
- ``judge_class_kl``: KL from the samples' predicted-class histogram to the
  data's (0 when the classes come in the data's proportions);
- ``judge_classes_covered``: classes predicted for at least a fifth of their
  share in the data;
- ``judge_label_accuracy``: for a conditional run, the share of samples
  judged to be the class they were asked for, and
  ``judge_label_accuracy_class_k`` the same among those asked for class k;
- the same numbers for the judge's held-out real images (the real-data
  floor; ``real_judge_label_accuracy_class_k``: how often it reads real
  digits of class k right, the ceiling of the samples'), and the judge's
  held-out accuracy.

A run of several seeds (``--config.num_seeds``) that generates digits from
noise is judged seed by seed (``final.npz``'s ``images_per_seed``, the same
latents and classes for each): each sample score is then the mean over the
seeds, with ``_stderr`` (standard error) and ``_per_seed`` beside it, as in
``eval.json``; ``num_seeds`` says how many. Translation, CycleGAN and
Stacked MNIST runs are judged on seed 0's samples.

For a translation task on the digits (``mnist5k_completion``,
``mnist5k_edges``) the ``mnist5k`` judge reads the outputs, and
``judge_label_accuracy`` is the share whose class is the input's.

For a CycleGAN (``unpaired:A,B``) each direction is judged by the judge of
its output domain, against the classes of its inputs, and B to A's numbers
carry the prefix ``ba_``; ``digits_framed`` outputs are cropped to their
box (MNIST's central 20/28) before the ``digits`` judge reads them at 8x8.
For Stacked MNIST (``stacked_mnist5k``) the ``mnist5k`` judge reads each
channel on its own: ``judge_plausible`` and ``judge_confident`` ask it of
every channel, and ``judge_modes_covered`` and ``judge_reverse_kl`` count the
triples it reads, beside as many real triples drawn from its held-out digits
(a sample of N covers fewer than 1,000 modes even when the generator is
perfect, so compare with that floor).

Exit code 0 on success, 2 on a user error (no ``final.npz`` in a workdir, a
dataset without labels), with a one-line message on stderr.
"""

import json
import os

from absl import app, flags

from jaxgan.cli import usage_error
from jaxgan.data.registry import STACKED, unpaired_domains
from jaxgan.metrics.judge import NATIVE_SIZE, fit_judge, scores, stacked_scores, to_size

# Translation tasks and the digits their outputs should be (final.npz's images
# are the outputs for held-out inputs, its labels the inputs' classes).
TRANSLATED = {"mnist5k_completion": "mnist5k", "mnist5k_edges": "mnist5k"}
# Datasets whose digits sit in part of the frame: the judge of the dataset
# named reads them cropped to that part.
FRAMED = {"digits_framed": "digits"}

_WORKDIRS = flags.DEFINE_multi_string("workdir", None, "Workdir of a finished run "
                                      "(repeat the flag for several).")
_HOLDOUT = flags.DEFINE_float("holdout", 0.2, "Share of the real images held out from the "
                              "judge, to measure its accuracy and the real-data floor.")


def judge_run(workdir: str, holdout: float, judges: dict) -> dict:
    """Judges ``workdir``'s ``samples/final.npz``; writes and returns ``judge.json``'s dict."""
    import numpy as np

    from jaxgan.run_io import write_json

    config_path = os.path.join(workdir, "config.json")
    final_path = os.path.join(workdir, "samples", "final.npz")
    if not (os.path.exists(config_path) and os.path.exists(final_path)):
        usage_error(f"{workdir} holds no finished run (config.json and samples/final.npz); "
                     "train one with experiments/train.py first")
    with open(config_path) as f:
        dataset = json.load(f).get("dataset")
    if dataset in STACKED:
        return judge_stacked_run(workdir, dataset, holdout, judges)
    if unpaired_domains(dataset) is not None:
        return judge_unpaired_run(workdir, dataset, holdout, judges)
    dataset = TRANSLATED.get(dataset, dataset)
    if dataset not in NATIVE_SIZE and dataset not in FRAMED:
        usage_error(f"{workdir} trained on {dataset!r}; the judge knows "
                     f"{', '.join([*NATIVE_SIZE, *FRAMED])} (labelled digits at a known "
                     "resolution)")
    with np.load(final_path, allow_pickle=False) as final:
        images, labels = final["images"], final.get("labels")
        per_seed = final.get("images_per_seed")
    if per_seed is None or len(per_seed) < 2:
        result = {"dataset": dataset, "num_samples": len(images),
                  **judge_images(images, labels, dataset, holdout, judges)}
    else:
        from jaxgan.evaluation import summarize_seeds

        seeds = [judge_images(x, labels, dataset, holdout, judges) for x in per_seed]
        # The samples' scores vary by seed; the judge and its real floor do not.
        varying = [name for name, value in seeds[0].items() if name.startswith("judge_")
                   and name != "judge_accuracy" and not isinstance(value, str)]
        result = {"dataset": dataset, "num_samples": len(images), "num_seeds": len(seeds),
                  **seeds[0],
                  **summarize_seeds({name: [s[name] for s in seeds] for name in varying})}
    write_json(os.path.join(workdir, "judge.json"), result)  # atomic: no half-written file
    return result


def judge_images(images, labels, dataset: str, holdout: float, judges: dict) -> dict:
    """The judge's numbers for ``images`` meant to be ``dataset``'s digits
    (``labels``: the classes they should show, or ``None``), beside its
    held-out real images'."""
    import numpy as np

    if dataset in FRAMED:  # back to the digit's box, as the judge's data are
        from jaxgan.data.arrays import mnist_box

        top, inner = mnist_box(images.shape[1])
        images, dataset = images[:, top:top + inner, top:top + inner], FRAMED[dataset]
    if dataset not in NATIVE_SIZE:
        usage_error(f"the judge knows {', '.join([*NATIVE_SIZE, *FRAMED])} (labelled digits at a "
                    f"known resolution), not {dataset!r}")
    if dataset not in judges:
        judges[dataset] = fit_judge(dataset, holdout)
    judge, test_x, test_y, shares = judges[dataset]
    samples = scores(judge, to_size(np.asarray(images), NATIVE_SIZE[dataset]), shares, labels)
    real = scores(judge, test_x, shares, test_y)
    if labels is None:  # the real images' classes per class only beside the samples'
        real = {k: v for k, v in real.items() if not k.startswith("label_accuracy_class_")}
    return {"judge": f"SVC(rbf, C=10) on {NATIVE_SIZE[dataset]}x{NATIVE_SIZE[dataset]} real "
                     f"{dataset} pixels",
            "judge_accuracy": real.pop("label_accuracy"),
            **{f"judge_{k}": v for k, v in samples.items()},
            **{f"real_judge_{k}": v for k, v in real.items()},
            "real_num_examples": len(test_y)}


def judge_unpaired_run(workdir: str, dataset: str, holdout: float, judges: dict) -> dict:
    """A CycleGAN's two directions, each by its output domain's judge; B to A's
    numbers prefixed ``ba_``."""
    import numpy as np

    from jaxgan.run_io import write_json

    domain_a, domain_b = unpaired_domains(dataset)
    with np.load(os.path.join(workdir, "samples", "final.npz"), allow_pickle=False) as final:
        arrays = dict(final)
    result = {"dataset": dataset, "num_samples": len(arrays["images"])}
    for prefix, output_domain in (("", domain_b), ("ba_", domain_a)):
        if prefix + "labels" not in arrays:
            usage_error(f"{workdir}: the domains have no labels to check the translations' "
                        "classes against")
        judged = judge_images(arrays[prefix + "images"], arrays[prefix + "labels"],
                              output_domain, holdout, judges)
        result.update({prefix + name: value for name, value in judged.items()})
    write_json(os.path.join(workdir, "judge.json"), result)
    return result


def judge_stacked_run(workdir: str, dataset: str, holdout: float, judges: dict) -> dict:
    """Stacked digits: the base digits' judge reads each channel; the floor is
    as many real triples, drawn from its held-out digits."""
    import numpy as np

    from jaxgan.run_io import write_json

    base = STACKED[dataset]
    if base not in judges:
        judges[base] = fit_judge(base, holdout)
    judge, test_x, test_y, _ = judges[base]
    with np.load(os.path.join(workdir, "samples", "final.npz"), allow_pickle=False) as final:
        images = final["images"]
    channels = images.shape[-1]
    samples = stacked_scores(judge, [to_size(images[..., c:c + 1], NATIVE_SIZE[base])
                                     for c in range(channels)])
    rows = np.random.default_rng(0).integers(0, len(test_x), (len(images), channels))
    real = stacked_scores(judge, [test_x[rows[:, c]] for c in range(channels)])
    result = {"dataset": dataset, "num_samples": len(images),
              "judge": f"SVC(rbf, C=10) on {NATIVE_SIZE[base]}x{NATIVE_SIZE[base]} real "
                       f"{base} pixels, each of {channels} channels on its own",
              "judge_accuracy": float(np.mean(judge.probabilities(test_x).argmax(1) == test_y)),
              **{f"judge_{k}": v for k, v in samples.items()},
              **{f"real_judge_{k}": v for k, v in real.items()},
              "real_num_examples": len(rows)}
    write_json(os.path.join(workdir, "judge.json"), result)
    return result


def spread(result: dict, name: str) -> str:
    """" +- s.e." of ``result[name]`` where the run had several seeds, else ""."""
    stderr = result.get(name + "_stderr")
    return f" +- {stderr:.3f}" if stderr is not None else ""


def main(argv):
    if len(argv) > 1:
        usage_error(f"unexpected arguments {argv[1:]}; pass runs with --workdir")
    if not _WORKDIRS.value:
        usage_error("pass at least one --workdir")
    if not 0 < _HOLDOUT.value < 1:
        usage_error(f"--holdout must be in (0, 1), got {_HOLDOUT.value}")
    judges = {}
    for workdir in _WORKDIRS.value:
        r = judge_run(workdir, _HOLDOUT.value, judges)
        if "judge_modes_covered" in r:
            print(f"{workdir}: every channel confident {r['judge_confident']:.3f} (real "
                  f"{r['real_judge_confident']:.3f}), plausible {r['judge_plausible']:.3f} "
                  f"(real {r['real_judge_plausible']:.3f}); modes {r['judge_modes_covered']} "
                  f"of 1000 in {r['num_samples']} samples (real {r['real_judge_modes_covered']})"
                  f", reverse KL {r['judge_reverse_kl']:.3f} (real "
                  f"{r['real_judge_reverse_kl']:.3f}); judge accuracy {r['judge_accuracy']:.3f}")
            continue
        if "ba_judge_label_accuracy" in r:
            print(f"{workdir}: A to B: label accuracy {r['judge_label_accuracy']:.3f}, "
                  f"confident {r['judge_confident']:.3f} (real {r['real_judge_confident']:.3f})"
                  f", judge accuracy {r['judge_accuracy']:.3f}; B to A: label accuracy "
                  f"{r['ba_judge_label_accuracy']:.3f}, confident {r['ba_judge_confident']:.3f}"
                  f" (real {r['ba_real_judge_confident']:.3f}), judge accuracy "
                  f"{r['ba_judge_accuracy']:.3f}")
            continue
        line = (f"{workdir}: confident {r['judge_confident']:.3f}"
                f"{spread(r, 'judge_confident')} (real "
                f"{r['real_judge_confident']:.3f}), plausible {r['judge_plausible']:.3f} (real "
                f"{r['real_judge_plausible']:.3f}), class KL {r['judge_class_kl']:.3f}, "
                f"classes {r['judge_classes_covered']:g}")
        if "judge_label_accuracy" in r:
            line += (f", label accuracy {r['judge_label_accuracy']:.3f}"
                     f"{spread(r, 'judge_label_accuracy')}")
        seeds = f" (mean of {r['num_seeds']} seeds)" if r.get("num_seeds") else ""
        print(line + f"; judge accuracy {r['judge_accuracy']:.3f} on "
              f"{r['real_num_examples']} held-out real images{seeds}")


if __name__ == "__main__":
    app.run(main)
