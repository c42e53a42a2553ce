"""One XLA compilation cache on disk for the processes the tests start.

Most of the suite's time is XLA compiling on 2 cores, and the tests that run
the real script start it several times on the same program: a reference run
and the runs killed at each point (test_crash_safety), a run stopped and
resumed (test_train), the fake-device child and its own scripts
(test_parallel). The compiled program is the same each time, so those
processes share one persistent compilation cache (``JAX_COMPILATION_CACHE_DIR``),
new for each pytest session and removed at its end.

This process itself keeps compiling afresh: some tests count the programs it
compiles (test_throughput, test_step), and jax reads the variable once, when
it is imported. The variable is therefore taken out of the environment before
jax is imported here and put back after, for the children alone. The
fake-device child (test_parallel, a pytest of its own) is one of those
children: it keeps the cache, and no test in it counts compilations.
"""

import atexit
import os
import shutil
import tempfile

CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
_IN_PARALLEL_CHILD = os.environ.get("JAXGAN_PARALLEL_CHILD") == "1"
_inherited = os.environ.get(CACHE_VARIABLE) if _IN_PARALLEL_CHILD else os.environ.pop(
    CACHE_VARIABLE, None)

import jax  # noqa: E402,F401  (imported here, without the variable: see above)

if _inherited is None:  # the first process of the session (xdist's controller, or -n 0)
    _inherited = tempfile.mkdtemp(prefix="jaxgan-tests-xla-cache-")
    atexit.register(shutil.rmtree, _inherited, ignore_errors=True)
os.environ[CACHE_VARIABLE] = _inherited
# Cache every program, however small or quick to compile: the children are
# short runs whose programs each take a second or two.
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
