"""Paired images for image-to-image translation (Pix2Pix).

A :class:`PairedSource` holds inputs and targets, matched row by row, and
optional class labels (which only the metrics read: does the output show the
input's class?). A fixed tenth of the pairs is held out
(:func:`jaxgan.metrics.classifier.holdout_split` with the evaluation seed, the
same split the scoring classifier holds out of the targets), never trained
on, and used for every evaluation: the translated held-out inputs against
their targets. Training batches are drawn on the device in the O(batch)
per-epoch order of :class:`jaxgan.data.ArraySource`, over the other pairs.

Where pairs come from:

- ``pairs:PATH.npz``: arrays ``inputs`` and ``targets``, ``[N, H, W, C]`` (or
  ``[N, H, W]``), ``uint8`` 0..255 or float in [-1, 1], and optionally
  ``labels`` ``[N]``; read with ``allow_pickle=False``.
- ``pairs:DIR``: folders ``DIR/A`` (inputs) and ``DIR/B`` (targets) of image
  files matched by file name (without the extension).
- bundled tasks on the real MNIST digits (the ``mnist5k`` extra):
  ``mnist5k_completion`` (the lower half of each digit blanked; the generator
  fills it in) and ``mnist5k_edges`` (a digit's outline to the digit).
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxgan.data.arrays import ArraySource, to_unit_range
from jaxgan.data.images import (
    IMAGE_EXTENSIONS,
    DataError,
    checked_images,
    checked_labels,
    fit_images,
    load_mnist5k,
)
from jaxgan.metrics.classifier import holdout_split

# The held-out split is the evaluation's (jaxgan.evaluation.EVAL_SEED).
HOLDOUT_SEED = 0


@dataclasses.dataclass(frozen=True, eq=False)
class PairedSource:
    """Inputs and targets matched row by row; see the module docstring.

    Attributes:
      name: short name for logs and plots.
      inputs: ``[N, H, W, C_in]``, uint8 0..255 or float32 in [-1, 1].
      targets: ``[N, H, W, C]``, likewise.
      labels: ``[N]`` int32 classes of the pairs, or ``None``.
      shuffle_seed: seeds the training order.
      shuffle: how each epoch's order is computed (see
        :data:`jaxgan.data.arrays.SHUFFLES`).
    """

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    labels: np.ndarray | None = None
    shuffle_seed: int = 0
    shuffle: str = "feistel"

    def __post_init__(self):
        for what in ("inputs", "targets"):
            array = getattr(self, what)
            if array.ndim != 4 or array.dtype not in (np.uint8, np.float32):
                raise ValueError(f"{what} must be [N, H, W, C] uint8 or float32, got shape "
                                 f"{array.shape} of {array.dtype}")
        if self.inputs.shape[:3] != self.targets.shape[:3]:
            raise ValueError(f"inputs {self.inputs.shape} and targets {self.targets.shape} need "
                             "the same number of pairs, height and width")
        if self.labels is not None and self.labels.shape != (self.inputs.shape[0],):
            raise ValueError(f"labels must be [N] = [{self.inputs.shape[0]}], got shape "
                             f"{self.labels.shape}")
        if self.inputs.shape[0] < 2:
            raise ValueError(f"{self.name} has {self.inputs.shape[0]} pair(s); training and "
                             "the held-out evaluation need at least 2")
        train, held_out = holdout_split(self.inputs.shape[0], HOLDOUT_SEED)
        # Pairs past the split's cap (it samples at most 60,000) train too.
        train = np.concatenate([train, np.setdiff1d(
            np.arange(self.inputs.shape[0]), np.concatenate([train, held_out]))])
        # Both in the split's random order, so that the first few of either
        # are a fair sample of the classes (files often come sorted by class).
        object.__setattr__(self, "_train", train)
        object.__setattr__(self, "_held_out", held_out)
        # The training order reuses ArraySource's O(batch) per-epoch shuffle.
        object.__setattr__(self, "_order", ArraySource(self.name, self.targets[train], None,
                                                       self.shuffle_seed, self.shuffle))

    @property
    def example_shape(self) -> tuple[int, ...]:
        """One target's shape: what the generator makes."""
        return tuple(self.targets.shape[1:])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.inputs.shape[1:])

    @property
    def num_examples(self) -> int:
        """Pairs trained on (the held-out ones are not)."""
        return len(self._train)

    @property
    def num_held_out(self) -> int:
        """Pairs held out for evaluation."""
        return len(self._held_out)

    @property
    def num_classes(self) -> int:
        return 0 if self.labels is None else int(self.labels.max()) + 1

    @property
    def targets_source(self) -> ArraySource:
        """All targets with their labels, as an image source: what the scoring
        classifier learns the target domain from (holding out the same pairs)."""
        return ArraySource(f"{self.name} targets", self.targets, self.labels, self.shuffle_seed)

    def device_data(self) -> dict[str, jax.Array]:
        """The training pairs, put on the device once (the held-out ones stay out)."""
        return {"inputs": jnp.asarray(self.inputs[self._train]),
                "targets": jnp.asarray(self.targets[self._train])}

    def sample_real(self, key: jax.Array, step: jax.Array, data: dict[str, jax.Array],
                    num: int) -> tuple[jax.Array, jax.Array]:
        """``(inputs, targets)`` of the ``num`` training pairs of ``step``, in
        [-1, 1]: the batch of a translation recipe (the key is unused)."""
        del key
        rows = self._order.indices(step, num)
        return to_unit_range(data["inputs"][rows]), to_unit_range(data["targets"][rows])

    def sample_labelled(self, key, step, data, num):
        """Refused: pairs are translated, not drawn for a class-conditional GAN."""
        raise ValueError(f"{self.name} holds pairs for translation; its labels are for the "
                         "metrics, not for a class-conditional GAN")

    def held_out_pairs(self, num: int | None = None) -> dict[str, jax.Array]:
        """The first ``num`` (all by default) held-out pairs, in [-1, 1]:
        ``inputs``, ``targets`` and, where the data have them, ``labels``."""
        rows = self._held_out[:num]
        pairs = {"inputs": to_unit_range(jnp.asarray(self.inputs[rows])),
                 "targets": to_unit_range(jnp.asarray(self.targets[rows]))}
        if self.labels is not None:
            pairs["labels"] = jnp.asarray(self.labels[rows], jnp.int32)
        return pairs

    def real_examples(self, num: int, seed: int = HOLDOUT_SEED) -> tuple[jax.Array, jax.Array]:
        """Up to ``num`` training targets and up to ``num`` held-out ones: the
        distribution metrics' reference and the real-data floor."""
        del seed  # the split is fixed: the held-out pairs are never trained on
        return tuple(to_unit_range(jnp.asarray(self.targets[rows[:num]]))
                     for rows in (self._train, self._held_out))


def load_pairs(path: str, image_size: int, shuffle_seed: int = 0) -> PairedSource:
    """``pairs:PATH``: an ``.npz`` file or a folder with ``A/`` and ``B/``."""
    if os.path.isdir(path):
        inputs, targets, labels = _read_pair_folders(path, image_size)
    else:
        inputs, targets, labels = _read_pair_npz(path)
    if labels is not None:
        labels = checked_labels(np.asarray(labels), inputs.shape[0], path)
    if inputs.shape[:3] != targets.shape[:3]:
        raise DataError(f"{path}: inputs {inputs.shape} and targets {targets.shape} need the "
                        "same number of pairs, height and width")
    if inputs.shape[0] < 2:
        raise DataError(f"{path} holds {inputs.shape[0]} pair(s); at least 2 are needed")
    if inputs.shape[1:3] != (image_size, image_size):
        inputs, targets = (_resized(x, image_size) for x in (inputs, targets))
    return PairedSource(os.path.basename(os.path.normpath(path)), inputs, targets, labels,
                        shuffle_seed)


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    if images.dtype != np.uint8:  # float in [-1, 1]: resize as 0..255
        images = np.round((images + 1.0) * 127.5).astype(np.uint8)
    return fit_images(images, size)


def _read_pair_npz(path: str):
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError as e:
        raise DataError(f"no such file {path}; pairs:PATH names an .npz with inputs and "
                        "targets, or a folder with A/ and B/") from e
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path} as an .npz archive ({e})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} is a single array, not an .npz; write it with "
                        "np.savez(path, inputs=..., targets=...)")
    with archive:
        missing = [name for name in ("inputs", "targets") if name not in archive]
        if missing:
            raise DataError(f"{path} has no {' or '.join(missing)} (it has "
                            f"{', '.join(archive.files) or 'nothing'}); save it with "
                            "np.savez(path, inputs=..., targets=..., labels=...)")
        return (checked_images(archive["inputs"], "inputs", path),
                checked_images(archive["targets"], "targets", path), archive.get("labels"))


def _read_pair_folders(path: str, image_size: int):
    folders = [os.path.join(path, side) for side in ("A", "B")]
    if not all(os.path.isdir(folder) for folder in folders):
        raise DataError(f"{path} needs folders A/ (inputs) and B/ (targets) of images matched "
                        "by file name")
    stems = []
    for folder in folders:
        files = {os.path.splitext(f)[0]: f for f in sorted(os.listdir(folder))
                 if f.lower().endswith(IMAGE_EXTENSIONS)}
        stems.append(files)
    common = sorted(set(stems[0]) & set(stems[1]))
    unmatched = sorted(set(stems[0]) ^ set(stems[1]))
    if unmatched:
        raise DataError(f"{path}: {len(unmatched)} image(s) have no partner of the same name in "
                        f"the other folder (first: {unmatched[0]!r}); pair every A/ image with "
                        "one in B/")
    if len(common) < 2:
        raise DataError(f"{path}: A/ and B/ share {len(common)} image name(s); at least 2 "
                        "pairs are needed")
    sides = []
    for folder, files in zip(folders, stems, strict=True):
        images = []
        for stem in common:
            try:
                with Image.open(os.path.join(folder, files[stem])) as image:
                    images.append(np.asarray(image.convert("RGB")))
            except OSError as e:
                raise DataError(f"cannot read {os.path.join(folder, files[stem])} as an image "
                                f"({e})") from e
        images = fit_images(np.stack(images), image_size)
        # Greyscale where every image of the folder is.
        if np.all(images == images[..., :1]):
            images = images[..., :1]
        sides.append(images)
    return sides[0], sides[1], None


def completion_inputs(targets: np.ndarray) -> np.ndarray:
    """uint8 images with their lower half set to 0 (the digits' background)."""
    inputs = targets.copy()
    inputs[:, targets.shape[1] // 2:] = 0
    return inputs


def outline_inputs(targets: np.ndarray, threshold: int = 128) -> np.ndarray:
    """uint8 images' outlines: the pixels of the thresholded shape that touch
    its outside (the shape less its erosion by a 3x3 square), as 255."""
    shape = targets[..., 0] >= threshold
    padded = np.pad(shape, ((0, 0), (1, 1), (1, 1)))
    height, width = shape.shape[1:]
    eroded = np.ones_like(shape)
    for dy in range(3):
        for dx in range(3):
            eroded &= padded[:, dy:dy + height, dx:dx + width]
    return ((shape & ~eroded).astype(np.uint8) * 255)[..., None]


def mnist5k_completion(image_size: int = 28, shuffle_seed: int = 0) -> PairedSource:
    """The bundled completion task: MNIST digits with their lower half blanked
    -> the whole digits (the ``mnist5k`` extra)."""
    digits = load_mnist5k(image_size)
    return PairedSource("mnist5k_completion", completion_inputs(digits.images), digits.images,
                        digits.labels, shuffle_seed)


def mnist5k_edges(image_size: int = 28, shuffle_seed: int = 0) -> PairedSource:
    """The bundled outline task: each MNIST digit's outline -> the digit."""
    digits = load_mnist5k(image_size)
    return PairedSource("mnist5k_edges", outline_inputs(digits.images), digits.images,
                        digits.labels, shuffle_seed)


PAIRED_TASKS = {"mnist5k_completion": mnist5k_completion, "mnist5k_edges": mnist5k_edges}

__all__ = ["HOLDOUT_SEED", "PAIRED_TASKS", "PairedSource", "completion_inputs", "load_pairs",
           "mnist5k_completion", "mnist5k_edges", "outline_inputs"]
