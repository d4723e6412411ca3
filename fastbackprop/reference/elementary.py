"""NumPy twin of :mod:`fastbackprop.kernels.elementary` (scalar or array in,
float64 out), used to state the compiled approximations' accuracy."""

import numpy as np


def exp_nonpositive(x):
    return np.exp(np.maximum(np.asarray(x, dtype=np.float64), -708.0))


def tanh_fast(x):
    return np.tanh(np.asarray(x, dtype=np.float64))


def sigmoid_fast(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def log1p_unit(x):
    return np.log1p(np.asarray(x, dtype=np.float64))
