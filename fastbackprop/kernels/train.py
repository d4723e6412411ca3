"""The compiled training loop: forward pass, backward pass, whole epochs.

All state lives in flat buffers (see ``_layout``); per-layer matrices are
reshaped views, so nothing here allocates. ``train_epochs`` runs several
epochs in one call: gather each minibatch through the epoch's permutation,
forward, loss, backward, update, and accumulate loss and accuracy.
"""

import math

from numba import prange

from .._config import PARALLEL_MIN_WORK, jit, jit_inline, jit_parallel
from .activations import activation_backward, activation_forward
from .linear import linear_backward, linear_forward
from .losses import count_correct, loss_backward, loss_forward, output_forward
from .optim import all_finite, sgd_update


@jit
def matrix_view(flat, offset, rows, cols):
    return flat[offset : offset + rows * cols].reshape((rows, cols))


@jit_inline
def _gather_row(i, out, src, index, start):
    r = index[start + i]
    for j in range(out.shape[1]):
        out[i, j] = src[r, j]


@jit_parallel
def gather_rows(out, src, index, start):
    # out: (batch, n) <- src[index[start : start + batch]]
    if out.size >= PARALLEL_MIN_WORK:
        for i in prange(out.shape[0]):
            _gather_row(i, out, src, index, start)
    else:
        for i in range(out.shape[0]):
            _gather_row(i, out, src, index, start)


@jit
def forward_pass(
    pre, acts, x, params, layer_sizes, w_offsets, b_offsets, col_offsets, act_codes, max_batch
):
    """Hidden layers and the output logits of a batch ``x`` (batch, n_in).

    Writes every layer's pre-activation into ``pre`` and every hidden
    activation into ``acts``; the output activation is left to the loss.
    """
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    inp = x
    for layer in range(n_layers):
        n_in = layer_sizes[layer]
        n_out = layer_sizes[layer + 1]
        W = matrix_view(params, w_offsets[layer], n_in, n_out)
        b = params[b_offsets[layer] : b_offsets[layer] + n_out]
        z = matrix_view(pre, max_batch * col_offsets[layer], nb, n_out)
        linear_forward(z, inp, W, b)
        if layer < n_layers - 1:
            a = matrix_view(acts, max_batch * col_offsets[layer], nb, n_out)
            activation_forward(a, z, act_codes[layer])
            inp = a


@jit
def backward_pass(
    grads,
    delta_a,
    delta_b,
    pre,
    acts,
    x,
    y,
    params,
    layer_sizes,
    w_offsets,
    b_offsets,
    col_offsets,
    act_codes,
    max_batch,
    loss_code,
    output_code,
):
    """Gradients of the batch's mean loss into ``grads`` (flat, like params).

    Needs the buffers a ``forward_pass`` plus ``loss_forward`` just wrote.
    The delta recursion ping-pongs between ``delta_a`` and ``delta_b``.
    """
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    last = n_layers - 1
    n_out = layer_sizes[n_layers]
    out = matrix_view(acts, max_batch * col_offsets[last], nb, n_out)
    delta = matrix_view(delta_a, 0, nb, n_out)
    loss_backward(delta, out, y, loss_code, output_code)
    delta_in_a = True  # which ping-pong buffer holds the current delta
    for layer in range(last, -1, -1):
        n_in = layer_sizes[layer]
        n_out = layer_sizes[layer + 1]
        W = matrix_view(params, w_offsets[layer], n_in, n_out)
        dW = matrix_view(grads, w_offsets[layer], n_in, n_out)
        db = grads[b_offsets[layer] : b_offsets[layer] + n_out]
        if layer == 0:
            linear_backward(delta, dW, db, delta, x, W, False)
        else:
            inp = matrix_view(acts, max_batch * col_offsets[layer - 1], nb, n_in)
            z_in = matrix_view(pre, max_batch * col_offsets[layer - 1], nb, n_in)
            dinp = matrix_view(delta_b if delta_in_a else delta_a, 0, nb, n_in)
            linear_backward(dinp, dW, db, delta, inp, W, True)
            # delta of the layer below: dL/dz = dL/da * f'(z), in place
            activation_backward(dinp, dinp, inp, z_in, act_codes[layer - 1])
            delta = dinp
            delta_in_a = not delta_in_a


@jit
def batch_gradients(
    x_batch,
    y_batch,
    pre,
    acts,
    delta_a,
    delta_b,
    row_loss,
    grads,
    x,
    y,
    params,
    layer_sizes,
    w_offsets,
    b_offsets,
    col_offsets,
    act_codes,
    loss_code,
    output_code,
):
    """Forward, loss and backward on one batch; returns its mean loss."""
    max_batch = row_loss.shape[0]
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    n_out = layer_sizes[n_layers]
    forward_pass(
        pre, acts, x, params, layer_sizes, w_offsets, b_offsets, col_offsets, act_codes, max_batch
    )
    col = max_batch * col_offsets[n_layers - 1]
    out = matrix_view(acts, col, nb, n_out)
    logits = matrix_view(pre, col, nb, n_out)
    loss = loss_forward(out, row_loss[:nb], logits, y, loss_code, output_code)
    backward_pass(
        grads,
        delta_a,
        delta_b,
        pre,
        acts,
        x,
        y,
        params,
        layer_sizes,
        w_offsets,
        b_offsets,
        col_offsets,
        act_codes,
        max_batch,
        loss_code,
        output_code,
    )
    return loss


@jit
def train_epochs(
    params,
    x_batch,
    y_batch,
    pre,
    acts,
    delta_a,
    delta_b,
    row_loss,
    grads,
    backup,
    epoch_loss,
    epoch_correct,
    X,
    Y,
    perms,
    batch_size,
    learning_rate,
    layer_sizes,
    w_offsets,
    b_offsets,
    col_offsets,
    act_codes,
    loss_code,
    output_code,
):
    """Minibatch SGD over ``perms.shape[0]`` epochs.

    ``perms[e]`` is epoch ``e``'s row order. Writes each epoch's mean batch
    loss and number of correct predictions. Returns -1, or the index of the
    first epoch whose loss or parameters became non-finite; the parameters
    are then restored to that epoch's start.
    """
    n = X.shape[0]
    n_in = X.shape[1]
    n_out = Y.shape[1]
    for epoch in range(perms.shape[0]):
        backup[:] = params
        total = 0.0
        correct = 0
        n_batches = 0
        for start in range(0, n, batch_size):
            nb = min(batch_size, n - start)
            xb = matrix_view(x_batch, 0, nb, n_in)
            yb = matrix_view(y_batch, 0, nb, n_out)
            gather_rows(xb, X, perms[epoch], start)
            gather_rows(yb, Y, perms[epoch], start)
            loss = batch_gradients(
                x_batch,
                y_batch,
                pre,
                acts,
                delta_a,
                delta_b,
                row_loss,
                grads,
                xb,
                yb,
                params,
                layer_sizes,
                w_offsets,
                b_offsets,
                col_offsets,
                act_codes,
                loss_code,
                output_code,
            )
            if not math.isfinite(loss):
                params[:] = backup
                return epoch
            out = matrix_view(acts, row_loss.shape[0] * col_offsets[-1], nb, n_out)
            correct += count_correct(out, yb, loss_code)
            total += loss
            n_batches += 1
            sgd_update(params, grads, learning_rate)
        if not all_finite(params):
            params[:] = backup
            return epoch
        epoch_loss[epoch] = total / n_batches
        epoch_correct[epoch] = correct
    return -1


@jit
def evaluate(
    out_all,
    X,
    Y,
    x_batch,
    pre,
    acts,
    row_loss,
    params,
    layer_sizes,
    w_offsets,
    b_offsets,
    col_offsets,
    act_codes,
    loss_code,
    output_code,
    with_loss,
):
    """Outputs of the whole data set, in chunks of the workspace's rows.

    Writes ``out_all`` (n, n_out). With ``with_loss``, also returns the sum
    of the per-row losses and the number of correct rows against ``Y``.
    """
    max_batch = row_loss.shape[0]
    n = X.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    n_out = layer_sizes[n_layers]
    col = max_batch * col_offsets[n_layers - 1]
    loss_sum = 0.0
    correct = 0
    for start in range(0, n, max_batch):
        nb = min(max_batch, n - start)
        xb = X[start : start + nb]
        forward_pass(
            pre,
            acts,
            xb,
            params,
            layer_sizes,
            w_offsets,
            b_offsets,
            col_offsets,
            act_codes,
            max_batch,
        )
        logits = matrix_view(pre, col, nb, n_out)
        out = out_all[start : start + nb]
        if with_loss:
            yb = Y[start : start + nb]
            loss_forward(out, row_loss[:nb], logits, yb, loss_code, output_code)
            for i in range(nb):
                loss_sum += row_loss[i]
            correct += count_correct(out, yb, loss_code)
        else:
            output_forward(out, logits, loss_code, output_code)
    return loss_sum, correct
