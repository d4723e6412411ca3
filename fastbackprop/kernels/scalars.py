"""Scalars passed between kernels as plain ``int64``/``bool`` values.

Numba compiles a callee once per distinct argument type, and a constant
argument (``f(0, 1)``, ``f(x, IDENTITY)``, ``f(..., False)``) is typed as a
*literal* of its value, so every constant call site compiled its callee
again; a ``prange`` index is a ``uint64``, another type again. Measured on
the spiral demo's cold start: the shard function compiled three times
(about 10 s each), the activation kernel three times. Wrapping such
arguments in these helpers gives every call site the same types, so each
kernel compiles once per dtype.
"""

import numpy as np

from .._config import jit


@jit
def as_int(value):
    """``value`` as a (non-literal) int64."""
    return np.int64(value)


@jit
def as_flag(value):
    """``value`` as a (non-literal) bool."""
    return value == True  # noqa: E712 (a literal True would stay literal)
