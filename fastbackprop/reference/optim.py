"""NumPy twin of :mod:`fastbackprop.kernels.optim`."""

import numpy as np


def sgd_update(params, grads, learning_rate):
    params -= learning_rate * grads


def all_finite(values):
    return bool(np.isfinite(values).all())
