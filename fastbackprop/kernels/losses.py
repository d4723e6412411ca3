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

Each loss (and each output activation mse can have) is a set of small
kernels of its own, ``loss_kernels(loss_code, output_code)``: the training
loop calls them through function pointers (``ops``), so a network compiles
only its own loss, not every loss as branches of one kernel.
"""

import math
from typing import NamedTuple

from .._codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, MSE, POISSON, SIGMOID
from .._config import jit, jit_inline
from .activations import identity_forward, sigmoid_forward
from .elementary import exp_nonpositive, log1p_unit, sigmoid_fast
from .flat import single_column


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
def _output_minus_target_row(i, dlogits, out, targets, row_scale):
    # dL/dz = (out - t) * row_scale: a canonical link's gradient (sigmoid
    # with binary cross-entropy, exp with Poisson)
    scale = row_scale[i]
    for j in range(dlogits.shape[1]):
        dlogits[i, j] = (out[i, j] - targets[i, j]) * scale


@jit_inline
def _sigmoid_bce_backward_single(dlogits, out, targets, row_scale):
    """``_output_minus_target_row`` over every row of a single-output
    network, as one vectorised loop down the column."""
    d, o, t = single_column(dlogits), single_column(out), single_column(targets)
    for i in range(d.shape[0]):
        d[i] = (o[i] - t[i]) * row_scale[i]


@jit_inline
def _mse_forward_row(i, out, row_loss, logits, targets, sigmoid_output):
    loss = 0.0
    for j in range(logits.shape[1]):
        z = logits[i, j]
        y = sigmoid_fast(z) if sigmoid_output else z
        out[i, j] = y
        r = out[i, j] - targets[i, j]
        loss += r * r
    row_loss[i] = loss


@jit_inline
def _mse_backward_row(i, dlogits, out, targets, row_scale, sigmoid_output):
    # dL/dy = 2 (y - t) * row_scale, times sigmoid' = y (1 - y)
    scale = 2.0 * row_scale[i]
    for j in range(dlogits.shape[1]):
        y = out[i, j]
        g = (y - targets[i, j]) * scale
        if sigmoid_output:
            g *= y * (1 - y)
        dlogits[i, j] = g


@jit_inline
def _poisson_forward_row(i, out, row_loss, logits, targets):
    # torch's PoissonNLLLoss with log_input: exp(z) - y z per output
    loss = 0.0
    for j in range(logits.shape[1]):
        z = logits[i, j]
        rate = math.exp(z)
        out[i, j] = rate
        loss += rate - targets[i, j] * z
    row_loss[i] = loss


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
            _output_minus_target_row(i, dlogits, out, targets, row_scale)


@jit
def mse_forward(out, row_loss, logits, targets):
    for i in range(logits.shape[0]):
        _mse_forward_row(i, out, row_loss, logits, targets, False)


@jit
def mse_backward(dlogits, out, targets, row_scale):
    for i in range(dlogits.shape[0]):
        _mse_backward_row(i, dlogits, out, targets, row_scale, False)


@jit
def mse_sigmoid_forward(out, row_loss, logits, targets):
    """mse of a sigmoid output."""
    for i in range(logits.shape[0]):
        _mse_forward_row(i, out, row_loss, logits, targets, True)


@jit
def mse_sigmoid_backward(dlogits, out, targets, row_scale):
    for i in range(dlogits.shape[0]):
        _mse_backward_row(i, dlogits, out, targets, row_scale, True)


@jit
def poisson_forward(out, row_loss, logits, targets):
    for i in range(logits.shape[0]):
        _poisson_forward_row(i, out, row_loss, logits, targets)


@jit
def poisson_backward(dlogits, out, targets, row_scale):
    for i in range(dlogits.shape[0]):
        _output_minus_target_row(i, dlogits, out, targets, row_scale)


@jit
def exp_forward(out, logits):
    """The Poisson loss's output: the rate exp(z)."""
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            out[i, j] = math.exp(logits[i, j])


@jit
def softmax_forward(out, logits):  # out, logits: (batch, n_out)
    for i in range(logits.shape[0]):
        _softmax_row(i, out, logits)


@jit
def argmax_matches(out, targets):
    """Rows whose output's argmax is the target row's argmax (cross-entropy)."""
    correct = 0
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
    return correct


@jit
def threshold_matches(out, targets):
    """Rows whose every output thresholded at 0.5 equals its target
    thresholded at 0.5 (binary cross-entropy; scikit-learn's exact-match
    accuracy)."""
    correct = 0
    for i in range(out.shape[0]):
        ok = True
        for j in range(out.shape[1]):
            if (out[i, j] > 0.5) != (targets[i, j] > 0.5):
                ok = False
        if ok:
            correct += 1
    return correct


@jit
def no_matches(out, targets):
    """mse has no accuracy: 0 rows."""
    return 0


@jit
def weighted_mean(row_loss, weights, per_row):
    """sum(w_i l_i) / (sum(w_i) per_row), added in row order (independent
    of the thread count)."""
    total = 0.0
    weight_sum = 0.0
    for i in range(row_loss.shape[0]):
        total += weights[i] * row_loss[i]
        weight_sum += weights[i]
    return total / (weight_sum * per_row)


class LossKernels(NamedTuple):
    """The kernels of one loss with one output activation."""

    forward: object  # (out, row_loss, logits, targets): outputs and row losses
    backward: object  # (dlogits, out, targets, row_scale)
    correct: object  # (out, targets) -> rows predicted right
    output: object  # (out, logits): the output activation alone


_LOSS_KERNELS = {
    (CROSS_ENTROPY, False): LossKernels(
        softmax_cross_entropy_forward,
        softmax_cross_entropy_backward,
        argmax_matches,
        softmax_forward,
    ),
    (BINARY_CROSS_ENTROPY, False): LossKernels(
        sigmoid_bce_forward, sigmoid_bce_backward, threshold_matches, sigmoid_forward
    ),
    (MSE, False): LossKernels(mse_forward, mse_backward, no_matches, identity_forward),
    (MSE, True): LossKernels(
        mse_sigmoid_forward, mse_sigmoid_backward, no_matches, sigmoid_forward
    ),
    (POISSON, False): LossKernels(poisson_forward, poisson_backward, no_matches, exp_forward),
}


def loss_kernels(loss_code, output_code) -> LossKernels:
    """The kernels of the loss ``loss_code`` (``_codes``) whose output
    activation is ``output_code`` (SIGMOID for mse with a sigmoid output,
    else ignored)."""
    sigmoid_output = loss_code == MSE and output_code == SIGMOID
    try:
        return _LOSS_KERNELS[(loss_code, sigmoid_output)]
    except (KeyError, TypeError):
        raise ValueError("unknown loss code (see _codes.LOSS_TABLE)") from None


#: name -> ``(forward, backward)`` (mse with its identity output)
LOSSES = {
    "cross_entropy": (softmax_cross_entropy_forward, softmax_cross_entropy_backward),
    "binary_cross_entropy": (sigmoid_bce_forward, sigmoid_bce_backward),
    "mse": (mse_forward, mse_backward),
    "poisson": (poisson_forward, poisson_backward),
}


# The same entry points as the NumPy twin's, dispatching in Python (tests
# and tools; the training loop calls the kernels above through ``ops``).


def loss_forward(out, row_loss, logits, targets, weights, loss_code, output_code):
    """Outputs and row losses; returns the (sample-weighted) mean loss,
    sum(w_i l_i) / sum(w_i), with l_i averaged over outputs for bce and mse."""
    kernels = loss_kernels(loss_code, output_code)
    kernels.forward(out, row_loss, logits, targets)
    per_row = 1 if loss_code == CROSS_ENTROPY else logits.shape[1]
    return weighted_mean(row_loss, weights, per_row)


def scaled_loss_backward(dlogits, out, targets, row_scale, loss_code, output_code):
    """The gradient with ``row_scale`` already filled."""
    loss_kernels(loss_code, output_code).backward(dlogits, out, targets, row_scale)


def count_correct(out, targets, loss_code):
    """Number of rows predicted right (0 for mse, which has no accuracy)."""
    return loss_kernels(loss_code, 0).correct(out, targets)


def output_forward(out, logits, loss_code, output_code):
    """The output activation alone, for prediction (no targets)."""
    loss_kernels(loss_code, output_code).output(out, logits)
