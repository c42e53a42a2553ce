"""Data sources.

A *device source* can be sampled inside the jitted step. It offers
``example_shape``, ``sample_real(key, step, data, num)`` and
``device_data()``, the arrays to keep on the device (``None`` for procedural
data such as the Gaussian mixtures).
"""

from jaxgan.data.mixtures import MIXTURES, Mixture, grid, ring

__all__ = ["MIXTURES", "Mixture", "grid", "ring"]
