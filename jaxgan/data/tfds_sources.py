"""tensorflow-datasets image datasets, read into memory as ``uint8`` arrays.

Reading uses ``tfds.data_source`` (random access to the prepared
``array_record`` files, with no TensorFlow at read time). tensorflow-datasets
is imported only here, when a run asks for one of these datasets.

A dataset must be prepared once, which needs network access (and, for
tensorflow-datasets to build it, TensorFlow): ``python
experiments/prepare_data.py --dataset NAME --data_dir DIR``. Pass the same
``data_dir`` to training, or copy a prepared ``DIR/NAME`` folder from another
machine. With ``download=True`` (the default) a missing dataset is prepared on
first use; offline, or with ``download=False``, a missing dataset is a
:class:`~jaxgan.data.images.DataError` that says how to prepare it.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from jaxgan.data.arrays import ArraySource
from jaxgan.data.images import DataError, fit_image
from jaxgan.data.registry import TFDS_UNPAIRED
from jaxgan.data.unpaired import UnpairedSource


@dataclasses.dataclass(frozen=True)
class TFDSImages:
    """How to read one tfds dataset.

    Attributes:
      name: the tfds name.
      size: the native side of its images.
      label: the feature that holds the class label, or ``None``.
      crop: side of the centered square kept before resizing (``None``: the
        shorter side).
    """

    name: str
    size: int
    label: str | None = "label"
    crop: int | None = None


TFDS_DATASETS = {
    "mnist": TFDSImages("mnist", 28),
    "fashion_mnist": TFDSImages("fashion_mnist", 28),
    "cifar10": TFDSImages("cifar10", 32),
    # 218x178 photos; the centered 140x140 square holds the face.
    "celeb_a": TFDSImages("celeb_a", 64, label=None, crop=140),
}
# CycleGAN's own unpaired tasks (Zhu et al. 2017; jaxgan.data.registry's
# TFDS_UNPAIRED), 256x256 photos and paintings: each has the splits trainA and
# trainB, the two domains (its 'label' feature says which domain, not a
# class, so it is not read), and testA and testB.
UNPAIRED_DATASETS = {name: TFDSImages(name, 256, label=None) for name in TFDS_UNPAIRED}

_READ_CHUNK = 2048


def default_data_dir(data_dir: str | None) -> str:
    """tensorflow-datasets' own default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``."""
    return data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser(
        "~/tensorflow_datasets")


def _unavailable(name: str, data_dir: str, reason: str) -> DataError:
    reason = " ".join(str(reason).split())[:300]
    return DataError(
        f"tfds dataset {name!r} is not prepared in {data_dir} ({reason}); prepare it on a "
        f"machine with network: python experiments/prepare_data.py --dataset {name} "
        f"--data_dir DIR, then set --config.data_dir=DIR (or copy DIR/{name} here)")


def _missing_module(error: BaseException) -> ImportError | None:
    """The ``ImportError`` behind ``error`` (itself, or its cause or context), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ImportError) and error.name:
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _is_prepared(builder) -> bool:
    try:
        return bool(builder.is_prepared())
    except Exception:  # a half-written folder: treat as not prepared
        return False


def _import_tfds(name: str):
    """tensorflow_datasets, or a :class:`DataError` that says how to install it."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise DataError(f"dataset {name!r} comes from tensorflow-datasets, which is not "
                        f"installed ({e}); pip install 'jaxgan[tfds]'") from e
    return tfds


def prepare(name: str, data_dir: str | None = None) -> None:
    """Downloads and prepares ``name`` in the ``array_record`` format that reading needs."""
    tfds = _import_tfds(name)
    builder = tfds.builder(name, data_dir=default_data_dir(data_dir))
    builder.download_and_prepare(file_format="array_record")


def load_tfds(name: str, image_size: int, data_dir: str | None = None, download: bool = True,
              split: str = "train", shuffle_seed: int = 0, progress=None) -> ArraySource:
    """Reads a whole split of a tfds image dataset into an :class:`ArraySource`.

    Args:
      name: a key of :data:`TFDS_DATASETS`.
      image_size: output side; images are center-cropped and resized to it.
      data_dir: where tfds keeps prepared datasets (tfds' default if ``None``).
      download: prepare the dataset if it is missing (needs network).
      split: the tfds split.
      shuffle_seed: the source's per-epoch order.
      progress: optional ``tqdm``-like factory ``progress(total=, desc=)``.

    Raises:
      DataError: the dataset is unknown, or not prepared and cannot be.
    """
    spec = TFDS_DATASETS.get(name) or UNPAIRED_DATASETS.get(name)
    if spec is None:
        raise DataError(f"unknown tfds dataset {name!r}; available: "
                        f"{', '.join([*TFDS_DATASETS, *UNPAIRED_DATASETS])}")
    data_dir = default_data_dir(data_dir)
    tfds = _import_tfds(name)
    builder = None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare(file_format="array_record")
        records = builder.as_data_source(split=split)
    except Exception as e:  # tfds raises many types: network, format, missing files
        missing = _missing_module(e)
        if missing is not None:  # not the data: a module tfds needs for this dataset
            raise DataError(
                f"tfds dataset {name!r} needs the Python module {missing.name!r}, which is not "
                f"installed ({type(missing).__name__}: {missing}); pip install it (or prepare "
                "the dataset on a machine that has it)") from e
        # tfds names the tfrecord format also when nothing is prepared at all.
        if "TFRECORD" in str(e) and builder is not None and _is_prepared(builder):
            raise DataError(
                f"tfds dataset {name!r} in {data_dir} was prepared as tfrecord files, which "
                "need TensorFlow to read; prepare an array_record copy in a new folder: python "
                f"experiments/prepare_data.py --dataset {name} --data_dir NEW_DIR, then set "
                "--config.data_dir=NEW_DIR") from e
        raise _unavailable(name, data_dir, f"{type(e).__name__}: {e}") from e
    if len(records) == 0:
        raise _unavailable(name, data_dir, f"split {split!r} is empty")

    bar = progress(total=len(records), desc=f"reading {name}") if progress else None
    images, labels = [], []
    for start in range(0, len(records), _READ_CHUNK):
        chunk = [records[i] for i in range(start, min(start + _READ_CHUNK, len(records)))]
        # One at a time: some datasets' images differ in size.
        images.append(np.stack([fit_image(np.asarray(example["image"], np.uint8), image_size,
                                          spec.crop) for example in chunk]))
        if spec.label is not None:
            labels.append(np.array([example[spec.label] for example in chunk], np.int32))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return ArraySource(name, np.concatenate(images),
                       np.concatenate(labels) if labels else None, shuffle_seed)


def load_tfds_unpaired(name: str, image_size: int, data_dir: str | None = None,
                       download: bool = True, shuffle_seed: int = 0,
                       progress=None) -> UnpairedSource:
    """A CycleGAN task of tensorflow-datasets (a name of :data:`UNPAIRED_DATASETS`)
    as an :class:`UnpairedSource`: its ``trainA`` split is domain A, its
    ``trainB`` split domain B, each holding out a fixed tenth for evaluation as
    any unpaired source does (the ``testA`` and ``testB`` splits are not read).
    Arguments and errors as :func:`load_tfds`'s."""
    if name not in UNPAIRED_DATASETS:
        raise DataError(f"unknown tfds CycleGAN task {name!r}; available: "
                        f"{', '.join(UNPAIRED_DATASETS)}")
    domains = [load_tfds(name, image_size, data_dir, download, split=split,
                         shuffle_seed=shuffle_seed, progress=progress)
               for split in ("trainA", "trainB")]
    domains = [dataclasses.replace(domain, name=f"{name.split('/')[1]}_{key}")
               for domain, key in zip(domains, "AB", strict=True)]
    return UnpairedSource(name.split("/")[1], *domains, shuffle_seed)


__all__ = ["TFDS_DATASETS", "UNPAIRED_DATASETS", "TFDSImages", "default_data_dir", "load_tfds",
           "load_tfds_unpaired", "prepare"]
