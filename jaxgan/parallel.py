"""Data parallelism: one train step over many devices, and over many hosts.

Two ways to spread the step, with the same result: both compute the step of
one device on the whole global batch (see :mod:`jaxgan.step`), so a run gives
the same parameters (to float rounding) on 1, 4 or 8 devices, and may resume
on another number of devices than it was saved on.

- ``"jit"`` (the default for new code): ``jax.jit`` over a one-axis
  :func:`data_mesh` of every device. The state is replicated
  (:func:`replicated`), the batch is sharded along its batch axis
  (:func:`batch_sharding`), and XLA partitions the step and inserts the
  all-reduces. The step needs no axis name.
- ``"pmap"``: ``jax.pmap`` with ``axis_name=AXIS``. The state carries a
  leading device axis (:func:`replicate`), each device draws the global
  batch's noise and keeps its rows, and the step ``pmean``-s gradients,
  BatchNorm statistics and metrics.

Several hosts: call :func:`initialize` in every process before any other JAX
call; then ``jax.devices()`` lists every process's devices and both ways run
one program over all of them. Each process feeds only its own devices
(:func:`put_global` takes, from the full host value, the rows those devices
hold).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

PyTree = Any

AXIS = "data"
MODES = ("none", "pmap", "jit")


def check_batch_size(batch_size: int, num_devices: int) -> None:
    """Raises ``ValueError`` unless ``batch_size`` splits evenly over the devices."""
    if batch_size % num_devices:
        nearest = num_devices * max(1, round(batch_size / num_devices))
        raise ValueError(f"batch_size={batch_size} does not split evenly over {num_devices} "
                         f"devices; use a multiple of {num_devices} (e.g. {nearest})")


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh (axis :data:`AXIS`) over ``devices`` (all of them by default)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (the state, a device-resident dataset)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, batch_axis: int = 1) -> NamedSharding:
    """Each device holds its rows of axis ``batch_axis`` (1 for batches
    ``[n_disc, batch_size, ...]`` and for streamed ``[steps, examples, ...]``)."""
    return NamedSharding(mesh, PartitionSpec(*(None,) * batch_axis, AXIS))


def put_global(tree: PyTree, sharding: NamedSharding) -> PyTree:
    """Host arrays -> global arrays with ``sharding``.

    Every process passes the same full value; each copies only the pieces its
    own devices hold, so this works with one process or many.
    """
    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)


def put_per_device(stacked: PyTree) -> PyTree:
    """Host arrays ``[local devices, ...]`` -> pmap's layout: slice ``i`` on
    this process's device ``i``.

    The result is one global array ``[jax.device_count(), ...]`` over every
    process's devices (each process providing its own slices), which is what
    a compiled pmap takes.
    """
    devices, local = jax.devices(), jax.local_devices()
    sharding = batch_sharding(data_mesh(devices), batch_axis=0)

    def put(x):
        x = np.asarray(x)
        if x.shape[0] != len(local):
            raise ValueError(f"got {x.shape[0]} slices for {len(local)} local devices")
        return jax.make_array_from_single_device_arrays(
            (len(devices), *x.shape[1:]), sharding,
            [jax.device_put(x[i:i + 1], d) for i, d in enumerate(local)])

    return jax.tree.map(put, stacked)


def replicate(tree: PyTree) -> PyTree:
    """One copy per device, stacked on a new leading axis: pmap's layout."""
    count = jax.local_device_count()
    return put_per_device(jax.tree.map(
        lambda x: np.broadcast_to(np.asarray(x), (count, *np.shape(x))), tree))


def split_per_device(tree: PyTree, num_devices: int, axis: int) -> PyTree:
    """Host batches -> one slice per device: axis ``axis`` of ``n * rows``
    becomes ``rows``, and the ``n`` slices are stacked on a new leading axis,
    slice ``d`` holding rows ``[d * rows, (d + 1) * rows)`` (as ``jax.jit``
    with :func:`batch_sharding` would place them)."""
    def split(x):
        x = np.asarray(x)
        parts = x.reshape(*x.shape[:axis], num_devices, x.shape[axis] // num_devices,
                          *x.shape[axis + 1:])
        return np.moveaxis(parts, axis, 0)

    return jax.tree.map(split, tree)


def local_slices(tree: PyTree) -> PyTree:
    """Of slices for every device (``[jax.device_count(), ...]``, in the order
    of ``jax.devices()``, which is pmap's), the ones for this process's devices."""
    positions = [jax.devices().index(d) for d in jax.local_devices()]
    return jax.tree.map(lambda x: x[positions], tree)


def first_replica(tree: PyTree, mode: str) -> PyTree:
    """One whole copy of a replicated tree, on this process's first device.

    ``mode`` says how ``tree`` is laid out: ``"pmap"`` (a leading device
    axis), ``"jit"`` (replicated global arrays) or ``"none"`` (returned as it
    is). Works with many processes, where no process can address every copy.
    """
    if mode == "none":
        return tree
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")

    def first(x):
        if not isinstance(x, jax.Array):
            return x[0] if mode == "pmap" else x
        shard = min(x.addressable_shards, key=lambda s: s.device.id).data
        return shard[0] if mode == "pmap" else shard

    return jax.tree.map(first, tree)


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> bool:
    """Joins a multi-process run; returns whether there is one.

    The arguments default to the environment variables ``JAX_COORDINATOR_ADDRESS``
    (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``.
    With none of them set this is a single-process run, and nothing is done.
    Call it before any other JAX call.
    """
    coordinator_address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and os.environ.get("JAX_NUM_PROCESSES"):
        num_processes = int(os.environ["JAX_NUM_PROCESSES"])
    if process_id is None and os.environ.get("JAX_PROCESS_ID"):
        process_id = int(os.environ["JAX_PROCESS_ID"])
    if coordinator_address is None and num_processes in (None, 1):
        return False
    if None in (coordinator_address, num_processes, process_id):
        raise ValueError("a multi-process run needs the coordinator address, the number of "
                         "processes and this process's id; set JAX_COORDINATOR_ADDRESS, "
                         "JAX_NUM_PROCESSES and JAX_PROCESS_ID (or pass them)")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process id {process_id} is not in [0, {num_processes})")
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
    return True


def any_process(flag: bool) -> bool:
    """Whether ``flag`` is set in any process. Every process must call this
    at the same point of its program (it is a collective)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.int32(flag))))


def is_primary() -> bool:
    """Whether this process writes logs, samples and other files (process 0)."""
    return jax.process_index() == 0


# The longest refusal that :func:`primary_verdict` carries, in UTF-8 bytes.
VERDICT_BYTES = 1024


def primary_verdict(message: str | None) -> str | None:
    """Process 0's ``message`` (a refusal's one line, or ``None`` to go on),
    as every process receives it; ``message`` is ignored in the others.

    For checks that only process 0 makes, because only it writes files (the
    workdir's lock, its outputs): a refusal there must end every process of
    the run, else the others go on to load data and compile, and fail at
    their next collective with a timeout's traceback instead of the reason.
    A collective: every process calls it at the same point. Messages longer
    than :data:`VERDICT_BYTES` are cut.
    """
    if jax.process_count() == 1:
        return message
    from jax.experimental import multihost_utils

    encoded = np.zeros(VERDICT_BYTES, np.uint8)
    if message is not None:
        text = (message or "refused").encode()[:VERDICT_BYTES]
        encoded[:len(text)] = np.frombuffer(text, np.uint8)
    received = np.asarray(multihost_utils.broadcast_one_to_all(encoded))
    text = received.tobytes().rstrip(b"\0").decode(errors="replace")
    return text or None


__all__ = ["AXIS", "MODES", "VERDICT_BYTES", "any_process", "batch_sharding", "check_batch_size",
           "data_mesh", "first_replica", "initialize", "is_primary", "local_slices",
           "primary_verdict", "put_global", "put_per_device", "replicate", "replicated",
           "split_per_device"]
