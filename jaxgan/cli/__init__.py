"""The installed commands (``jaxgan-train``, ``jaxgan-control``): flags in, the
library out. A checkout's ``experiments/*.py`` are thin entry points to these.

Each command keeps one contract: exit code 0 on success, 2 on a user error
with one line on stderr, and ``--help`` or ``-h`` prints its usage and exits 0.
Flags are absl's, spelt with underscores.
"""

import logging as std_logging
import os
import sys
import traceback
from typing import NoReturn

from absl import logging

from jaxgan.checkpoint import is_storage_error

__all__ = ["is_closed_loop_noise", "quiet_logs", "usage_error", "wants_help"]


def _without_orbax_tracebacks(record: std_logging.LogRecord) -> bool:
    """False for a record that carries a traceback from orbax, or a failure
    of the disk that the command reports in its own line: logged by orbax
    itself, or by asyncio about one of orbax's tasks or futures whose failure
    no one retrieved (at exit, after the command's own line). Such a future
    holds tensorstore's error without a frame of orbax's, one record for each
    array that was being written when the disk filled: a run on a loaded
    machine printed 28 of them."""
    if not record.exc_info:
        return True
    orbax = f"{os.sep}orbax{os.sep}"
    if orbax in record.pathname:
        return False
    error, tb = record.exc_info[1], record.exc_info[2]
    # Only tensorstore's wording of a disk error (a ValueError that begins with
    # a status code), only on a future or task no one awaited. asyncio's
    # message is that sentence, then a line for each of its context's items
    # ("future: <Future ...>").
    if (record.name == "asyncio" and isinstance(error, ValueError) and is_storage_error(error)
            and record.getMessage().split("\n", 1)[0].endswith("exception was never retrieved")):
        return False
    return tb is None or not any(orbax in frame.filename for frame in traceback.extract_tb(tb))


def is_closed_loop_noise(unraisable) -> bool:
    """tensorstore's completion of a read or write that orbax stopped waiting
    for: its callback finds orbax's event loop already closed."""
    error = unraisable.exc_value
    return (isinstance(error, RuntimeError) and str(error) == "Event loop is closed"
            and unraisable.exc_traceback is not None
            and "asyncio" in traceback.extract_tb(unraisable.exc_traceback)[-1].filename)


def quiet_logs() -> None:
    """Sets the command's logging, unless ``--verbosity`` was given: warnings
    and errors only (orbax logs every save at INFO), without the records
    that orbax logs with a traceback, and without the "Event loop is closed"
    tracebacks that tensorstore prints.

    Both come from a checkpoint that fails to write or read (a full disk, a
    damaged file), a failure the library raises to the caller
    (:class:`jaxgan.checkpoint.CheckpointWriteError`, or a damaged
    checkpoint set aside with a warning) and the command reports in one
    line. Above that line stood some 90 lines of orbax's logged copies of
    the error and, at random, a dozen closed-loop tracebacks: when one of
    several reads or writes fails, orbax closes its event loop while the
    others are still in flight, and each of them, finishing, finds it
    closed. Any other record that orbax logs with a traceback is dropped
    too; ``--verbosity=0`` shows everything.

    A command's own set-up, for the process it owns: the library itself
    leaves logging and ``sys.unraisablehook`` alone.
    """
    from absl import flags

    if flags.FLAGS["verbosity"].present:
        return
    logging.set_verbosity(logging.WARNING)
    absl_logger = logging.get_absl_logger()
    for logger in (absl_logger, std_logging.getLogger("asyncio")):
        if _without_orbax_tracebacks not in logger.filters:
            logger.addFilter(_without_orbax_tracebacks)
    previous = sys.unraisablehook
    if getattr(previous, "skips_closed_loop_noise", False):
        return  # set already

    def hook(unraisable):
        if not is_closed_loop_noise(unraisable):
            previous(unraisable)

    hook.skips_closed_loop_noise = True
    sys.unraisablehook = hook


def usage_error(message: str) -> NoReturn:
    """Ends the command: one line on stderr and exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def wants_help(argv: list[str]) -> bool:
    """``-h``, ``--help`` or ``--help=true`` among the arguments. absl answers
    ``--help`` with exit code 1 and rejects ``-h``; the commands answer both
    themselves, with exit code 0."""
    return any(arg in ("-h", "--help", "--help=true", "--helpshort") for arg in argv[1:])
