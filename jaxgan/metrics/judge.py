"""An independent judge of generated digits: a scikit-learn SVM on real pixels.

The project scores samples with its own small CNN (:mod:`jaxgan.metrics.classifier`).
A generator, or a latent edit guided by that CNN, can please one network and
still look wrong; adversarial directions transfer between networks of the
same kind trained on the same data. This judge is of another kind: an RBF
support-vector machine on the real images' raw pixels at the dataset's native
resolution (scikit-learn's digits at 8x8, ``mnist5k`` at 28x28), fitted on a
split of its own. Generated images reach that resolution by area averaging
(or Lanczos resampling where the sizes do not divide), as the real ones would.

An SVM extrapolates: far from every real image it can still be sure of a
class (uniform noise gets p >= 0.9 two times in three). So :func:`scores`
counts a sample as *plausible* only when it is as close to its nearest real
training image as 95% of held-out real images are to theirs, and
*confident* only when it is plausible as well.

``experiments/judge.py`` applies it to finished runs; ``jaxgan-control``
judges latent edits with it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxgan.data.registry import NATIVE_SIDES

CONFIDENT = 0.9
# The held-out real images' nearest-neighbour distance quantile that bounds
# a plausible sample (so 95% of real images are plausible by construction).
PLAUSIBLE_QUANTILE = 0.95
# The resolution each bundled dataset is judged at: its own.
NATIVE_SIZE = {name: NATIVE_SIDES[name] for name in ("digits", "mnist5k")}


def to_size(images, size: int):
    """``[N, H, W, C]`` images in [-1, 1] -> ``[N, size * size * C]`` pixels in [0, 1]:
    area averages where ``size`` divides the side, Lanczos resampling otherwise."""
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

    def probabilities(self, pixels) -> np.ndarray:
        """Class probabilities ``[N, max class + 1]``, column ``k`` for class ``k``."""
        fitted = self.svm.predict_proba(pixels)
        full = np.zeros((len(fitted), int(self.svm.classes_.max()) + 1))
        full[:, self.svm.classes_] = fitted
        return full

    def plausible(self, pixels) -> np.ndarray:
        """Whether each image is as close to a real one as 95% of held-out real images are."""
        return self.distance(pixels) <= self.radius


class FittedJudge(NamedTuple):
    """What :func:`fit_judge` returns: the judge and its real-data floor."""

    judge: Judge
    test_pixels: np.ndarray   # held-out real images at the native size, [N, size * size * C]
    test_labels: np.ndarray
    class_shares: np.ndarray  # each class's share of the dataset


def fit_judge(dataset: str, holdout: float = 0.2, seed: int = 0) -> FittedJudge:
    """Fits the judge of ``dataset`` (a key of :data:`NATIVE_SIZE`) on all but
    ``holdout`` of its images, stratified by class."""
    if dataset not in NATIVE_SIZE:
        raise ValueError(f"the judge knows {', '.join(NATIVE_SIZE)} (labelled digits at a "
                         f"known resolution), not {dataset!r}")
    from sklearn.model_selection import train_test_split

    from jaxgan.data import load_dataset
    from jaxgan.data.arrays import to_unit_range

    source = load_dataset(dataset, NATIVE_SIZE[dataset])
    pixels = to_size(to_unit_range(source.images), NATIVE_SIZE[dataset])
    train_x, test_x, train_y, test_y = train_test_split(
        pixels, source.labels, test_size=holdout, random_state=seed, stratify=source.labels)
    judge = Judge(train_x, train_y, test_x, seed)
    shares = np.bincount(source.labels, minlength=source.num_classes) / len(source.labels)
    return FittedJudge(judge, test_x, test_y, shares)


def scores(judge, pixels, shares, labels=None) -> dict:
    """The judge's numbers for one set of images (``pixels`` from :func:`to_size`):
    the shares ``plausible`` and ``confident`` (module docstring), ``class_kl``
    from the predicted-class histogram to ``shares``, ``classes_covered``
    (classes predicted for at least a fifth of their share) and, given the
    ``labels`` asked for, ``label_accuracy`` and ``label_accuracy_class_k``
    for each class asked for."""

    probabilities = judge.probabilities(pixels)
    predicted = probabilities.argmax(1)
    plausible = judge.plausible(pixels)
    histogram = np.bincount(predicted, minlength=len(shares)) / len(predicted)
    kl = float(np.sum(np.where(histogram > 0, histogram * np.log(
        np.maximum(histogram, 1e-12) / shares), 0.0)))
    result = {"plausible": float(np.mean(plausible)),
              "confident": float(np.mean(plausible & (probabilities.max(1) >= CONFIDENT))),
              "class_kl": kl,
              "classes_covered": int(np.sum(histogram >= 0.2 * shares))}
    if labels is not None:
        result["label_accuracy"] = float(np.mean(predicted == labels))
        for k in range(len(shares)):
            asked = labels == k
            if asked.any():
                result[f"label_accuracy_class_{k}"] = float(np.mean(predicted[asked] == k))
    return result


def stacked_scores(judge, channel_pixels: list) -> dict:
    """The judge's numbers for stacked digits (:mod:`jaxgan.data.stacked`),
    each channel judged on its own (``channel_pixels``: one :func:`to_size`
    array per channel): ``plausible`` and ``confident`` (every channel
    plausible, or plausible and confident), and ``modes_covered`` and
    ``reverse_kl`` (to the uniform histogram) of the modes it reads, the
    first channel's digit the most significant."""
    from jaxgan.metrics.stacked import joint_probabilities, mode_scores

    probabilities = [judge.probabilities(pixels) for pixels in channel_pixels]
    plausible = np.all([judge.plausible(pixels) for pixels in channel_pixels], axis=0)
    sure = np.all([p.max(1) >= CONFIDENT for p in probabilities], axis=0)
    # The modes it reads, counted as the project's own evaluation counts them.
    modes = mode_scores(joint_probabilities(probabilities))
    return {"plausible": float(np.mean(plausible)), "confident": float(np.mean(plausible & sure)),
            "modes_covered": int(modes["modes_covered"]),
            "reverse_kl": float(modes["reverse_kl"])}


def classify(judge: Judge, images, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(probabilities, plausible)`` of ``[N, H, W, C]`` images in [-1, 1]:
    the judge's class probabilities of each (:meth:`Judge.probabilities`; the
    most likely class is their argmax), and whether it is plausible."""
    pixels = to_size(images, size)
    return judge.probabilities(pixels), judge.plausible(pixels)


__all__ = ["CONFIDENT", "NATIVE_SIZE", "FittedJudge", "Judge", "classify", "fit_judge",
           "scores", "stacked_scores", "to_size"]
