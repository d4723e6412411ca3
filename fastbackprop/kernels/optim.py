"""Parameter updates: one parallel loop over the flat parameter buffer."""

import math

from numba import prange

from .._config import PARALLEL_MIN_WORK, jit, jit_parallel


@jit_parallel
def sgd_update(params, grads, learning_rate):  # params, grads: (n_params,)
    if params.size >= PARALLEL_MIN_WORK:
        for i in prange(params.shape[0]):
            params[i] -= learning_rate * grads[i]
    else:
        for i in range(params.shape[0]):
            params[i] -= learning_rate * grads[i]


@jit
def all_finite(values):  # values: (n,)
    # x * 0 is 0 for finite x and NaN for inf or NaN; the sum vectorises
    probe = 0.0
    for i in range(values.shape[0]):
        probe += values[i] * 0
    return math.isfinite(probe)
