r"""An independent judge of generated digits: a scikit-learn SVM on real pixels.

  python experiments/judge.py --workdir runs/digits [--workdir runs/other ...]

The project scores samples with its own small CNN (``eval.json``). A
generator can please one network and still look wrong, so this script asks a
judge of another kind: an RBF support-vector machine trained on the real
images' raw pixels, at the dataset's native resolution (scikit-learn's digits
at 8x8, ``mnist5k`` at 28x28). Samples are brought to that resolution by area
averaging (or Lanczos resampling where the sizes do not divide), the way the
real images would be.

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
  judged to be the class they were asked for;
- the same numbers for the judge's held-out real images (the real-data
  floor), and the judge's held-out accuracy.

Exit code 0 on success, 2 on a user error (no ``final.npz`` in a workdir, a
dataset without labels), with a one-line message on stderr.
"""

import json
import os
import sys

from absl import app, flags

_WORKDIRS = flags.DEFINE_multi_string("workdir", None, "Workdir of a finished run "
                                      "(repeat the flag for several).")
_HOLDOUT = flags.DEFINE_float("holdout", 0.2, "Share of the real images held out from the "
                              "judge, to measure its accuracy and the real-data floor.")
CONFIDENT = 0.9
# The held-out real images' nearest-neighbour distance quantile that bounds
# a plausible sample (so 95% of real images are plausible by construction).
PLAUSIBLE_QUANTILE = 0.95
# The resolution each bundled dataset is judged at: its own.
NATIVE_SIZE = {"digits": 8, "mnist5k": 28}


def _usage_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def to_size(images, size: int):
    """``[N, H, W, C]`` images in [-1, 1] -> ``[N, size * size * C]`` pixels in [0, 1]:
    area averages where ``size`` divides the side, Lanczos resampling otherwise."""
    import numpy as np
    from PIL import Image

    images = (np.clip(np.asarray(images, np.float32), -1, 1) + 1) / 2
    n, side, _, channels = images.shape
    if side % size == 0:
        f = side // size
        small = images.reshape(n, size, f, size, f, channels).mean(axis=(2, 4))
    else:
        small = np.stack([
            np.stack([np.asarray(Image.fromarray(image[..., c]).resize(
                (size, size), Image.LANCZOS)) for c in range(channels)], -1)
            for image in images])
    return small.reshape(n, -1)


class Judge:
    """The SVM, and what a plausible image's distance to the real ones is."""

    def __init__(self, train_x, train_y, holdout_x, seed: int = 0):
        import numpy as np
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.neighbors import NearestNeighbors
        from sklearn.svm import SVC

        # Platt-scaled probabilities from 5-fold cross-validation, one SVM refit on all.
        self.svm = CalibratedClassifierCV(SVC(kernel="rbf", gamma="scale", C=10.0), cv=5,
                                          ensemble=False).fit(train_x, train_y)
        self.neighbours = NearestNeighbors(n_neighbors=1).fit(train_x)
        self.radius = float(np.quantile(self.distance(holdout_x), PLAUSIBLE_QUANTILE))

    def distance(self, pixels):
        """Each image's Euclidean distance to its nearest real training image."""
        return self.neighbours.kneighbors(pixels)[0][:, 0]


def fit_judge(dataset: str, holdout: float, seed: int = 0):
    """``(judge, held-out pixels, held-out labels, class shares)`` for ``dataset``."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from jaxgan.data import load_dataset

    source = load_dataset(dataset, NATIVE_SIZE[dataset])
    pixels = to_size(source.images.astype(np.float32) / 127.5 - 1
                     if source.images.dtype == np.uint8 else source.images, NATIVE_SIZE[dataset])
    train_x, test_x, train_y, test_y = train_test_split(
        pixels, source.labels, test_size=holdout, random_state=seed, stratify=source.labels)
    judge = Judge(train_x, train_y, test_x, seed)
    shares = np.bincount(source.labels, minlength=source.num_classes) / len(source.labels)
    return judge, test_x, test_y, shares


def scores(judge, pixels, shares, labels=None) -> dict:
    """The judge's numbers for one set of images (module docstring)."""
    import numpy as np

    probabilities = judge.svm.predict_proba(pixels)
    predicted = judge.svm.classes_[probabilities.argmax(1)]
    plausible = judge.distance(pixels) <= judge.radius
    histogram = np.bincount(predicted, minlength=len(shares)) / len(predicted)
    kl = float(np.sum(np.where(histogram > 0, histogram * np.log(
        np.maximum(histogram, 1e-12) / shares), 0.0)))
    result = {"plausible": float(np.mean(plausible)),
              "confident": float(np.mean(plausible & (probabilities.max(1) >= CONFIDENT))),
              "class_kl": kl,
              "classes_covered": int(np.sum(histogram >= 0.2 * shares))}
    if labels is not None:
        result["label_accuracy"] = float(np.mean(predicted == labels))
    return result


def judge_run(workdir: str, holdout: float, judges: dict) -> dict:
    """Judges ``workdir``'s ``samples/final.npz``; writes and returns ``judge.json``'s dict."""
    import numpy as np

    from jaxgan.run_io import write_json

    config_path = os.path.join(workdir, "config.json")
    final_path = os.path.join(workdir, "samples", "final.npz")
    if not (os.path.exists(config_path) and os.path.exists(final_path)):
        _usage_error(f"{workdir} holds no finished run (config.json and samples/final.npz); "
                     "train one with experiments/train.py first")
    with open(config_path) as f:
        dataset = json.load(f).get("dataset")
    if dataset not in NATIVE_SIZE:
        _usage_error(f"{workdir} trained on {dataset!r}; the judge knows "
                     f"{', '.join(NATIVE_SIZE)} (labelled digits at a known resolution)")
    if dataset not in judges:
        judges[dataset] = fit_judge(dataset, holdout)
    judge, test_x, test_y, shares = judges[dataset]
    with np.load(final_path, allow_pickle=False) as final:
        images, labels = final["images"], final.get("labels")
    samples = scores(judge, to_size(images, NATIVE_SIZE[dataset]), shares, labels)
    real = scores(judge, test_x, shares, test_y)
    result = {"dataset": dataset, "num_samples": len(images),
              "judge": f"SVC(rbf, C=10) on {NATIVE_SIZE[dataset]}x{NATIVE_SIZE[dataset]} "
                       "real pixels",
              "judge_accuracy": real.pop("label_accuracy"),
              **{f"judge_{k}": v for k, v in samples.items()},
              **{f"real_judge_{k}": v for k, v in real.items()},
              "real_num_examples": len(test_y)}
    write_json(os.path.join(workdir, "judge.json"), result)  # atomic: no half-written file
    return result


def main(argv):
    if len(argv) > 1:
        _usage_error(f"unexpected arguments {argv[1:]}; pass runs with --workdir")
    if not _WORKDIRS.value:
        _usage_error("pass at least one --workdir")
    if not 0 < _HOLDOUT.value < 1:
        _usage_error(f"--holdout must be in (0, 1), got {_HOLDOUT.value}")
    judges = {}
    for workdir in _WORKDIRS.value:
        r = judge_run(workdir, _HOLDOUT.value, judges)
        line = (f"{workdir}: confident {r['judge_confident']:.3f} (real "
                f"{r['real_judge_confident']:.3f}), plausible {r['judge_plausible']:.3f} (real "
                f"{r['real_judge_plausible']:.3f}), class KL {r['judge_class_kl']:.3f}, "
                f"classes {r['judge_classes_covered']}")
        if "judge_label_accuracy" in r:
            line += f", label accuracy {r['judge_label_accuracy']:.3f}"
        print(line + f"; judge accuracy {r['judge_accuracy']:.3f} on "
              f"{r['real_num_examples']} held-out real images")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    app.run(main)
