"""Clusters of unlabelled images, for a GAN conditioned on its own data's structure.

A self-conditioned GAN (Liu et al., "Diverse Image Generation via
Self-Conditioned GANs", CVPR 2020) is unconditional: it reads no labels. It
partitions the training images into ``k`` clusters and trains a
class-conditional GAN on the cluster indices; to draw a sample it picks a
cluster in proportion to its share of the data, then a latent. The
generator no longer has to carve one Gaussian into every mode of the data on
its own, which is where an unconditional GAN on digits blends one class into
another.

:func:`cluster_images` clusters once, before training, with scikit-learn
(the paper re-clusters the discriminator's features as it trains; a fixed
partition is the simplest form). Two ``features`` are offered:

- ``pixels``: k-means on the pixels. On digits a pixel cluster is mostly one
  class (purity 0.80 at k=10 on scikit-learn's digits, 0.76 at k=30 on
  ``mnist5k``).
- ``spectral``: k-means on a spectral embedding of the images' nearest-
  neighbour graph (PCA to ``SPECTRAL_PCA`` dimensions, then a Laplacian
  eigenmap of ``k`` dimensions over ``SPECTRAL_NEIGHBOURS`` neighbours).
  Two images of a class are rarely the nearest in pixels, but a chain of
  near neighbours joins them, and the embedding follows the chains: purity
  0.89 at k=30 on ``mnist5k``, from 0.76, in about 2 s on 2 CPU cores.
  How much purer clusters buy is in experiments/results/README.md.

:func:`with_clusters` gives an :class:`~jaxgan.data.arrays.ArraySource` the
clusters as the ``conditions`` that the conditional samplers read, leaving its
labels to the scoring classifier.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np

from jaxgan.data.arrays import ArraySource

# k-means restarts, and the iterations of each: the best of the restarts is kept.
KMEANS_RESTARTS = 4
KMEANS_ITERATIONS = 300
# What ``features="spectral"`` embeds: PCA components first (drops pixel
# noise and makes the neighbour search cheap), then a graph of each image's
# nearest neighbours. Chosen on mnist5k at k=30: 10 neighbours and a
# k-dimensional embedding gave purity 0.89-0.90 at 28x28 and 32x32; 5 to 15
# neighbours, or 10 dimensions, gave 0.83-0.89.
SPECTRAL_PCA = 50
SPECTRAL_NEIGHBOURS = 10
# What cluster_images can cluster on, and how a log line says it.
CLUSTER_FEATURES = MappingProxyType({"pixels": "their pixels",
                                     "spectral": "a spectral embedding of their neighbours"})


def cluster_images(images: np.ndarray, k: int, seed: int = 0,
                   features: str = "pixels") -> np.ndarray:
    """``[N]`` int32 cluster indices ``0..k-1`` of ``images [N, ...]`` by k-means
    on their pixels (scaled to [0, 1] when ``uint8``), or with
    ``features="spectral"`` on a spectral embedding of them (module docstring).

    The same images, ``k``, ``seed`` and ``features`` give the same clusters
    on the same kind of machine: scikit-learn runs on one thread (parallel
    sums would round in a thread-count-dependent order), so a resumed run
    conditions on the clusters it started with. Clusters are numbered by
    decreasing size, ties by their smallest member index.

    Raises:
      ValueError: ``k`` is not an integer in ``2..N``, ``features`` is not
        one of ``CLUSTER_FEATURES``, or is ``spectral`` for
        ``2 * SPECTRAL_NEIGHBOURS`` images or fewer.
    """
    # scikit-learn is imported only when clustering.
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.manifold import SpectralEmbedding
    from threadpoolctl import threadpool_limits

    num = images.shape[0]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= k <= num:
        raise ValueError(f"k must be an integer from 2 to the {num} images, got {k!r}")
    if features not in CLUSTER_FEATURES:
        raise ValueError(f"cluster features must be one of {', '.join(CLUSTER_FEATURES)}, got "
                         f"{features!r}")
    if features == "spectral" and num <= 2 * SPECTRAL_NEIGHBOURS:
        # A neighbour graph of so few images joins nearly every pair: its
        # embedding has no structure to follow.
        raise ValueError(f"spectral clusters need more than {2 * SPECTRAL_NEIGHBOURS} images, "
                         f"got {num}; cluster the pixels (features='pixels')")
    pixels = images.reshape(num, -1).astype(np.float64)
    if images.dtype == np.uint8:
        pixels /= 255.0
    with threadpool_limits(1):
        if features == "spectral":
            # The embedding needs fewer dimensions than images.
            reduced = PCA(min(SPECTRAL_PCA, *pixels.shape), random_state=seed
                          ).fit_transform(pixels)
            pixels = SpectralEmbedding(
                min(k, num - 2), affinity="nearest_neighbors",
                n_neighbors=SPECTRAL_NEIGHBOURS, random_state=seed).fit_transform(reduced)
        found = KMeans(k, n_init=KMEANS_RESTARTS, max_iter=KMEANS_ITERATIONS,
                       random_state=seed).fit_predict(pixels)
    # A canonical numbering: the largest cluster first, so that equal
    # partitions get equal indices whatever k-means' own order.
    sizes = np.bincount(found, minlength=k)
    first = np.full(k, num)
    np.minimum.at(first, found, np.arange(num))
    order = np.lexsort((first, -sizes))
    rank = np.empty(k, np.int64)
    rank[order] = np.arange(k)
    return rank[found].astype(np.int32)


def with_clusters(source: ArraySource, k: int, seed: int = 0,
                  features: str = "pixels") -> ArraySource:
    """``source`` conditioned on ``k`` clusters of its images
    (:func:`cluster_images` on ``features``) instead of its labels, which it keeps.

    Raises:
      ValueError: ``k`` or ``features`` is out of range, or a cluster is empty.
    """
    conditions = cluster_images(source.images, k, seed, features)
    if np.bincount(conditions, minlength=k).min() == 0:
        raise ValueError(f"k-means left a cluster of {source.name} empty at k={k} (more "
                         "clusters than distinct images); lower the number of clusters")
    return dataclasses.replace(source, conditions=conditions)


def condition_frequencies(conditions: np.ndarray, k: int, channels: int = 1
                          ) -> tuple[float, ...]:
    """Each condition's share of the data, ``k`` floats summing to 1: the
    prior a self-conditioned generator draws them from. With ``channels`` >
    1, the ``k ** channels`` shares of a stacked dataset's triples of
    clusters, each channel drawn independently (the products of the
    channels' shares, first channel the most significant digit, as
    :func:`jaxgan.data.stacked.mode_of` numbers them)."""
    counts = np.bincount(np.asarray(conditions), minlength=k).astype(np.float64)
    shares = counts / counts.sum()
    joint = shares
    for _ in range(channels - 1):
        joint = np.multiply.outer(joint, shares).ravel()
    return tuple(float(c) for c in joint / joint.sum())


__all__ = ["CLUSTER_FEATURES", "KMEANS_ITERATIONS", "KMEANS_RESTARTS", "SPECTRAL_NEIGHBOURS",
           "SPECTRAL_PCA", "cluster_images", "condition_frequencies", "with_clusters"]
