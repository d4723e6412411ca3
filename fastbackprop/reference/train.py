"""NumPy twin of :mod:`fastbackprop.kernels.train`: the same loop, spelled
out with NumPy arrays and Python control flow."""

import math

import numpy as np

from .activations import activation_backward, activation_forward
from .linear import linear_backward, linear_forward
from .losses import count_correct, loss_backward, loss_forward, output_forward
from .optim import all_finite, sgd_update


def matrix_view(flat, offset, rows, cols):
    return flat[offset : offset + rows * cols].reshape(rows, cols)


def gather_rows(out, src, index, start):
    out[...] = src[index[start : start + out.shape[0]]]


def _layers(layer_sizes, w_offsets, b_offsets, params):
    """(W, b) views of every layer."""
    pairs = []
    for layer in range(len(layer_sizes) - 1):
        n_in, n_out = int(layer_sizes[layer]), int(layer_sizes[layer + 1])
        W = matrix_view(params, w_offsets[layer], n_in, n_out)
        b = params[b_offsets[layer] : b_offsets[layer] + n_out]
        pairs.append((W, b))
    return pairs


def forward_pass(
    pre, acts, x, params, layer_sizes, w_offsets, b_offsets, col_offsets, act_codes, max_batch
):
    nb = x.shape[0]
    layers = _layers(layer_sizes, w_offsets, b_offsets, params)
    inp = x
    for layer, (W, b) in enumerate(layers):
        z = matrix_view(pre, max_batch * col_offsets[layer], nb, W.shape[1])
        linear_forward(z, inp, W, b)
        if layer < len(layers) - 1:
            a = matrix_view(acts, max_batch * col_offsets[layer], nb, W.shape[1])
            activation_forward(a, z, act_codes[layer])
            inp = a


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
    nb = x.shape[0]
    layers = _layers(layer_sizes, w_offsets, b_offsets, params)
    grad_layers = _layers(layer_sizes, w_offsets, b_offsets, grads)
    last = len(layers) - 1
    out = matrix_view(acts, max_batch * col_offsets[last], nb, layers[last][0].shape[1])
    delta = np.empty_like(out)
    loss_backward(delta, out, y, loss_code, output_code)
    for layer in range(last, -1, -1):
        W, _ = layers[layer]
        dW, db = grad_layers[layer]
        if layer == 0:
            linear_backward(None, dW, db, delta, x, W, False)
        else:
            inp = matrix_view(acts, max_batch * col_offsets[layer - 1], nb, W.shape[0])
            z_in = matrix_view(pre, max_batch * col_offsets[layer - 1], nb, W.shape[0])
            dinp = np.empty_like(inp)
            linear_backward(dinp, dW, db, delta, inp, W, True)
            activation_backward(dinp, dinp, inp, z_in, act_codes[layer - 1])
            delta = dinp


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
    max_batch = row_loss.shape[0]
    nb = x.shape[0]
    last = len(layer_sizes) - 2
    n_out = int(layer_sizes[-1])
    forward_pass(
        pre, acts, x, params, layer_sizes, w_offsets, b_offsets, col_offsets, act_codes, max_batch
    )
    out = matrix_view(acts, max_batch * col_offsets[last], nb, n_out)
    logits = matrix_view(pre, max_batch * col_offsets[last], nb, n_out)
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
    # divergence is detected below and reported as NonFiniteLossError, so
    # NumPy's overflow warnings on the way there are noise
    with np.errstate(over="ignore", invalid="ignore"):
        return _train_epochs(
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
        )


def _train_epochs(
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
    n = X.shape[0]
    max_batch = row_loss.shape[0]
    n_out = Y.shape[1]
    for epoch, perm in enumerate(perms):
        backup[:] = params
        losses = []
        correct = 0
        for start in range(0, n, batch_size):
            rows = perm[start : start + batch_size]
            xb, yb = X[rows], Y[rows]
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
            out = matrix_view(acts, max_batch * col_offsets[-1], len(rows), n_out)
            correct += count_correct(out, yb, loss_code)
            losses.append(loss)
            sgd_update(params, grads, learning_rate)
        if not all_finite(params):
            params[:] = backup
            return epoch
        epoch_loss[epoch] = sum(losses) / len(losses)
        epoch_correct[epoch] = correct
    return -1


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
    max_batch = row_loss.shape[0]
    n_out = int(layer_sizes[-1])
    last = len(layer_sizes) - 2
    loss_sum = 0.0
    correct = 0
    for start in range(0, X.shape[0], max_batch):
        xb = X[start : start + max_batch]
        nb = xb.shape[0]
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
        logits = matrix_view(pre, max_batch * col_offsets[last], nb, n_out)
        out = out_all[start : start + nb]
        if with_loss:
            yb = Y[start : start + nb]
            loss_forward(out, row_loss[:nb], logits, yb, loss_code, output_code)
            loss_sum += float(row_loss[:nb].sum(dtype=np.float64))
            correct += count_correct(out, yb, loss_code)
        else:
            output_forward(out, logits, loss_code, output_code)
    return loss_sum, correct
