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
# contract to FMA, use reciprocals and fast library forms, but it may not
# assume that NaN or inf never occur, so the non-finite checks in the
# training loop keep working. ``reassoc`` is left out as well: rewriting
# (1 - b) * g * g as g * g - b * g * g turns an overflowing g * g into
# inf - inf = NaN in Adam's update, where torch keeps inf (found by
# tests/test_optimizers.py), and exact range reduction in exp needs the
# order of operations kept.
FASTMATH = {"nsz", "arcp", "contract", "afn"} if _env_flag("FASTBACKPROP_FASTMATH", True) else set()

# Idle OpenMP workers spin briefly, then sleep. The training loop enters one
# to three parallel regions per minibatch (four with clipping); waking a
# sleeping team costs about 80 us here (OMP_WAIT_POLICY=PASSIVE), a spinning
# one about 2 us. But a worker
# that spins for long steals its core from BLAS's threads when BLAS runs
# multi-threaded (measured: a mnist epoch took 9.0 s with libgomp's default
# ACTIVE-ish spinning and per-op parallel loops). So the spin is bounded,
# and BLAS is held to one thread while the sharded loop runs (_parallel).
# libgomp reads this when Numba first loads its OpenMP layer, after this
# import; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
os.environ.setdefault("GOMP_SPINCOUNT", "30000")

# ``omp`` is thread safe (several Python threads may call kernels at once);
# the ``workqueue`` fallback is not, so it is never chosen here.
numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]

# ``error_model="numpy"``: a float division by zero gives inf/NaN instead of
# raising, which removes a branch per division and lets loops vectorise.
# ``nogil``: kernels release the GIL, so Python threads can train in parallel.
#: keyword arguments for serial kernels
SERIAL = {"cache": CACHE, "fastmath": FASTMATH, "nogil": True, "error_model": "numpy"}
#: keyword arguments for kernels with ``prange`` loops
PARALLEL = SERIAL | {"parallel": True}
#: keyword arguments for scalar helpers inlined into the loops that call them
INLINE = SERIAL | {"inline": "always"}

# Elementwise kernels (activations, losses, dropout, bias, gathers) run on
# one thread: inside the sharded training loop each shard already has its
# own core, and outside it BLAS owns both cores and large evaluations are
# split into one part per core by Python threads (_parallel.run_parts). The
# parallel branch they had for batches of 2**20 elements or more ran only
# in a big predict, and cost a gufunc compile per kernel (docs/decisions.md).


def jit(func):
    """Compile ``func`` as a serial kernel with the library's flags."""
    return numba.njit(**SERIAL)(func)


def jit_parallel(func):
    """Compile ``func`` as a parallel kernel with the library's flags."""
    return numba.njit(**PARALLEL)(func)


def jit_uncached(func):
    """Compile ``func`` as a serial kernel that is never cached on disk (a
    tool's harness outside the kernels, whose cache nothing invalidates)."""
    return numba.njit(**(SERIAL | {"cache": False}))(func)


def jit_inline(func):
    """Compile ``func`` as a scalar or per-row helper inlined at its callers."""
    return numba.njit(**INLINE)(func)


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
