"""Where the fit loop's arrays live, and the compiled program that trains on them.

The loop trains ``num_seeds`` states stacked on a leading axis, ``steps``
train steps per call, with the data either resident on the device (the
source's ``device_data``, sampled inside the step) or streamed from the host
(:class:`jaxgan.data.arrays.HostStream`). :class:`Layout` holds what differs
between ``parallel`` modes (``none``, sharded ``jit``, ``pmap``; see
:mod:`jaxgan.parallel`): how a state, a dataset and a streamed batch are put
on the devices, and how the step is wrapped. :func:`over_seeds` says how the
seeds share the program.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxgan import parallel
from jaxgan.step import make_multi_step, make_sampling_step

# How the seeds of one run share a program: vmap batches them (one wide
# computation: what accelerators want); map runs them one after another
# inside the program (lax.map). XLA:CPU turns vmapped convolutions into
# grouped convolutions, which it runs about 3x slower than the seeds one by
# one, so "auto" maps convolutional models on the CPU and vmaps otherwise.
SEED_BATCHING = ("auto", "vmap", "map")
DATA_PLACEMENTS = ("auto", "device", "host")
# With data_placement="auto" the dataset goes to the device while it needs at
# most this share of the device's memory (the rest is for the model and its
# activations).
DEVICE_DATA_SHARE = 0.25


def resolve_seed_batching(how: str, convolutional: bool) -> str:
    """``vmap`` or ``map`` for a ``seed_batching`` setting (see ``SEED_BATCHING``)."""
    if how == "auto":
        return "map" if convolutional and jax.default_backend() == "cpu" else "vmap"
    return how


def over_seeds(fn, how: str):
    """``fn(state, data)`` over states stacked on a leading seed axis, the
    data shared: ``jax.vmap`` or ``jax.lax.map`` (see ``SEED_BATCHING``)."""
    if how == "vmap":
        return jax.vmap(fn, in_axes=(0, None))

    @functools.wraps(fn)  # keeps fn's name for jit's compile logs and profiles
    def one_seed_after_another(states, data):
        return jax.lax.map(lambda state: fn(state, data), states)

    return one_seed_after_another


def place_on_device(placement: str, nbytes: int) -> bool:
    """Whether a dataset of ``nbytes`` is kept on the device (else streamed
    from the host), for ``data_placement`` ``placement``."""
    if placement != "auto":
        return placement == "device"
    stats = jax.local_devices()[0].memory_stats() or {}
    limit = stats.get("bytes_limit")
    # Backends that report no limit (the CPU) share the host's memory: keep it.
    return limit is None or nbytes <= DEVICE_DATA_SHARE * limit


class Layout:
    """Where the loop's arrays live for one ``parallel`` mode, and the program
    that trains on them.

    Args:
      mode: ``none``, ``jit`` or ``pmap``.
      n_disc: the recipe's discriminator updates per step (a streamed batch
        holds that many real batches per step).
      seeds: ``vmap`` or ``map`` (see :func:`over_seeds`).
    """

    def __init__(self, mode: str = "none", n_disc: int = 1, seeds: str = "vmap"):
        self.mode, self.n_disc, self.seeds = mode, n_disc, seeds
        self.num_devices = 1 if mode == "none" else jax.device_count()
        self.mesh = parallel.data_mesh() if mode == "jit" else None

    def put_state(self, tree):
        """A state (or a device-resident dataset) where every device holds it."""
        if tree is None or self.mode == "none":
            return tree
        if self.mode == "pmap":
            return parallel.replicate(tree)
        return parallel.put_global(tree, parallel.replicated(self.mesh))

    def one_copy(self, tree):
        """The state (or metrics) once, on this process's first device."""
        return parallel.first_replica(tree, self.mode)

    def stream_spec(self, shapes: dict[str, tuple]) -> dict[str, Any]:
        """Stand-ins, to compile for, for the arrays that :meth:`put_stream`
        makes of one call's host batches ``{name: (shape [steps, examples, ...],
        dtype)}``."""
        specs = {}
        for name, (shape, dtype) in shapes.items():
            if self.mode == "pmap":
                # Zeros rather than shapes: a multi-process pmap lowers only arrays.
                local = len(jax.local_devices())
                specs[name] = parallel.put_per_device(np.zeros(
                    (local, shape[0], shape[1] // self.num_devices, *shape[2:]), dtype))
            else:
                sharding = parallel.batch_sharding(self.mesh) if self.mode == "jit" else None
                specs[name] = jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)
        return specs

    def put_stream(self, host: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """One call's host batches ``[steps, n_disc * batch_size, ...]`` -> the devices."""
        if self.mode == "jit":
            return parallel.put_global(host, parallel.batch_sharding(self.mesh))
        if self.mode == "none":
            return jax.device_put(host)

        def per_device(x):  # pmap: device d gets its rows of every update's batch
            steps, examples = x.shape[:2]
            updates = x.reshape(steps, self.n_disc, examples // self.n_disc, *x.shape[2:])
            split = parallel.split_per_device(updates, self.num_devices, axis=2)
            return split.reshape(self.num_devices, steps, examples // self.num_devices,
                                 *x.shape[2:])

        return parallel.put_per_device(parallel.local_slices(jax.tree.map(per_device, host)))

    def program(self, recipe, sampler: Callable, batch_size: int, steps: int, streamed: bool):
        """``steps`` steps of every seed in one call, not yet compiled.

        ``recipe.make_train_step(axis_name)`` builds the one-device train step
        (a :class:`jaxgan.loop.Trainable`'s; :func:`jaxgan.step.make_train_step`
        for a :class:`jaxgan.GANRecipe`); only ``pmap`` passes it an axis name.
        """
        if self.mode == "pmap":
            step = make_sampling_step(recipe.make_train_step(parallel.AXIS), sampler, batch_size,
                                      self.n_disc, axis_name=parallel.AXIS,
                                      data_is_local=streamed)
            return jax.pmap(over_seeds(make_multi_step(step, steps, stacked=streamed),
                                       self.seeds), parallel.AXIS, donate_argnums=0,
                            devices=jax.devices())  # the order parallel's layouts use
        sharding = parallel.batch_sharding(self.mesh) if self.mode == "jit" else None
        step = make_sampling_step(recipe.make_train_step(None), sampler, batch_size, self.n_disc,
                                  batch_sharding=sharding)
        many = over_seeds(make_multi_step(step, steps, stacked=streamed), self.seeds)
        if self.mode == "none":
            return jax.jit(many, donate_argnums=0)
        replicated = parallel.replicated(self.mesh)
        return jax.jit(many, in_shardings=(replicated, sharding if streamed else replicated),
                       out_shardings=replicated, donate_argnums=0)


__all__ = ["DATA_PLACEMENTS", "DEVICE_DATA_SHARE", "SEED_BATCHING", "Layout", "over_seeds",
           "place_on_device", "resolve_seed_batching"]
