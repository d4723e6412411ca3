"""The compiled training loop: forward pass, backward pass, whole epochs.

All state lives in flat buffers (see ``_layout``); per-layer matrices are
views, so nothing here allocates. The per-row buffers of a batch travel as
one ``arena`` cut at ``bounds`` into the named segments of ``_layout.Seg``
(``segment(arena, bounds, Seg.PRE)``); the network's shape as a
``_layout.Model``. ``train_epochs`` runs several epochs in one call: gather
each minibatch through the epoch's permutation, forward (with dropout),
loss, backward, clip, optimizer update, and accumulate loss and accuracy.
``batch_gradients`` (``Network.gradients``, ``check_gradients``) runs the
same forward and backward code on one batch.
"""

import math

import numpy as np
from numba import prange

from .._codes import (
    CROSS_ENTROPY,
    HYPER_MOMENTUM,
    HYPER_PENALTY,
    HYPER_STEP_PENALTY,
    HYPER_WEIGHT_DECAY,
    SGD,
)
from .._config import jit, jit_inline, jit_parallel
from .._layout import Counter, Model, OptSlot, Saved, Seg, TableRow
from .blas import gemm, gemm_scaled
from .borrowed import borrow
from .dropout import dropout_key
from .flat import c_matrix
from .linear import add_bias, column_block_sums, linear_forward
from .losses import weighted_mean
from .ops import activation_backward, activation_forward, ops_type, read_ops
from .optim import all_finite, all_in_range, clip_gradients
from .pointers import PointerTable, PointerTableType, pointer, table_reader
from .scalars import as_flag, as_int


@jit
def matrix_view(flat, offset, rows, cols):
    """``flat[offset : offset + rows * cols]`` as a C-contiguous ``(rows,
    cols)`` matrix."""
    if offset < 0 or rows < 0 or cols < 0 or offset + rows * cols > flat.shape[0]:
        raise IndexError("matrix_view: the block does not fit in the buffer")
    return c_matrix(flat, offset, rows, cols)


_N_SEGMENTS = len(Seg)  # (Numba cannot take the len of an enum class)
_N_SAVED = len(Saved)


@jit
def segment(arena, bounds, seg):
    """Segment ``seg`` (a ``Seg``) of a workspace arena."""
    return arena[bounds[seg, 0] : bounds[seg, 1]]


@jit
def _batch_rows(bounds):
    """The rows the arena holds a block of (its per-row segments' length)."""
    return bounds[Seg.ROW_LOSS, 1] - bounds[Seg.ROW_LOSS, 0]


@jit
def _layer_rows(flat, model, max_batch, layer, first_row, rows):
    """Rows ``first_row : first_row + rows`` of layer ``layer``'s
    ``(max_batch, n_out)`` block of a per-layer segment (PRE ... DELTAS)."""
    n_out = model.layer_sizes[layer + 1]
    offset = max_batch * model.col_offsets[layer] + first_row * n_out
    return matrix_view(flat, offset, rows, n_out)


@jit_inline
def _gather_row(i, out, src, index, start):
    r = index[start + i]
    for j in range(out.shape[1]):
        out[i, j] = src[r, j]


@jit
def gather_rows(out, src, index, start):
    # out: (batch, n) <- src[index[start : start + batch]]
    for i in range(out.shape[0]):
        _gather_row(i, out, src, index, start)


@jit
def _forward_layers(
    arena, bounds, x, params, model, ops, dropout_seed, step, first_row, training, input_ready
):
    """Hidden layers and output logits of the block of rows ``x``
    ``(rows, n_in)``, rows ``first_row ...`` of the arena's batch.

    Writes every layer's pre-activation into ``PRE``, every hidden
    activation into ``ACTS`` and, where dropout is on while training, the
    dropped-out copy the next layer reads into ``DROPPED``. The output
    activation is left to the loss. With ``input_ready``, layer 0's ``PRE``
    rows already hold x W0 (see ``_input_block_product``) and only get the
    bias.
    """
    pre = segment(arena, bounds, Seg.PRE)
    acts = segment(arena, bounds, Seg.ACTS)
    dropped = segment(arena, bounds, Seg.DROPPED)
    layer_sizes, drop_rates = model.layer_sizes, model.drop_rates
    max_batch = _batch_rows(bounds)
    nb = x.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    inp = x
    for layer in range(n_layers):
        n_in = layer_sizes[layer]
        n_out = layer_sizes[layer + 1]
        W = matrix_view(params, model.w_offsets[layer], n_in, n_out)
        b = params[model.b_offsets[layer] : model.b_offsets[layer] + n_out]
        z = _layer_rows(pre, model, max_batch, layer, first_row, nb)
        if layer == 0 and input_ready:
            add_bias(z, b)
        else:
            linear_forward(z, inp, W, b)
        if layer < n_layers - 1:
            a = _layer_rows(acts, model, max_batch, layer, first_row, nb)
            activation_forward(ops, model.act_codes[layer], a, z)
            inp = a
            if training and drop_rates[layer] > 0:
                d = _layer_rows(dropped, model, max_batch, layer, first_row, nb)
                key = dropout_key(dropout_seed, step, layer, first_row, n_out)
                ops.dropout_forward(d, a, drop_rates[layer], key)
                inp = d


@jit
def batch_gradients(arena, bounds, grads, params, X, Y, sample_weight, model, ops, phases):
    """Gradients of the weighted mean loss of the batch ``X`` (every row,
    in order) into ``grads``; returns the loss.

    The training loop's own code for one shard (``_shard_forward_backward``
    and ``_block_gradients``, called through ``phase_kernels``' pointer), so
    ``Network.gradients`` and ``check_gradients`` check what trains. Dropout
    is whatever ``model.drop_rates`` says (the caller passes zeros for none).
    """
    op_table, phase_table = read_ops(ops, params), read_phases(phases, params)
    n = X.shape[0]
    order = np.arange(n)
    weight = _gather_weights(segment(arena, bounds, Seg.W_BATCH), sample_weight, order, 0, n)
    if weight == 0.0:  # as train_epochs: every row's share is then 0 / 1
        weight = 1.0
    shard_loss = np.zeros(1)
    shard_weight = np.zeros(1)
    shard_correct = np.zeros(1, dtype=np.int64)
    no_shard_grads = np.empty((0, grads.shape[0]), grads.dtype)
    zero = as_int(0)
    shard_kernel = phase_table.shard
    shard_kernel(
        zero,
        as_int(1),
        arena,
        bounds,
        grads,
        params,
        X,
        Y,
        order,
        zero,
        as_int(n),
        model,
        op_table,
        zero,
        zero,
        weight,
        shard_loss,
        shard_weight,
        shard_correct,
        as_flag(True),
        no_shard_grads,
        zero,
        phase_table.add_partials,
    )
    return shard_loss[0]


@jit
def _max_width(layer_sizes):
    """The widest layer after the input."""
    width = 0
    for k in range(1, layer_sizes.shape[0]):
        width = max(width, layer_sizes[k])
    return width


@jit
def _block(part, n_parts, n):
    """The ``part``-th of ``n_parts`` near-equal blocks of ``range(n)``."""
    size = (n + n_parts - 1) // n_parts
    lo = min(part * size, n)
    return lo, min(lo + size, n)


@jit
def _shard_forward_backward(
    shard,
    n_shards,
    arena,
    bounds,
    grads,
    params,
    X,
    Y,
    perm,
    start,
    nb,
    model,
    ops,
    dropout_seed,
    step,
    batch_weight,
    shard_loss,
    shard_weight,
    shard_correct,
    local,
    shard_grads,
    input_chunks,
    add_partials,
):
    """Rows of one shard of the batch: gather, forward, loss, and the delta
    of every layer (written into the ``deltas`` segment of the arena).
    With ``input_chunks`` > 0, that many update chunks have already
    gathered the input rows and multiplied them by W0
    (``_input_block_product``): the shard adds their partial products for
    its rows instead, with ``add_partials`` (``_add_input_partials`` as a
    function pointer, a stub in fits that never split the input layer).

    With ``local``, the shard then sums its own rows' gradients into its
    row of ``shard_grads`` (into ``grads`` when it is the only shard), for
    the caller to add up in shard order. Otherwise the update chunks
    compute the gradients over every row afterwards."""
    x_batch = segment(arena, bounds, Seg.X_BATCH)
    y_batch = segment(arena, bounds, Seg.Y_BATCH)
    w_batch = segment(arena, bounds, Seg.W_BATCH)
    pre = segment(arena, bounds, Seg.PRE)
    acts = segment(arena, bounds, Seg.ACTS)
    row_loss = segment(arena, bounds, Seg.ROW_LOSS)
    row_scale = segment(arena, bounds, Seg.ROW_SCALE)
    deltas = segment(arena, bounds, Seg.DELTAS)
    layer_sizes, drop_rates = model.layer_sizes, model.drop_rates
    max_batch = _batch_rows(bounds)
    first, last_row = _block(shard, n_shards, nb)
    rows = last_row - first
    shard_loss[shard] = 0.0
    shard_weight[shard] = 0.0
    shard_correct[shard] = 0
    if rows == 0:
        if local:
            own = shard_grads[shard]
            for k in range(own.shape[0]):  # adds nothing to the batch's sum
                own[k] = 0
        return
    n_in, n_out = X.shape[1], Y.shape[1]
    xb = matrix_view(x_batch, first * n_in, rows, n_in)
    yb = matrix_view(y_batch, first * n_out, rows, n_out)
    wb = w_batch[first:last_row]
    gather_rows(yb, Y, perm, start + first)
    if input_chunks == 0:
        gather_rows(xb, X, perm, start + first)
    else:
        add_partials(arena, bounds, model, first, rows, input_chunks)
    _forward_layers(
        arena,
        bounds,
        xb,
        params,
        model,
        ops,
        dropout_seed,
        step,
        first,
        as_flag(True),
        input_chunks > 0,
    )
    top = layer_sizes.shape[0] - 2  # the output layer
    out = _layer_rows(acts, model, max_batch, top, first, rows)
    logits = _layer_rows(pre, model, max_batch, top, first, rows)
    weight = 0.0
    for i in range(rows):
        weight += wb[i]
    shard_weight[shard] = weight
    # always run: it also writes the outputs that accuracy and backward read
    shard_row_loss = row_loss[first:last_row]
    ops.loss_forward(out, shard_row_loss, logits, yb)
    per_row = 1 if model.loss_code == CROSS_ENTROPY else n_out
    if weight > 0.0:  # else the shard's own mean is 0 / 0 and adds nothing
        shard_loss[shard] = weighted_mean(shard_row_loss, wb, per_row)
    shard_correct[shard] = ops.correct(out, yb)
    # dL/dlogits of the batch's weighted mean: row i's share is
    # w_i / (sum(w) * per_row), over the whole batch's weights
    inv = 1.0 / (batch_weight * per_row)
    scale = row_scale[first:last_row]
    for i in range(rows):
        scale[i] = wb[i] * inv
    delta = _layer_rows(deltas, model, max_batch, top, first, rows)
    ops.loss_backward(delta, out, yb, scale)
    for layer in range(top, 0, -1):
        below = layer - 1
        n_below = layer_sizes[layer]
        W = matrix_view(params, model.w_offsets[layer], n_below, layer_sizes[layer + 1])
        a = _layer_rows(acts, model, max_batch, below, first, rows)
        z = _layer_rows(pre, model, max_batch, below, first, rows)
        dinp = _layer_rows(deltas, model, max_batch, below, first, rows)
        gemm(dinp, delta, W, as_flag(False), as_flag(True))  # dL/da of the layer below
        if drop_rates[below] > 0:  # through the same mask, same 1 / (1 - p)
            key = dropout_key(dropout_seed, step, below, first, n_below)
            ops.dropout_backward(dinp, dinp, drop_rates[below], key)
        activation_backward(ops, model.act_codes[below], dinp, dinp, a, z)  # dL/dz
        delta = dinp
    if local:
        partial = grads if n_shards == 1 else shard_grads[shard]
        _block_gradients(shard, arena, bounds, partial, first, rows, model)


@jit
def _input_block_product(chunk, n_chunks, arena, bounds, params, X, perm, start, nb, model):
    """The input layer's product, split over the update chunks by input
    column: chunk ``c`` gathers its block ``i0:i1`` of the batch's input
    columns (the rows of W0 it updates) and multiplies, x[:, i0:i1]
    W0[i0:i1, :], into layer 0's ``pre`` block (chunk 0) or its
    ``partials`` block; the shards add the products in chunk order.

    Why not rows per shard as for the other layers: every shard would read
    all of W0 and the columns of x_batch that the other chunks' threads
    then read and write, so these moved between the cores' caches every
    step. Split this way, a thread's block of W0, of its optimizer state
    and of x_batch is touched by that thread only (measured, A/B in one
    process: mnist's Adam epoch 7-13% faster, wide's 4-10% with SGD and
    Adam). For a small W0 the extra parallel region costs more than it
    saves (deep's 64x256: SGD epoch 6-14% slower), hence
    ``_parallel.input_chunks``."""
    x_batch = segment(arena, bounds, Seg.X_BATCH)
    n_in, n_first = model.layer_sizes[0], model.layer_sizes[1]
    i0, i1 = _block(chunk, n_chunks, n_in)
    xb = matrix_view(x_batch, 0, nb, n_in)
    for i in range(nb):
        src = X[perm[start + i], i0:i1]
        dst = xb[i, i0:i1]
        for j in range(i1 - i0):  # from 0: LLVM vectorises it
            dst[j] = src[j]
    W = matrix_view(params, model.w_offsets[0], n_in, n_first)
    out = _input_product_rows(arena, bounds, model, chunk, as_int(0), nb)
    no = as_flag(False)
    gemm(out, xb[:, i0:i1], W[i0:i1], no, no)  # zeros for an empty block


@jit
def _input_product_rows(arena, bounds, model, chunk, first, rows):
    """Rows ``first : first + rows`` of chunk ``chunk``'s input-layer
    product: layer 0's ``pre`` block for chunk 0, else the chunk's block of
    ``partials``, laid out alike."""
    max_batch = _batch_rows(bounds)
    if chunk == 0:
        pre = segment(arena, bounds, Seg.PRE)
        return _layer_rows(pre, model, max_batch, as_int(0), first, rows)
    n_first = model.layer_sizes[1]
    start = (chunk - 1) * max_batch * n_first
    partials = segment(arena, bounds, Seg.PARTIALS)
    return matrix_view(partials, start + first * n_first, rows, n_first)


@jit
def _add_input_partials(arena, bounds, model, first, rows, n_chunks):
    """Rows ``first : first + rows`` of layer 0's ``pre`` += the partial
    products of chunks 1, 2, ... in that order."""
    z = _input_product_rows(arena, bounds, model, as_int(0), first, rows)
    for chunk in range(1, n_chunks):
        part = _input_product_rows(arena, bounds, model, chunk, first, rows)
        for i in range(rows):
            z_row, part_row = z[i], part[i]
            for j in range(z.shape[1]):
                z_row[j] += part_row[j]


@jit
def _layer_block_gradients(
    layer, chunk, n_chunks, slot, arena, bounds, grads, first_row, rows, model, weights, alpha, beta
):
    """One layer's gradients from batch rows ``first_row : first_row +
    rows``: rows ``i0:i1`` of dW = inp[:, i0:i1]^T delta (one BLAS call on a
    column block, no copy) and columns ``j0:j1`` of db, the ``chunk``-th
    blocks of ``n_chunks``. ``slot`` picks the scratch for the bias sums
    (one per concurrent caller; train_epochs checked the room). Returns
    ``(i0, i1, j0, j1)``.

    The BLAS call writes ``alpha dW + beta W`` into the layer's block of
    ``weights``: the gradient itself (``grads``, 1, 0) or, for plain SGD,
    the step applied to the parameters in the same call (``params``, -lr,
    1), which never writes dW and never reads it back."""
    width = _max_width(model.layer_sizes)
    sums = segment(arena, bounds, Seg.SUMS)[slot * width : (slot + 1) * width]
    max_batch = _batch_rows(bounds)
    n_in = model.layer_sizes[layer]
    n_out = model.layer_sizes[layer + 1]
    delta = _layer_rows(
        segment(arena, bounds, Seg.DELTAS), model, max_batch, layer, first_row, rows
    )
    if layer == 0:
        inp = matrix_view(segment(arena, bounds, Seg.X_BATCH), first_row * n_in, rows, n_in)
    else:
        dropping = model.drop_rates[layer - 1] > 0
        source = segment(arena, bounds, Seg.DROPPED if dropping else Seg.ACTS)
        inp = _layer_rows(source, model, max_batch, layer - 1, first_row, rows)
    i0, i1 = _block(chunk, n_chunks, n_in)
    dW = matrix_view(weights, model.w_offsets[layer], n_in, n_out)
    if i1 > i0:
        gemm_scaled(dW[i0:i1], inp[:, i0:i1], delta, as_flag(True), as_flag(False), alpha, beta)
    j0, j1 = _block(chunk, n_chunks, n_out)
    db = grads[model.b_offsets[layer] : model.b_offsets[layer] + n_out]
    column_block_sums(db, delta, sums, j0, j1)
    return i0, i1, j0, j1


@jit
def _block_gradients(slot, arena, bounds, grads, first_row, rows, model):
    """Every layer's whole gradient from the batch rows ``first_row :
    first_row + rows`` (``_layer_block_gradients`` with one chunk)."""
    for layer in range(model.layer_sizes.shape[0] - 1):
        _layer_block_gradients(
            layer,
            as_int(0),
            as_int(1),
            slot,
            arena,
            bounds,
            grads,
            first_row,
            rows,
            model,
            grads,
            1.0,
            0.0,
        )


@jit
def _chunk_gradients(
    chunk,
    n_chunks,
    arena,
    bounds,
    grads,
    nb,
    model,
    update,
    params,
    opt_state,
    hyper,
    step,
    lr,
    code,
    update_kernel,
):
    """Weight and bias gradients of one chunk of every layer, over all rows
    of the batch (see ``_layer_block_gradients``). With ``update``, the
    optimizer step follows on those parameters while their gradients are
    still in cache. Plain SGD without weight decay takes its weight step
    inside the BLAS call, W <- -lr dW + W, whose rounding differs from a
    separate ``p - lr g`` in the last bits. (With weight decay it does not:
    BLAS's beta = 1 - lr wd would be rounded to the parameters' dtype, in
    float32 a fixed error of up to 6e-8 in every step's decay.)"""
    layer_sizes, w_offsets, b_offsets = model.layer_sizes, model.w_offsets, model.b_offsets
    zero = as_int(0)
    penalty = hyper[HYPER_PENALTY] != 0.0
    sgd_in_gemm = (
        update
        and code == SGD
        and hyper[HYPER_MOMENTUM] == 0.0
        and hyper[HYPER_WEIGHT_DECAY] == 0.0
        and not penalty
    )
    if sgd_in_gemm:
        weights, alpha, beta = params, -float(lr), 1.0
    else:
        weights, alpha, beta = grads, 1.0, 0.0
    for layer in range(layer_sizes.shape[0] - 1):
        i0, i1, j0, j1 = _layer_block_gradients(
            layer,
            chunk,
            n_chunks,
            chunk,
            arena,
            bounds,
            grads,
            zero,
            nb,
            model,
            weights,
            alpha,
            beta,
        )
        n_out = layer_sizes[layer + 1]
        lo, hi = w_offsets[layer] + i0 * n_out, w_offsets[layer] + i1 * n_out
        if penalty:  # while the block is in cache, before any clipping
            _add_scaled(grads, params, lo, hi, hyper[HYPER_STEP_PENALTY])
        if update:
            if not sgd_in_gemm:
                _update_range(params, grads, opt_state, hyper, step, lr, update_kernel, lo, hi)
            lo, hi = b_offsets[layer] + j0, b_offsets[layer] + j1
            _update_range(params, grads, opt_state, hyper, step, lr, update_kernel, lo, hi)


@jit
def _add_scaled(grads, params, lo, hi, coefficient):
    """``grads[lo:hi] += coefficient * params[lo:hi]`` (the coefficient
    rounded to the parameters' dtype): the weight penalty's gradient."""
    c = params.dtype.type(coefficient)
    for i in range(lo, hi):
        grads[i] += c * params[i]


@jit
def _weight_squares(params, model):
    """``sum(W**2)`` over every weight matrix (not the biases), in float64
    and in order: the weight penalty's loss is ``alpha / 2`` times it over
    the batch's weight."""
    total = 0.0
    for layer in range(model.layer_sizes.shape[0] - 1):
        lo = model.w_offsets[layer]
        hi = lo + model.layer_sizes[layer] * model.layer_sizes[layer + 1]
        # eight running sums, not one: one sum is a chain of dependent adds
        # (about 2 ns a weight, measured: +16% on a 64-1000-10 Adam epoch);
        # plain locals, so nothing is allocated in the training loop
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        stop = lo + (hi - lo) // 8 * 8
        for i in range(lo, stop, 8):
            s0 += float(params[i]) * float(params[i])
            s1 += float(params[i + 1]) * float(params[i + 1])
            s2 += float(params[i + 2]) * float(params[i + 2])
            s3 += float(params[i + 3]) * float(params[i + 3])
            s4 += float(params[i + 4]) * float(params[i + 4])
            s5 += float(params[i + 5]) * float(params[i + 5])
            s6 += float(params[i + 6]) * float(params[i + 6])
            s7 += float(params[i + 7]) * float(params[i + 7])
        for i in range(stop, hi):
            s0 += float(params[i]) * float(params[i])
        total += ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    return total


@jit
def _add_weight_penalty(grads, params, model, coefficient):
    """The weight penalty's gradient on every weight matrix, not the biases."""
    for layer in range(model.layer_sizes.shape[0] - 1):
        lo = model.w_offsets[layer]
        hi = lo + model.layer_sizes[layer] * model.layer_sizes[layer + 1]
        _add_scaled(grads, params, lo, hi, coefficient)


@jit
def _update_range(params, grads, opt_state, hyper, step, lr, update, lo, hi):
    """The optimizer step (``update``, a pointer to one of ``optim``'s slice
    kernels) on ``params[lo:hi]``."""
    if hi > lo:
        update(
            params[lo:hi],
            grads[lo:hi],
            opt_state[OptSlot.FIRST][lo:hi],
            opt_state[OptSlot.SECOND][lo:hi],
            hyper,
            step,
            lr,
        )


@jit
def _add_rows(total, rows):
    """``total = rows[0] + rows[1] + ...``, added in row order."""
    first = rows[0]
    for k in range(total.shape[0]):  # a loop, not total[:] = ...: less to compile
        total[k] = first[k]
    for r in range(1, rows.shape[0]):
        part = rows[r]
        for k in range(total.shape[0]):
            total[k] += part[k]


@jit
def _copy(dst, src):
    """``dst[:] = src``, serially. Written as a slice assignment in
    ``train_epochs`` (a parallel kernel), Numba turns it into a parallel
    loop of its own: three OpenMP regions per epoch for the backups, about
    5 us, a sixth of a ``tiny`` step (one step per epoch), measured."""
    if dst.shape[0] != src.shape[0]:  # the slice assignment's own check
        raise ValueError("_copy: dst and src differ in length")
    for i in range(src.shape[0]):
        dst[i] = src[i]


@jit
def _gather_weights(w_batch, sample_weight, index, start, nb):
    """``w_batch[:nb] = sample_weight[index[start : start + nb], 0]``;
    returns their sum (added in row order). One loop: ``gather_rows`` on a
    one-column view paid its row loop's set-up per row (1.2 -> 0.3 us per
    400 rows)."""
    total = 0.0
    for i in range(nb):
        w_batch[i] = sample_weight[index[start + i], 0]
        total += w_batch[i]  # as stored, in the batch's dtype
    return total


@jit
def _update_chunk(chunk, n_chunks, params, grads, opt_state, hyper, step, lr, update):
    lo, hi = _block(chunk, n_chunks, params.shape[0])
    _update_range(params, grads, opt_state, hyper, step, lr, update, lo, hi)


# The phases of a step, each a kernel of its own, which train_epochs (itself
# serial) calls through function pointers (``phase_kernels``). Numba links
# every compiled callee into its caller's module and optimises the whole
# module again, so a call tree compiles its leaves once per level above
# them; and a prange inside the epoch function ran Numba's parfor passes over
# all of it. Measured on the spiral demo's cold start: 12 s for the parfor
# passes and gufuncs inside the epoch function, 6 s for the shard phase's
# gufunc re-optimising the shard code linked into it.


@jit_parallel
def _input_products(chunk_kernel, n_chunks, arena, bounds, params, X, perm, start, nb, model):
    """Phase 0: every chunk's block of the input layer's product
    (``chunk_kernel`` is ``_input_block_product``, as a function pointer)."""
    for chunk in prange(n_chunks):
        chunk_kernel(as_int(chunk), n_chunks, arena, bounds, params, X, perm, start, nb, model)


@jit_parallel
def _all_shards(
    shard_kernel,
    n_shards,
    arena,
    bounds,
    grads,
    params,
    X,
    Y,
    perm,
    start,
    nb,
    model,
    ops,
    dropout_seed,
    step,
    batch_weight,
    shard_loss,
    shard_weight,
    shard_correct,
    local,
    shard_grads,
    input_chunks,
    add_partials,
):
    """Phase 1: every shard's forward, loss and deltas (``shard_kernel`` is
    ``_shard_forward_backward``, passed as a function pointer)."""
    for shard in prange(n_shards):
        shard_kernel(
            as_int(shard),
            n_shards,
            arena,
            bounds,
            grads,
            params,
            X,
            Y,
            perm,
            start,
            nb,
            model,
            ops,
            dropout_seed,
            step,
            batch_weight,
            shard_loss,
            shard_weight,
            shard_correct,
            local,
            shard_grads,
            input_chunks,
            add_partials,
        )


@jit_parallel
def _all_chunk_gradients(
    chunk_kernel,
    n_chunks,
    arena,
    bounds,
    grads,
    nb,
    model,
    update,
    params,
    opt_state,
    hyper,
    step,
    lr,
    code,
    update_kernel,
):
    """Phase 2: every chunk's gradients, and its update with ``update``
    (``chunk_kernel`` is ``_chunk_gradients``, as a function pointer)."""
    for chunk in prange(n_chunks):
        chunk_kernel(
            as_int(chunk),
            n_chunks,
            arena,
            bounds,
            grads,
            nb,
            model,
            update,
            params,
            opt_state,
            hyper,
            step,
            lr,
            code,
            update_kernel,
        )


@jit_parallel
def _all_chunk_updates(chunk_kernel, n_chunks, params, grads, opt_state, hyper, step, lr, update):
    """Phase 2b, after clipping: every chunk's update (``chunk_kernel`` is
    ``_update_chunk``, as a function pointer)."""
    for chunk in prange(n_chunks):
        chunk_kernel(as_int(chunk), n_chunks, params, grads, opt_state, hyper, step, lr, update)


@jit
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
    """Minibatch training over ``perms.shape[0]`` epochs.

    Each step runs in two parallel phases (one thread per shard or chunk,
    BLAS single-threaded while the caller holds it so):

    1. the batch's rows are split into ``n_shards`` shards: each gathers
       its rows and runs forward, loss and the delta recursion on them.
       With ``input_chunks`` > 0, a parallel region before it has the
       update chunks gather the input and multiply it by W0, split by input
       column (``_input_block_product``), and the shards start from those
       products;
    2. the parameters are split into ``n_chunks`` chunks (a block of rows
       of every weight matrix and of columns of every bias): each computes
       its gradients over all rows of the batch, then, unless clipping needs
       the whole gradient first, its optimizer step (plain SGD's inside the
       weight gradient's BLAS call).

    ``input_chunks`` is ``n_chunks`` when the chunks compute the input
    layer's product, else 0 (``_parallel.input_chunks``).

    With one chunk (a small network), phase 1 also sums each shard's own
    rows' gradients, and phase 2 is their sum in shard order and the
    optimizer step, on the calling thread.

    Every value is computed by one thread in a fixed order, so the result
    does not depend on the thread count.

    ``arena``/``bounds`` hold the per-row buffers (``_layout.TrainingWorkspace``).
    ``perms[e]`` is epoch ``e``'s row order and ``epoch_lrs[e]`` its
    learning rate. ``counters`` is ``[optimizer step, global step]``, both
    advanced here (the first drives Adam's bias correction and restarts with
    a new optimizer; the second keys the dropout masks). ``clip_norm`` <= 0
    means no clipping. Writes each epoch's loss (its batches' losses,
    weighted by their rows) and number of correct predictions. ``phases``
    is ``phase_kernels(dtype)``: the step's phases as function pointers (see
    there). Returns -1, or the index of the first epoch whose loss or
    parameters became non-finite; the parameters and optimizer state
    are then restored to that epoch's start.
    """
    # every array below is a view of these, and the caller holds them
    params, opt_state, counters, arena, bounds = (
        borrow(params),
        borrow(opt_state),
        borrow(counters),
        borrow(arena),
        borrow(bounds),
    )
    grads, backup, X, Y, sample_weight = (
        borrow(grads),
        borrow(backup),
        borrow(X),
        borrow(Y),
        borrow(sample_weight),
    )
    perms, epoch_lrs, epoch_loss, epoch_correct = (
        borrow(perms),
        borrow(epoch_lrs),
        borrow(epoch_loss),
        borrow(epoch_correct),
    )
    # a copy of our own: each batch writes its penalty coefficient into it
    opt_hyper = opt_hyper.copy()
    penalty = opt_hyper[HYPER_PENALTY]
    # Built here, by its own name: Numba rebuilds a named tuple inside a
    # prange body from the global that made it (parfor_lowering), which
    # must be the class itself (or an argument), not a helper returning one.
    op_table, phase_table = read_ops(ops, params), read_phases(phases, params)
    shard_kernel, all_shards = phase_table.shard, phase_table.all_shards
    input_products, update_chunk = phase_table.input_products, phase_table.update_chunk
    all_chunk_gradients = phase_table.all_chunk_gradients
    all_chunk_updates = phase_table.all_chunk_updates
    input_kernel, gradient_kernel = phase_table.input_block, phase_table.chunk_gradients
    add_partials = phase_table.add_partials
    model = Model(
        borrow(model.layer_sizes),
        borrow(model.w_offsets),
        borrow(model.b_offsets),
        borrow(model.col_offsets),
        borrow(model.act_codes),
        borrow(model.drop_rates),
        model.loss_code,
        model.output_code,
    )
    n = X.shape[0]
    n_params = params.shape[0]
    w_batch = segment(arena, bounds, Seg.W_BATCH)
    if bounds.shape[0] != _N_SEGMENTS:
        raise ValueError("bounds must have one row for each arena segment (_layout.Seg)")
    if backup.shape[0] != _N_SAVED or backup.shape[1] != n_params:
        raise ValueError("backup must have one row like the parameters for each of _layout.Saved")
    split_input = input_chunks != 0
    if split_input and (input_chunks != n_chunks or n_chunks < 2):
        raise ValueError("input_chunks must be 0 or n_chunks, with n_chunks >= 2")
    # the shards' or chunks' bias sums, and the partial products of chunks
    # 1, 2, ..., write into the arena without bounds checks
    max_batch = _batch_rows(bounds)
    layer_sizes = model.layer_sizes
    too_small = segment(arena, bounds, Seg.SUMS).shape[0] < max(n_shards, n_chunks) * _max_width(
        layer_sizes
    )
    if split_input:
        room = segment(arena, bounds, Seg.PARTIALS).shape[0]
        too_small |= room < (n_chunks - 1) * max_batch * layer_sizes[1]
    if too_small:
        raise ValueError(
            "the training arena has no room for n_chunks update chunks or n_shards shards"
        )
    shard_loss = np.zeros(n_shards)
    shard_weight = np.zeros(n_shards)
    shard_correct = np.zeros(n_shards, dtype=np.int64)
    # With one update chunk (a small network), each shard also sums its own
    # rows' gradients, and the step adds the shards' sums in shard order: a
    # second phase over every row would run on one core and read every
    # other shard's activations and deltas across cores.
    local = n_chunks == 1
    shard_grads = np.empty((n_shards if local and n_shards > 1 else 0, n_params), params.dtype)
    fused = clip_norm <= 0  # clipping needs the whole gradient before a step
    for epoch in range(perms.shape[0]):
        # params and optimizer state at the epoch's start, to undo a divergence
        _copy(backup[Saved.PARAMS], params)
        _copy(backup[Saved.FIRST], opt_state[OptSlot.FIRST])
        _copy(backup[Saved.SECOND], opt_state[OptSlot.SECOND])
        start_step = counters[Counter.OPTIMIZER_STEP]
        start_global = counters[Counter.GLOBAL_STEP]
        total = 0.0
        correct = 0
        trained_rows = 0  # of the batches that took a step
        diverged = False
        perm = perms[epoch]
        lr = epoch_lrs[epoch]
        for start in range(0, n, batch_size):
            nb = min(batch_size, n - start)
            step = counters[Counter.OPTIMIZER_STEP]
            global_step = counters[Counter.GLOBAL_STEP]
            # the batch's weights first: every shard scales by their sum
            weight = _gather_weights(w_batch, sample_weight, perm, start, nb)
            # A batch whose rows all weigh 0 has no loss to descend: it only
            # counts its correct rows (every row counts in the accuracy) and
            # takes no step. Its sum stands in as 1: every row's share of the
            # gradient is then 0 / 1, not 0 / 0.
            weightless = weight == 0.0
            if weightless:
                weight = 1.0
            inv_weight = 1.0 / weight
            opt_hyper[HYPER_STEP_PENALTY] = penalty * inv_weight
            # Each phase has a plain call for one shard or chunk: a prange
            # over a single item still wakes the OpenMP team (a few us a
            # step). Numba's parallel loops cannot take the arguments as a
            # tuple, hence the spelled-out twin calls.
            if split_input:  # the input layer's product, by chunk (see there)
                input_products(
                    input_kernel, n_chunks, arena, bounds, params, X, perm, start, nb, model
                )
            if n_shards == 1:
                shard_kernel(
                    as_int(0),
                    as_int(1),
                    arena,
                    bounds,
                    grads,
                    params,
                    X,
                    Y,
                    perm,
                    start,
                    nb,
                    model,
                    op_table,
                    dropout_seed,
                    global_step,
                    weight,
                    shard_loss,
                    shard_weight,
                    shard_correct,
                    local,
                    shard_grads,
                    input_chunks,
                    add_partials,
                )
            else:
                all_shards(
                    shard_kernel,
                    n_shards,
                    arena,
                    bounds,
                    grads,
                    params,
                    X,
                    Y,
                    perm,
                    start,
                    nb,
                    model,
                    op_table,
                    dropout_seed,
                    global_step,
                    weight,
                    shard_loss,
                    shard_weight,
                    shard_correct,
                    local,
                    shard_grads,
                    input_chunks,
                    add_partials,
                )
            for shard in range(n_shards):
                correct += shard_correct[shard]
            if weightless:
                continue
            if n_shards == 1:
                loss = shard_loss[0]  # the shard's own mean is the batch's
            else:
                loss = 0.0
                for shard in range(n_shards):
                    if shard_weight[shard] > 0.0:
                        loss += shard_weight[shard] * inv_weight * shard_loss[shard]
            if penalty != 0.0:  # at the batch's starting weights, as its gradient
                loss += 0.5 * opt_hyper[HYPER_STEP_PENALTY] * _weight_squares(params, model)
            if not (weight > 0.0 and math.isfinite(loss)):
                diverged = True
                break
            total += loss * nb  # the epoch's loss is the mean over its rows
            trained_rows += nb
            if local:
                if n_shards > 1:
                    _add_rows(grads, shard_grads)
                if penalty != 0.0:
                    _add_weight_penalty(grads, params, model, opt_hyper[HYPER_STEP_PENALTY])
                if not fused:
                    clip_gradients(grads, clip_norm)
                update_chunk(
                    as_int(0),
                    as_int(1),
                    params,
                    grads,
                    opt_state,
                    opt_hyper,
                    step,
                    lr,
                    op_table.update,
                )
            else:
                all_chunk_gradients(
                    gradient_kernel,
                    n_chunks,
                    arena,
                    bounds,
                    grads,
                    nb,
                    model,
                    fused,
                    params,
                    opt_state,
                    opt_hyper,
                    step,
                    lr,
                    opt_code,
                    op_table.update,
                )
                if not fused:
                    clip_gradients(grads, clip_norm)
                    all_chunk_updates(
                        update_chunk,
                        n_chunks,
                        params,
                        grads,
                        opt_state,
                        opt_hyper,
                        step,
                        lr,
                        op_table.update,
                    )
            counters[Counter.OPTIMIZER_STEP] = step + 1
            counters[Counter.GLOBAL_STEP] = global_step + 1
        # (not the optimizer's state: an Adam or RMSprop second moment of inf
        # takes a zero step for its entries, as torch's, and training goes on)
        if diverged or not all_in_range(params):
            _copy(params, backup[Saved.PARAMS])
            _copy(opt_state[OptSlot.FIRST], backup[Saved.FIRST])
            _copy(opt_state[OptSlot.SECOND], backup[Saved.SECOND])
            counters[Counter.OPTIMIZER_STEP] = start_step
            counters[Counter.GLOBAL_STEP] = start_global
            return epoch
        epoch_loss[epoch] = total / trained_rows
        epoch_correct[epoch] = correct
    return -1


@jit
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
    """Outputs of the whole data set, in chunks of the arena's rows.

    Writes ``out_all`` (n, n_out). With ``with_loss``, also returns the
    weighted sum of per-row losses, the sum of the weights and the number of
    correct rows against ``Y``. The buffers come as ``_layout.
    EvaluationArena``'s ``arena``/``bounds`` and the layer offsets as
    ``Layout.table``: flat arguments, because a tuple of arrays costs about
    1.5 us more to pass in, about a tenth of a one-row predict.

    With ``check_finite`` (for input nobody has checked), returns a count
    of -1, writing nothing, when ``X`` holds NaN or inf.
    """
    if check_finite and not all_finite(X.reshape(X.size)):
        return 0.0, 0.0, -1
    # every array below is a view of these, and the caller holds them
    out_all, X, Y, sample_weight = borrow(out_all), borrow(X), borrow(Y), borrow(sample_weight)
    arena, bounds, params, table = borrow(arena), borrow(bounds), borrow(params), borrow(table)
    act_codes, drop_rates = borrow(act_codes), borrow(drop_rates)
    n_layers = table.shape[1] - 1
    model = Model(
        table[TableRow.LAYER_SIZES],
        table[TableRow.W_OFFSETS, :n_layers],
        table[TableRow.B_OFFSETS, :n_layers],
        table[TableRow.COL_OFFSETS, :n_layers],
        act_codes,
        drop_rates,
        loss_code,
        output_code,
    )
    op_table = read_ops(ops, params)
    w_batch = segment(arena, bounds, Seg.W_BATCH)
    pre = segment(arena, bounds, Seg.PRE)
    row_loss = segment(arena, bounds, Seg.ROW_LOSS)
    max_batch = _batch_rows(bounds)
    n = X.shape[0]
    loss_sum = 0.0
    weight_sum = 0.0
    correct = 0
    for start in range(0, n, max_batch):
        nb = min(max_batch, n - start)
        xb = X[start : start + nb]
        zero, off = as_int(0), as_flag(False)
        _forward_layers(arena, bounds, xb, params, model, op_table, zero, zero, zero, off, off)
        logits = _layer_rows(pre, model, max_batch, n_layers - 1, zero, nb)
        out = out_all[start : start + nb]
        if with_loss:
            yb = Y[start : start + nb]
            wb = w_batch[:nb]
            for i in range(nb):
                wb[i] = sample_weight[start + i, 0]
            op_table.loss_forward(out, row_loss[:nb], logits, yb)
            for i in range(nb):
                loss_sum += wb[i] * row_loss[i]
                weight_sum += wb[i]
            correct += op_table.correct(out, yb)
        else:
            op_table.output(out, logits)
    return loss_sum, weight_sum, correct


# ------------------------------------------------------------ phase pointers
# Stubs for the phases a fit never calls (``phase_kernels``), one per number
# of arguments: the same types as the phase they stand in for, compiled in a
# fraction of a second. They raise: a wrong split fails loudly.
_UNREACHABLE_PHASE = "a stub phase was called: the split and the compiled phases disagree"


@jit
def _unused_phase_6(a, b, c, d, e, f):
    raise RuntimeError(_UNREACHABLE_PHASE)


@jit
def _unused_phase_9(a, b, c, d, e, f, g, h, i):
    raise RuntimeError(_UNREACHABLE_PHASE)


@jit
def _unused_phase_10(a, b, c, d, e, f, g, h, i, j):
    raise RuntimeError(_UNREACHABLE_PHASE)


@jit
def _unused_phase_15(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o):  # noqa: E741
    raise RuntimeError(_UNREACHABLE_PHASE)


@jit
def _unused_phase_23(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w):  # noqa: E741
    raise RuntimeError(_UNREACHABLE_PHASE)


_PHASES = {}


def phase_kernels(dtype, *, shards=True, chunks=True, input_split=True, clip=True) -> PointerTable:
    """The phases ``train_epochs`` calls, compiled (or loaded from Numba's
    cache) for ``dtype`` and wrapped as first-class function pointers:
    ``(_shard_forward_backward, _all_shards, _input_products,
    _all_chunk_gradients, _all_chunk_updates, _update_chunk,
    _input_block_product, _chunk_gradients)``; the parallel phases get the
    per-chunk and per-shard functions as pointers too.

    A fit compiles only the phases its split calls: with ``shards`` (more
    than one shard) ``_all_shards``; with ``chunks`` (more than one update
    chunk) ``_all_chunk_gradients`` and ``_chunk_gradients``, and with
    ``clip`` as well ``_all_chunk_updates``; with ``input_split`` (input
    chunks) ``_input_products``, ``_input_block_product`` and
    ``_add_input_partials``. The others get
    stubs of the same types, which ``train_epochs`` never calls for that
    split: a small network's first fit skips about 2.5 s of compiling.

    Called through pointers, the phases are not linked into the epoch
    function's module, so each is compiled and optimised once (see the
    comment above ``_input_products``). Their argument types are those
    ``train_epochs`` passes, worked out from small arrays of the same kinds.
    """
    dtype = np.dtype(dtype)
    key = (dtype, bool(shards), bool(chunks), bool(input_split), bool(chunks and clip))
    if key not in _PHASES:
        _PHASES[key] = _compile_phases(dtype, *key[1:])
    return _PHASES[key]


def _phase_argtypes(dtype) -> dict:
    """Each phase's argument types for ``dtype``, by slot name: those
    ``train_epochs`` passes, worked out from small arrays of the same kinds."""
    from numba import typeof, types

    from .._layout import Layout

    real = typeof(dtype.type(0))
    vec, mat = typeof(np.zeros(1, dtype)), typeof(np.zeros((1, 1), dtype))
    ints, int_mat = typeof(np.zeros(1, np.int64)), typeof(np.zeros((1, 2), np.int64))
    floats = typeof(np.zeros(1))
    model = typeof(Layout([1, 1]).model(np.zeros(0, np.int64), np.zeros(0), 0, 0))
    ops = ops_type(dtype)
    update = dict(ops.slots)["update"]
    i64, f64, flag = types.int64, types.float64, types.boolean

    def kind(argtypes):
        return types.FunctionType(types.none(*argtypes))

    partials = (vec, int_mat, model, i64, i64, i64)
    # (arena, bounds, grads, params, X, Y, perm, start, nb, model, ops,
    # dropout seed, step, batch weight, shard loss, shard weight, shard
    # correct, local, shard grads, input chunks, add partials):
    # _shard_forward_backward's arguments after (shard, n_shards)
    shard_args = (vec, int_mat, vec, vec, mat, mat, ints, i64, i64, model, ops, i64, i64, f64)
    shard_args += (floats, floats, ints, flag, mat, i64, kind(partials))
    input_args = (i64, vec, int_mat, vec, mat, ints, i64, i64, model)
    gradient_args = (i64, vec, int_mat, vec, i64, model, flag, vec, mat, floats, i64, real, i64)
    gradient_args += (update,)
    update_args = (i64, vec, vec, mat, floats, i64, real, update)
    shard = (i64, i64, *shard_args)
    input_block = (i64, *input_args)
    chunk_gradients = (i64, *gradient_args)
    update_chunk = (i64, *update_args)
    return {
        "shard": shard,
        "all_shards": (kind(shard), i64, *shard_args),
        "input_products": (kind(input_block), *input_args),
        "all_chunk_gradients": (kind(chunk_gradients), *gradient_args),
        "all_chunk_updates": (kind(update_chunk), *update_args),
        "update_chunk": update_chunk,
        "input_block": input_block,
        "chunk_gradients": chunk_gradients,
        "add_partials": partials,
    }


def phases_type(dtype) -> PointerTableType:
    """The Numba type of every ``phase_kernels`` table of ``dtype``."""
    from numba import types

    slots = _phase_argtypes(np.dtype(dtype)).items()
    return PointerTableType("phases", [(n, types.FunctionType(types.none(*a))) for n, a in slots])


#: ``read_phases(addresses, like)``: in compiled code, the phase table whose
#: ``addresses`` Python passed, for the dtype of the array ``like``
read_phases = table_reader(phases_type)

_PHASE_KERNELS = {
    "shard": _shard_forward_backward,
    "all_shards": _all_shards,
    "input_products": _input_products,
    "all_chunk_gradients": _all_chunk_gradients,
    "all_chunk_updates": _all_chunk_updates,
    "update_chunk": _update_chunk,
    "input_block": _input_block_product,
    "chunk_gradients": _chunk_gradients,
    "add_partials": _add_input_partials,
}
_UNUSED_PHASES = {6: _unused_phase_6, 9: _unused_phase_9, 10: _unused_phase_10}
_UNUSED_PHASES.update({15: _unused_phase_15, 23: _unused_phase_23})


def _compile_phases(dtype, shards, chunks, input_split, chunk_updates) -> PointerTable:
    import warnings

    from numba.core.errors import NumbaExperimentalFeatureWarning

    wanted = {
        "all_shards": shards,
        "input_products": input_split,
        "input_block": input_split,
        "add_partials": input_split,
        "all_chunk_gradients": chunks,
        "chunk_gradients": chunks,
        "all_chunk_updates": chunk_updates,
    }
    values = {}
    with warnings.catch_warnings():  # Numba calls first-class functions experimental
        warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
        for name, argtypes in _phase_argtypes(dtype).items():  # the shard phase first
            on = wanted.get(name, True)
            kernel = _PHASE_KERNELS[name] if on else _UNUSED_PHASES[len(argtypes)]
            values[name] = pointer(kernel, *argtypes)
    return PointerTable(phases_type(dtype), values)
