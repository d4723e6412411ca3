"""Parameter updates: one parallel loop over the flat parameter buffer."""

import math

from numba import prange

from .._config import jit_parallel


@jit_parallel
def sgd_update(params, grads, learning_rate):  # params, grads: (n_params,)
    for i in prange(params.shape[0]):
        params[i] -= learning_rate * grads[i]


@jit_parallel
def all_finite(values):  # values: (n,)
    bad = 0
    for i in prange(values.shape[0]):
        if not math.isfinite(values[i]):
            bad += 1
    return bad == 0
