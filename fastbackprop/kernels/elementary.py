"""Vectorisable exp, tanh and sigmoid.

The installed llvmlite has no SVML, so ``math.exp``/``math.tanh`` are scalar
libm calls that stop a loop from vectorising. These are Cephes' rational
approximations with Cody-Waite range reduction, computed in float64 (float32
inputs are widened and the result rounded once). The scale 2**n is built
from its exponent bits, which vectorises where ``ldexp`` would not.

Accuracy against NumPy (checked by tests/test_elementary.py): float64
relative error below 1e-15 over the whole range; float32 results are the
correctly rounded float64 ones, within 1 ulp of NumPy's.
"""

import math

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._config import jit_inline

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93145751953125e-1  # ln 2 split so n * _LN2_HI is exact
_LN2_LO = 1.42860682030941723212e-6
_EXP_MIN = -708.0  # e**-708 is still a normal float64; below, the 2**n bits wrap


@intrinsic
def _float64_from_bits(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@jit_inline
def _exp_pade_nonpositive(u):
    """e**u for u <= 0 (clamped below at -708) as the pair ``(a, b)`` with
    e**u = b / a: Cephes' Pade form before its division, so a caller can
    fold that division into its own."""
    u = max(u, _EXP_MIN)
    n = math.floor(u * _LOG2E + 0.5)
    r = u - n * _LN2_HI
    r = r - n * _LN2_LO
    rr = r * r
    p = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 1.0)
    q = (
        (3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
        + 2.27265548208155028766e-1
    ) * rr + 2.0
    # 1 + 2p / (q - p) = (q + p) / (q - p)
    return q - p, (q + p) * _float64_from_bits((int(n) + 1023) << 52)


@jit_inline
def exp_nonpositive(x):
    """e**x for x <= 0 (clamped to e**-708 below -708), as float64."""
    a, b = _exp_pade_nonpositive(float(x))
    return b / a


@jit_inline
def tanh_fast(x):
    """tanh(x) as float64, with one division.

    A vectorised loop computes both branches and selects, so every
    division counts: they run on the divider, the slowest unit here. Each
    branch ends as a quotient ``num / den`` and only the selected one is
    divided: 1.8 -> 1.1 ns per float64 element, measured, against three
    divisions before.
    """
    x = float(x)
    t = abs(x)
    # near 0: tanh t = t + t^3 P(t^2) / Q(t^2) = t (Q + t^2 P) / Q, where
    # 1 - e^-2t would cancel
    z = t * t
    p_small = (
        -9.64399179425052238628e-1 * z - 9.92877231001918586564e1
    ) * z - 1.61468768441708447952e3
    q_small = (
        (z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3
    ) * z + 4.84406305325125486048e3
    # elsewhere: with e = e^-2t = b / a, tanh t = (1 - e) / (1 + e)
    # = (a - b) / (a + b)
    a, b = _exp_pade_nonpositive(-2.0 * t)
    if t < 0.625:
        num = t * (q_small + z * p_small)
        den = q_small
    else:
        num = a - b
        den = a + b
    y = num / den
    return y if x >= 0 else -y


@jit_inline
def sigmoid_fast(x):
    """1 / (1 + e**-x) as float64, never overflowing: exp only of -|x|.
    With e = b / a, 1 / (1 + e) = a / (a + b): one division."""
    x = float(x)
    a, b = _exp_pade_nonpositive(-abs(x))
    return (a if x >= 0 else b) / (a + b)
