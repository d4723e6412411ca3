"""Output activation fused with its loss.

``<loss>_forward(out, row_loss, logits, targets)`` writes the output
activations and each row's summed loss; ``<loss>_backward(dlogits, out,
targets, row_scale)`` writes the gradient of the *mean* loss (PyTorch's
definitions)
with respect to the pre-activations. Shapes: ``(batch, n_out)`` except
``row_loss`` and ``row_scale``: ``(batch,)``. ``row_scale[i]`` is row i's
share of the mean, ``w_i / (sum(w) * n)`` with ``n`` 1 for cross-entropy and
``n_out`` for the element-wise losses (``1 / batch`` without sample
weights). Each op is a per-row body plus a kernel that runs it over the
rows, on one thread.
"""

import math

from .._codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, IDENTITY, MSE, SIGMOID
from .._config import jit, jit_inline
from .activations import activation_forward
from .elementary import exp_nonpositive, log1p_unit, sigmoid_fast
from .flat import single_column
from .scalars import as_int


@jit_inline
def _softmax_row(i, out, logits):
    """Softmax of row i into out; returns log(sum(exp(logits[i])))."""
    m = logits[i, 0]
    for j in range(1, logits.shape[1]):
        m = max(m, logits[i, j])
    s = 0.0
    for j in range(logits.shape[1]):
        e = exp_nonpositive(logits[i, j] - m)  # shifted by the max: never overflows
        out[i, j] = e
        s += e
    inv = 1.0 / s
    for j in range(logits.shape[1]):
        out[i, j] *= inv
    return m + math.log(s)


@jit_inline
def _softmax_cross_entropy_forward_row(i, out, row_loss, logits, targets):
    log_sum = _softmax_row(i, out, logits)
    loss = 0.0
    for j in range(logits.shape[1]):
        t = targets[i, j]
        if t != 0:  # skip zero targets so that 0 * inf never appears
            loss += t * (log_sum - logits[i, j])  # -t * log softmax
    row_loss[i] = loss


@jit_inline
def _softmax_cross_entropy_backward_row(i, dlogits, out, targets, row_scale):
    # dL/dz = (softmax * sum(t) - t) * row_scale; sum(t) is 1 for labels
    scale = row_scale[i]
    t_sum = 0.0
    for j in range(targets.shape[1]):
        t_sum += targets[i, j]
    for j in range(dlogits.shape[1]):
        dlogits[i, j] = (out[i, j] * t_sum - targets[i, j]) * scale


@jit_inline
def _sigmoid_bce(z, t):
    """BCE of the logit ``z`` against target ``t``, from the logit so that
    nothing overflows: max(z, 0) - z t + log(1 + e^-|z|)."""
    return max(z, 0.0) - z * t + log1p_unit(exp_nonpositive(-abs(z)))


@jit_inline
def _sigmoid_bce_forward_row(i, out, row_loss, logits, targets):
    loss = 0.0
    for j in range(logits.shape[1]):
        z = logits[i, j]
        out[i, j] = sigmoid_fast(z)
        loss += _sigmoid_bce(z, targets[i, j])
    row_loss[i] = loss


@jit_inline
def _sigmoid_bce_forward_single(out, row_loss, logits, targets):
    """``_sigmoid_bce_forward_row`` over every row of a single-output
    network, as one vectorised loop down the column."""
    o, z, t = single_column(out), single_column(logits), single_column(targets)
    for i in range(z.shape[0]):
        o[i] = sigmoid_fast(z[i])
        row_loss[i] = _sigmoid_bce(z[i], t[i])


@jit_inline
def _sigmoid_bce_backward_row(i, dlogits, out, targets, row_scale):
    # dL/dz = (sigmoid - t) * row_scale
    scale = row_scale[i]
    for j in range(dlogits.shape[1]):
        dlogits[i, j] = (out[i, j] - targets[i, j]) * scale


@jit_inline
def _sigmoid_bce_backward_single(dlogits, out, targets, row_scale):
    """``_sigmoid_bce_backward_row`` over every row of a single-output
    network, as one vectorised loop down the column."""
    d, o, t = single_column(dlogits), single_column(out), single_column(targets)
    for i in range(d.shape[0]):
        d[i] = (o[i] - t[i]) * row_scale[i]


@jit_inline
def _mse_forward_row(i, out, row_loss, logits, targets, output_code):
    loss = 0.0
    for j in range(logits.shape[1]):
        z = logits[i, j]
        y = sigmoid_fast(z) if output_code == SIGMOID else z
        out[i, j] = y
        r = out[i, j] - targets[i, j]
        loss += r * r
    row_loss[i] = loss


@jit_inline
def _mse_backward_row(i, dlogits, out, targets, row_scale, output_code):
    # dL/dy = 2 (y - t) * row_scale, times sigmoid' = y (1 - y)
    scale = 2.0 * row_scale[i]
    for j in range(dlogits.shape[1]):
        y = out[i, j]
        g = (y - targets[i, j]) * scale
        if output_code == SIGMOID:
            g *= y * (1 - y)
        dlogits[i, j] = g


# One thread each: inside the training loop every shard already has its own
# core, and a parallel region per op cost more to compile (a gufunc each)
# than it ever saved (docs/decisions.md).


@jit
def softmax_cross_entropy_forward(out, row_loss, logits, targets):
    for i in range(logits.shape[0]):
        _softmax_cross_entropy_forward_row(i, out, row_loss, logits, targets)


@jit
def softmax_cross_entropy_backward(dlogits, out, targets, row_scale):
    for i in range(dlogits.shape[0]):
        _softmax_cross_entropy_backward_row(i, dlogits, out, targets, row_scale)


@jit
def sigmoid_bce_forward(out, row_loss, logits, targets):
    if logits.shape[1] == 1:
        _sigmoid_bce_forward_single(out, row_loss, logits, targets)
    else:
        for i in range(logits.shape[0]):
            _sigmoid_bce_forward_row(i, out, row_loss, logits, targets)


@jit
def sigmoid_bce_backward(dlogits, out, targets, row_scale):
    if dlogits.shape[1] == 1:
        _sigmoid_bce_backward_single(dlogits, out, targets, row_scale)
    else:
        for i in range(dlogits.shape[0]):
            _sigmoid_bce_backward_row(i, dlogits, out, targets, row_scale)


@jit
def mse_forward(out, row_loss, logits, targets, output_code):
    for i in range(logits.shape[0]):
        _mse_forward_row(i, out, row_loss, logits, targets, output_code)


@jit
def mse_backward(dlogits, out, targets, row_scale, output_code):
    for i in range(dlogits.shape[0]):
        _mse_backward_row(i, dlogits, out, targets, row_scale, output_code)


@jit
def softmax_forward(out, logits):  # out, logits: (batch, n_out)
    for i in range(logits.shape[0]):
        _softmax_row(i, out, logits)


LOSSES = {
    "cross_entropy": (softmax_cross_entropy_forward, softmax_cross_entropy_backward),
    "binary_cross_entropy": (sigmoid_bce_forward, sigmoid_bce_backward),
    "mse": (mse_forward, mse_backward),
}


@jit
def loss_forward(out, row_loss, logits, targets, weights, loss_code, output_code):
    """Dispatch on a loss code; returns the (sample-weighted) mean loss,
    sum(w_i l_i) / sum(w_i), with l_i averaged over outputs for bce and mse."""
    if loss_code == CROSS_ENTROPY:
        softmax_cross_entropy_forward(out, row_loss, logits, targets)
        per_row = 1
    elif loss_code == BINARY_CROSS_ENTROPY:
        sigmoid_bce_forward(out, row_loss, logits, targets)
        per_row = logits.shape[1]
    elif loss_code == MSE:
        mse_forward(out, row_loss, logits, targets, output_code)
        per_row = logits.shape[1]
    else:
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")
    total = 0.0
    weight_sum = 0.0
    for i in range(logits.shape[0]):  # fixed order: thread-count independent
        total += weights[i] * row_loss[i]
        weight_sum += weights[i]
    return total / (weight_sum * per_row)


@jit
def loss_backward(dlogits, out, targets, weights, row_scale, loss_code, output_code):
    """Dispatch on a loss code; fills ``row_scale`` from the weights first."""
    per_row = 1 if loss_code == CROSS_ENTROPY else dlogits.shape[1]
    weight_sum = 0.0
    for i in range(dlogits.shape[0]):
        weight_sum += weights[i]
    inv = 1.0 / (weight_sum * per_row)
    for i in range(dlogits.shape[0]):
        row_scale[i] = weights[i] * inv
    scaled_loss_backward(dlogits, out, targets, row_scale, loss_code, output_code)


@jit
def scaled_loss_backward(dlogits, out, targets, row_scale, loss_code, output_code):
    """Dispatch on a loss code with ``row_scale`` already filled (the
    training loop's shards scale their rows by the whole batch's weight)."""
    if loss_code == CROSS_ENTROPY:
        softmax_cross_entropy_backward(dlogits, out, targets, row_scale)
    elif loss_code == BINARY_CROSS_ENTROPY:
        sigmoid_bce_backward(dlogits, out, targets, row_scale)
    elif loss_code == MSE:
        mse_backward(dlogits, out, targets, row_scale, output_code)
    else:
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")


@jit
def count_correct(out, targets, loss_code):
    """Number of rows predicted right (0 for mse, which has no accuracy).

    cross_entropy: argmax of the output equals argmax of the target row.
    binary_cross_entropy: every output thresholded at 0.5 equals its target
    thresholded at 0.5 (scikit-learn's exact-match accuracy).
    """
    correct = 0
    if loss_code == CROSS_ENTROPY:
        for i in range(out.shape[0]):
            best_out = 0
            best_t = 0
            for j in range(1, out.shape[1]):
                if out[i, j] > out[i, best_out]:
                    best_out = j
                if targets[i, j] > targets[i, best_t]:
                    best_t = j
            if best_out == best_t:
                correct += 1
    elif loss_code == BINARY_CROSS_ENTROPY:
        for i in range(out.shape[0]):
            ok = True
            for j in range(out.shape[1]):
                if (out[i, j] > 0.5) != (targets[i, j] > 0.5):
                    ok = False
            if ok:
                correct += 1
    elif loss_code != MSE:
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")
    return correct


@jit
def output_forward(out, logits, loss_code, output_code):
    """The output activation alone, for prediction (no targets)."""
    if loss_code == CROSS_ENTROPY:
        softmax_forward(out, logits)
    elif loss_code == BINARY_CROSS_ENTROPY or (loss_code == MSE and output_code == SIGMOID):
        activation_forward(out, logits, as_int(SIGMOID))
    elif loss_code == MSE:
        activation_forward(out, logits, as_int(IDENTITY))
    else:
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)")
