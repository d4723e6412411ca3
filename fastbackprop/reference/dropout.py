"""NumPy twin of :mod:`fastbackprop.kernels.dropout` (bit-identical masks)."""

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT = 1.0 / 9007199254740992.0


def mix64(x):
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def dropout_key(seed, step, layer, first_row, n_cols):
    with np.errstate(over="ignore"):
        k = mix64(np.uint64(seed) + np.uint64(step) * _GOLDEN)
        key = mix64(k ^ (np.uint64(layer + 1) * _GOLDEN))
        return key + np.uint64(first_row * n_cols) * _GOLDEN


def _mask_scale(shape, rate, key):
    rows, cols = shape
    index = np.arange(rows * cols, dtype=np.uint64).reshape(rows, cols)
    with np.errstate(over="ignore"):
        h = mix64(np.uint64(key) + index * _GOLDEN)
    u = (h >> np.uint64(11)).astype(np.float64) * _UNIT
    return np.where(u >= rate, 1.0 / (1.0 - rate), 0.0)


def dropout_forward(out, inp, rate, key):
    out[...] = inp * _mask_scale(inp.shape, rate, key)


def dropout_backward(dinp, dout, rate, key):
    dinp[...] = dout * _mask_scale(dout.shape, rate, key)
