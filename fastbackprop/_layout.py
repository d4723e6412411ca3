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
    writes. Allocated once per fit (or per evaluation) and reused by every
    step, so a step allocates nothing."""

    def __init__(self, layout: Layout, max_batch: int, dtype, training: bool = True):
        n_in = int(layout.layer_sizes[0])
        n_out = int(layout.layer_sizes[-1])
        rows = int(max_batch)
        # evaluation only runs forward passes: the training buffers stay empty,
        # which keeps a one-row predict from allocating parameter-sized arrays
        train_rows = rows if training else 0
        n_params = layout.n_params if training else 0
        self.max_batch = rows
        self.x_batch = np.empty(train_rows * n_in, dtype=dtype)  # (batch, n_in)
        self.y_batch = np.empty(train_rows * n_out, dtype=dtype)  # (batch, n_out)
        self.w_batch = np.empty(rows, dtype=dtype)  # (batch,) sample weights
        self.pre = np.empty(rows * layout.total_cols, dtype=dtype)  # z of every layer
        self.acts = np.empty(rows * layout.total_cols, dtype=dtype)  # f(z) of every layer
        self.dropped = np.empty(train_rows * layout.total_cols, dtype=dtype)  # after dropout
        self.delta_a = np.empty(train_rows * layout.max_width, dtype=dtype)  # (batch, width)
        self.delta_b = np.empty(train_rows * layout.max_width, dtype=dtype)
        self.row_loss = np.empty(rows, dtype=dtype)  # (batch,)
        self.row_scale = np.empty(train_rows, dtype=dtype)  # (batch,) each row's share
        self.grads = np.zeros(n_params, dtype=dtype)  # like params
        # params and both optimizer-state slots at an epoch's start
        self.backup = np.empty(3 * n_params, dtype=dtype)

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
    (the training loop keeps every layer's delta) and are empty. ``grads``
    is one gradient buffer like the parameters; ``backup`` holds params and
    both optimizer-state slots at an epoch's start.
    """

    def __init__(self, layout: Layout, batch_size: int, dtype):
        rows = int(batch_size)
        n_in = int(layout.layer_sizes[0])
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
        ]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.arena = np.empty(int(self.bounds[-1]), dtype=dtype)
        self.grads = np.zeros(layout.n_params, dtype=dtype)
        self.backup = np.empty(3 * layout.n_params, dtype=dtype)
