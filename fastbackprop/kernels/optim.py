"""Parameter updates: one loop over the flat parameter buffer.

``optimizer_update`` applies torch.optim's documented algorithms (SGD with
dampening 0, Adam with L2 weight decay, AdamW with decoupled decay, RMSprop
uncentred). ``state`` is ``(2, n_params)``: the optimizer's moment buffers,
zero before the first step. ``step`` counts steps already taken.
"""

import math

from numba import prange

from .._codes import (
    ADAM,
    ADAMW,
    HYPER_BETA2,
    HYPER_EPS,
    HYPER_MOMENTUM,
    HYPER_NESTEROV,
    HYPER_RMS_MOMENTUM,
    HYPER_WEIGHT_DECAY,
    SGD,
)
from .._config import PARALLEL_MIN_WORK, jit, jit_inline, jit_parallel


@jit_parallel
def sgd_update(params, grads, learning_rate):  # params, grads: (n_params,)
    if params.size >= PARALLEL_MIN_WORK:
        for i in prange(params.shape[0]):
            params[i] -= learning_rate * grads[i]
    else:
        for i in range(params.shape[0]):
            params[i] -= learning_rate * grads[i]


@jit_inline
def _sgd_element(i, params, grads, state, lr, momentum, weight_decay, nesterov):
    g = grads[i] + weight_decay * params[i]
    if momentum != 0.0:
        # zero-initialised buffer: the first step gives buf = g, as torch's clone
        buf = momentum * state[0, i] + g
        state[0, i] = buf
        g = g + momentum * buf if nesterov else buf
    params[i] -= lr * g


@jit_inline
def _adam_element(
    i,
    params,
    grads,
    state,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled,
    correction1,
    sqrt_correction2,
):
    p = params[i]
    g = grads[i]
    if decoupled:
        p = p * (1.0 - lr * weight_decay)  # AdamW: decay the weight itself
    else:
        g = g + weight_decay * p  # Adam: L2 added to the gradient
    m = beta1 * state[0, i] + (1.0 - beta1) * g
    v = beta2 * state[1, i] + (1.0 - beta2) * g * g
    state[0, i] = m
    state[1, i] = v
    # torch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
    params[i] = p - (lr / correction1) * m / (math.sqrt(v) / sqrt_correction2 + eps)


@jit_inline
def _rmsprop_element(i, params, grads, state, lr, alpha, eps, weight_decay, momentum):
    g = grads[i] + weight_decay * params[i]
    v = alpha * state[0, i] + (1.0 - alpha) * g * g
    state[0, i] = v
    step = g / (math.sqrt(v) + eps)
    if momentum > 0.0:
        step = momentum * state[1, i] + step
        state[1, i] = step
    params[i] -= lr * step


@jit_parallel
def optimizer_update(params, grads, state, hyper, step, learning_rate, code):
    """One optimizer step; ``step`` is the number of steps taken before it."""
    n = params.shape[0]
    parallel = n >= PARALLEL_MIN_WORK
    lr = learning_rate
    wd = hyper[HYPER_WEIGHT_DECAY]
    if code == SGD:
        momentum = hyper[HYPER_MOMENTUM]
        nesterov = hyper[HYPER_NESTEROV] != 0.0
        if parallel:
            for i in prange(n):
                _sgd_element(i, params, grads, state, lr, momentum, wd, nesterov)
        else:
            for i in range(n):
                _sgd_element(i, params, grads, state, lr, momentum, wd, nesterov)
    elif code == ADAM or code == ADAMW:
        beta1 = hyper[HYPER_MOMENTUM]
        beta2 = hyper[HYPER_BETA2]
        eps = hyper[HYPER_EPS]
        t = step + 1
        c1 = 1.0 - beta1**t
        sc2 = math.sqrt(1.0 - beta2**t)
        decoupled = code == ADAMW
        if parallel:
            for i in prange(n):
                _adam_element(
                    i, params, grads, state, lr, beta1, beta2, eps, wd, decoupled, c1, sc2
                )
        else:
            for i in range(n):
                _adam_element(
                    i, params, grads, state, lr, beta1, beta2, eps, wd, decoupled, c1, sc2
                )
    else:
        alpha = hyper[HYPER_MOMENTUM]
        eps = hyper[HYPER_EPS]
        momentum = hyper[HYPER_RMS_MOMENTUM]
        if parallel:
            for i in prange(n):
                _rmsprop_element(i, params, grads, state, lr, alpha, eps, wd, momentum)
        else:
            for i in range(n):
                _rmsprop_element(i, params, grads, state, lr, alpha, eps, wd, momentum)


@jit
def clip_gradients(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_: scale every gradient by
    max_norm / (norm + 1e-6) when that is below 1. Returns the norm."""
    total = 0.0
    for i in range(grads.shape[0]):  # one thread, fixed order
        total += grads[i] * grads[i]
    norm = math.sqrt(total)
    factor = max_norm / (norm + 1e-6)
    if factor < 1.0:
        for i in range(grads.shape[0]):
            grads[i] *= factor
    return norm


@jit
def all_finite(values):  # values: (n,)
    # x * 0 is 0 for finite x and NaN for inf or NaN; the sum vectorises
    probe = 0.0
    for i in range(values.shape[0]):
        probe += values[i] * 0
    return math.isfinite(probe)
