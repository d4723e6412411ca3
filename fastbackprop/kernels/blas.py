"""BLAS gemm on strided row-major blocks, from compiled code.

Every matrix product of the kernels comes through :func:`gemm`. It calls
the symbols ``fastbackprop_sgemm``/``fastbackprop_dgemm``, which
:mod:`fastbackprop._blas_provider` binds at import to MKL's or SciPy's
``?gemm``: bound by name at run time, so the compiled kernels stay
cacheable. Unlike ``np.dot`` in Numba, it takes blocks of columns of a
row-major matrix (``inp[:, i0:i1]``, a row stride wider than the block)
and transposes by flag, so nothing is copied.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .. import _blas_provider
from .._config import jit

_blas_provider.install()

_NO_TRANSPOSE = ord("n")
_TRANSPOSE = ord("t")


@intrinsic
def _xgemm(typingctx, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Column-major ``c = alpha op(a) op(b) + beta c`` on the data pointers
    of three arrays of one float dtype, through the Fortran ``?gemm``
    interface (every argument by reference, 32-bit integers; alpha and beta
    rounded to the arrays' dtype)."""
    if not all(isinstance(t, types.Array) for t in (a, b, c)):
        return None
    dtype = c.dtype
    if dtype not in (types.float32, types.float64) or a.dtype != dtype or b.dtype != dtype:
        return None
    sig = types.void(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    symbol = "fastbackprop_sgemm" if dtype == types.float32 else "fastbackprop_dgemm"

    def codegen(context, builder, signature, args):
        char_t = ir.IntType(8)
        int_t = ir.IntType(32)
        real_t = context.get_value_type(dtype)
        char_p, int_p, real_p = char_t.as_pointer(), int_t.as_pointer(), real_t.as_pointer()
        fnty = ir.FunctionType(
            ir.VoidType(),
            [char_p, char_p, int_p, int_p, int_p, real_p, real_p, int_p]
            + [real_p, int_p, real_p, real_p, int_p],
        )
        fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
        arg_types = signature.args

        def by_ref(index, ll_type):
            value = context.cast(builder, args[index], arg_types[index], types.int64)
            return cgutils.alloca_once_value(builder, builder.trunc(value, ll_type))

        def scalar(index):
            value = context.cast(builder, args[index], arg_types[index], dtype)
            return cgutils.alloca_once_value(builder, value)

        def data(index):
            array = context.make_array(arg_types[index])(context, builder, args[index])
            return builder.bitcast(array.data, real_p)

        builder.call(
            fn,
            (
                by_ref(0, char_t),
                by_ref(1, char_t),
                by_ref(2, int_t),
                by_ref(3, int_t),
                by_ref(4, int_t),
                scalar(5),
                data(6),
                by_ref(7, int_t),
                data(8),
                by_ref(9, int_t),
                scalar(10),
                data(11),
                by_ref(12, int_t),
            ),
        )
        return context.get_dummy_value()

    return sig, codegen


@jit
def row_stride(matrix):
    """Elements between the starts of two rows of a row-major 2-D view
    (at least one row's length: BLAS checks it even for a single row)."""
    return max(matrix.strides[0] // matrix.itemsize, matrix.shape[1], 1)


@jit
def gemm_scaled(out, a, b, transpose_a, transpose_b, alpha, beta):
    """``out = alpha op(a) @ op(b) + beta out`` on row-major 2-D views
    whose rows are contiguous but may be further apart than their length
    (column blocks). With ``beta`` 0, ``out`` is not read.

    ``op(x)`` is ``x`` or, with the flag, ``x.T``. Works on the row-major
    data as the column-major transposes: out^T = op(b)^T op(a)^T.
    """
    m, n = out.shape
    k = a.shape[0] if transpose_a else a.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:  # an empty sum; BLAS would be handed a zero leading dimension
        scale = out.dtype.type(beta)
        for i in range(m):
            for j in range(n):
                out[i, j] = 0 if beta == 0 else out[i, j] * scale
        return
    trans_a = _TRANSPOSE if transpose_a else _NO_TRANSPOSE
    trans_b = _TRANSPOSE if transpose_b else _NO_TRANSPOSE
    _xgemm(
        trans_b,
        trans_a,
        n,
        m,
        k,
        alpha,
        b,
        row_stride(b),
        a,
        row_stride(a),
        beta,
        out,
        row_stride(out),
    )


@jit
def gemm(out, a, b, transpose_a, transpose_b):
    """``out = op(a) @ op(b)``: :func:`gemm_scaled` with alpha 1, beta 0."""
    gemm_scaled(out, a, b, transpose_a, transpose_b, 1.0, 0.0)
