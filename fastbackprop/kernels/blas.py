"""BLAS gemm on strided row-major blocks, from compiled code.

``np.dot`` in Numba needs contiguous operands and has no ``beta``. The
training loop needs a product over a block of columns of a row-major
matrix (``inp[:, i0:i1]``, a row stride wider than the block), so this
calls the same BLAS entry point Numba's ``np.dot`` uses, ``numba_xxgemm``
(scipy's BLAS, found at run time, so the compiled kernels stay cacheable),
with explicit leading dimensions.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from .._config import jit

_NO_TRANSPOSE = ord("n")
_TRANSPOSE = ord("t")


@intrinsic
def _xxgemm(typingctx, transa, transb, m, n, k, a, lda, b, ldb, c, ldc):
    """Column-major ``c = op(a) op(b)`` (alpha 1, beta 0) on the data
    pointers of three arrays of one float dtype."""
    ensure_blas()
    if not all(isinstance(t, types.Array) for t in (a, b, c)):
        return None
    dtype = c.dtype
    if dtype not in (types.float32, types.float64) or a.dtype != dtype or b.dtype != dtype:
        return None
    sig = types.int32(transa, transb, m, n, k, a, lda, b, ldb, c, ldc)

    def codegen(context, builder, signature, args):
        ll_char = ir.IntType(8)
        ll_void_p = ir.IntType(8).as_pointer()
        intp_t = context.get_value_type(types.intp)
        fnty = ir.FunctionType(
            ir.IntType(32),
            [ll_char, ll_char, ll_char, intp_t, intp_t, intp_t, ll_void_p, ll_void_p, intp_t]
            + [ll_void_p, intp_t, ll_void_p, ll_void_p, intp_t],
        )
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        ta, tb, m_, n_, k_, a_, lda_, b_, ldb_, c_, ldc_ = args
        arg_types = signature.args

        def as_intp(index, value):
            return context.cast(builder, value, arg_types[index], types.intp)

        def as_char(index, value):
            return builder.trunc(as_intp(index, value), ll_char)

        def data(index, value):
            array = context.make_array(arg_types[index])(context, builder, value)
            return builder.bitcast(array.data, ll_void_p)

        llty = context.get_value_type(dtype)
        one = cgutils.alloca_once_value(builder, ir.Constant(llty, 1.0))
        zero = cgutils.alloca_once_value(builder, ir.Constant(llty, 0.0))
        kind = ir.Constant(ll_char, ord("s" if dtype == types.float32 else "d"))
        call_args = (
            kind,
            as_char(0, ta),
            as_char(1, tb),
            as_intp(2, m_),
            as_intp(3, n_),
            as_intp(4, k_),
            builder.bitcast(one, ll_void_p),
            data(5, a_),
            as_intp(6, lda_),
            data(7, b_),
            as_intp(8, ldb_),
            builder.bitcast(zero, ll_void_p),
            data(9, c_),
            as_intp(10, ldc_),
        )
        return builder.call(fn, call_args)

    return sig, codegen


@jit
def row_stride(matrix):
    """Elements between the starts of two rows of a row-major 2-D view."""
    return matrix.strides[0] // matrix.itemsize


@jit
def gemm(out, a, b, transpose_a):
    """``out = op(a) @ b`` on row-major 2-D views whose rows are contiguous
    but may be further apart than their length (column blocks).

    ``op(a)`` is ``a`` or, with ``transpose_a``, ``a.T``. Works on the
    row-major data as the column-major transposes: out^T = b^T op(a)^T.
    """
    m, n = out.shape
    k = b.shape[0]
    trans = _TRANSPOSE if transpose_a else _NO_TRANSPOSE
    _xxgemm(_NO_TRANSPOSE, trans, n, m, k, b, row_stride(b), a, row_stride(a), out, row_stride(out))
