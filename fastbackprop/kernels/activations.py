"""Hidden-layer activations: ``<act>_forward(out, inp)`` and
``<act>_backward(dinp, dout, out, inp)``, one small kernel each.

Forward writes ``out = f(inp)``. Backward writes ``dinp = dout * f'(inp)``,
computing the derivative from the forward output where the math allows
(sigmoid, tanh, relu, leaky_relu, elu) and from ``inp`` otherwise (gelu,
silu). ``dinp`` may be the same buffer as ``dout`` (else it must not
overlap ``dout``, ``out`` or ``inp``: it is written first). All buffers are
``(batch, n)``.

Each activation is a kernel of its own, not a branch of one kernel that
dispatches on a code: the training loop calls them through function
pointers (``ops``), so a network compiles only the activations it uses
(all eight as branches of one kernel cost about 3 s of every first fit,
docs/performance.md). ``FORWARD[code]``/``BACKWARD[code]`` list them in the
order of ``_codes.ACTIVATION_TABLE``.
"""

import math

from .._codes import ACTIVATION_TABLE, LEAKY_SLOPE
from .._config import jit, jit_inline
from .elementary import sigmoid_fast, tanh_fast
from .flat import one_row_2, one_row_4, same_buffer

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# The backward kernels always work in place (copying dout into dinp first
# unless they are the same buffer, as in the training loop) and loop over
# one array for both: given two, LLVM checks at run time that the written one
# does not overlap the read one, finds that in place it does, and runs its
# scalar loop (relu's backward over 128 x 1024 float32: 70 us in place, 15
# us with one array; the deep workload's epoch: 850 -> 690-720 ms). Every
# kernel sees a C-contiguous batch as one long row (``flat``).


@jit_inline
def _in_place(dinp, dout, out, inp):
    """``dinp`` holding ``dout``, and the four arrays as one long row each."""
    di, do, o, x = one_row_4(dinp, dout, out, inp)
    if not same_buffer(dinp, dout):
        for i in range(di.shape[0]):
            for j in range(di.shape[1]):
                di[i, j] = do[i, j]
    return di, o, x


@jit
def identity_forward(out, inp):
    o, x = one_row_2(out, inp)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            o[i, j] = x[i, j]


@jit
def identity_backward(dinp, dout, out, inp):
    _in_place(dinp, dout, out, inp)


@jit
def sigmoid_forward(out, inp):
    o, x = one_row_2(out, inp)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            o[i, j] = sigmoid_fast(x[i, j])


@jit
def sigmoid_backward(dinp, dout, out, inp):
    d, o, _ = _in_place(dinp, dout, out, inp)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            s = o[i, j]
            d[i, j] = d[i, j] * s * (1 - s)


@jit
def tanh_forward(out, inp):
    o, x = one_row_2(out, inp)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            o[i, j] = tanh_fast(x[i, j])


@jit
def tanh_backward(dinp, dout, out, inp):
    d, o, _ = _in_place(dinp, dout, out, inp)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            t = o[i, j]
            d[i, j] *= 1 - t * t


@jit
def relu_forward(out, inp):
    o, x = one_row_2(out, inp)
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            o[i, j] = v if v > zero else zero


@jit
def relu_backward(dinp, dout, out, inp):
    d, o, _ = _in_place(dinp, dout, out, inp)
    zero = d.dtype.type(0)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            d[i, j] = d[i, j] if o[i, j] > zero else zero


@jit
def leaky_relu_forward(out, inp):
    o, x = one_row_2(out, inp)
    slope = x.dtype.type(LEAKY_SLOPE)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            o[i, j] = v if v > 0 else slope * v


@jit
def leaky_relu_backward(dinp, dout, out, inp):
    d, o, _ = _in_place(dinp, dout, out, inp)
    slope = d.dtype.type(LEAKY_SLOPE)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            g = d[i, j]
            # out > 0 exactly when inp > 0, since the slope is positive
            d[i, j] = g if o[i, j] > 0 else slope * g


@jit
def elu_forward(out, inp):
    o, x = one_row_2(out, inp)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            o[i, j] = v if v > 0 else math.expm1(v)


@jit
def elu_backward(dinp, dout, out, inp):
    d, o, _ = _in_place(dinp, dout, out, inp)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            y = o[i, j]
            # for x <= 0, d/dx (e^x - 1) = e^x = y + 1
            d[i, j] = d[i, j] if y > 0 else d[i, j] * (y + 1)


@jit
def gelu_forward(out, inp):
    o, x = one_row_2(out, inp)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            o[i, j] = 0.5 * v * (1.0 + math.erf(v * _INV_SQRT2))


@jit
def gelu_backward(dinp, dout, out, inp):
    d, _, x = _in_place(dinp, dout, out, inp)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            v = x[i, j]
            # d/dx x*Phi(x) = Phi(x) + x*phi(x)
            cdf = 0.5 * (1.0 + math.erf(v * _INV_SQRT2))
            pdf = _INV_SQRT_2PI * math.exp(-0.5 * v * v)
            d[i, j] *= cdf + v * pdf


@jit
def silu_forward(out, inp):
    o, x = one_row_2(out, inp)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            o[i, j] = v * sigmoid_fast(v)


@jit
def silu_backward(dinp, dout, out, inp):
    d, _, x = _in_place(dinp, dout, out, inp)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            v = x[i, j]
            s = sigmoid_fast(v)
            # d/dx x*s(x) = s + x*s*(1-s)
            d[i, j] = d[i, j] * s * (1.0 + v * (1.0 - s))


_KERNELS = globals()
#: the forward kernels in the order of ``_codes.ACTIVATION_TABLE`` (by code)
FORWARD = tuple(_KERNELS[f"{act.name}_forward"] for act in ACTIVATION_TABLE)
#: the backward kernels in the order of ``_codes.ACTIVATION_TABLE`` (by code)
BACKWARD = tuple(_KERNELS[f"{act.name}_backward"] for act in ACTIVATION_TABLE)
#: name -> ``forward(out, inp)``
ACTIVATIONS = {act.name: FORWARD[act.code] for act in ACTIVATION_TABLE}
#: name -> ``backward(dinp, dout, out, inp)``
DERIVATIVES = {act.name: BACKWARD[act.code] for act in ACTIVATION_TABLE}


def check_code(code):
    """Raise ``ValueError`` unless ``code`` is an activation's code."""
    if isinstance(code, bool) or not hasattr(code, "__index__") or not 0 <= code < len(FORWARD):
        raise ValueError("unknown activation code (see _codes.ACTIVATION_TABLE)")


def activation_forward(out, inp, code):
    """``out = f(inp)`` for the activation ``code`` (``_codes``)."""
    check_code(code)
    FORWARD[code](out, inp)


def activation_backward(dinp, dout, out, inp, code):
    """``dinp = dout * f'(inp)`` for the activation ``code`` (``_codes``)."""
    check_code(code)
    BACKWARD[code](dinp, dout, out, inp)
