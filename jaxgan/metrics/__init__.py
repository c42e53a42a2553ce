"""Evaluation metrics for generated samples."""

from jaxgan.metrics.coverage import mode_coverage

__all__ = ["mode_coverage"]
