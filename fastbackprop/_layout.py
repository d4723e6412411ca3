"""Flat buffers with per-layer views.

Parameters live in one contiguous buffer laid out layer by layer as
``W_0 (n_0, n_1), b_0 (n_1,), W_1 (n_1, n_2), b_1 (n_2,) ...``; gradients
and optimizer state use the same layout, so an update is one loop over a
flat array. Activations of a minibatch live in one buffer too, laid out by
columns: layer ``l`` of a batch of ``nb`` rows starts at
``max_batch * col_offsets[l]``.
"""

from __future__ import annotations

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
        # the offsets again as one (4, n_layers + 1) array, rows padded with
        # 0: evaluate takes flat arguments (cheaper to pass than a tuple)
        self.table = np.zeros((4, n_layers + 1), dtype=np.int64)
        self.table[0] = self.layer_sizes
        self.table[1, :n_layers] = self.w_offsets
        self.table[2, :n_layers] = self.b_offsets
        self.table[3, :n_layers] = self.col_offsets
        self.max_width = int(self.layer_sizes[1:].max())
        self.n_layers = n_layers

    def weight_views(self, flat):
        """Per-layer ``(n_in, n_out)`` views of a flat buffer."""
        return [
            flat[o : o + int(a) * int(b)].reshape(int(a), int(b))
            for o, a, b in zip(self.w_offsets, self.layer_sizes[:-1], self.layer_sizes[1:])
        ]

    def bias_views(self, flat):
        """Per-layer ``(n_out,)`` views of a flat buffer."""
        return [flat[o : o + int(b)] for o, b in zip(self.b_offsets, self.layer_sizes[1:])]


class Workspace:
    """Every buffer a forward and backward pass of up to ``max_batch`` rows
    writes, as separate arrays: the gradient of one batch
    (``Network.gradients``). Training uses ``TrainingWorkspace``, evaluation
    ``EvaluationArena``."""

    def __init__(self, layout: Layout, max_batch: int, dtype):
        n_in = int(layout.layer_sizes[0])
        n_out = int(layout.layer_sizes[-1])
        rows = int(max_batch)
        n_params = layout.n_params
        self.max_batch = rows
        self.x_batch = aligned_empty(rows * n_in, dtype=dtype)  # (batch, n_in)
        self.y_batch = aligned_empty(rows * n_out, dtype=dtype)  # (batch, n_out)
        self.w_batch = aligned_empty(rows, dtype=dtype)  # (batch,) sample weights
        self.pre = aligned_empty(rows * layout.total_cols, dtype=dtype)  # z of every layer
        self.acts = aligned_empty(rows * layout.total_cols, dtype=dtype)  # f(z) of every layer
        self.dropped = aligned_empty(rows * layout.total_cols, dtype=dtype)  # after dropout
        self.delta_a = aligned_empty(rows * layout.max_width, dtype=dtype)  # (batch, width)
        self.delta_b = aligned_empty(rows * layout.max_width, dtype=dtype)
        self.row_loss = aligned_empty(rows, dtype=dtype)  # (batch,)
        self.row_scale = aligned_empty(rows, dtype=dtype)  # (batch,) each row's share
        self.grads = aligned_zeros(n_params, dtype, PAGE_OFFSETS["grads"])  # like params
        # params and both optimizer-state slots at an epoch's start
        self.backup = aligned_empty(3 * n_params, dtype, PAGE_OFFSETS["backup"])

    def buffers(self) -> tuple:
        """The buffers in the order the train kernels take them."""
        return (
            self.x_batch,
            self.y_batch,
            self.w_batch,
            self.pre,
            self.acts,
            self.dropped,
            self.delta_a,
            self.delta_b,
            self.row_loss,
            self.row_scale,
            self.grads,
            self.backup,
        )


class TrainingWorkspace:
    """The training loop's buffers for batches of up to ``batch_size`` rows.

    The per-row buffers of ``Workspace.buffers()`` (x_batch ... row_scale)
    plus ``deltas``, every layer's dL/dz laid out like ``pre``, live back to
    back in one flat ``arena`` cut at ``bounds``: Numba's parallel loops
    cannot take a tuple of arrays. The delta ping-pong buffers are not used
    (the training loop keeps every layer's delta) and are empty. ``sums``
    gives each of ``n_slots`` threads (the update chunks, or the shards
    when they sum their own gradients) ``max_width`` elements of scratch
    for its bias sums, so a step allocates nothing. ``partials`` holds the
    input layer's partial products of chunks 1 .. ``input_chunks`` - 1 when
    the update chunks compute it (chunk 0 writes into ``pre``; none for
    ``input_chunks`` 0 or 1), each laid out like layer 0's ``pre`` block.
    ``grads``
    is one gradient buffer like the parameters; ``backup`` holds params and
    both optimizer-state slots at an epoch's start.
    """

    def __init__(
        self, layout: Layout, batch_size: int, dtype, n_slots: int = 1, input_chunks: int = 0
    ):
        rows = int(batch_size)
        n_in = int(layout.layer_sizes[0])
        n_first = int(layout.layer_sizes[1])
        n_out = int(layout.layer_sizes[-1])
        cols = layout.total_cols
        sizes = [
            rows * n_in,  # x_batch
            rows * n_out,  # y_batch
            rows,  # w_batch
            rows * cols,  # pre
            rows * cols,  # acts
            rows * cols,  # dropped
            0,  # delta_a
            0,  # delta_b
            rows,  # row_loss
            rows,  # row_scale
            rows * cols,  # deltas
            # each thread's scratch for its bias sums (see the docstring)
            int(n_slots) * layout.max_width,  # sums
            max(int(input_chunks) - 1, 0) * rows * n_first,  # partials
        ]
        self.arena, self.bounds = cut_arena(sizes, dtype)
        self.grads = aligned_zeros(layout.n_params, dtype, PAGE_OFFSETS["grads"])
        self.backup = aligned_empty(3 * layout.n_params, dtype, PAGE_OFFSETS["backup"])


class EvaluationArena:
    """Forward-pass buffers for up to ``rows`` rows in one flat ``arena``
    cut at ``bounds``, in the order of ``TrainingWorkspace``'s (the
    training-only ones empty). ``evaluate`` takes these two arrays rather
    than a tuple of buffers: a tuple of arrays costs about 1.5 us more to
    pass into a compiled function, a tenth of a one-row predict."""

    def __init__(self, layout: Layout, rows: int, dtype):
        rows = int(rows)
        cols = layout.total_cols
        # x_batch, y_batch, w_batch, pre, acts, dropped, delta_a, delta_b,
        # row_loss, row_scale, deltas
        sizes = [0, 0, rows, rows * cols, rows * cols, 0, 0, 0, rows, 0, 0]
        self.arena, self.bounds = cut_arena(sizes, dtype)
