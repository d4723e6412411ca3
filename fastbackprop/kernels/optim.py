"""Parameter updates: one loop over the flat parameter buffer.

``optimizer_update`` applies torch.optim's documented algorithms (SGD with
dampening 0, Adam with L2 weight decay, AdamW with decoupled decay, RMSprop
uncentred). ``state`` is ``(2, n_params)``: the optimizer's moment buffers,
zero before the first step. ``step`` counts steps already taken.
"""

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
from .._config import jit, jit_inline
from .._layout import OptSlot


@jit
def sgd_update(params, grads, learning_rate):  # params, grads: (n_params,)
    for i in range(params.shape[0]):
        params[i] -= learning_rate * grads[i]


@jit_inline
def _sgd_momentum_element(i, g, params, m, lr, momentum, weight_decay, nesterov):
    g = g + weight_decay * params[i]
    # zero-initialised buffer: the first step gives buf = g, as torch's clone
    buf = momentum * m[i] + g
    m[i] = buf
    g = g + momentum * buf if nesterov else buf
    params[i] -= lr * g


@jit_inline
def _adam_element(
    i,
    g,
    params,
    m,
    v,
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
    g = g + l2 * p  # Adam: L2 added to the gradient (l2 = 0 for AdamW)
    mi = beta1 * m[i] + one_minus_beta1 * g
    vi = beta2 * v[i] + one_minus_beta2 * (g * g)
    m[i] = mi
    v[i] = vi
    # torch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
    params[i] = p - step_size * mi / (math.sqrt(vi) * inv_sqrt_correction2 + eps)


@jit_inline
def _rmsprop_step(i, g, params, v, alpha, one_minus_alpha, eps, weight_decay):
    # the step before momentum and the learning rate; updates v
    g = g + weight_decay * params[i]
    vi = alpha * v[i] + one_minus_alpha * g * g
    v[i] = vi
    return g / (math.sqrt(vi) + eps)


@jit
def _sgd_slice(params, grads, m, lr, momentum, wd, nesterov):
    # One loop per case. A loop-invariant branch left inside the loop (on
    # ``momentum``) was not hoisted by LLVM here and made the loop 100x
    # slower than these.
    if momentum == 0.0:
        for i in range(params.shape[0]):
            g = grads[i]  # a named value: read inline, Numba kept refcounts in the loop
            params[i] -= lr * (g + wd * params[i])
    else:
        for i in range(params.shape[0]):
            g = grads[i]
            _sgd_momentum_element(i, g, params, m, lr, momentum, wd, nesterov)


@jit
def _adam_slice(params, grads, m, v, lr, hyper, step, decoupled):
    real = params.dtype.type
    beta1 = hyper[HYPER_MOMENTUM]
    beta2 = hyper[HYPER_BETA2]
    wd = hyper[HYPER_WEIGHT_DECAY]
    t = step + 1
    step_size = real(lr / (1.0 - beta1**t))
    inv_sc2 = real(1.0 / math.sqrt(1.0 - beta2**t))
    decay = real(1.0 - lr * wd) if decoupled else real(1.0)
    l2 = real(0.0) if decoupled else real(wd)
    b1, c1 = real(beta1), real(1.0 - beta1)
    b2, c2 = real(beta2), real(1.0 - beta2)
    if hyper[HYPER_EPS_BEFORE_CORRECTION] != 0.0:
        # scikit-learn's m / (sqrt(v) + eps) * sqrt(bc2) / bc1 is torch's form
        # with eps / sqrt(bc2) in place of eps
        eps = real(hyper[HYPER_EPS] * (1.0 / math.sqrt(1.0 - beta2**t)))
    else:
        eps = real(hyper[HYPER_EPS])
    for i in range(params.shape[0]):
        g = grads[i]
        _adam_element(i, g, params, m, v, b1, c1, b2, c2, eps, decay, l2, step_size, inv_sc2)


@jit
def _rmsprop_slice(params, grads, v, buf, lr, alpha, one_minus_alpha, eps, wd, momentum):
    c = one_minus_alpha
    if momentum > 0.0:
        for i in range(params.shape[0]):
            g = grads[i]
            step = _rmsprop_step(i, g, params, v, alpha, c, eps, wd)
            buf[i] = momentum * buf[i] + step
            params[i] -= lr * buf[i]
    else:
        for i in range(params.shape[0]):
            g = grads[i]
            params[i] -= lr * _rmsprop_step(i, g, params, v, alpha, c, eps, wd)


# One kernel per optimizer, all with the signature ``(params, grads, state0,
# state1, hyper, step, lr)`` on 1-D slices of equal length (``state0``/
# ``state1``: the matching slices of the two moment buffers): the training
# loop calls the fit's own one through a function pointer (``ops``), so a fit
# compiles only its optimizer. Indexing the slices from 0 lets LLVM drop the
# negative-index checks and vectorise (measured: a loop over ``range(lo,
# hi)`` of the whole buffers was 9x slower). Scalars are cast to the
# parameters' dtype, so float32 stays float32 and the loops vectorise at
# full width (torch computes in the parameters' dtype).


@jit
def sgd_slice(params, grads, state0, state1, hyper, step, lr):
    real = params.dtype.type
    momentum = real(hyper[HYPER_MOMENTUM])
    nesterov = hyper[HYPER_NESTEROV] != 0.0
    wd = real(hyper[HYPER_WEIGHT_DECAY])
    _sgd_slice(params, grads, state0, real(lr), momentum, wd, nesterov)


@jit
def adam_slice(params, grads, state0, state1, hyper, step, lr):
    _adam_slice(params, grads, state0, state1, params.dtype.type(lr), hyper, step, False)


@jit
def adamw_slice(params, grads, state0, state1, hyper, step, lr):
    _adam_slice(params, grads, state0, state1, params.dtype.type(lr), hyper, step, True)


@jit
def rmsprop_slice(params, grads, state0, state1, hyper, step, lr):
    real = params.dtype.type
    alpha = real(hyper[HYPER_MOMENTUM])
    # rounded once from float64, as torch's and the reference's 1 - alpha
    one_minus_alpha = real(1.0 - hyper[HYPER_MOMENTUM])
    eps = real(hyper[HYPER_EPS])
    momentum = real(hyper[HYPER_RMS_MOMENTUM])
    wd = real(hyper[HYPER_WEIGHT_DECAY])
    _rmsprop_slice(
        params, grads, state0, state1, real(lr), alpha, one_minus_alpha, eps, wd, momentum
    )


#: optimizer code (``_codes``) -> its slice kernel
UPDATES = {SGD: sgd_slice, ADAM: adam_slice, ADAMW: adamw_slice, RMSPROP: rmsprop_slice}


def update_kernel(code):
    """The slice kernel of the optimizer ``code``."""
    try:
        return UPDATES[code]
    except (KeyError, TypeError):
        raise ValueError("unknown optimizer code (see _codes)") from None


def update_slice(params, grads, state0, state1, hyper, step, lr, code):
    """One optimizer step on a slice of the parameters (the kernel of
    ``code``, chosen in Python: the NumPy twin's entry point)."""
    update_kernel(code)(params, grads, state0, state1, hyper, step, lr)


def optimizer_update(params, grads, state, hyper, step, learning_rate, code):
    """One optimizer step; ``step`` is the number of steps taken before it."""
    first, second = state[OptSlot.FIRST], state[OptSlot.SECOND]
    update_slice(params, grads, first, second, hyper, step, learning_rate, code)


@jit
def clip_gradients(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_: scale every gradient by
    max_norm / (norm + 1e-6) when that is below 1. Returns the norm."""
    total = 0.0
    for i in range(grads.shape[0]):  # one thread, fixed order
        g = np.float64(grads[i])  # squared in float64: a float32 square overflows at 1.8e19
        total += g * g
    norm = math.sqrt(total)
    factor = max_norm / (norm + 1e-6)
    if factor < 1.0:
        scale = grads.dtype.type(factor)  # rounded once, as torch's coefficient tensor
        for i in range(grads.shape[0]):
            grads[i] *= scale
    return norm


@jit
def all_finite(values):  # values: (n,)
    # x * 0 is 0 for finite x and NaN for inf or NaN; the sum vectorises
    probe = 0.0
    for i in range(values.shape[0]):
        probe += values[i] * 0
    return math.isfinite(probe)


@jit
def all_in_range(values):  # values: (n,)
    """Whether every value is finite and at most the square root of the
    dtype's largest value in magnitude: training treats a parameter beyond
    it as divergence, since its square overflows (the L2 penalty, the
    clipping norm) and so do ordinary outputs."""
    bound = math.sqrt(np.finfo(values.dtype).max)
    probe = 0.0
    peak = 0.0
    for i in range(values.shape[0]):
        probe += values[i] * 0
        peak = max(peak, abs(values[i]))
    return math.isfinite(probe) and peak <= bound
