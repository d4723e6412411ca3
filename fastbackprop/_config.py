"""The one place that holds Numba compilation flags and the thread count.

Every kernel module builds its decorators from here, so a flag is changed in
one line and a test can check that no kernel hard-codes its own.

Environment overrides (read once, at import):

``FASTBACKPROP_CACHE``
    ``0`` disables Numba's on-disk cache (default ``1``).
``FASTBACKPROP_FASTMATH``
    ``0`` compiles without the fast-math flag set (default ``1``).
``FASTBACKPROP_NUM_THREADS``
    initial number of threads used by the parallel kernels.
"""

from __future__ import annotations

import os

import numba


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


CACHE = _env_flag("FASTBACKPROP_CACHE", True)

# LLVM fast-math flags *without* ``nnan`` and ``ninf``: the compiler may
# reassociate and contract (FMA), which lets reductions vectorise, but it may
# not assume that NaN or inf never occur, so the non-finite checks in the
# training loop keep working.
FASTMATH = (
    {"nsz", "arcp", "contract", "afn", "reassoc"}
    if _env_flag("FASTBACKPROP_FASTMATH", True)
    else set()
)

# Idle OpenMP workers must sleep, not spin: between two parallel loops the
# BLAS threads run the matrix products, and spinning workers steal their
# cores (measured: a 60k-sample mnist epoch took 9.0 s with GNU OpenMP's
# default spinning, 0.36 s with passive waiting). libgomp reads this when
# Numba first loads its OpenMP layer, which happens after this import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# ``omp`` is thread safe (several Python threads may call kernels at once);
# the ``workqueue`` fallback is not, so it is never chosen here.
numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]

# Exactly-rounded range reduction (Cody-Waite) in the elementary functions
# needs the order of operations kept, so they compile without ``reassoc``.
ELEMENTARY_FASTMATH = FASTMATH - {"reassoc"}

# ``error_model="numpy"``: a float division by zero gives inf/NaN instead of
# raising, which removes a branch per division and lets loops vectorise.
# ``nogil``: kernels release the GIL, so Python threads can train in parallel.
#: keyword arguments for serial kernels
SERIAL = {"cache": CACHE, "fastmath": FASTMATH, "nogil": True, "error_model": "numpy"}
#: keyword arguments for kernels with ``prange`` loops
PARALLEL = SERIAL | {"parallel": True}
#: keyword arguments for scalar helpers inlined into the loops that call them
INLINE = SERIAL | {"inline": "always"}
#: the same for the elementary functions (exp, tanh, sigmoid)
ELEMENTARY = INLINE | {"fastmath": ELEMENTARY_FASTMATH}

#: Loops over fewer elements than this run on one thread: starting the
#: thread team costs microseconds, and on a busy machine a parallel region
#: waits for a descheduled thread. Measured on the standard workloads (see
#: ``python -m fastbackprop.bench``).
PARALLEL_MIN_WORK = int(os.environ.get("FASTBACKPROP_PARALLEL_MIN_WORK", 1 << 14))


def jit(func):
    """Compile ``func`` as a serial kernel with the library's flags."""
    return numba.njit(**SERIAL)(func)


def jit_parallel(func):
    """Compile ``func`` as a parallel kernel with the library's flags."""
    return numba.njit(**PARALLEL)(func)


def jit_inline(func):
    """Compile ``func`` as a scalar or per-row helper inlined at its callers."""
    return numba.njit(**INLINE)(func)


def jit_elementary(func):
    """Compile ``func`` as an inlined elementary function (no reassociation)."""
    return numba.njit(**ELEMENTARY)(func)


def get_num_threads() -> int:
    """Return the number of threads the parallel kernels use."""
    return numba.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of threads the parallel kernels use.

    Parameters
    ----------
    n : int
        Between 1 and ``numba.config.NUMBA_NUM_THREADS`` (the machine's cores
        unless ``NUMBA_NUM_THREADS`` says otherwise).
    """
    limit = numba.config.NUMBA_NUM_THREADS
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"n_threads must be an int, got {type(n).__name__}")
    n = int(n)
    if not 1 <= n <= limit:
        raise ValueError(f"n_threads must be between 1 and {limit}, got {n}")
    numba.set_num_threads(n)


_initial = os.environ.get("FASTBACKPROP_NUM_THREADS")
if _initial:
    set_num_threads(int(_initial))
