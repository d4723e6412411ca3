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

import numpy as np
from numba import prange

from .._config import PARALLEL_MIN_WORK, jit, jit_inline, jit_parallel
from .activations import activation_backward, activation_forward
from .dropout import dropout_backward, dropout_forward, dropout_key
from .linear import linear_backward, linear_forward
from .losses import count_correct, loss_backward, loss_forward, output_forward
from .optim import all_finite, clip_gradients, update_slice


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
def forward_pass(buffers, x, params, model, dropout_seed, step, first_row, training):
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
                key = dropout_key(dropout_seed, step, layer, first_row, n_out)
                dropout_forward(d, a, drop_rates[layer], key)
                inp = d


@jit
def backward_pass(buffers, x, y, w, params, model, dropout_seed, step, first_row, training):
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
                key = dropout_key(dropout_seed, step, below, first_row, n_in)
                dropout_backward(dinp, dinp, drop_rates[below], key)
            # delta of the layer below: dL/dz = dL/da * f'(z), in place
            activation_backward(dinp, dinp, a, z, act_codes[below])
            delta = dinp
            delta_in_a = not delta_in_a


@jit
def batch_gradients(buffers, x, y, w, params, model, dropout_seed, step, first_row, training):
    """Forward, loss and backward on one batch; returns its weighted mean loss."""
    pre, acts, row_loss = buffers[3], buffers[4], buffers[8]
    layer_sizes, col_offsets = model[0], model[3]
    loss_code, output_code = model[6], model[7]
    max_batch = row_loss.shape[0]
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    n_out = layer_sizes[n_layers]
    forward_pass(buffers, x, params, model, dropout_seed, step, first_row, training)
    col = max_batch * col_offsets[n_layers - 1]
    out = matrix_view(acts, col, nb, n_out)
    logits = matrix_view(pre, col, nb, n_out)
    loss = loss_forward(out, row_loss[:nb], logits, y, w, loss_code, output_code)
    backward_pass(buffers, x, y, w, params, model, dropout_seed, step, first_row, training)
    return loss


@jit
def _shard_buffers(arena, bounds, shard, grads):
    """The ``buffers`` tuple of one shard: views of its row of ``arena``
    (see ``_layout.ShardedWorkspace``) plus its own gradient row."""
    a = arena[shard]
    b = bounds
    return (
        a[b[0] : b[1]],
        a[b[1] : b[2]],
        a[b[2] : b[3]],
        a[b[3] : b[4]],
        a[b[4] : b[5]],
        a[b[5] : b[6]],
        a[b[6] : b[7]],
        a[b[7] : b[8]],
        a[b[8] : b[9]],
        a[b[9] : b[10]],
        grads[shard],
        grads[shard, :0],  # no backup per shard
    )


@jit
def _shard_rows(shard, n_shards, nb):
    """First row and row count of one shard of a batch of ``nb`` rows."""
    per = (nb + n_shards - 1) // n_shards
    first = min(shard * per, nb)
    return first, min(per, nb - first)


@jit
def _shard_gradients(
    shard,
    arena,
    bounds,
    grads,
    params,
    X,
    Y,
    sample_weight,
    perm,
    start,
    nb,
    model,
    dropout_seed,
    step,
    shard_loss,
    shard_weight,
    shard_correct,
):
    """Gather one shard's rows of the batch at ``start`` and write its
    gradient (of the shard's weighted mean loss) into ``grads[shard]``, its
    loss, weight sum and correct count into the ``shard_*`` slots."""
    buffers = _shard_buffers(arena, bounds, shard, grads)
    first, rows = _shard_rows(shard, arena.shape[0], nb)
    n_in, n_out = X.shape[1], Y.shape[1]
    xb = matrix_view(buffers[0], 0, rows, n_in)
    yb = matrix_view(buffers[1], 0, rows, n_out)
    wb = matrix_view(buffers[2], 0, rows, 1)
    gather_rows(xb, X, perm, start + first)
    gather_rows(yb, Y, perm, start + first)
    gather_rows(wb, sample_weight, perm, start + first)
    weight = 0.0
    for i in range(rows):
        weight += wb[i, 0]
    shard_weight[shard] = weight
    shard_loss[shard] = 0.0
    shard_correct[shard] = 0
    if weight == 0.0:
        # an empty shard (a short last batch) or one of zero-weight rows adds
        # nothing; its own mean would be 0 / 0
        grads[shard, :] = 0.0
        return
    shard_loss[shard] = batch_gradients(
        buffers, xb, yb, buffers[2][:rows], params, model, dropout_seed, step, first, True
    )
    col_offsets, loss_code = model[3], model[6]
    out = matrix_view(buffers[4], buffers[8].shape[0] * col_offsets[-1], rows, n_out)
    shard_correct[shard] = count_correct(out, yb, loss_code)


@jit
def _combine_shards(grads, shares, lo, hi):
    """grads[0, lo:hi] = sum over shards of share * grads[shard, lo:hi]."""
    g0 = grads[0][lo:hi]
    a0 = grads.dtype.type(shares[0])
    for i in range(g0.shape[0]):
        g0[i] *= a0
    for shard in range(1, grads.shape[0]):
        gs = grads[shard][lo:hi]
        a = grads.dtype.type(shares[shard])
        for i in range(g0.shape[0]):
            g0[i] += a * gs[i]


@jit
def _update_chunk(chunk, n_chunks, params, grads, shares, fused, opt_state, hyper, step, lr, code):
    """The optimizer step on one contiguous chunk of the parameters; with
    ``fused``, the two shards' gradients are combined on the way."""
    n = params.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    lo = min(chunk * size, n)
    hi = min(lo + size, n)
    share1 = shares[1] if fused else 0.0
    share0 = shares[0] if fused else 1.0
    g1 = grads[1] if fused else grads[0]
    update_slice(
        params[lo:hi],
        grads[0][lo:hi],
        g1[lo:hi],
        share0,
        share1,
        opt_state[0][lo:hi],
        opt_state[1][lo:hi],
        hyper,
        step,
        lr,
        code,
    )


@jit
def _combine_chunk(chunk, n_chunks, grads, shares):
    n = grads.shape[1]
    size = (n + n_chunks - 1) // n_chunks
    lo = min(chunk * size, n)
    _combine_shards(grads, shares, lo, min(lo + size, n))


@jit_parallel
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
    n_chunks,
    model,
    opt_code,
    opt_hyper,
    clip_norm,
    dropout_seed,
):
    """Minibatch training over ``perms.shape[0]`` epochs.

    Each batch is split into ``arena.shape[0]`` shards of consecutive rows,
    computed in parallel (one thread each, BLAS single-threaded), each into
    its own row of ``grads``; the batch gradient is their weighted sum, taken
    in a fixed order, so the result does not depend on the thread count.
    The optimizer step runs over ``n_chunks`` parameter chunks in parallel.

    ``perms[e]`` is epoch ``e``'s row order and ``epoch_lrs[e]`` its
    learning rate. ``counters`` is ``[optimizer step, global step]``, both
    advanced here (the first drives Adam's bias correction and restarts with
    a new optimizer; the second keys the dropout masks). ``clip_norm`` <= 0
    means no clipping. Writes each epoch's mean batch loss and number of
    correct predictions. Returns -1, or the index of the first epoch whose
    loss or parameters became non-finite; the parameters and optimizer state
    are then restored to that epoch's start.
    """
    n_shards = arena.shape[0]
    n = X.shape[0]
    n_params = params.shape[0]
    shard_loss = np.zeros(n_shards)
    shard_weight = np.zeros(n_shards)
    shard_correct = np.zeros(n_shards, dtype=np.int64)
    shares = np.ones(max(n_shards, 2))
    # two shards are summed inside the update loop, while they are in cache;
    # clipping needs the whole gradient first, and so do more shards
    fused = n_shards == 2 and clip_norm <= 0
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
        perm = perms[epoch]
        lr = epoch_lrs[epoch]
        for start in range(0, n, batch_size):
            nb = min(batch_size, n - start)
            step = counters[0]
            global_step = counters[1]
            if n_shards == 1:
                _shard_gradients(
                    0,
                    arena,
                    bounds,
                    grads,
                    params,
                    X,
                    Y,
                    sample_weight,
                    perm,
                    start,
                    nb,
                    model,
                    dropout_seed,
                    global_step,
                    shard_loss,
                    shard_weight,
                    shard_correct,
                )
            else:
                for shard in prange(n_shards):
                    _shard_gradients(
                        shard,
                        arena,
                        bounds,
                        grads,
                        params,
                        X,
                        Y,
                        sample_weight,
                        perm,
                        start,
                        nb,
                        model,
                        dropout_seed,
                        global_step,
                        shard_loss,
                        shard_weight,
                        shard_correct,
                    )
            weight = 0.0
            for shard in range(n_shards):
                weight += shard_weight[shard]
                correct += shard_correct[shard]
            if n_shards == 1:
                loss = shard_loss[0] if weight != 0.0 else math.nan
            else:
                loss = 0.0
                for shard in range(n_shards):
                    shares[shard] = shard_weight[shard] / weight
                    loss += shares[shard] * shard_loss[shard]
            if not math.isfinite(loss):
                diverged = True
                break
            total += loss
            n_batches += 1
            if n_shards > 1 and not fused:
                if n_chunks == 1:
                    _combine_chunk(0, 1, grads, shares)
                else:
                    for chunk in prange(n_chunks):
                        _combine_chunk(chunk, n_chunks, grads, shares)
            if clip_norm > 0:
                clip_gradients(grads[0], clip_norm)
            if n_chunks == 1:
                _update_chunk(
                    0, 1, params, grads, shares, fused, opt_state, opt_hyper, step, lr, opt_code
                )
            else:
                for chunk in prange(n_chunks):
                    _update_chunk(
                        chunk,
                        n_chunks,
                        params,
                        grads,
                        shares,
                        fused,
                        opt_state,
                        opt_hyper,
                        step,
                        lr,
                        opt_code,
                    )
            counters[0] = step + 1
            counters[1] = global_step + 1
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
def infer_rows(out, X, params, scratch, table, loss_code, output_code):
    """Outputs of a few rows (online predict): one forward pass of ``X``.

    The lean twin of ``evaluate`` for small inputs: six arrays instead of
    two tuples, because unboxing the call's arguments costs more than the
    arithmetic of a one-row forward pass. ``table`` packs the model's
    integer arrays by rows (``_layout.Layout.table``): layer sizes, weight
    offsets, bias offsets, column offsets, activation codes. ``scratch``
    holds the pre-activations then the activations of ``X.shape[0]`` rows.
    Returns whether every value of ``X`` is finite (the outputs are only
    meaningful then).
    """
    if not all_finite(X.reshape(X.size)):
        return False
    nb = X.shape[0]
    n_layers = table.shape[1] - 1
    half = scratch.shape[0] // 2
    pre, acts = scratch[:half], scratch[half:]
    model = (
        table[0],
        table[1][:n_layers],
        table[2][:n_layers],
        table[3][:n_layers],
        table[4][:n_layers],
        np.zeros(n_layers),  # dropout is off at inference
        loss_code,
        output_code,
    )
    empty = pre[:0]
    buffers = (empty, empty, empty, pre, acts, empty, empty, empty, pre[:nb], empty, empty, empty)
    forward_pass(buffers, X, params, model, 0, 0, 0, False)
    n_out = table[0][n_layers]
    col = nb * table[3][n_layers - 1]
    output_forward(out, matrix_view(pre, col, nb, n_out), loss_code, output_code)
    return True


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
        forward_pass(buffers, xb, params, model, 0, 0, 0, False)
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
