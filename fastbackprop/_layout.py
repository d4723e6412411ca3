"""Flat buffers with per-layer views.

Parameters live in one contiguous buffer laid out layer by layer as
``W_0 (n_0, n_1), b_0 (n_1,), W_1 (n_1, n_2), b_1 (n_2,) ...``; gradients
and optimizer state use the same layout, so an update is one loop over a
flat array. Activations of a minibatch live in one buffer too, laid out by
columns: layer ``l`` of a batch of ``nb`` rows starts at
``max_batch * col_offsets[l]``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

import numpy as np

#: Every flat buffer starts on a 64-byte boundary (a cache line, one AVX-512
#: vector). Measured: BLAS's one-row product with the mnist network's first
#: weight matrix took 5.0 us when the matrix started 16 or 48 bytes past a
#: boundary and 3.4 us on one; NumPy only promises 16 bytes.
ALIGNMENT_BYTES = 64
PAGE_BYTES = 4096
#: where each big flat buffer starts within a page (bytes, multiples of
#: ALIGNMENT_BYTES), so the streams of the update loop never share one
PAGE_OFFSETS = {"params": 0, "opt_state": 1024, "grads": 2048, "backup": 3072, "arena": 512}


def aligned_empty(shape, dtype, page_offset: int = 0) -> np.ndarray:
    """An uninitialised C-ordered array whose data starts on an
    ``ALIGNMENT_BYTES`` boundary.

    An array of a page or more starts ``page_offset`` bytes past a page
    boundary. Buffers one loop streams through together (the optimizer
    step reads and writes parameters, gradients and both moments) get
    different offsets (``PAGE_OFFSETS``), so their addresses never match in
    the low 12 bits, where Intel cores confuse loads with earlier stores
    ("4K aliasing"). On this machine the effect on an epoch was below the
    run-to-run noise; it costs under two pages per buffer.
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64))
    nbytes = size * dtype.itemsize
    unit = PAGE_BYTES if nbytes >= PAGE_BYTES else ALIGNMENT_BYTES
    offset = page_offset if unit == PAGE_BYTES else 0
    raw = np.empty(nbytes + unit + offset, dtype=np.uint8)
    start = -raw.ctypes.data % unit + offset
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def aligned_zeros(shape, dtype, page_offset: int = 0) -> np.ndarray:
    """Like :func:`aligned_empty`, filled with zeros."""
    array = aligned_empty(shape, dtype, page_offset)
    array[...] = 0
    return array


def aligned_copy(array, page_offset: int = 0) -> np.ndarray:
    """An aligned C-ordered copy of ``array``."""
    array = np.asarray(array)
    copy = aligned_empty(array.shape, array.dtype, page_offset)
    copy[...] = array
    return copy


def _round_up(count: int, dtype) -> int:
    # elements, rounded up to whole alignment units
    per_unit = ALIGNMENT_BYTES // np.dtype(dtype).itemsize
    return -(-count // per_unit) * per_unit


def cut_arena(sizes, dtype) -> tuple:
    """One aligned flat buffer holding buffers of the given sizes.

    Returns
    -------
    arena : ndarray
    bounds : ndarray of int64, shape (len(sizes), 2)
        Buffer ``i`` is ``arena[bounds[i, 0] : bounds[i, 1]]``; each starts
        on an alignment boundary.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    padded = [_round_up(int(n), dtype) for n in sizes]
    starts = np.concatenate([[0], np.cumsum(padded)]).astype(np.int64)
    bounds = np.stack([starts[:-1], starts[:-1] + sizes], axis=1)
    return aligned_empty(int(starts[-1]), dtype, PAGE_OFFSETS["arena"]), bounds


class Seg(IntEnum):
    """The named segments of a workspace arena (``TrainingWorkspace``,
    ``EvaluationArena``), in order. Segment ``s`` is ``arena[bounds[s, 0] :
    bounds[s, 1]]`` (``kernels.train.segment``). The per-layer segments
    (``PRE`` ... ``DELTAS``) hold layer ``l``'s ``(batch, n_l)`` block at
    ``batch * Model.col_offsets[l]``, row by row."""

    X_BATCH = 0  # (batch, n_in) the batch's input rows
    Y_BATCH = 1  # (batch, n_out) their targets
    W_BATCH = 2  # (batch,) their sample weights
    PRE = 3  # z = inp W + b of every layer
    ACTS = 4  # f(z) of every layer; the output layer's is softmax/sigmoid/identity
    DROPPED = 5  # f(z) after dropout, which the next layer reads while training
    ROW_LOSS = 6  # (batch,) each row's loss
    ROW_SCALE = 7  # (batch,) each row's share w_i / sum(w) of dL/dlogits
    DELTAS = 8  # dL/dz of every layer
    SUMS = 9  # (n_slots, max_width) each thread's scratch for its bias sums
    PARTIALS = 10  # (input_chunks - 1, batch, n_1) input-layer partial products


class OptSlot(IntEnum):
    """Rows of the ``(2, n_params)`` optimizer state, laid out like the
    parameters (what each optimizer keeps there: ``optim.Optimizer.slots``)."""

    FIRST = 0  # SGD's momentum buffer, Adam's m, RMSprop's square average
    SECOND = 1  # Adam's v, RMSprop's momentum buffer


class Saved(IntEnum):
    """Rows of the ``(3, n_params)`` backup taken at each epoch's start, to
    undo an epoch that diverged."""

    PARAMS = 0
    FIRST = 1  # OptSlot.FIRST
    SECOND = 2  # OptSlot.SECOND


class Counter(IntEnum):
    """Entries of a network's int64 step counters."""

    OPTIMIZER_STEP = 0  # drives Adam's bias correction; restarts with a new optimizer
    GLOBAL_STEP = 1  # every step ever taken: keys the dropout masks


class TableRow(IntEnum):
    """Rows of ``Layout.table``: the model's offsets as one int64 array,
    which ``evaluate`` takes instead of a ``Model`` (flat arguments are
    cheaper to pass into a compiled function than a tuple)."""

    LAYER_SIZES = 0
    W_OFFSETS = 1
    B_OFFSETS = 2
    COL_OFFSETS = 3


class Model(NamedTuple):
    """What the kernels need to know of a network besides its parameters."""

    layer_sizes: np.ndarray  # (n_layers + 1,) int64: n_features, hidden..., n_outputs
    w_offsets: np.ndarray  # (n_layers,) where W_l (n_l, n_l+1) starts in a flat parameter buffer
    b_offsets: np.ndarray  # (n_layers,) where b_l (n_l+1,) starts
    col_offsets: np.ndarray  # (n_layers,) layer l's first column in the per-layer segments
    act_codes: np.ndarray  # (n_layers - 1,) int64 hidden activations (_codes.ACTIVATION_CODES)
    drop_rates: np.ndarray  # (n_layers - 1,) float64 dropout rate of each hidden layer
    loss_code: int  # _codes.LOSS_CODES
    output_code: int  # SIGMOID for mse with a sigmoid output, else 0


class Layout:
    """Offsets of every layer's weights, biases and activations."""

    def __init__(self, layer_sizes):
        self.layer_sizes = np.asarray(layer_sizes, dtype=np.int64)
        n_layers = len(self.layer_sizes) - 1
        self.w_offsets = np.empty(n_layers, dtype=np.int64)
        self.b_offsets = np.empty(n_layers, dtype=np.int64)
        self.col_offsets = np.empty(n_layers, dtype=np.int64)
        offset = 0
        cols = 0
        for layer in range(n_layers):
            n_in, n_out = int(self.layer_sizes[layer]), int(self.layer_sizes[layer + 1])
            self.w_offsets[layer] = offset
            offset += n_in * n_out
            self.b_offsets[layer] = offset
            offset += n_out
            self.col_offsets[layer] = cols
            cols += n_out
        self.n_params = offset
        self.total_cols = cols
        # the offsets again as one (len(TableRow), n_layers + 1) array, rows
        # padded with 0, for evaluate (see TableRow)
        self.table = np.zeros((len(TableRow), n_layers + 1), dtype=np.int64)
        self.table[TableRow.LAYER_SIZES] = self.layer_sizes
        self.table[TableRow.W_OFFSETS, :n_layers] = self.w_offsets
        self.table[TableRow.B_OFFSETS, :n_layers] = self.b_offsets
        self.table[TableRow.COL_OFFSETS, :n_layers] = self.col_offsets
        self.max_width = int(self.layer_sizes[1:].max())
        self.n_layers = n_layers

    def model(self, act_codes, drop_rates, loss_code: int, output_code: int) -> Model:
        """The kernels' ``Model`` of a network with this layout."""
        return Model(
            self.layer_sizes,
            self.w_offsets,
            self.b_offsets,
            self.col_offsets,
            act_codes,
            drop_rates,
            int(loss_code),
            int(output_code),
        )

    def weight_views(self, flat):
        """Per-layer ``(n_in, n_out)`` views of a flat buffer."""
        return [
            flat[o : o + int(a) * int(b)].reshape(int(a), int(b))
            for o, a, b in zip(self.w_offsets, self.layer_sizes[:-1], self.layer_sizes[1:])
        ]

    def bias_views(self, flat):
        """Per-layer ``(n_out,)`` views of a flat buffer."""
        return [flat[o : o + int(b)] for o, b in zip(self.b_offsets, self.layer_sizes[1:])]


def _segment_sizes(**sizes) -> list:
    """Element counts in ``Seg`` order from keyword arguments named after
    the segments (lower case); a segment not named is empty."""
    unknown = set(sizes) - {seg.name.lower() for seg in Seg}
    if unknown:
        raise ValueError(f"no such arena segments: {sorted(unknown)}")
    return [int(sizes.get(seg.name.lower(), 0)) for seg in Seg]


class TrainingWorkspace:
    """The training loop's buffers for batches of up to ``batch_size`` rows.

    The per-row buffers live back to back in one flat ``arena`` cut at
    ``bounds`` into the ``Seg`` segments (Numba's parallel loops cannot take
    a tuple of arrays). ``SUMS`` gives each of ``n_slots`` threads (the
    update chunks, or the shards when they sum their own gradients)
    ``max_width`` elements of scratch for its bias sums, so a step
    allocates nothing. ``PARTIALS`` holds the input layer's partial products
    of chunks 1 .. ``input_chunks`` - 1 when the update chunks compute it
    (chunk 0 writes into ``PRE``; none for ``input_chunks`` 0 or 1), each
    laid out like layer 0's ``PRE`` block. ``grads`` is one gradient buffer
    like the parameters; ``backup`` holds the parameters and both
    optimizer-state slots at an epoch's start (rows named by ``Saved``).
    """

    def __init__(
        self, layout: Layout, batch_size: int, dtype, n_slots: int = 1, input_chunks: int = 0
    ):
        rows = int(batch_size)
        cols = layout.total_cols
        sizes = _segment_sizes(
            x_batch=rows * int(layout.layer_sizes[0]),
            y_batch=rows * int(layout.layer_sizes[-1]),
            w_batch=rows,
            pre=rows * cols,
            acts=rows * cols,
            dropped=rows * cols,
            row_loss=rows,
            row_scale=rows,
            deltas=rows * cols,
            sums=int(n_slots) * layout.max_width,
            partials=max(int(input_chunks) - 1, 0) * rows * int(layout.layer_sizes[1]),
        )
        self.arena, self.bounds = cut_arena(sizes, dtype)
        self.grads = aligned_zeros(layout.n_params, dtype, PAGE_OFFSETS["grads"])  # like params
        self.backup = aligned_empty((len(Saved), layout.n_params), dtype, PAGE_OFFSETS["backup"])


class EvaluationArena:
    """Forward-pass buffers for up to ``rows`` rows in one flat ``arena``
    cut at ``bounds`` into the ``Seg`` segments (the training-only ones
    empty). ``evaluate`` takes these two arrays rather than a tuple of
    buffers: a tuple of arrays costs about 1.5 us more to pass into a
    compiled function, a tenth of a one-row predict."""

    def __init__(self, layout: Layout, rows: int, dtype):
        rows = int(rows)
        cols = layout.total_cols
        sizes = _segment_sizes(w_batch=rows, pre=rows * cols, acts=rows * cols, row_loss=rows)
        self.arena, self.bounds = cut_arena(sizes, dtype)
