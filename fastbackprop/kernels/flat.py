"""Elementwise kernels see a C-contiguous batch as one long row.

A row body's loop over a 16-wide row (tiny's hidden layers) spends about
as long on its set-up (alias checks, vector prologue and epilogue) as on
the row itself. Viewed as one ``(1, size)`` row, the whole batch is one
vectorised loop: tanh over 400 x 16 float64 went from 1.57-1.86 to 1.38 ns
per element, measured. Elementwise results do not depend on how the
elements are grouped into rows.
"""

from numba import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload
from numba.np.arrayobj import populate_array

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


@intrinsic
def c_matrix(typingctx, flat, offset, rows, cols):
    """The C-contiguous ``(rows, cols)`` matrix starting at ``flat[offset]``
    of a C-contiguous 1-D ``flat``, sharing its owner; no bounds check (see
    ``train.matrix_view``). Built directly: ``reshape`` calls a C helper
    that works out the strides of any layout, 1.5-2% of a ``tiny`` step's
    profile for the few dozen views each step makes (one-row ``predict``:
    best of 45 x 2000 calls 8.2-8.9 -> 7.9-8.0 us, alternating; the ``tiny``
    fit did not move beyond noise). Compiled code only."""
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        return None
    if not all(isinstance(kind, types.Integer) for kind in (offset, rows, cols)):
        return None  # a float offset would be truncated silently
    matrix = flat.copy(ndim=2, layout="C")

    def codegen(context, builder, signature, args):
        source = context.make_array(signature.args[0])(context, builder, value=args[0])
        start, n_rows, n_cols = (
            context.cast(builder, value, kind, types.intp)
            for value, kind in zip(args[1:], signature.args[1:])
        )
        itemsize = source.itemsize
        view = context.make_array(matrix)(context, builder)
        populate_array(
            view,
            data=builder.gep(source.data, [start]),
            shape=[n_rows, n_cols],
            strides=[builder.mul(n_cols, itemsize), itemsize],
            itemsize=itemsize,
            meminfo=source.meminfo,
        )
        return impl_ret_borrowed(context, builder, matrix, view._getvalue())

    return matrix(flat, offset, rows, cols), codegen
