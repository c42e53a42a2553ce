"""Distances between real and generated data, measured on features.

:func:`distribution_metrics` gathers the feature-space metrics that the fit
loop reports, for one set of generated features against one set of real ones:

- ``frechet_distance``: between Gaussian fits of the two sets
  (:mod:`jaxgan.metrics.frechet`); biased upwards at small sample sizes, so
  compare numbers measured with the same number of samples.
- ``kid`` and ``kid_subset_stderr``: the unbiased kernel distance and its
  standard error over random subsets (:mod:`jaxgan.metrics.kid`); about 0
  for two samples of one distribution, whatever their size.
- ``precision`` and ``recall``: the share of generated samples that land on
  the real data's k-nearest-neighbour manifold, and of real samples on the
  generated one (:mod:`jaxgan.metrics.precision_recall`).

The features come from any ``images -> [N, D]`` function: by default the
penultimate layer of a classifier trained on the real data
(:meth:`jaxgan.metrics.classifier.FittedClassifier.features`); a user with
Inception weights can pass their network instead.
"""

from __future__ import annotations

import jax

from jaxgan.metrics.frechet import frechet_distance_from_features
from jaxgan.metrics.kid import kernel_inception_distance
from jaxgan.metrics.precision_recall import precision_recall

# KID's subsets: this many, each of half the smaller set (at most 1,000, the
# size Binkowski et al. use), so that subsets differ and their spread means
# something.
KID_SUBSETS = 50
KID_MAX_SUBSET = 1000
# Neighbours that set a sample's manifold radius (Kynkaanniemi et al. use 3).
PR_NEIGHBOURS = 3


def distribution_metrics(real: jax.Array, fake: jax.Array, key: jax.Array,
                         neighbours: int = PR_NEIGHBOURS) -> dict[str, jax.Array]:
    """The metrics of the module docstring for features ``real [N, D]`` and
    ``fake [M, D]``; ``key`` draws KID's subsets. Pure: it jits and vmaps."""
    subset = min(KID_MAX_SUBSET, min(real.shape[0], fake.shape[0]) // 2)
    kid, kid_stderr = kernel_inception_distance(real, fake, key, num_subsets=KID_SUBSETS,
                                                subset_size=max(subset, 2))
    pr = precision_recall(real, fake, k=neighbours)
    return {"frechet_distance": frechet_distance_from_features(real, fake),
            "kid": kid, "kid_subset_stderr": kid_stderr,
            "precision": pr["precision"], "recall": pr["recall"]}


__all__ = ["KID_MAX_SUBSET", "KID_SUBSETS", "PR_NEIGHBOURS", "distribution_metrics"]
