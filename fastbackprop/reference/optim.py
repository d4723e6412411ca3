"""NumPy twin of :mod:`fastbackprop.kernels.optim`, written straight from
torch.optim's documented algorithms."""

import math

import numpy as np

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


def sgd_update(params, grads, learning_rate):
    params -= learning_rate * grads


def update_slice(params, grads, state0, state1, hyper, step, lr, code):
    state = np.stack([state0, state1])
    optimizer_update(params, grads, state, hyper, step, lr, code)
    state0[...], state1[...] = state


def optimizer_update(params, grads, state, hyper, step, learning_rate, code):
    lr = float(learning_rate)
    wd = float(hyper[HYPER_WEIGHT_DECAY])
    dtype = params.dtype.type
    if code == SGD:
        momentum = float(hyper[HYPER_MOMENTUM])
        g = grads + dtype(wd) * params
        if momentum != 0.0:
            state[0] = dtype(momentum) * state[0] + g
            g = g + dtype(momentum) * state[0] if hyper[HYPER_NESTEROV] else state[0]
        params -= dtype(lr) * g
    elif code in (ADAM, ADAMW):
        beta1, beta2 = float(hyper[HYPER_MOMENTUM]), float(hyper[HYPER_BETA2])
        eps = float(hyper[HYPER_EPS])
        t = step + 1
        g = grads
        if code == ADAMW:
            params *= dtype(1.0 - lr * wd)
        else:
            g = grads + dtype(wd) * params
        state[0] = dtype(beta1) * state[0] + dtype(1 - beta1) * g
        state[1] = dtype(beta2) * state[1] + dtype(1 - beta2) * g * g
        denom = np.sqrt(state[1]) / dtype(math.sqrt(1 - beta2**t)) + dtype(eps)
        params -= dtype(lr / (1 - beta1**t)) * state[0] / denom
    else:
        alpha, eps = float(hyper[HYPER_MOMENTUM]), float(hyper[HYPER_EPS])
        momentum = float(hyper[HYPER_RMS_MOMENTUM])
        g = grads + dtype(wd) * params
        state[0] = dtype(alpha) * state[0] + dtype(1 - alpha) * g * g
        update = g / (np.sqrt(state[0]) + dtype(eps))
        if momentum > 0:
            state[1] = dtype(momentum) * state[1] + update
            update = state[1]
        params -= dtype(lr) * update


def clip_gradients(grads, max_norm):
    norm = float(np.sqrt(np.sum(grads.astype(np.float64) ** 2)))
    factor = max_norm / (norm + 1e-6)
    if factor < 1.0:
        grads *= grads.dtype.type(factor)
    return norm


def all_finite(values):
    return bool(np.isfinite(values).all())
