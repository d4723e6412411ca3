"""Flat buffers start on 64-byte boundaries (measured: BLAS reads a weight
matrix 16 or 48 bytes off a boundary about 1.5x slower), and they stay
aligned through pickling, loading and training."""

import pickle

import numpy as np
import pytest

from fastbackprop import Network
from fastbackprop._layout import (
    ALIGNMENT_BYTES,
    PAGE_BYTES,
    PAGE_OFFSETS,
    EvaluationArena,
    Layout,
    Seg,
    TrainingWorkspace,
    aligned_copy,
    aligned_empty,
    aligned_zeros,
    cut_arena,
)


def _aligned(array):
    # an empty array has no data to align (NumPy may point it anywhere)
    return array.size == 0 or array.ctypes.data % ALIGNMENT_BYTES == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", [0, 1, 7, (3, 5), (2, 1000)])
def test_aligned_arrays_have_the_asked_shape_and_alignment(shape, dtype):
    empty = aligned_empty(shape, dtype)
    zeros = aligned_zeros(shape, dtype)
    for array in (empty, zeros):
        assert array.shape == np.empty(shape).shape
        assert array.dtype == dtype
        assert array.flags.c_contiguous
        assert _aligned(array)
    assert not zeros.any()
    source = np.arange(np.prod(shape, dtype=int), dtype=dtype).reshape(shape)
    copy = aligned_copy(source)
    assert _aligned(copy)
    np.testing.assert_array_equal(copy, source)
    assert not np.shares_memory(copy, source)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cut_arena_gives_exact_aligned_disjoint_buffers(dtype):
    sizes = [5, 0, 64, 17, 1, 33]
    arena, bounds = cut_arena(sizes, dtype)
    assert _aligned(arena)
    assert bounds.shape == (len(sizes), 2)
    np.testing.assert_array_equal(bounds[:, 1] - bounds[:, 0], sizes)
    assert (bounds[1:, 0] >= bounds[:-1, 1]).all()  # disjoint, in order
    for start, end in bounds:
        assert _aligned(arena[start:end])
    assert bounds[-1, 1] <= arena.size


def test_training_and_evaluation_arenas_are_aligned():
    layout = Layout([3, 7, 5, 2])
    for dtype in (np.float32, np.float64):
        ws = TrainingWorkspace(layout, 9, dtype)
        for array in (ws.arena, ws.grads, ws.backup):
            assert _aligned(array)
        assert all(_aligned(ws.arena[a:b]) for a, b in ws.bounds)
        small = EvaluationArena(layout, 4, dtype)
        assert all(_aligned(small.arena[a:b]) for a, b in small.bounds)
        # ROW_LOSS holds one value per row: the kernels read the batch size
        # from its length
        assert small.bounds[Seg.ROW_LOSS, 1] - small.bounds[Seg.ROW_LOSS, 0] == 4
        assert ws.bounds[Seg.ROW_LOSS, 1] - ws.bounds[Seg.ROW_LOSS, 0] == 9


def test_big_buffers_start_at_their_page_offsets():
    layout = Layout([300, 200, 10])  # every flat buffer spans pages
    ws = TrainingWorkspace(layout, 32, np.float32)
    net = Network([300, 200, 10], dtype="float32")
    placed = {
        # the first weight matrix starts the flat parameter buffer
        "params": net.weights[0],
        # no public view of the optimizer state: its buffer is read directly
        "opt_state": net._opt_state,
        "grads": ws.grads,
        "backup": ws.backup,
        "arena": ws.arena,
    }
    assert set(placed) == set(PAGE_OFFSETS)
    for name, array in placed.items():
        assert array.ctypes.data % PAGE_BYTES == PAGE_OFFSETS[name], name
    assert len(set(PAGE_OFFSETS.values())) == len(PAGE_OFFSETS)  # all different
    # arrays under a page only need the alignment
    assert _aligned(aligned_empty(3, np.float64, page_offset=1024))


def test_network_buffers_stay_aligned(tmp_path):
    net = Network([60, 40, 3])  # parameters span several pages
    X = np.random.default_rng(0).standard_normal((40, 60))
    y = np.arange(40) % 3
    net.fit(X, y, epochs=2, batch_size=8, optimizer="adam")
    restored = pickle.loads(pickle.dumps(net))
    path = tmp_path / "net.npz"
    net.save(path)
    loaded = Network.load(path)
    state = net.get_training_state()
    for candidate in (net, restored, loaded):
        # weights[0] starts the flat parameter buffer; the optimizer state
        # has no public view, so its buffer is read directly
        assert candidate.weights[0].ctypes.data % PAGE_BYTES == PAGE_OFFSETS["params"]
        assert candidate._opt_state.ctypes.data % PAGE_BYTES == PAGE_OFFSETS["opt_state"]
        np.testing.assert_array_equal(candidate.get_training_state().parameters, state.parameters)
        np.testing.assert_array_equal(
            candidate.get_training_state().optimizer_state, state.optimizer_state
        )
    # putting a state back writes into the same aligned buffers
    weights = net.weights[0]
    net.fit(X, y, epochs=1, batch_size=8)
    net.set_training_state(state)
    assert net.weights[0].ctypes.data == weights.ctypes.data
    np.testing.assert_array_equal(net.get_training_state().parameters, state.parameters)
