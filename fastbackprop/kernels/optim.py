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
    beta1,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    eps,
    decay,
    l2,
    step_size,
    inv_sqrt_correction2,
):
    # scalars arrive in the parameters' dtype, so float32 stays float32 and
    # the loop vectorises at full width
    p = params[i] * decay  # AdamW: decay the weight itself (decay = 1 for Adam)
    g = grads[i] + l2 * p  # Adam: L2 added to the gradient (l2 = 0 for AdamW)
    m = beta1 * state[0, i] + one_minus_beta1 * g
    v = beta2 * state[1, i] + one_minus_beta2 * (g * g)
    state[0, i] = m
    state[1, i] = v
    # torch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
    params[i] = p - step_size * m / (math.sqrt(v) * inv_sqrt_correction2 + eps)


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
        real = params.dtype.type
        beta1 = hyper[HYPER_MOMENTUM]
        beta2 = hyper[HYPER_BETA2]
        t = step + 1
        step_size = real(lr / (1.0 - beta1**t))
        inv_sc2 = real(1.0 / math.sqrt(1.0 - beta2**t))
        decay = real(1.0 - lr * wd) if code == ADAMW else real(1.0)
        l2 = real(0.0) if code == ADAMW else real(wd)
        b1, c1 = real(beta1), real(1.0 - beta1)
        b2, c2 = real(beta2), real(1.0 - beta2)
        eps = real(hyper[HYPER_EPS])
        if parallel:
            for i in prange(n):
                _adam_element(
                    i, params, grads, state, b1, c1, b2, c2, eps, decay, l2, step_size, inv_sc2
                )
        else:
            for i in range(n):
                _adam_element(
                    i, params, grads, state, b1, c1, b2, c2, eps, decay, l2, step_size, inv_sc2
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
