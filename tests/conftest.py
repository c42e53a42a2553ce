"""One XLA compilation cache on disk for the whole test session.

Most of the suite's time is XLA compiling on 2 cores, and the suite compiles
the same programs again and again: the smoke configs' runs in-process (the
crash-safety tests alone train the ring config a dozen times), a reference run
and the runs killed at each point (the real script, in processes of their
own), a run stopped and resumed, the fake-device child and its own scripts.
The test processes and every process they start share one persistent
compilation cache (``JAX_COMPILATION_CACHE_DIR``), new for each pytest session
and removed at its end, so that a program that takes half a second or more to
compile is compiled once a session.

A cached program is the program XLA compiled for the same computation,
backend and flags, so no result changes: the resumes stay bit-identical. jax
still traces and lowers each function as before, so the tests that count
compilations (the ``Compiling jit(...)`` lines of ``jax.log_compiles``, logged
while lowering) count the same; a cached program's memory and cost analyses
are XLA's as before.

The same processes compile with LLVM's optimisations off
(``--xla_backend_optimization_level=0`` in ``XLA_FLAGS``): the suite's models
are tiny and its runs short, so compiling is the cost and the compiled code's
speed hardly matters. A DCGAN-28 train step (width 8, batch 16) compiled in 13 s
instead of 38 s on this machine's 2 cores and ran as fast; at width 32 and batch
64 it compiled in 14.5 s instead of 29 s and ran 1.8x slower. The operations and
their order are XLA's as before; only the machine code differs, so results agree
with an optimised build to rounding, and any two runs in the suite to the bit.
Speed is measured by the benchmarks, never here.
"""

import atexit
import importlib.util
import os
import shutil
import tempfile

_CACHE_DIR = "JAX_COMPILATION_CACHE_DIR"
_FAST_COMPILE = "--xla_backend_optimization_level=0"
# Set before any backend starts (jax reads XLA_FLAGS then), for this process and
# every process the tests start; a test that adds a flag appends to these.
if _FAST_COMPILE not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()
_SETTINGS = {
    # Programs that take half a second or more to compile: not the thousands
    # of single operations that eager code compiles in milliseconds. With the
    # size bound below, every write lists and stats the whole folder under the
    # lock (jax's LRU eviction), so with every operation cached the writes grew
    # with the folder and slowed the suite's second half; eager tests ran 5-15x
    # slower inside the suite than alone.
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.5",
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
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", 8 << 30)

