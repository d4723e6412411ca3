"""Elementwise kernels see a C-contiguous batch as one long row.

A row body's loop over a 16-wide row (tiny's hidden layers) spends about
as long on its set-up (alias checks, vector prologue and epilogue) as on
the row itself. Viewed as one ``(1, size)`` row, the whole batch is one
vectorised loop: tanh over 400 x 16 float64 went from 1.57-1.86 to 1.38 ns
per element, measured. Elementwise results do not depend on how the
elements are grouped into rows.
"""

from numba import types
from numba.extending import overload

from .._config import jit_inline


def _all_c_matrices(*arrays):
    return all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" for a in arrays)


def one_row_2(a, b):
    """``(a, b)`` each viewed as ``(1, size)`` when both are C-contiguous
    2-D arrays, else unchanged (a strided view has no free reshape).
    Compiled code only."""
    raise NotImplementedError("one_row_2 runs in compiled code only")


def one_row_4(a, b, c, d):
    """:func:`one_row_2` for four arrays. Compiled code only."""
    raise NotImplementedError("one_row_4 runs in compiled code only")


@overload(one_row_2)
def _one_row_2(a, b):
    if _all_c_matrices(a, b):
        return lambda a, b: (a.reshape((1, a.size)), b.reshape((1, b.size)))
    return lambda a, b: (a, b)


@overload(one_row_4)
def _one_row_4(a, b, c, d):
    if _all_c_matrices(a, b, c, d):
        return lambda a, b, c, d: (
            a.reshape((1, a.size)),
            b.reshape((1, b.size)),
            c.reshape((1, c.size)),
            d.reshape((1, d.size)),
        )
    return lambda a, b, c, d: (a, b, c, d)


def single_column(a):
    """The one column of an ``(n, 1)`` array as a 1-D array, contiguous
    when ``a`` is C-contiguous (then a loop over it vectorises). Compiled
    code only."""
    raise NotImplementedError("single_column runs in compiled code only")


@overload(single_column)
def _single_column(a):
    if _all_c_matrices(a):
        return lambda a: a.reshape(a.shape[0])
    return lambda a: a[:, 0]


@jit_inline
def same_buffer(a, b):
    """Whether two arrays of one shape are views of the same elements."""
    return a.ctypes.data == b.ctypes.data and a.strides == b.strides
