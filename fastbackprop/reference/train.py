"""NumPy twin of :mod:`fastbackprop.kernels.train`: the same loop, spelled
out with NumPy arrays and Python control flow. Same argument groups."""

import math

import numpy as np

from .activations import activation_backward, activation_forward
from .dropout import dropout_backward, dropout_forward, dropout_key
from .linear import linear_backward, linear_forward
from .losses import count_correct, loss_backward, loss_forward, output_forward
from .optim import all_finite, clip_gradients, optimizer_update


def matrix_view(flat, offset, rows, cols):
    return flat[offset : offset + rows * cols].reshape(rows, cols)


def gather_rows(out, src, index, start):
    out[...] = src[index[start : start + out.shape[0]]]


def _layer_params(flat, model):
    """(W, b) views of every layer in a flat buffer."""
    layer_sizes, w_offsets, b_offsets = model[0], model[1], model[2]
    pairs = []
    for layer in range(len(layer_sizes) - 1):
        n_in, n_out = int(layer_sizes[layer]), int(layer_sizes[layer + 1])
        W = matrix_view(flat, w_offsets[layer], n_in, n_out)
        pairs.append((W, flat[b_offsets[layer] : b_offsets[layer] + n_out]))
    return pairs


def _layer_buffer(flat, model, max_batch, layer, nb, first_row=0):
    # rows first_row .. first_row + nb of the layer's (max_batch, width) block
    width = int(model[0][layer + 1])
    return matrix_view(flat, max_batch * model[3][layer] + first_row * width, nb, width)


def forward_pass(buffers, x, params, model, dropout_seed, step, first_row, training):
    pre, acts, dropped, max_batch = buffers[3], buffers[4], buffers[5], buffers[8].shape[0]
    act_codes, drop_rates = model[4], model[5]
    layers = _layer_params(params, model)
    inp = x
    for layer, (W, b) in enumerate(layers):
        z = _layer_buffer(pre, model, max_batch, layer, len(x), first_row)
        linear_forward(z, inp, W, b)
        if layer < len(layers) - 1:
            a = _layer_buffer(acts, model, max_batch, layer, len(x), first_row)
            activation_forward(a, z, act_codes[layer])
            inp = a
            if training and drop_rates[layer] > 0:
                inp = _layer_buffer(dropped, model, max_batch, layer, len(x), first_row)
                key = dropout_key(dropout_seed, step, layer, first_row, W.shape[1])
                dropout_forward(inp, a, drop_rates[layer], key)


def backward_pass(buffers, x, y, w, params, model, dropout_seed, step, first_row, training):
    pre, acts, dropped = buffers[3], buffers[4], buffers[5]
    row_scale, grads, max_batch = buffers[9], buffers[10], buffers[8].shape[0]
    act_codes, drop_rates, loss_code, output_code = model[4], model[5], model[6], model[7]
    nb = len(x)
    layers = _layer_params(params, model)
    grad_layers = _layer_params(grads, model)
    last = len(layers) - 1
    out = _layer_buffer(acts, model, max_batch, last, nb, first_row)
    delta = np.empty_like(out)
    loss_backward(delta, out, y, w, row_scale[:nb], loss_code, output_code)
    for layer in range(last, -1, -1):
        W = layers[layer][0]
        dW, db = grad_layers[layer]
        if layer == 0:
            linear_backward(None, dW, db, delta, x, W, False)
            continue
        below = layer - 1
        a = _layer_buffer(acts, model, max_batch, below, nb, first_row)
        z = _layer_buffer(pre, model, max_batch, below, nb, first_row)
        dropping = training and drop_rates[below] > 0
        inp = _layer_buffer(dropped, model, max_batch, below, nb, first_row) if dropping else a
        dinp = np.empty_like(a)
        linear_backward(dinp, dW, db, delta, inp, W, True)
        if dropping:
            dropout_backward(
                dinp,
                dinp,
                drop_rates[below],
                dropout_key(dropout_seed, step, below, first_row, W.shape[0]),
            )
        activation_backward(dinp, dinp, a, z, act_codes[below])
        delta = dinp


def batch_gradients(buffers, x, y, w, params, model, dropout_seed, step, first_row, training):
    pre, acts, row_loss = buffers[3], buffers[4], buffers[8]
    max_batch, nb, last = row_loss.shape[0], len(x), len(model[0]) - 2
    forward_pass(buffers, x, params, model, dropout_seed, step, first_row, training)
    out = _layer_buffer(acts, model, max_batch, last, nb, first_row)
    logits = _layer_buffer(pre, model, max_batch, last, nb, first_row)
    loss = loss_forward(out, row_loss[first_row : first_row + nb], logits, y, w, model[6], model[7])
    backward_pass(buffers, x, y, w, params, model, dropout_seed, step, first_row, training)
    return loss


def _arena_buffers(arena, bounds, grads, backup):
    # the Workspace.buffers() tuple from an arena cut at bounds (_layout)
    return tuple(arena[a:b] for a, b in bounds[:10]) + (grads, backup)


def train_epochs(
    params,
    opt_state,
    counters,
    arena,
    bounds,
    grads,
    backup,
    X,
    Y,
    sample_weight,
    perms,
    epoch_lrs,
    epoch_loss,
    epoch_correct,
    batch_size,
    n_shards,
    n_chunks,
    input_chunks,
    model,
    opt_code,
    opt_hyper,
    clip_norm,
    dropout_seed,
):
    # Whole batches: shards and chunks (input_chunks too) only split the
    # compiled loop's work across threads, they do not change the math.
    buffers = _arena_buffers(arena, bounds, grads, backup)
    # divergence is detected below and reported as NonFiniteLossError, so
    # NumPy's overflow warnings on the way there are noise
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch, perm in enumerate(perms):
            saved = (params.copy(), opt_state.copy(), counters.copy())
            losses, correct = [], 0
            loss = 0.0
            for start in range(0, len(X), batch_size):
                rows = perm[start : start + batch_size]
                step = int(counters[0])
                weights = sample_weight[rows, 0]
                # rows that all weigh 0: count the correct ones, take no step
                # (the kernel's ``weightless`` batch)
                weightless = not weights.any()
                loss = batch_gradients(
                    buffers,
                    X[rows],
                    Y[rows],
                    np.ones_like(weights) if weightless else weights,
                    params,
                    model,
                    dropout_seed,
                    int(counters[1]),
                    0,
                    True,
                )
                out = _layer_buffer(
                    buffers[4], model, buffers[8].shape[0], len(model[0]) - 2, len(rows)
                )
                correct += count_correct(out, Y[rows], model[6])
                if weightless:
                    loss = 0.0  # not a loss of the batch's: nothing to report
                    continue
                if not math.isfinite(loss):
                    break
                losses.append(loss)
                if clip_norm > 0:
                    clip_gradients(grads, clip_norm)
                optimizer_update(
                    params, grads, opt_state, opt_hyper, step, epoch_lrs[epoch], opt_code
                )
                counters[0] = step + 1
                counters[1] += 1
            if not math.isfinite(loss) or not all_finite(params):
                params[:], opt_state[:], counters[:] = saved
                return epoch
            # no batch with weight: NaN, as the kernel's 0 / 0
            epoch_loss[epoch] = sum(losses) / len(losses) if losses else math.nan
            epoch_correct[epoch] = correct
    return -1


def evaluate(
    out_all,
    X,
    Y,
    sample_weight,
    arena,
    bounds,
    params,
    table,
    act_codes,
    drop_rates,
    loss_code,
    output_code,
    with_loss,
    check_finite,
):
    if check_finite and not np.isfinite(X).all():
        return 0.0, 0.0, -1
    n_layers = table.shape[1] - 1
    model = (table[0], *table[1:4, :n_layers], act_codes, drop_rates, loss_code, output_code)
    buffers = _arena_buffers(arena, bounds, arena[:0], arena[:0])
    pre, row_loss = buffers[3], buffers[8]
    max_batch, last = row_loss.shape[0], len(model[0]) - 2
    loss_sum, weight_sum, correct = 0.0, 0.0, 0
    for start in range(0, len(X), max_batch):
        xb = X[start : start + max_batch]
        nb = len(xb)
        forward_pass(buffers, xb, params, model, 0, 0, 0, False)
        logits = _layer_buffer(pre, model, max_batch, last, nb)
        out = out_all[start : start + nb]
        if with_loss:
            yb, wb = Y[start : start + nb], sample_weight[start : start + nb, 0]
            loss_forward(out, row_loss[:nb], logits, yb, wb, model[6], model[7])
            loss_sum += float((wb.astype(np.float64) * row_loss[:nb]).sum())
            weight_sum += float(wb.astype(np.float64).sum())
            correct += count_correct(out, yb, model[6])
        else:
            output_forward(out, logits, model[6], model[7])
    return loss_sum, weight_sum, correct
