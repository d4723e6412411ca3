"""Hidden-layer activations: ``<act>_forward(out, inp)`` and
``<act>_backward(dinp, dout, out, inp)``.

Forward writes ``out = f(inp)``. Backward writes ``dinp = dout * f'(inp)``,
computing the derivative from the forward output where the math allows
(sigmoid, tanh, relu, leaky_relu, elu) and from ``inp`` otherwise (gelu,
silu). ``dinp`` may be the same buffer as ``dout`` (else it must not
overlap ``dout``, ``out`` or ``inp``: it is written first). All buffers are
``(batch, n)``. Each op is a per-row body; one pair of kernels,
``activation_forward``/``activation_backward``, runs any of them by its code
in ``_codes.ACTIVATION_TABLE``.
"""

import math

from .._codes import (
    ACTIVATION_TABLE,
    ELU,
    GELU,
    IDENTITY,
    LEAKY_RELU,
    LEAKY_SLOPE,
    N_ACTIVATIONS,
    RELU,
    SIGMOID,
    SILU,
    TANH,
)
from .._config import jit, jit_inline
from .elementary import sigmoid_fast, tanh_fast
from .flat import one_row_2, one_row_4, same_buffer

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------- row bodies
@jit_inline
def _identity_forward_row(i, out, inp):
    for j in range(inp.shape[1]):
        out[i, j] = inp[i, j]


@jit_inline
def _identity_backward_row(i, dinp, dout, out, inp):
    for j in range(dout.shape[1]):
        dinp[i, j] = dout[i, j]


@jit_inline
def _sigmoid_forward_row(i, out, inp):
    for j in range(inp.shape[1]):
        out[i, j] = sigmoid_fast(inp[i, j])


@jit_inline
def _sigmoid_backward_row(i, dinp, dout, out, inp):
    for j in range(dout.shape[1]):
        s = out[i, j]
        dinp[i, j] = dout[i, j] * s * (1 - s)


@jit_inline
def _tanh_forward_row(i, out, inp):
    for j in range(inp.shape[1]):
        out[i, j] = tanh_fast(inp[i, j])


@jit_inline
def _tanh_backward_row(i, dinp, dout, out, inp):
    for j in range(dout.shape[1]):
        t = out[i, j]
        dinp[i, j] = dout[i, j] * (1 - t * t)


@jit_inline
def _relu_forward_row(i, out, inp):
    zero = inp.dtype.type(0)
    for j in range(inp.shape[1]):
        x = inp[i, j]
        out[i, j] = x if x > zero else zero


@jit_inline
def _relu_backward_row(i, dinp, dout, out, inp):
    zero = dout.dtype.type(0)
    for j in range(dout.shape[1]):
        dinp[i, j] = dout[i, j] if out[i, j] > zero else zero


@jit_inline
def _leaky_relu_forward_row(i, out, inp):
    slope = inp.dtype.type(LEAKY_SLOPE)
    for j in range(inp.shape[1]):
        x = inp[i, j]
        out[i, j] = x if x > 0 else slope * x


@jit_inline
def _leaky_relu_backward_row(i, dinp, dout, out, inp):
    slope = dout.dtype.type(LEAKY_SLOPE)
    for j in range(dout.shape[1]):
        g = dout[i, j]
        # out > 0 exactly when inp > 0, since the slope is positive
        dinp[i, j] = g if out[i, j] > 0 else slope * g


@jit_inline
def _elu_forward_row(i, out, inp):
    for j in range(inp.shape[1]):
        x = inp[i, j]
        out[i, j] = x if x > 0 else math.expm1(x)


@jit_inline
def _elu_backward_row(i, dinp, dout, out, inp):
    for j in range(dout.shape[1]):
        y = out[i, j]
        # for x <= 0, d/dx (e^x - 1) = e^x = y + 1
        dinp[i, j] = dout[i, j] if y > 0 else dout[i, j] * (y + 1)


@jit_inline
def _gelu_forward_row(i, out, inp):
    for j in range(inp.shape[1]):
        x = inp[i, j]
        out[i, j] = 0.5 * x * (1.0 + math.erf(x * _INV_SQRT2))


@jit_inline
def _gelu_backward_row(i, dinp, dout, out, inp):
    for j in range(dout.shape[1]):
        x = inp[i, j]
        # d/dx x*Phi(x) = Phi(x) + x*phi(x)
        cdf = 0.5 * (1.0 + math.erf(x * _INV_SQRT2))
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * x * x)
        dinp[i, j] = dout[i, j] * (cdf + x * pdf)


@jit_inline
def _silu_forward_row(i, out, inp):
    for j in range(inp.shape[1]):
        x = inp[i, j]
        out[i, j] = x * sigmoid_fast(x)


@jit_inline
def _silu_backward_row(i, dinp, dout, out, inp):
    for j in range(dout.shape[1]):
        x = inp[i, j]
        s = sigmoid_fast(x)
        # d/dx x*s(x) = s + x*s*(1-s)
        dinp[i, j] = dout[i, j] * s * (1.0 + x * (1.0 - s))


# ------------------------------------------------------- dispatch on a code
# The if/elif chains below are the kernels' side of _codes.ACTIVATION_TABLE
# (tests/test_core_kernels.py checks that every code of the table reaches
# its own row body, and that an unknown code is refused).


@jit_inline
def _forward_row(i, out, inp, code):
    if code == IDENTITY:
        _identity_forward_row(i, out, inp)
    elif code == SIGMOID:
        _sigmoid_forward_row(i, out, inp)
    elif code == TANH:
        _tanh_forward_row(i, out, inp)
    elif code == RELU:
        _relu_forward_row(i, out, inp)
    elif code == LEAKY_RELU:
        _leaky_relu_forward_row(i, out, inp)
    elif code == ELU:
        _elu_forward_row(i, out, inp)
    elif code == GELU:
        _gelu_forward_row(i, out, inp)
    elif code == SILU:
        _silu_forward_row(i, out, inp)


@jit_inline
def _backward_row(i, dinp, dout, out, inp, code):
    if code == IDENTITY:
        _identity_backward_row(i, dinp, dout, out, inp)
    elif code == SIGMOID:
        _sigmoid_backward_row(i, dinp, dout, out, inp)
    elif code == TANH:
        _tanh_backward_row(i, dinp, dout, out, inp)
    elif code == RELU:
        _relu_backward_row(i, dinp, dout, out, inp)
    elif code == LEAKY_RELU:
        _leaky_relu_backward_row(i, dinp, dout, out, inp)
    elif code == ELU:
        _elu_backward_row(i, dinp, dout, out, inp)
    elif code == GELU:
        _gelu_backward_row(i, dinp, dout, out, inp)
    elif code == SILU:
        _silu_backward_row(i, dinp, dout, out, inp)


@jit
def _check_code(code):
    if code < 0 or code >= N_ACTIVATIONS:
        raise ValueError("unknown activation code (see _codes.ACTIVATION_TABLE)")


# ------------------------------------------------------------------- kernels
# One pair of kernels runs every activation's row body, on one thread, over
# the batch viewed as one long row (see ``flat``): inside the training loop
# every shard already has its own core, and a parallel branch for huge
# batches cost a gufunc compile per kernel (docs/decisions.md). The backward
# kernel always works in place (copying dout into dinp first unless they
# are the same buffer, as in the training loop) and hands its row body one
# array for both: given two, LLVM checks at run time that the written one
# does not overlap the read one, finds that in place it does, and runs its
# scalar loop (relu's backward over 128 x 1024 float32: 70 us in place, 15
# us with one array; the deep workload's epoch: 850 -> 690-720 ms).


@jit
def activation_forward(out, inp, code):
    """``out = f(inp)`` for the activation ``code`` (``_codes``)."""
    _check_code(code)
    o, x = one_row_2(out, inp)
    for i in range(o.shape[0]):
        _forward_row(i, o, x, code)


@jit
def activation_backward(dinp, dout, out, inp, code):
    """``dinp = dout * f'(inp)`` for the activation ``code`` (``_codes``)."""
    _check_code(code)
    di, do, o, x = one_row_4(dinp, dout, out, inp)
    if not same_buffer(dinp, dout):
        _copy_rows(di, do)
    for i in range(di.shape[0]):
        _backward_row(i, di, di, o, x, code)


@jit
def _copy_rows(dst, src):
    for i in range(dst.shape[0]):
        _identity_forward_row(i, dst, src)


def _bind(kernel, code):
    """``kernel`` with its activation code bound, for the name tables."""

    def bound(*arrays):
        return kernel(*arrays, code)

    bound.__name__ = kernel.__name__
    return bound


#: name -> ``forward(out, inp)``, from the activation table
ACTIVATIONS = {act.name: _bind(activation_forward, act.code) for act in ACTIVATION_TABLE}
#: name -> ``backward(dinp, dout, out, inp)``, from the activation table
DERIVATIVES = {act.name: _bind(activation_backward, act.code) for act in ACTIVATION_TABLE}
