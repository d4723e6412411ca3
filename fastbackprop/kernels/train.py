"""The compiled training loop: forward pass, backward pass, whole epochs.

All state lives in flat buffers (see ``_layout``); per-layer matrices are
reshaped views, so nothing here allocates. ``train_epochs`` runs several
epochs in one call: gather each minibatch through the epoch's permutation,
forward (with dropout), loss, backward, clip, optimizer update, and
accumulate loss and accuracy.

Argument groups (tuples, unpacked at the top of each function):

``buffers``
    ``Workspace.buffers()``: x_batch, y_batch, w_batch, pre, acts, dropped,
    delta_a, delta_b, row_loss, row_scale, grads, backup.
``model``
    ``(layer_sizes, w_offsets, b_offsets, col_offsets, act_codes,
    drop_rates, loss_code, output_code)``.
"""

import math

from numba import prange

from .._config import PARALLEL_MIN_WORK, jit, jit_inline, jit_parallel
from .activations import activation_backward, activation_forward
from .dropout import dropout_backward, dropout_forward, dropout_key
from .linear import linear_backward, linear_forward
from .losses import count_correct, loss_backward, loss_forward, output_forward
from .optim import all_finite, clip_gradients, optimizer_update


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
def forward_pass(buffers, x, params, model, dropout_seed, step, training):
    """Hidden layers and output logits of a batch ``x`` (batch, n_in).

    Writes every layer's pre-activation into ``pre``, every hidden
    activation into ``acts`` and, where dropout is on while training, the
    dropped-out copy the next layer reads into ``dropped``. The output
    activation is left to the loss.
    """
    pre, acts, dropped = buffers[3], buffers[4], buffers[5]
    layer_sizes, w_offsets, b_offsets, col_offsets, act_codes, drop_rates = model[:6]
    max_batch = buffers[8].shape[0]
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    inp = x
    for layer in range(n_layers):
        n_in = layer_sizes[layer]
        n_out = layer_sizes[layer + 1]
        W = matrix_view(params, w_offsets[layer], n_in, n_out)
        b = params[b_offsets[layer] : b_offsets[layer] + n_out]
        offset = max_batch * col_offsets[layer]
        z = matrix_view(pre, offset, nb, n_out)
        linear_forward(z, inp, W, b)
        if layer < n_layers - 1:
            a = matrix_view(acts, offset, nb, n_out)
            activation_forward(a, z, act_codes[layer])
            inp = a
            if training and drop_rates[layer] > 0:
                d = matrix_view(dropped, offset, nb, n_out)
                key = dropout_key(dropout_seed, step, layer)
                dropout_forward(d, a, drop_rates[layer], key)
                inp = d


@jit
def backward_pass(buffers, x, y, w, params, model, dropout_seed, step, training):
    """Gradients of the batch's weighted mean loss into ``grads``.

    Needs the buffers a ``forward_pass`` plus ``loss_forward`` just wrote.
    The delta recursion ping-pongs between ``delta_a`` and ``delta_b``.
    """
    pre, acts, dropped, delta_a, delta_b = (
        buffers[3],
        buffers[4],
        buffers[5],
        buffers[6],
        buffers[7],
    )
    row_loss, row_scale, grads = buffers[8], buffers[9], buffers[10]
    layer_sizes, w_offsets, b_offsets, col_offsets, act_codes, drop_rates = model[:6]
    loss_code, output_code = model[6], model[7]
    max_batch = row_loss.shape[0]
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    last = n_layers - 1
    n_out = layer_sizes[n_layers]
    out = matrix_view(acts, max_batch * col_offsets[last], nb, n_out)
    delta = matrix_view(delta_a, 0, nb, n_out)
    loss_backward(delta, out, y, w, row_scale[:nb], loss_code, output_code)
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
            below = layer - 1
            offset = max_batch * col_offsets[below]
            a = matrix_view(acts, offset, nb, n_in)
            z = matrix_view(pre, offset, nb, n_in)
            dropping = training and drop_rates[below] > 0
            inp = matrix_view(dropped, offset, nb, n_in) if dropping else a
            dinp = matrix_view(delta_b if delta_in_a else delta_a, 0, nb, n_in)
            linear_backward(dinp, dW, db, delta, inp, W, True)
            if dropping:  # through the mask: same mask, same 1 / (1 - p)
                key = dropout_key(dropout_seed, step, below)
                dropout_backward(dinp, dinp, drop_rates[below], key)
            # delta of the layer below: dL/dz = dL/da * f'(z), in place
            activation_backward(dinp, dinp, a, z, act_codes[below])
            delta = dinp
            delta_in_a = not delta_in_a


@jit
def batch_gradients(buffers, x, y, w, params, model, dropout_seed, step, training):
    """Forward, loss and backward on one batch; returns its weighted mean loss."""
    pre, acts, row_loss = buffers[3], buffers[4], buffers[8]
    layer_sizes, col_offsets = model[0], model[3]
    loss_code, output_code = model[6], model[7]
    max_batch = row_loss.shape[0]
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    n_out = layer_sizes[n_layers]
    forward_pass(buffers, x, params, model, dropout_seed, step, training)
    col = max_batch * col_offsets[n_layers - 1]
    out = matrix_view(acts, col, nb, n_out)
    logits = matrix_view(pre, col, nb, n_out)
    loss = loss_forward(out, row_loss[:nb], logits, y, w, loss_code, output_code)
    backward_pass(buffers, x, y, w, params, model, dropout_seed, step, training)
    return loss


@jit
def train_epochs(
    params,
    opt_state,
    counters,
    buffers,
    X,
    Y,
    sample_weight,
    perms,
    epoch_lrs,
    epoch_loss,
    epoch_correct,
    batch_size,
    model,
    opt_code,
    opt_hyper,
    clip_norm,
    dropout_seed,
):
    """Minibatch training over ``perms.shape[0]`` epochs.

    ``perms[e]`` is epoch ``e``'s row order and ``epoch_lrs[e]`` its
    learning rate. ``counters`` is ``[optimizer step, global step]``, both
    advanced here (the first drives Adam's bias correction and restarts with
    a new optimizer; the second keys the dropout masks). ``clip_norm`` <= 0
    means no clipping. Writes each epoch's mean batch loss and number of
    correct predictions. Returns -1, or the index of the first epoch whose
    loss or parameters became non-finite; the parameters and optimizer state
    are then restored to that epoch's start.
    """
    x_batch, y_batch, w_batch = buffers[0], buffers[1], buffers[2]
    acts, row_loss, grads, backup = buffers[4], buffers[8], buffers[10], buffers[11]
    col_offsets, loss_code = model[3], model[6]
    n = X.shape[0]
    n_in = X.shape[1]
    n_out = Y.shape[1]
    n_params = params.shape[0]
    max_batch = row_loss.shape[0]
    for epoch in range(perms.shape[0]):
        # params and optimizer state at the epoch's start, to undo a divergence
        backup[:n_params] = params
        backup[n_params : 2 * n_params] = opt_state[0]
        backup[2 * n_params :] = opt_state[1]
        start_step = counters[0]
        start_global = counters[1]
        total = 0.0
        correct = 0
        n_batches = 0
        diverged = False
        for start in range(0, n, batch_size):
            nb = min(batch_size, n - start)
            xb = matrix_view(x_batch, 0, nb, n_in)
            yb = matrix_view(y_batch, 0, nb, n_out)
            wb = matrix_view(w_batch, 0, nb, 1)
            gather_rows(xb, X, perms[epoch], start)
            gather_rows(yb, Y, perms[epoch], start)
            gather_rows(wb, sample_weight, perms[epoch], start)
            step = counters[0]
            loss = batch_gradients(
                buffers, xb, yb, w_batch[:nb], params, model, dropout_seed, counters[1], True
            )
            if not math.isfinite(loss):
                diverged = True
                break
            out = matrix_view(acts, max_batch * col_offsets[-1], nb, n_out)
            correct += count_correct(out, yb, loss_code)
            total += loss
            n_batches += 1
            if clip_norm > 0:
                clip_gradients(grads, clip_norm)
            optimizer_update(params, grads, opt_state, opt_hyper, step, epoch_lrs[epoch], opt_code)
            counters[0] = step + 1
            counters[1] += 1
        if diverged or not all_finite(params):
            params[:] = backup[:n_params]
            opt_state[0] = backup[n_params : 2 * n_params]
            opt_state[1] = backup[2 * n_params :]
            counters[0] = start_step
            counters[1] = start_global
            return epoch
        epoch_loss[epoch] = total / n_batches
        epoch_correct[epoch] = correct
    return -1


@jit
def evaluate(out_all, X, Y, sample_weight, buffers, params, model, with_loss):
    """Outputs of the whole data set, in chunks of the workspace's rows.

    Writes ``out_all`` (n, n_out). With ``with_loss``, also returns the
    weighted sum of per-row losses, the sum of the weights and the number of
    correct rows against ``Y``.
    """
    w_batch, pre, row_loss = buffers[2], buffers[3], buffers[8]
    layer_sizes, col_offsets = model[0], model[3]
    loss_code, output_code = model[6], model[7]
    max_batch = row_loss.shape[0]
    n = X.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    n_out = layer_sizes[n_layers]
    col = max_batch * col_offsets[n_layers - 1]
    loss_sum = 0.0
    weight_sum = 0.0
    correct = 0
    for start in range(0, n, max_batch):
        nb = min(max_batch, n - start)
        xb = X[start : start + nb]
        forward_pass(buffers, xb, params, model, 0, 0, False)
        logits = matrix_view(pre, col, nb, n_out)
        out = out_all[start : start + nb]
        if with_loss:
            yb = Y[start : start + nb]
            wb = w_batch[:nb]
            for i in range(nb):
                wb[i] = sample_weight[start + i, 0]
            loss_forward(out, row_loss[:nb], logits, yb, wb, loss_code, output_code)
            for i in range(nb):
                loss_sum += wb[i] * row_loss[i]
                weight_sum += wb[i]
            correct += count_correct(out, yb, loss_code)
        else:
            output_forward(out, logits, loss_code, output_code)
    return loss_sum, weight_sum, correct
