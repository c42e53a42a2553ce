"""Dataset names -> sources: the one place a name such as ``digits`` is resolved.

``load_dataset(name, ...)`` returns a :class:`jaxgan.data.Source`. Names are
the 2D mixtures (``ring8``, ``grid25``), the bundled ``digits`` (and
``digits_framed``, the same in MNIST's margin) and
``mnist5k`` (real MNIST digits; the ``mnist5k`` extra) and ``stacked_mnist5k``
(three of those per example, 1,000 modes: :mod:`jaxgan.data.stacked`), the
paired translation tasks ``mnist5k_completion`` and ``mnist5k_edges``
(:mod:`jaxgan.data.pairs`), the tensorflow-datasets names of
:data:`TFDS_NAMES` (tfds is imported only when one is asked for) and the
file prefixes ``npz:PATH``, ``folder:PATH`` and ``pairs:PATH`` (paired images),
and ``unpaired:A,B``: two image datasets of these names as the unpaired
domains of a CycleGAN (:mod:`jaxgan.data.unpaired`), e.g.
``unpaired:digits,mnist5k``, or tensorflow-datasets' own CycleGAN tasks
(:data:`TFDS_UNPAIRED`, e.g. ``cycle_gan/horse2zebra``: its trainA and trainB
splits).
The tables are constants; a user's own data need no registration, since
:func:`jaxgan.fit` takes any source object.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from jaxgan.data.arrays import ArraySource, digits, framed_digits
from jaxgan.data.images import DataError, load_folder, load_mnist5k, load_npz
from jaxgan.data.mixtures import MIXTURES, Mixture
from jaxgan.data.pairs import PAIRED_TASKS, PairedSource, load_pairs
from jaxgan.data.stacked import StackedSource, stacked_mnist5k
from jaxgan.data.unpaired import UnpairedSource

# tensorflow-datasets names; the module that reads them imports tfds lazily.
TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10", "celeb_a")
# tensorflow-datasets' CycleGAN tasks: two unpaired domains each.
TFDS_UNPAIRED = tuple(f"cycle_gan/{task}" for task in (
    "apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo",
    "ukiyoe2photo", "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower"))
# Image data that ship with the install (mnist5k with its extra): no network.
BUNDLED = {"digits": digits, "digits_framed": framed_digits, "mnist5k": load_mnist5k,
           "stacked_mnist5k": stacked_mnist5k, **PAIRED_TASKS}
IMAGE_DATASETS = (*BUNDLED, *TFDS_NAMES)
# The stacked datasets (StackedSource, one base digit per channel), each with
# the dataset of its digits.
STACKED = {"stacked_mnist5k": "mnist5k"}
# The side bundled datasets' images were drawn at, before any resizing: finer
# detail than this is not in the data (scikit-learn's digits are 8x8).
NATIVE_SIDES = {"digits": 8, "mnist5k": 28, "stacked_mnist5k": 28}
FILE_LOADERS: dict[str, Callable[..., ArraySource | PairedSource]] = {
    "npz": load_npz, "folder": load_folder, "pairs": load_pairs}


UNPAIRED_PREFIX = "unpaired:"


def unpaired_domains(name: str) -> tuple[str, str] | None:
    """The two dataset names of ``unpaired:A,B``; ``None`` for any other name
    (or two names that are not both plain image datasets)."""
    if not name.startswith(UNPAIRED_PREFIX):
        return None
    domains = tuple(part.strip() for part in name[len(UNPAIRED_PREFIX):].split(","))
    if len(domains) != 2 or not all(
            is_known(d) and not is_points(d) and not is_paired(d)
            and not d.startswith(UNPAIRED_PREFIX) for d in domains):
        return None
    return domains


def is_known(name: object) -> bool:
    """Whether ``name`` names a dataset (without loading it)."""
    return isinstance(name, str) and (
        name in MIXTURES or name in IMAGE_DATASETS or is_unpaired(name)
        or name.split(":", 1)[0] in FILE_LOADERS and ":" in name)


def is_paired(name: str) -> bool:
    """Whether ``name`` is paired images for translation (:mod:`jaxgan.data.pairs`)."""
    return name in PAIRED_TASKS or name.startswith("pairs:")


def is_unpaired(name: str) -> bool:
    """Whether ``name`` is two unpaired domains for a CycleGAN (``unpaired:A,B``
    or a name of :data:`TFDS_UNPAIRED`)."""
    return unpaired_domains(name) is not None or name in TFDS_UNPAIRED


def is_stacked(name: str) -> bool:
    """Whether ``name`` is a stacked dataset, one digit per channel
    (:mod:`jaxgan.data.stacked`)."""
    return name in STACKED


def is_points(name: str) -> bool:
    """Whether ``name`` is 2D point data (a mixture) rather than images."""
    return name in MIXTURES


def unknown_dataset_message(name: object) -> str:
    """The one-line error for a dataset name that nothing loads, listing those that do."""
    return (f"unknown dataset {name!r}; available: {', '.join([*MIXTURES, *IMAGE_DATASETS])}, "
            + ", ".join(f"{prefix}:PATH" for prefix in FILE_LOADERS)
            + f", {UNPAIRED_PREFIX}A,B (two image datasets of those), "
            + ", ".join(TFDS_UNPAIRED))


def load_dataset(name: str, image_size: int | None = None, data_dir: str | None = None,
                 download: bool = True, shuffle_seed: int = 0,
                 progress=None
                 ) -> Mixture | ArraySource | StackedSource | PairedSource | UnpairedSource:
    """The source named ``name``.

    Args:
      name: see the module docstring.
      image_size: side the images are resized to (unused by mixtures).
      data_dir: where tensorflow-datasets keeps prepared datasets.
      download: let tensorflow-datasets prepare a missing dataset (network).
      shuffle_seed: seeds an image source's per-epoch order.
      progress: optional ``tqdm``-like factory for long reads.

    Raises:
      DataError: an unknown name, or data that cannot be read, with the fix.
    """
    if not is_known(name):
        raise DataError(unknown_dataset_message(name))
    if name in MIXTURES:
        return MIXTURES[name]()
    domains = unpaired_domains(name)
    if domains is not None:
        sources = [load_dataset(domain, image_size, data_dir, download, shuffle_seed, progress)
                   for domain in domains]
        if not all(isinstance(source, ArraySource) for source in sources):
            raise DataError(f"{name}: each domain must be a plain image dataset (stacked "
                            "digits are not); name two such as digits, mnist5k or npz:PATH")
        return UnpairedSource(f"{domains[0]}2{domains[1]}", *sources, shuffle_seed)
    if name in TFDS_UNPAIRED:
        from jaxgan.data.tfds_sources import load_tfds_unpaired  # imports tensorflow-datasets

        return load_tfds_unpaired(name, image_size, data_dir, download,
                                  shuffle_seed=shuffle_seed, progress=progress)
    if name in BUNDLED:
        return BUNDLED[name](image_size, shuffle_seed=shuffle_seed)
    if name in TFDS_NAMES:
        from jaxgan.data.tfds_sources import load_tfds  # imports tensorflow-datasets

        return load_tfds(name, image_size, data_dir, download, shuffle_seed=shuffle_seed,
                         progress=progress)
    kind, path = name.split(":", 1)
    return FILE_LOADERS[kind](os.path.expanduser(path), image_size, shuffle_seed=shuffle_seed)


__all__ = ["BUNDLED", "FILE_LOADERS", "IMAGE_DATASETS", "NATIVE_SIDES", "STACKED", "TFDS_NAMES",
           "TFDS_UNPAIRED", "UNPAIRED_PREFIX",
           "is_known", "is_paired", "is_points", "is_stacked", "is_unpaired", "load_dataset",
           "unknown_dataset_message", "unpaired_domains"]
