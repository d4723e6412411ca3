"""NumPy twin of :mod:`fastbackprop.kernels.losses`."""

import numpy as np

from .._codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, MSE, POISSON, SIGMOID
from .activations import sigmoid_values


def softmax_cross_entropy_forward(out, row_loss, logits, targets):
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    out[...] = e / s
    neg_log_softmax = (m + np.log(s)) - logits
    # skip zero targets so that 0 * inf never appears
    row_loss[...] = np.where(targets != 0, targets * neg_log_softmax, 0).sum(axis=1)


def softmax_cross_entropy_backward(dlogits, out, targets, row_scale):
    t_sum = targets.sum(axis=1, keepdims=True)
    dlogits[...] = (out * t_sum - targets) * row_scale[:, None]


def sigmoid_bce_forward(out, row_loss, logits, targets):
    out[...] = sigmoid_values(logits)
    z = logits
    elementwise = np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))
    row_loss[...] = elementwise.sum(axis=1)


def sigmoid_bce_backward(dlogits, out, targets, row_scale):
    dlogits[...] = (out - targets) * row_scale[:, None]


def _mse_forward(out, row_loss, logits, targets, output_code):
    out[...] = sigmoid_values(logits) if output_code == SIGMOID else logits
    row_loss[...] = ((out - targets) ** 2).sum(axis=1)


def _mse_backward(dlogits, out, targets, row_scale, output_code):
    g = 2 * (out - targets) * row_scale[:, None]
    if output_code == SIGMOID:
        g = g * out * (1 - out)
    dlogits[...] = g


def mse_forward(out, row_loss, logits, targets):
    _mse_forward(out, row_loss, logits, targets, 0)


def mse_backward(dlogits, out, targets, row_scale):
    _mse_backward(dlogits, out, targets, row_scale, 0)


def mse_sigmoid_forward(out, row_loss, logits, targets):
    _mse_forward(out, row_loss, logits, targets, SIGMOID)


def mse_sigmoid_backward(dlogits, out, targets, row_scale):
    _mse_backward(dlogits, out, targets, row_scale, SIGMOID)


def poisson_forward(out, row_loss, logits, targets):
    exp_forward(out, logits)
    row_loss[...] = (out - targets * logits).sum(axis=1)


def poisson_backward(dlogits, out, targets, row_scale):
    dlogits[...] = (out - targets) * row_scale[:, None]


def exp_forward(out, logits):
    out[...] = np.exp(logits)


def argmax_matches(out, targets):
    return int(np.sum(out.argmax(axis=1) == targets.argmax(axis=1)))


def threshold_matches(out, targets):
    return int(np.sum(np.all((out > 0.5) == (targets > 0.5), axis=1)))


def no_matches(out, targets):
    return 0


def weighted_mean(row_loss, weights, per_row):
    w = weights.astype(np.float64)
    return float((w * row_loss).sum()) / (float(w.sum()) * per_row)


LOSSES = {
    "cross_entropy": (softmax_cross_entropy_forward, softmax_cross_entropy_backward),
    "binary_cross_entropy": (sigmoid_bce_forward, sigmoid_bce_backward),
    "mse": (mse_forward, mse_backward),
    "poisson": (poisson_forward, poisson_backward),
}


def loss_forward(out, row_loss, logits, targets, weights, loss_code, output_code):
    if loss_code == CROSS_ENTROPY:
        softmax_cross_entropy_forward(out, row_loss, logits, targets)
        per_row = 1
    elif loss_code == BINARY_CROSS_ENTROPY:
        sigmoid_bce_forward(out, row_loss, logits, targets)
        per_row = logits.shape[1]
    elif loss_code == MSE:
        _mse_forward(out, row_loss, logits, targets, output_code)
        per_row = logits.shape[1]
    elif loss_code == POISSON:
        poisson_forward(out, row_loss, logits, targets)
        per_row = logits.shape[1]
    else:
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")
    return weighted_mean(row_loss, weights, per_row)


def loss_backward(dlogits, out, targets, weights, row_scale, loss_code, output_code):
    per_row = 1 if loss_code == CROSS_ENTROPY else dlogits.shape[1]
    row_scale[...] = weights / (weights.astype(np.float64).sum() * per_row)
    scaled_loss_backward(dlogits, out, targets, row_scale, loss_code, output_code)


def scaled_loss_backward(dlogits, out, targets, row_scale, loss_code, output_code):
    if loss_code == CROSS_ENTROPY:
        softmax_cross_entropy_backward(dlogits, out, targets, row_scale)
    elif loss_code == BINARY_CROSS_ENTROPY:
        sigmoid_bce_backward(dlogits, out, targets, row_scale)
    elif loss_code == MSE:
        _mse_backward(dlogits, out, targets, row_scale, output_code)
    elif loss_code == POISSON:
        poisson_backward(dlogits, out, targets, row_scale)
    else:
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")


def count_correct(out, targets, loss_code):
    if loss_code == CROSS_ENTROPY:
        return argmax_matches(out, targets)
    if loss_code == BINARY_CROSS_ENTROPY:
        return threshold_matches(out, targets)
    if loss_code in (MSE, POISSON):
        return no_matches(out, targets)
    raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")


def softmax_forward(out, logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    out[...] = e / e.sum(axis=1, keepdims=True)


def output_forward(out, logits, loss_code, output_code):
    if loss_code == CROSS_ENTROPY:
        softmax_forward(out, logits)
    elif loss_code == BINARY_CROSS_ENTROPY or (loss_code == MSE and output_code == SIGMOID):
        out[...] = sigmoid_values(logits)
    elif loss_code == MSE:
        out[...] = logits
    elif loss_code == POISSON:
        exp_forward(out, logits)
    else:
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")
