"""Data sources.

A source keeps the :class:`Source` protocol (:mod:`jaxgan.data.source`): an
``example_shape``, ``num_classes``, the arrays to put on the device, and pure
samplers ``sample_real(key, step, data, num)`` that
:func:`jaxgan.step.make_sampling_step` calls inside the jitted step with the
step's data key, the step index and ``data`` (``None`` for procedural data
such as the Gaussian mixtures). :func:`load_dataset` resolves a dataset's
name (:mod:`jaxgan.data.registry`).

Image datasets (:class:`ArraySource`) come from :func:`digits` (bundled),
:mod:`jaxgan.data.tfds_sources` (tensorflow-datasets, imported only there) and
:mod:`jaxgan.data.images` (a user's ``.npz`` file or image folder);
:class:`StackedSource` stacks three digits per example (Stacked MNIST).
Image-to-image translation reads :class:`jaxgan.data.pairs.PairedSource`
(Pix2Pix) and :class:`UnpairedSource` (two domains, CycleGAN).
"""

from jaxgan.data.arrays import ArraySource, digits
from jaxgan.data.images import DataError
from jaxgan.data.mixtures import MIXTURES, Mixture, grid, ring
from jaxgan.data.registry import load_dataset
from jaxgan.data.source import HostArrays, ModeMixture, Source, check_source
from jaxgan.data.stacked import StackedSource
from jaxgan.data.unpaired import UnpairedSource

__all__ = ["MIXTURES", "ArraySource", "DataError", "HostArrays", "Mixture", "ModeMixture",
           "Source", "StackedSource", "UnpairedSource", "check_source", "digits", "grid",
           "load_dataset", "ring"]
