"""Hidden-layer activations: ``<act>_forward(out, inp)`` and
``<act>_backward(dinp, dout, out, inp)``.

Forward writes ``out = f(inp)``. Backward writes ``dinp = dout * f'(inp)``,
computing the derivative from the forward output where the math allows
(sigmoid, tanh, relu, leaky_relu, elu) and from ``inp`` otherwise (gelu,
silu). ``dinp`` may be the same buffer as ``dout`` (else it must not
overlap ``dout``, ``out`` or ``inp``: it is written first). All buffers are
``(batch, n)``. Each op is a per-row body plus a kernel that runs it.
"""

import math

from numba import prange

from .._codes import ELU, GELU, IDENTITY, LEAKY_RELU, LEAKY_SLOPE, RELU, SIGMOID, TANH
from .._config import PARALLEL_MIN_WORK, jit, jit_inline, jit_parallel
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


# ------------------------------------------------------------------- kernels
# Each kernel runs its row body on one thread below PARALLEL_MIN_WORK
# elements (over the batch viewed as one long row, see ``flat``), else over
# the thread team (rows are independent). On one thread, a backward kernel
# always works in place (copying dout into dinp first unless they are the
# same buffer, as in the training loop) and hands its row body one array
# for both: given two, LLVM checks at run time that the written one does
# not overlap the read one, finds that in place it does, and runs its
# scalar loop (relu's backward over 128 x 1024 float32: 70 us in place,
# 15 us with one array; the deep workload's epoch: 850 -> 690-720 ms). One
# call of the row body, not two, keeps the cold compile down. The parallel
# branch, for huge batches only, is left general.


@jit_parallel
def identity_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _identity_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _identity_forward_row(i, o, x)


@jit_parallel
def identity_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _identity_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _identity_backward_row(i, di, di, o, x)


@jit_parallel
def sigmoid_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _sigmoid_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _sigmoid_forward_row(i, o, x)


@jit_parallel
def sigmoid_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _sigmoid_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _sigmoid_backward_row(i, di, di, o, x)


@jit_parallel
def tanh_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _tanh_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _tanh_forward_row(i, o, x)


@jit_parallel
def tanh_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _tanh_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _tanh_backward_row(i, di, di, o, x)


@jit_parallel
def relu_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _relu_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _relu_forward_row(i, o, x)


@jit_parallel
def relu_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _relu_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _relu_backward_row(i, di, di, o, x)


@jit_parallel
def leaky_relu_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _leaky_relu_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _leaky_relu_forward_row(i, o, x)


@jit_parallel
def leaky_relu_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _leaky_relu_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _leaky_relu_backward_row(i, di, di, o, x)


@jit_parallel
def elu_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _elu_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _elu_forward_row(i, o, x)


@jit_parallel
def elu_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _elu_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _elu_backward_row(i, di, di, o, x)


@jit_parallel
def gelu_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _gelu_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _gelu_forward_row(i, o, x)


@jit_parallel
def gelu_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _gelu_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _gelu_backward_row(i, di, di, o, x)


@jit_parallel
def silu_forward(out, inp):
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _silu_forward_row(i, out, inp)
    else:
        o, x = one_row_2(out, inp)
        for i in range(o.shape[0]):
            _silu_forward_row(i, o, x)


@jit_parallel
def silu_backward(dinp, dout, out, inp):
    if dout.size >= PARALLEL_MIN_WORK:
        for i in prange(dout.shape[0]):
            _silu_backward_row(i, dinp, dout, out, inp)
    else:
        di, do, o, x = one_row_4(dinp, dout, out, inp)
        if not same_buffer(dinp, dout):
            identity_forward(di, do)  # a copy
        for i in range(di.shape[0]):
            _silu_backward_row(i, di, di, o, x)


ACTIVATIONS = {
    "identity": identity_forward,
    "sigmoid": sigmoid_forward,
    "tanh": tanh_forward,
    "relu": relu_forward,
    "leaky_relu": leaky_relu_forward,
    "elu": elu_forward,
    "gelu": gelu_forward,
    "silu": silu_forward,
}

DERIVATIVES = {
    "identity": identity_backward,
    "sigmoid": sigmoid_backward,
    "tanh": tanh_backward,
    "relu": relu_backward,
    "leaky_relu": leaky_relu_backward,
    "elu": elu_backward,
    "gelu": gelu_backward,
    "silu": silu_backward,
}


@jit
def activation_forward(out, inp, code):
    """Dispatch on an activation code (see ``_codes``)."""
    if code == IDENTITY:
        identity_forward(out, inp)
    elif code == SIGMOID:
        sigmoid_forward(out, inp)
    elif code == TANH:
        tanh_forward(out, inp)
    elif code == RELU:
        relu_forward(out, inp)
    elif code == LEAKY_RELU:
        leaky_relu_forward(out, inp)
    elif code == ELU:
        elu_forward(out, inp)
    elif code == GELU:
        gelu_forward(out, inp)
    else:
        silu_forward(out, inp)


@jit
def activation_backward(dinp, dout, out, inp, code):
    """Dispatch on an activation code (see ``_codes``)."""
    if code == IDENTITY:
        identity_backward(dinp, dout, out, inp)
    elif code == SIGMOID:
        sigmoid_backward(dinp, dout, out, inp)
    elif code == TANH:
        tanh_backward(dinp, dout, out, inp)
    elif code == RELU:
        relu_backward(dinp, dout, out, inp)
    elif code == LEAKY_RELU:
        leaky_relu_backward(dinp, dout, out, inp)
    elif code == ELU:
        elu_backward(dinp, dout, out, inp)
    elif code == GELU:
        gelu_backward(dinp, dout, out, inp)
    else:
        silu_backward(dinp, dout, out, inp)
