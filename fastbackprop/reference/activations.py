"""NumPy twin of :mod:`fastbackprop.kernels.activations`."""

import math

import numpy as np
from scipy.special import erf

from .._codes import ACTIVATION_TABLE, LEAKY_SLOPE

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def sigmoid_values(x):
    """Overflow-free logistic function: exp is only taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def identity_forward(out, inp):
    out[...] = inp


def identity_backward(dinp, dout, out, inp):
    dinp[...] = dout


def sigmoid_forward(out, inp):
    out[...] = sigmoid_values(inp)


def sigmoid_backward(dinp, dout, out, inp):
    dinp[...] = dout * out * (1 - out)


def tanh_forward(out, inp):
    np.tanh(inp, out=out)


def tanh_backward(dinp, dout, out, inp):
    dinp[...] = dout * (1 - out * out)


def relu_forward(out, inp):
    np.maximum(inp, 0, out=out)


def relu_backward(dinp, dout, out, inp):
    dinp[...] = np.where(out > 0, dout, 0)


def leaky_relu_forward(out, inp):
    out[...] = np.where(inp > 0, inp, inp * inp.dtype.type(LEAKY_SLOPE))


def leaky_relu_backward(dinp, dout, out, inp):
    dinp[...] = np.where(out > 0, dout, dout * dout.dtype.type(LEAKY_SLOPE))


def elu_forward(out, inp):
    out[...] = np.where(inp > 0, inp, np.expm1(np.minimum(inp, 0)))


def elu_backward(dinp, dout, out, inp):
    dinp[...] = np.where(out > 0, dout, dout * (out + 1))


def gelu_forward(out, inp):
    out[...] = 0.5 * inp * (1 + erf(inp * _INV_SQRT2))


def gelu_backward(dinp, dout, out, inp):
    cdf = 0.5 * (1 + erf(inp * _INV_SQRT2))
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * inp * inp)
    dinp[...] = dout * (cdf + inp * pdf)


def silu_forward(out, inp):
    out[...] = inp * sigmoid_values(inp)


def silu_backward(dinp, dout, out, inp):
    s = sigmoid_values(inp)
    dinp[...] = dout * s * (1 + inp * (1 - s))


#: name -> ``forward(out, inp)``, one per row of _codes.ACTIVATION_TABLE
ACTIVATIONS = {act.name: globals()[f"{act.name}_forward"] for act in ACTIVATION_TABLE}
#: name -> ``backward(dinp, dout, out, inp)``
DERIVATIVES = {act.name: globals()[f"{act.name}_backward"] for act in ACTIVATION_TABLE}
_NAMES = {act.code: act.name for act in ACTIVATION_TABLE}


def _name(code):
    try:
        return _NAMES[int(code)]
    except KeyError:
        raise ValueError("unknown activation code (see _codes.ACTIVATION_TABLE)") from None


def activation_forward(out, inp, code):
    ACTIVATIONS[_name(code)](out, inp)


def activation_backward(dinp, dout, out, inp, code):
    DERIVATIVES[_name(code)](dinp, dout, out, inp)
