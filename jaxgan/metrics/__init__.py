"""Evaluation metrics for generated samples.

- :mod:`~jaxgan.metrics.coverage`: mode coverage of samples from a known mixture.
- :mod:`~jaxgan.metrics.classifier`: a classifier trained on the real data, its
  class scores of samples, and its features.
- :mod:`~jaxgan.metrics.frechet`, :mod:`~jaxgan.metrics.kid`,
  :mod:`~jaxgan.metrics.precision_recall`: distances between real and
  generated feature sets, gathered by :mod:`~jaxgan.metrics.distribution`.
"""

from jaxgan.metrics.coverage import mode_coverage
from jaxgan.metrics.distribution import distribution_metrics
from jaxgan.metrics.frechet import frechet_distance, frechet_distance_from_features, gaussian_fit
from jaxgan.metrics.kid import kernel_inception_distance, mmd2_unbiased
from jaxgan.metrics.precision_recall import precision_recall

__all__ = ["distribution_metrics", "frechet_distance", "frechet_distance_from_features",
           "gaussian_fit", "kernel_inception_distance", "mmd2_unbiased", "mode_coverage",
           "precision_recall"]
