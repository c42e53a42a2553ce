"""Data sources.

A *device source* can be sampled inside the jitted step. It offers
``example_shape`` and ``sample_real(key, step, data, num)``, a pure sampler
that :func:`jaxgan.step.make_sampling_step` calls with the step's data key,
the step index and ``data``: arrays kept on the device, or ``None`` for
procedural data such as the Gaussian mixtures.

Image datasets (:class:`ArraySource`) come from :func:`digits` (bundled),
:mod:`jaxgan.data.tfds_sources` (tensorflow-datasets, imported only there) and
:mod:`jaxgan.data.images` (a user's ``.npz`` file or image folder).
"""

from jaxgan.data.arrays import ArraySource, digits
from jaxgan.data.mixtures import MIXTURES, Mixture, grid, ring

__all__ = ["MIXTURES", "ArraySource", "Mixture", "digits", "grid", "ring"]
