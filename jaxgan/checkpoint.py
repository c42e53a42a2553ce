"""Checkpoints: the one module that talks to orbax.

A checkpoint holds two items: ``state``, the whole training state pytree
(every seed's networks, BatchNorm statistics, optimizer states, step and key),
and ``config``, the resolved config as JSON. Because each step's randomness and
data are pure functions of ``(key, step)``, restoring the state is enough to
continue the run exactly.

:func:`save_tree` and :func:`restore_tree` keep a single pytree with a JSON
description beside it, such as a trained classifier in its cache.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

PyTree = Any


class CheckpointMismatchError(ValueError):
    """The checkpoint on disk does not fit the state the config builds."""


class CheckpointUnreadableError(RuntimeError):
    """Checkpoints exist, but none of them reads back."""


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (no space, a path that is not a
    directory, a read-only disk); the checkpoints already written are intact."""


def _first_sentence(error: Exception) -> str:
    """``Type: first line``; tensorstore appends pages of detail after a ". See"."""
    lines = str(error).strip().splitlines() or [""]
    return f"{type(error).__name__}: {lines[0].split('. See ')[0][:200]}"


class Checkpointer:
    """Saves and restores training states under ``directory``.

    Saving is asynchronous: :meth:`save` copies the state to host memory and
    returns while orbax writes in the background. Call :meth:`close` at the end
    of a run to wait for the last write.
    """

    def __init__(self, directory: str, keep: int):
        self.directory = os.path.abspath(directory)
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True,
                # The step's directory is made in save(), in the caller's
                # thread: a path that cannot hold it fails there, at once.
                # Made in the background, the failure left orbax's threads
                # waiting for a signal that never came, and the process
                # could not exit.
                async_options=ocp.AsyncOptions(create_directories_asynchronously=False)),
            item_handlers={"state": ocp.StandardCheckpointHandler(),
                           "config": ocp.JsonCheckpointHandler(),
                           _CHECKSUMS: ocp.JsonCheckpointHandler()},
        )

    def latest_step(self) -> int | None:
        """The step of the newest checkpoint on disk, or ``None``."""
        return self._manager.latest_step()

    def save(self, step: int, state: PyTree, config: dict) -> None:
        """Saves ``state`` and ``config`` as the checkpoint of ``step`` (in the
        background), with a checksum of every array and of the config.

        Raises:
          CheckpointWriteError: the disk cannot take it (one line).
        """
        # A private host copy: the caller donates the device buffers to the next
        # step while orbax is still writing.
        host_state = jax.tree.map(np.array, state)
        needed = sum(leaf.nbytes for leaf in jax.tree.leaves(host_state))
        try:
            free = shutil.disk_usage(self.directory).free
        except OSError:
            free = None  # not there yet: the save says why
        # Orbax writes a new checkpoint before it drops the oldest: the whole
        # state must fit beside the ones kept (with room for its metadata).
        if free is not None and free < needed + (1 << 20):
            raise CheckpointWriteError(
                f"no room for the checkpoint at step {step} in {self.directory}: it needs "
                f"{_megabytes(needed)} and {_megabytes(free)} is free; free some space (the "
                "checkpoints already there are intact)")
        with _disk_errors_as_write_errors(step, self.directory):
            self._manager.save(step, args=ocp.args.Composite(
                state=ocp.args.StandardSave(host_state),
                config=ocp.args.JsonSave(config),
                **{_CHECKSUMS: ocp.args.JsonSave(checksums(host_state, config))},
            ))

    def _saved_checksums(self, step: int) -> dict | None:
        """The checksums saved with ``step``; ``None`` for a checkpoint written
        before they were (nothing to verify)."""
        if not os.path.isdir(os.path.join(self.directory, str(step), _CHECKSUMS)):
            return None
        saved = self._manager.restore(step, args=ocp.args.Composite(
            **{_CHECKSUMS: ocp.args.JsonRestore()}))[_CHECKSUMS]
        if not isinstance(saved, dict):
            raise ValueError(f"its checksums item holds {type(saved).__name__}, not a dict")
        return saved

    def restore_config(self, step: int) -> dict:
        """The config saved with the checkpoint at ``step``, as a JSON dict.

        Raises:
          ValueError: the config does not match its checksum (damage).
        """
        config = self._manager.restore(step, args=ocp.args.Composite(
            config=ocp.args.JsonRestore()))["config"]
        saved = self._saved_checksums(step)
        if saved is not None and saved.get(CONFIG_CHECKSUM) != config_checksum(config):
            raise ValueError("its config does not match the checksum saved with it")
        return config

    def restore(self, step: int, like: PyTree) -> PyTree:
        """Restores the state saved at ``step`` into the structure of ``like``.

        Raises:
          CheckpointMismatchError: when shapes, dtypes or structure differ.
        """
        # Compare against the saved metadata first: orbax's own errors for a
        # mismatch are long, and name the fix for a different API.
        saved = self._manager.item_metadata(step)["state"]
        if not saved:  # no metadata: damage, not another model
            raise ValueError("its state metadata is missing")
        _check_fits(saved, like)
        # Restore into the structure on disk, then move each leaf into
        # ``like`` by name: a state whose pytree gained an empty field since
        # (``None``, no leaves, such as a disabled moving average) still reads
        # checkpoints written before that field existed.
        wanted = _leaves_by_name(jax.tree.map(ocp.utils.to_shape_dtype_struct, like))
        target = jax.tree_util.tree_map_with_path(lambda path, _: wanted[_path_name(path)], saved)
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(target)))["state"]
        found = _leaves_by_name(restored)
        saved_sums = self._saved_checksums(step)
        if saved_sums is not None:
            for name, leaf in found.items():
                if saved_sums.get(name) != _array_checksum(np.asarray(leaf)):
                    raise ValueError(f"{name} does not match the checksum saved with it")
        return jax.tree_util.tree_map_with_path(lambda path, _: found[_path_name(path)], like)

    def restore_latest(self, like: PyTree, check_config: Callable[[int, dict], None] | None = None,
                       set_aside: bool = True) -> tuple[int, dict, PyTree] | None:
        """The newest checkpoint that reads back: ``(step, config, state)``, or
        ``None`` when there is none.

        A checkpoint that cannot be read (damaged on disk; orbax's own
        finalize-by-rename already hides one cut off mid-write) is moved out
        of the way into ``<directory>-unreadable/``, kept for inspection, with
        a warning, and the one before it is tried.

        ``check_config(step, config)`` is called before the state is read, so
        that a config that may not resume is refused first; what it raises
        passes through. With ``set_aside=False`` (for readers, such as a
        script inspecting a run that may still be training) unreadable
        checkpoints are skipped with a warning but left where they are.

        In a multi-process run every process calls this; process 0 alone
        moves a damaged checkpoint (the others skip it), and then all of them
        wait for each other and re-list the checkpoints, so that they agree on
        which steps exist (else they disagree on whether the next save is
        new, and orbax's collective save waits forever).

        Every array is checked against the checksum saved with it
        (:func:`checksums`): one that differs is damage like any other.

        Raises:
          CheckpointMismatchError: the newest checkpoint does not fit ``like``
            and no older one does either (another model): not damage, so
            nothing is moved. (When an older one fits, the newest was damaged
            in its metadata, and is set aside as above.)
          CheckpointUnreadableError: checkpoints exist but none reads back
            (all are left in place).
        """
        steps = sorted(self._manager.all_steps(), reverse=True)
        failures = []
        for step in steps:
            try:
                config = self.restore_config(step)
                if not isinstance(config, dict):
                    raise ValueError(f"its config item holds {type(config).__name__}, not a dict")
            except Exception as e:  # orbax and tensorstore raise many kinds for damage
                failures.append((step, e))
                continue
            if check_config is not None:
                check_config(step, config)
            try:
                state = self.restore(step, like)
            except Exception as e:  # a mismatch too: damage if an older one fits
                failures.append((step, e))
                continue
            for bad_step, error in failures:  # newer than the one that reads: damaged
                self._report_unreadable(bad_step, error,
                                        set_aside and jax.process_index() == 0)
            if set_aside and jax.process_count() > 1:
                multihost_utils.sync_global_devices("jaxgan-checkpoint-restored")
                self._manager.reload()
            return step, config, state
        if failures:
            step, error = failures[0]
            if isinstance(error, CheckpointMismatchError):  # another model, not damage
                raise error
            raise CheckpointUnreadableError(
                f"none of the {len(steps)} checkpoints in {self.directory} reads back (the newest, "
                f"step {step}: {_first_sentence(error)}); nothing was moved. Use a new --workdir")
        return None

    def _report_unreadable(self, step: int, error: Exception, set_aside: bool) -> None:
        where = f"moved it to {self._move_aside(step)}" if set_aside else "left it in place"
        warnings.warn(f"the checkpoint at step {step} is unreadable ({_first_sentence(error)}); "
                      f"{where} and using an older one", stacklevel=3)

    def _move_aside(self, step: int) -> str:
        unreadable = f"{self.directory}-unreadable"
        os.makedirs(unreadable, exist_ok=True)
        target = tempfile.mkdtemp(prefix=f"{step}.", dir=unreadable)
        os.replace(os.path.join(self.directory, str(step)), os.path.join(target, str(step)))
        self._manager.reload()
        return os.path.join(target, str(step))

    def wait(self) -> None:
        """Waits for the asynchronous save in flight, if any.

        Raises:
          CheckpointWriteError: that save failed (one line).
        """
        with _disk_errors_as_write_errors(None, self.directory):
            self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for the writes in flight, then releases orbax's threads.

        Raises:
          CheckpointWriteError: a write failed (one line). orbax's metadata
            write can fail apart from the save it belongs to, and surface
            only here, while the manager closes.
        """
        try:
            self.wait()
        finally:
            with _disk_errors_as_write_errors(None, self.directory):
                self._manager.close()


def _megabytes(num_bytes: int) -> str:
    return f"{num_bytes / 1e6:.1f} MB"


# How tensorstore words a failed read or write: an absl status code first,
# and the system's errno where there was one.
_TENSORSTORE_STATUS = re.compile(
    r"^(RESOURCE_EXHAUSTED|PERMISSION_DENIED|UNAVAILABLE|DATA_LOSS|INTERNAL|NOT_FOUND|"
    r"FAILED_PRECONDITION|ABORTED|UNKNOWN|DEADLINE_EXCEEDED): |os_error_code=")


def is_storage_error(error: Exception) -> bool:
    """An error of the disk, not of the program: an ``OSError``, or
    tensorstore's wording of one (a ``ValueError`` that begins with a status
    code such as ``RESOURCE_EXHAUSTED:``). orbax's own ``ValueError``-s (a
    step that exists already, a bad argument) are bugs, and pass through."""
    return isinstance(error, OSError) or bool(_TENSORSTORE_STATUS.search(str(error)))


@contextlib.contextmanager
def _disk_errors_as_write_errors(step: int | None, directory: str):
    """Turns an error of the disk (:func:`is_storage_error`) raised in the
    block into the one-line :class:`CheckpointWriteError`; others pass."""
    try:
        yield
    except (OSError, ValueError) as e:
        if not is_storage_error(e):
            raise
        raise _write_error(step, directory, e) from e


def _write_error(step: int | None, directory: str, error: Exception) -> CheckpointWriteError:
    what = "a checkpoint" if step is None else f"the checkpoint at step {step}"
    if isinstance(error, OSError):
        code, reason = error.errno, error.strerror or str(error).splitlines()[0]
        where = error.filename or directory
    else:
        # tensorstore reports the system's error inside a ValueError's text,
        # e.g. "RESOURCE_EXHAUSTED: Failed writing: ... [os_error_code='28']".
        found = re.search(r"os_error_code='(\d+)'", str(error))
        code = int(found.group(1)) if found else None
        reason = os.strerror(code) if code else _first_sentence(error)
        where = directory
    fix = ("free some space" if code in (errno.ENOSPC, errno.EDQUOT)
           else "make it a writable directory, or use another --workdir")
    return CheckpointWriteError(f"cannot write {what} in {directory} ({reason}: "
                                f"{where}); {fix} (the checkpoints already there are intact)")


_METADATA = "metadata.json"
_CHECKSUMS = "checksums"
_TREE_CHECKSUMS = "checksums.json"
CONFIG_CHECKSUM = "__config__"


def _array_checksum(array: np.ndarray) -> str:
    """CRC-32 of an array's bytes (C order), as 8 hex digits."""
    return f"{zlib.crc32(np.ascontiguousarray(array).view(np.uint8).reshape(-1)):08x}"


def config_checksum(config: dict) -> str:
    """The checksum :func:`checksums` stores for a config (under
    :data:`CONFIG_CHECKSUM`): CRC-32 of its JSON with sorted keys."""
    # As it reads back (keys become strings, tuples lists), then in a fixed order.
    config = json.loads(json.dumps(config))
    return f"{zlib.crc32(json.dumps(config, sort_keys=True).encode()):08x}"


def checksums(host_tree: PyTree, config: dict) -> dict[str, str]:
    """What a checkpoint stores beside its arrays: the CRC-32 of every leaf of
    ``host_tree`` (keyed by its path) and of ``config``.

    Computed from the very host copy that orbax writes, and checked against
    what reads back, so a flipped bit on disk (or in transit) is caught
    wherever it lands: orbax and tensorstore verify no data of their own.
    CRC-32 catches every single-bit and burst error up to 32 bits; it is not
    a defence against deliberate tampering.
    """
    sums = {name: _array_checksum(np.asarray(leaf))
            for name, leaf in _leaves_by_name(host_tree).items()}
    sums[CONFIG_CHECKSUM] = config_checksum(config)
    return sums


def save_tree(directory: str, tree: PyTree, metadata: dict) -> None:
    """Saves ``tree`` (arrays) and ``metadata`` (JSON) as ``directory``.

    Waits for the write. Everything is written into a fresh directory beside
    ``directory`` and renamed into place, so a reader never sees a half-written
    entry, and two processes saving the same entry cannot delete each other's
    files: the last rename wins and the other copy is discarded. An existing
    ``directory`` (say, a damaged one) is replaced.
    """
    directory = os.path.abspath(directory)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.", dir=parent)
    try:
        host_tree = jax.tree.map(np.asarray, tree)
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(os.path.join(staging, "tree"), host_tree)
        checkpointer.wait_until_finished()
        checkpointer.close()
        with open(os.path.join(staging, _TREE_CHECKSUMS), "w") as f:
            json.dump(checksums(host_tree, metadata), f, indent=2, sort_keys=True)
        with open(os.path.join(staging, _METADATA), "w") as f:
            json.dump(metadata, f, indent=2, sort_keys=True)
        if os.path.exists(directory):  # move the old entry aside, then drop it
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.old.", dir=parent)
            os.replace(directory, os.path.join(old, "entry"))
            shutil.rmtree(old, ignore_errors=True)
        os.rename(staging, directory)
    except OSError:
        if not os.path.exists(os.path.join(directory, _METADATA)):
            raise
        # Another process finished the same entry first: keep theirs.
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore_tree(directory: str, like: PyTree) -> tuple[PyTree, dict] | None:
    """The ``(tree, metadata)`` that :func:`save_tree` wrote, or ``None`` if there is none.

    Raises:
      CheckpointMismatchError: the saved tree does not have ``like``'s structure,
        shapes and dtypes, or cannot be read.
    """
    metadata_path = os.path.join(directory, _METADATA)
    if not os.path.exists(metadata_path):
        return None
    path = os.path.join(os.path.abspath(directory), "tree")
    checkpointer = ocp.StandardCheckpointer()
    try:
        with open(metadata_path) as f:
            metadata = json.load(f)
        _check_fits(checkpointer.metadata(path).item_metadata.tree, like)
        tree = checkpointer.restore(path, jax.tree.map(ocp.utils.to_shape_dtype_struct, like))
        sums_path = os.path.join(directory, _TREE_CHECKSUMS)
        if os.path.exists(sums_path):  # absent in entries saved before checksums
            with open(sums_path) as f:
                saved = json.load(f)
            if saved != checksums(tree, metadata):
                raise ValueError("its arrays or metadata do not match the checksums saved "
                                 "with them")
    except CheckpointMismatchError:
        raise
    except Exception as e:  # orbax raises many kinds for a damaged directory
        raise CheckpointMismatchError(f"cannot read {directory}: {type(e).__name__}: "
                                      f"{str(e).splitlines()[0] if str(e) else ''}") from e
    finally:
        checkpointer.close()
    return tree, metadata


def _check_fits(saved: PyTree, like: PyTree) -> None:
    """Raises :class:`CheckpointMismatchError` naming the first leaf of ``like``
    that ``saved`` (a tree or orbax's metadata of one) lacks or holds differently."""
    saved_leaves, wanted_leaves = _leaves_by_name(saved), _leaves_by_name(like)
    # Parameters first: their shapes say the most about what differs.
    for name in sorted(wanted_leaves.keys() | saved_leaves.keys(),
                       key=lambda n: ("params" not in n, n)):
        if name not in saved_leaves:
            raise CheckpointMismatchError(f"{name} is missing from the checkpoint")
        if name not in wanted_leaves:
            raise CheckpointMismatchError(f"the checkpoint has {name}, which the config "
                                          "does not build")
        a, b = saved_leaves[name], wanted_leaves[name]
        if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
            raise CheckpointMismatchError(f"{name}: saved {tuple(a.shape)} {a.dtype}, config "
                                          f"builds {tuple(b.shape)} {b.dtype}")


def _path_name(path) -> str:
    """A leaf's path as text that reads the same for a dataclass, a namedtuple
    and the dicts and lists that orbax's metadata turns them into."""

    def part(key) -> str:
        for attribute in ("name", "key", "idx"):
            if hasattr(key, attribute):
                return str(getattr(key, attribute))
        return str(key)

    return "/".join(part(k) for k in path)


def _leaves_by_name(tree: PyTree) -> dict[str, Any]:
    """Leaves keyed by :func:`_path_name`."""
    return {_path_name(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


__all__ = ["CONFIG_CHECKSUM", "CheckpointMismatchError", "CheckpointUnreadableError",
           "CheckpointWriteError", "Checkpointer", "PyTree", "checksums", "config_checksum",
           "is_storage_error", "restore_tree", "save_tree"]
