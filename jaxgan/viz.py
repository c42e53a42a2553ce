"""Pictures of training: image sample grids, scatter plots of 2D samples, and the
loss and evaluation curves over training.

Uses matplotlib's object API (``Figure``) rather than ``pyplot``, so nothing
here touches global state or needs a display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle


def scatter_2d(path: str, real: np.ndarray, generated: Sequence[np.ndarray],
               centers: np.ndarray | None = None, radius: float | None = None,
               titles: Sequence[str] | None = None,
               suptitle: str | None = None) -> Figure:
    """Saves real vs generated points as a PNG, one panel per generated set
    (and returns the figure).

    Args:
      path: the PNG to write.
      real: real points ``[N, 2]``, drawn in grey in every panel.
      generated: one ``[M, 2]`` array per panel (e.g. per seed).
      centers: the mixture's modes ``[K, 2]``, marked with crosses, or with
        circles of ``radius`` when it is given (e.g. the high-quality zone of
        :func:`jaxgan.metrics.mode_coverage`).
      radius: see ``centers``.
      titles: one title per panel.
      suptitle: a title over all panels.
    """
    num = len(generated)
    cols = min(num, 5)
    rows = math.ceil(num / cols)
    legend_inches = 0.4  # the shared legend's strip under the panels
    height = 3.2 * rows + (0.4 if suptitle else 0) + legend_inches
    fig = Figure(figsize=(3.2 * cols, height), dpi=100)
    lo = np.min(real, axis=0)
    hi = np.max(real, axis=0)
    margin = 0.25 * np.max(hi - lo)
    for i, points in enumerate(generated):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.75", label="real", rasterized=True)
        ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", alpha=0.6,
                   label="generated", rasterized=True)
        if centers is not None and radius is not None:
            for k, center in enumerate(centers):
                ax.add_patch(Circle(tuple(center), radius, fill=False, color="tab:red",
                                    linewidth=0.8, label=f"high-quality zone (r={radius:g} "
                                    "around a mode)" if k == 0 else None))
        elif centers is not None:
            ax.scatter(centers[:, 0], centers[:, 1], s=30, c="tab:red", marker="x",
                       label="modes")
        ax.set_xlim(lo[0] - margin, hi[0] + margin)
        ax.set_ylim(lo[1] - margin, hi[1] + margin)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=8)
        ax.set_xlabel("x1", fontsize=9)
        ax.set_ylabel("x2", fontsize=9)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    # One legend for every panel, below them, in type people can read.
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9,
               markerscale=4, frameon=False)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))
    fig.savefig(path)
    return fig


def tile_images(images: np.ndarray, columns: int = 8, gap: int = 1) -> np.ndarray:
    """Tiles ``[N, H, W, C]`` images in [-1, 1] into one ``uint8 [rows*H, columns*W, C]``.

    Images are separated by ``gap`` white pixels; a short last row is padded
    with white too.
    """
    num, height, width, channels = images.shape
    rows = math.ceil(num / columns)
    pixels = np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255)
    canvas = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, channels),
                     255, np.uint8)
    for i, image in enumerate(pixels.astype(np.uint8)):
        top, left = (i // columns) * (height + gap), (i % columns) * (width + gap)
        canvas[top:top + height, left:left + width] = image
    return canvas


def _show(ax, pixels: np.ndarray) -> None:
    """Draws ``uint8 [H, W, C]`` pixels: one channel in grey, three in colour."""
    if pixels.shape[-1] == 1:
        ax.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(pixels, interpolation="nearest")


def image_grids(path: str, panels: Sequence[np.ndarray], titles: Sequence[str] | None = None,
                suptitle: str | None = None, columns: int = 8) -> None:
    """Saves one tiled grid of images per panel (e.g. per seed) as a PNG.

    Args:
      path: the PNG to write.
      panels: ``[N, H, W, C]`` images in [-1, 1] per panel; C is 1 (shown in
        grey) or 3.
      titles: one title per panel.
      suptitle: a title over all panels.
      columns: images per grid row.
    """
    cols = min(len(panels), 4)
    rows = math.ceil(len(panels) / cols)
    tiles = [tile_images(images, columns) for images in panels]
    aspect = tiles[0].shape[0] / tiles[0].shape[1]
    fig = Figure(figsize=(4 * cols, 4 * aspect * rows + 0.3 * rows + (0.4 if suptitle else 0)),
                 dpi=120)
    for i, tile in enumerate(tiles):
        ax = fig.add_subplot(rows, cols, i + 1)
        _show(ax, tile)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(path)


def image_rows(path: str, rows: np.ndarray, row_labels: Sequence[str],
               column_labels: Sequence[str] | None = None, title: str | None = None) -> None:
    """Saves a table of images as a PNG: one labelled row per sequence.

    Args:
      path: the PNG to write.
      rows: ``[R, F, H, W, C]`` images in [-1, 1]: R sequences of F frames
        (an editing path, an interpolation).
      row_labels: R labels, shown left of the rows.
      column_labels: F labels, shown above the first row.
      title: a title over the table.
    """
    num_rows, num_cols = rows.shape[:2]
    fig = Figure(figsize=(0.9 * num_cols + 1.2, 0.9 * num_rows + (0.6 if title else 0.2)),
                 dpi=120)
    for r in range(num_rows):
        for c in range(num_cols):
            ax = fig.add_subplot(num_rows, num_cols, r * num_cols + c + 1)
            _show(ax, tile_images(rows[r, c][None], columns=1))
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=8, rotation=0, ha="right", va="center")
            if r == 0 and column_labels is not None:
                ax.set_title(column_labels[c], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


# Evaluation metrics drawn over training, in order of preference, with the
# words a reader needs (metrics.jsonl keeps the short names). Where modes are
# scored (a mixture, Stacked MNIST), their coverage and KL come first: that is
# what those benchmarks measure.
METRIC_LABELS = {
    "modes_covered": "modes covered",
    "reverse_kl": "reverse KL of the mode histogram to uniform",
    "frechet_distance": "Frechet distance (classifier features; lower is better)",
    "confident_fraction": "share of samples classified with p >= 0.9",
    "label_accuracy": "share of samples showing the class asked for",
    "classes_covered": "classes covered",
    "high_quality_fraction": "high-quality share (points within 3 std of a mode)",
    "class_kl": "KL of the class histogram to the data's",
}
MAX_METRIC_PANELS = 3
# The health signals of jaxgan.health, drawn together in one panel.
HEALTH_LABELS = {
    "d_auc": "real-fake pairs D ranks right (0.5: cannot tell)",
    "g_sample_spread": "samples' spread across z / data's",
}


def plot_losses(metrics_path: str, path: str, title: str | None = None,
                floor: dict | None = None) -> Figure | None:
    """Draws a run's curves from its ``metrics.jsonl`` (unreadable lines
    skipped): the two losses, the health signals of :mod:`jaxgan.health`
    where logged, and beside them up to three evaluation metrics
    of :data:`METRIC_LABELS` over training, each with its real-data floor
    (``floor["real_" + name]``, e.g. from ``eval.json``) as a dashed line.
    Draws nothing when the log has no losses; returns the figure it saved.
    """
    from jaxgan.run_io import read_records

    records = read_records(metrics_path)[0]
    losses = [r for r in records if "d_loss" in r and "g_loss" in r]
    if not losses:
        return None
    metrics = [name for name in METRIC_LABELS if any(name in r for r in records)]
    metrics = metrics[:MAX_METRIC_PANELS]
    health = [name for name in HEALTH_LABELS if any(name in r for r in losses)]
    panels = 1 + bool(health) + len(metrics)
    fig = Figure(figsize=(5 * panels, 3.8), dpi=100)
    ax = fig.add_subplot(1, panels, 1)
    steps = [r["step"] for r in losses]
    ax.plot(steps, [r["d_loss"] for r in losses], label="discriminator")
    ax.plot(steps, [r["g_loss"] for r in losses], label="generator")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("losses", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    if health:  # jaxgan.health's signals, on one 0..1 scale
        ax = fig.add_subplot(1, panels, 2)
        for name in health:
            shown = [r for r in losses if name in r]
            ax.plot([r["step"] for r in shown], [r[name] for r in shown],
                    label=HEALTH_LABELS[name])
        ax.axhline(0.5, color="0.6", linestyle=":", linewidth=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("share")
        ax.set_title("training health", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for i, name in enumerate(metrics):
        ax = fig.add_subplot(1, panels, i + 2 + bool(health))
        evaluated = [r for r in records if name in r]
        ax.plot([r["step"] for r in evaluated], [r[name] for r in evaluated], "o-",
                color="tab:green", label="generated (mean over seeds)")
        real = (floor or {}).get(f"real_{name}")
        if real is not None:
            ax.axhline(real, color="0.4", linestyle="--", label="held-out real data")
        ax.set_xlabel("step")
        ax.set_ylabel(name)
        ax.set_title(METRIC_LABELS[name], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    return fig


__all__ = ["HEALTH_LABELS", "METRIC_LABELS", "image_grids", "image_rows", "plot_losses",
           "scatter_2d", "tile_images"]
