"""NumPy twin of :mod:`fastbackprop.kernels.train`, computed the plain way.

The same entry points with the same arguments, so ``Network(backend="numpy")``
calls it exactly as it calls the kernels, but none of the fast path's
machinery: no arena, no segments, no offsets, no shards or chunks. The flat
parameter buffer is cut into per-layer ``(W, b)`` arrays by its own rule
(``unpack``), and a batch is the textbook loop over per-layer lists of
arrays, as scikit-learn's ``_backprop``:

    z_l = a_{l-1} W_l + b_l,   a_l = f(z_l)
    delta_L = dL/dz_L,   dW_l = a_{l-1}^T delta_l,   db_l = sum_rows(delta_l)
    delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})

so comparing the two backends also checks the fast path's layout.
"""

import math

import numpy as np

from .._codes import HYPER_PENALTY
from .._layout import Counter, Model, OptSlot, TableRow
from .activations import activation_backward, activation_forward
from .dropout import dropout_backward, dropout_forward, dropout_key
from .losses import count_correct, loss_backward, loss_forward, output_forward
from .optim import all_in_range, update_slice


def unpack(flat, layer_sizes):
    """Per-layer weight and bias views of a flat buffer stored as ``W_0
    (n_0, n_1), b_0 (n_1,), W_1 (n_1, n_2), b_1, ...`` back to back."""
    weights, biases = [], []
    start = 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        n_in, n_out = int(n_in), int(n_out)
        weights.append(flat[start : start + n_in * n_out].reshape(n_in, n_out))
        start += n_in * n_out
        biases.append(flat[start : start + n_out])
        start += n_out
    if start != flat.shape[0]:
        raise ValueError(f"a flat buffer of {flat.shape[0]} values holds {start} parameters")
    return weights, biases


def forward(weights, biases, x, model, dropout_seed, step, training):
    """Every layer's pre-activation ``zs``, every hidden activation ``acts``
    and what each layer reads, ``inputs`` (``x``, then the activations,
    dropped out where dropout is on while training)."""
    zs, acts, inputs = [], [], [x]
    for layer, (W, b) in enumerate(zip(weights, biases)):
        z = inputs[-1] @ W + b
        zs.append(z)
        if layer == len(weights) - 1:
            break
        a = np.empty_like(z)
        activation_forward(a, z, model.act_codes[layer])
        acts.append(a)
        rate = model.drop_rates[layer]
        if training and rate > 0:
            dropped = np.empty_like(a)
            key = dropout_key(dropout_seed, step, layer, 0, a.shape[1])
            dropout_forward(dropped, a, rate, key)
            a = dropped
        inputs.append(a)
    return zs, acts, inputs


def backward(weights, zs, acts, inputs, delta, model, dropout_seed, step, training):
    """``(dWs, dbs)`` from ``delta = dL/dz`` of the output layer."""
    n_layers = len(weights)
    d_weights, d_biases = [None] * n_layers, [None] * n_layers
    for layer in range(n_layers - 1, -1, -1):
        d_weights[layer] = inputs[layer].T @ delta
        d_biases[layer] = delta.sum(axis=0)
        if layer == 0:
            break
        below = layer - 1
        d_act = delta @ weights[layer].T  # dL/da of the layer below
        rate = model.drop_rates[below]
        if training and rate > 0:  # through the same mask
            key = dropout_key(dropout_seed, step, below, 0, d_act.shape[1])
            dropout_backward(d_act, d_act, rate, key)
        delta = np.empty_like(d_act)
        activation_backward(delta, d_act, acts[below], zs[below], model.act_codes[below])
    return d_weights, d_biases


def _loss_and_gradients(weights, biases, x, y, w, model, dropout_seed, step):
    """Forward, weighted mean loss and its gradients of one batch; also the
    outputs (softmax, sigmoid or identity)."""
    zs, acts, inputs = forward(weights, biases, x, model, dropout_seed, step, True)
    out = np.empty_like(zs[-1])
    row_loss = np.empty(len(x), dtype=x.dtype)
    loss = loss_forward(out, row_loss, zs[-1], y, w, model.loss_code, model.output_code)
    delta = np.empty_like(out)
    row_scale = np.empty(len(x), dtype=x.dtype)
    loss_backward(delta, out, y, w, row_scale, model.loss_code, model.output_code)
    grads = backward(weights, zs, acts, inputs, delta, model, dropout_seed, step, True)
    return loss, out, grads


def batch_gradients(arena, bounds, grads, params, X, Y, sample_weight, model, ops, phases):
    """Gradients of the batch's weighted mean loss into the flat ``grads``;
    returns the loss. (``arena``, ``bounds``, ``ops`` and ``phases`` are not
    used.)"""
    weights, biases = unpack(params, model.layer_sizes)
    w = sample_weight[:, 0]
    # rows that all weigh 0, as the kernel: no loss and a zero gradient
    weightless = not w.any()
    loss, _, (d_weights, d_biases) = _loss_and_gradients(
        weights, biases, X, Y, np.ones_like(w) if weightless else w, model, 0, 0
    )
    grad_weights, grad_biases = unpack(grads, model.layer_sizes)
    for view, value in zip(grad_weights + grad_biases, d_weights + d_biases):
        view[...] = 0 if weightless else value
    return 0.0 if weightless else loss


def _clip(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_ over every layer's gradient at once."""
    norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    factor = max_norm / (norm + 1e-6)
    if factor < 1.0:
        for g in grads:
            g *= g.dtype.type(factor)


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
    ops,
    opt_code,
    opt_hyper,
    clip_norm,
    dropout_seed,
    phases,
):
    """``kernels.train.train_epochs``, batch after batch. The fast path's
    buffers, its thread split and its compiled kernels (``arena``,
    ``bounds``, ``grads``, ``backup``, ``n_shards``, ``n_chunks``,
    ``input_chunks``, ``ops``, ``phases``) are not used: they do not change
    the math."""
    sizes = model.layer_sizes
    weights, biases = unpack(params, sizes)
    first_w, first_b = unpack(opt_state[OptSlot.FIRST], sizes)
    second_w, second_b = unpack(opt_state[OptSlot.SECOND], sizes)
    # (parameter, first state slot, second state slot) per array: W_0, b_0, W_1, ...
    arrays = []
    for layer in range(len(weights)):
        arrays.append((weights[layer], first_w[layer], second_w[layer]))
        arrays.append((biases[layer], first_b[layer], second_b[layer]))
    # divergence is detected below and reported as NonFiniteLossError, so
    # NumPy's overflow warnings on the way there are noise
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch, perm in enumerate(perms):
            saved = (params.copy(), opt_state.copy(), counters.copy())
            losses, correct, diverged = [], 0, False
            for start in range(0, len(X), batch_size):
                rows = perm[start : start + batch_size]
                step = int(counters[Counter.OPTIMIZER_STEP])
                w = sample_weight[rows, 0]
                # rows that all weigh 0: count the correct ones, take no step
                weightless = not w.any()
                loss, out, (d_weights, d_biases) = _loss_and_gradients(
                    weights,
                    biases,
                    X[rows],
                    Y[rows],
                    np.ones_like(w) if weightless else w,
                    model,
                    dropout_seed,
                    int(counters[Counter.GLOBAL_STEP]),
                )
                correct += count_correct(out, Y[rows], model.loss_code)
                if weightless:
                    continue
                if opt_hyper[HYPER_PENALTY] != 0.0:
                    # scikit-learn's alpha: alpha / 2 * sum(W**2) / (batch weight)
                    # in the loss, alpha / (batch weight) * W in the gradient
                    step_penalty = opt_hyper[HYPER_PENALTY] * (1.0 / float(w.sum(dtype=np.float64)))
                    squares = sum(float(np.sum(layer.astype(np.float64) ** 2)) for layer in weights)
                    loss += 0.5 * step_penalty * squares
                    coefficient = X.dtype.type(step_penalty)
                    for d_w, w_layer in zip(d_weights, weights):
                        d_w += coefficient * w_layer
                if not math.isfinite(loss):
                    diverged = True
                    break
                losses.append((loss, len(rows)))
                layer_grads = [g for pair in zip(d_weights, d_biases) for g in pair]
                if clip_norm > 0:
                    _clip(layer_grads, clip_norm)
                for (p, first, second), g in zip(arrays, layer_grads):
                    update_slice(
                        p.reshape(-1),
                        g.reshape(-1),
                        first.reshape(-1),
                        second.reshape(-1),
                        opt_hyper,
                        step,
                        epoch_lrs[epoch],
                        opt_code,
                    )
                counters[Counter.OPTIMIZER_STEP] = step + 1
                counters[Counter.GLOBAL_STEP] += 1
            if diverged or not all_in_range(params):
                params[:], opt_state[:], counters[:] = saved
                return epoch
            # no batch with weight: NaN, as the kernel's 0 / 0
            # the mean over the rows of the batches that took a step
            rows = sum(n for _, n in losses)
            epoch_loss[epoch] = sum(loss * n for loss, n in losses) / rows if losses else math.nan
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
    ops,
    with_loss,
    check_finite,
):
    """``kernels.train.evaluate`` on every row at once. Of the fast path's
    buffers and offsets it reads only the layer sizes (and no ``ops``)."""
    if check_finite and not np.isfinite(X).all():
        return 0.0, 0.0, -1
    sizes = table[TableRow.LAYER_SIZES]
    weights, biases = unpack(params, sizes)
    # the parts of a Model the twin reads; it takes no offsets
    model = Model(sizes, None, None, None, act_codes, drop_rates, loss_code, output_code)
    logits = forward(weights, biases, X, model, 0, 0, False)[0][-1]
    if not with_loss:
        output_forward(out_all, logits, loss_code, output_code)
        return 0.0, 0.0, 0
    w = sample_weight[:, 0]
    row_loss = np.empty(len(X), dtype=X.dtype)
    loss_forward(out_all, row_loss, logits, Y, w, loss_code, output_code)
    loss_sum = float((w.astype(np.float64) * row_loss).sum())
    weight_sum = float(w.astype(np.float64).sum())
    return loss_sum, weight_sum, count_correct(out_all, Y, loss_code)
