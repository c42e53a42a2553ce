"""Metrics of image-to-image translation on held-out pairs.

The translated outputs are compared with their targets pixel by pixel here;
the evaluation adds, where the pairs have labels, how often the scoring
classifier (trained on the target domain) reads the input's class in the
output, and the distribution metrics of the outputs against real targets.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Images lie in [-1, 1]: the peak-to-peak range that PSNR is relative to.
PEAK_TO_PEAK = 2.0


def translation_metrics(outputs: jax.Array, targets: jax.Array) -> dict[str, jax.Array]:
    """Pixel agreement of ``outputs`` with ``targets`` (both ``[N, ...]`` in [-1, 1]).

    Returns:
      ``l1``: the mean absolute difference over every pixel (Pix2Pix's
      reconstruction loss); ``psnr``: the peak signal-to-noise ratio in
      decibels, ``10 log10(range^2 / mse)`` per example with the range 2,
      averaged over examples (an exact output is capped at 100 dB).
    """
    difference = (outputs.astype(jnp.float32) - targets.astype(jnp.float32)).reshape(
        outputs.shape[0], -1)
    mse = jnp.mean(jnp.square(difference), axis=1)
    psnr = 10.0 * jnp.log10(PEAK_TO_PEAK ** 2 / jnp.maximum(mse, PEAK_TO_PEAK ** 2 * 1e-10))
    return {"l1": jnp.mean(jnp.abs(difference)), "psnr": jnp.mean(psnr)}


__all__ = ["PEAK_TO_PEAK", "translation_metrics"]
