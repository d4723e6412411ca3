"""NumPy twin of :mod:`fastbackprop.kernels.optim`, written straight from
torch.optim's documented algorithms."""

import math

import numpy as np

from .._codes import (
    ADAM,
    ADAMW,
    HYPER_BETA2,
    HYPER_EPS,
    HYPER_EPS_BEFORE_CORRECTION,
    HYPER_MOMENTUM,
    HYPER_NESTEROV,
    HYPER_RMS_MOMENTUM,
    HYPER_WEIGHT_DECAY,
    RMSPROP,
    SGD,
)
from .._layout import OptSlot


def sgd_update(params, grads, learning_rate):
    params -= learning_rate * grads


def sgd_slice(params, grads, state0, state1, hyper, step, lr):
    update_slice(params, grads, state0, state1, hyper, step, lr, SGD)


def adam_slice(params, grads, state0, state1, hyper, step, lr):
    update_slice(params, grads, state0, state1, hyper, step, lr, ADAM)


def adamw_slice(params, grads, state0, state1, hyper, step, lr):
    update_slice(params, grads, state0, state1, hyper, step, lr, ADAMW)


def rmsprop_slice(params, grads, state0, state1, hyper, step, lr):
    update_slice(params, grads, state0, state1, hyper, step, lr, RMSPROP)


def update_slice(params, grads, state0, state1, hyper, step, lr, code):
    state = np.stack([state0, state1])  # rows named by OptSlot
    optimizer_update(params, grads, state, hyper, step, lr, code)
    state0[...], state1[...] = state[OptSlot.FIRST], state[OptSlot.SECOND]


def optimizer_update(params, grads, state, hyper, step, learning_rate, code):
    lr = float(learning_rate)
    wd = float(hyper[HYPER_WEIGHT_DECAY])
    dtype = params.dtype.type
    if code == SGD:
        momentum = float(hyper[HYPER_MOMENTUM])
        g = grads + dtype(wd) * params
        if momentum != 0.0:
            buf = state[OptSlot.FIRST]
            buf[...] = dtype(momentum) * buf + g
            g = g + dtype(momentum) * buf if hyper[HYPER_NESTEROV] else buf
        params -= dtype(lr) * g
    elif code in (ADAM, ADAMW):
        beta1, beta2 = float(hyper[HYPER_MOMENTUM]), float(hyper[HYPER_BETA2])
        eps = float(hyper[HYPER_EPS])
        t = step + 1
        if hyper[HYPER_EPS_BEFORE_CORRECTION]:  # scikit-learn's placement, as the kernel
            eps = eps * (1.0 / math.sqrt(1.0 - beta2**t))
        g = grads
        if code == ADAMW:
            params *= dtype(1.0 - lr * wd)
        else:
            g = grads + dtype(wd) * params
        m, v = state[OptSlot.FIRST], state[OptSlot.SECOND]
        m[...] = dtype(beta1) * m + dtype(1 - beta1) * g
        v[...] = dtype(beta2) * v + dtype(1 - beta2) * g * g
        denom = np.sqrt(v) / dtype(math.sqrt(1 - beta2**t)) + dtype(eps)
        params -= dtype(lr / (1 - beta1**t)) * m / denom
    elif code == RMSPROP:
        alpha, eps = float(hyper[HYPER_MOMENTUM]), float(hyper[HYPER_EPS])
        momentum = float(hyper[HYPER_RMS_MOMENTUM])
        g = grads + dtype(wd) * params
        square_avg, buf = state[OptSlot.FIRST], state[OptSlot.SECOND]
        square_avg[...] = dtype(alpha) * square_avg + dtype(1 - alpha) * g * g
        update = g / (np.sqrt(square_avg) + dtype(eps))
        if momentum > 0:
            buf[...] = dtype(momentum) * buf + update
            update = buf
        params -= dtype(lr) * update
    else:
        raise ValueError("unknown optimizer code (see _codes)")


def clip_gradients(grads, max_norm):
    norm = float(np.sqrt(np.sum(grads.astype(np.float64) ** 2)))
    factor = max_norm / (norm + 1e-6)
    if factor < 1.0:
        grads *= grads.dtype.type(factor)
    return norm


def all_finite(values):
    return bool(np.isfinite(values).all())


def all_in_range(values):
    """The kernels' ``all_in_range``: finite, and no larger in magnitude than
    the square root of the dtype's largest value."""
    bound = np.sqrt(np.finfo(values.dtype).max)
    return bool(np.isfinite(values).all() and np.abs(values).max(initial=0.0) <= bound)
