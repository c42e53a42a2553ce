"""One XLA compilation cache on disk for the whole test session.

Most of the suite's time is XLA compiling on 2 cores, and the suite compiles
the same programs again and again: the smoke configs' runs in-process (the
crash-safety tests alone train the ring config a dozen times), a reference run
and the runs killed at each point (the real script, in processes of their
own), a run stopped and resumed, the fake-device child and its own scripts.
The test processes and every process they start share one persistent
compilation cache (``JAX_COMPILATION_CACHE_DIR``), new for each pytest session
and removed at its end, so that a program is compiled once a session.

A cached program is the program XLA compiled for the same computation,
backend and flags, so no result changes: the resumes stay bit-identical. jax
still traces and lowers each function as before, so the tests that count
compilations (the ``Compiling jit(...)`` lines of ``jax.log_compiles``, logged
while lowering) count the same; a cached program's memory and cost analyses
are XLA's as before.
"""

import atexit
import importlib.util
import os
import shutil
import tempfile

_CACHE_DIR = "JAX_COMPILATION_CACHE_DIR"
_SETTINGS = {
    # Every program, however small or quick to compile.
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    # A bound (never reached) turns on the cache's file lock: the two xdist
    # workers and their children read and write the folder at the same time,
    # and without the lock a reader may see a half-written entry.
    "JAX_COMPILATION_CACHE_MAX_SIZE": str(8 << 30),
}
# The lock needs filelock (the bench extra's torch brings it); without it jax
# would warn on every compile and turn the cache off, so then there is none.
if importlib.util.find_spec("filelock") is not None:
    if _CACHE_DIR not in os.environ:  # the session's first process (xdist's controller, -n 0)
        os.environ[_CACHE_DIR] = tempfile.mkdtemp(prefix="jaxgan-tests-xla-cache-")
        atexit.register(shutil.rmtree, os.environ[_CACHE_DIR], ignore_errors=True)
    os.environ.update(_SETTINGS)  # for the processes the tests start

    import jax

    # For this process too, in case a plugin imported jax before these were set.
    jax.config.update("jax_compilation_cache_dir", os.environ[_CACHE_DIR])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", 8 << 30)

