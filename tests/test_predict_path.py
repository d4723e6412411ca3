"""The online-predict fast path (already-converted arrays of a few rows)
gives the same outputs and the same errors as the general path."""

import numpy as np
import pytest
from conftest import TOLERANCE

from fastbackprop import Network
from fastbackprop import _validation as v
from fastbackprop.network import SMALL_EVAL_ROWS


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(
    "loss, n_out", [("cross_entropy", 4), ("binary_cross_entropy", 1), ("mse", 2)]
)
def test_fast_path_matches_general_path(backend, loss, n_out):
    net = Network(
        [5, 9, 7, n_out], activation="gelu", loss=loss, dtype="float32", seed=2, backend=backend
    )
    X = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    assert v.is_ready_small_X(X, 5, net.dtype, SMALL_EVAL_ROWS)
    fast = net.forward(X)
    general = net.forward(X.tolist())  # a list takes the general path
    assert not v.is_ready_small_X(X.tolist(), 5, net.dtype, SMALL_EVAL_ROWS)
    np.testing.assert_array_equal(fast, general)
    # one row alone may round differently from the same row among others:
    # MKL picks its kernel (and summation order) by the number of rows
    np.testing.assert_allclose(net.forward(X[:1]), general[:1], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(net.predict(X), net.predict(X.tolist()))


def test_fast_path_matches_the_numpy_backend():
    kwargs = dict(activation="tanh", dtype="float64", seed=4)
    fast = Network([6, 16, 3], **kwargs)
    reference = Network([6, 16, 3], backend="numpy", **kwargs)
    X = np.random.default_rng(1).standard_normal((1, 6))
    np.testing.assert_allclose(fast.forward(X), reference.forward(X), rtol=1e-13)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_fast_path_fills_its_whole_arena_and_ignores_dropout(backend):
    # SMALL_EVAL_ROWS rows use the whole per-thread arena; dropout is off at
    # inference on both paths
    net = Network([5, 12, 3], dropout=0.5, dtype="float32", seed=1, backend=backend)
    X = np.random.default_rng(2).standard_normal((SMALL_EVAL_ROWS, 5)).astype(np.float32)
    assert v.is_ready_small_X(X, 5, net.dtype, SMALL_EVAL_ROWS)
    fast = net.forward(X)
    # the same rows on both paths: the same bits
    np.testing.assert_array_equal(fast, net.forward(X.tolist()))
    np.testing.assert_array_equal(net.forward(X[7:9]), net.forward(X[7:9].tolist()))
    # a few rows alone may round differently from the same rows among 256:
    # MKL and OpenBLAS pick their gemm kernel (and summation order) by the
    # number of rows (3e-8 apart in float32 on AMD EPYC)
    np.testing.assert_allclose(net.forward(X[7:9]), fast[7:9], rtol=1e-6, atol=1e-7)
    # no dropout at inference: a second call repeats the first exactly, and
    # the outputs are those of the same weights without dropout (a mask of
    # rate 0.5 would zero about half of the 12 hidden units and double the rest)
    np.testing.assert_array_equal(net.forward(X), fast)
    plain = Network([5, 12, 3], dtype="float32", seed=1, backend="numpy")
    for mine, theirs in zip(plain.weights + plain.biases, net.weights + net.biases):
        mine[...] = theirs
    rtol, atol = TOLERANCE["float32"]
    np.testing.assert_allclose(fast, plain.forward(X), rtol=rtol, atol=atol)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fast_path_rejects_non_finite_rows(bad, backend):
    net = Network([4, 8, 2], backend=backend)
    X = np.zeros((2, 4))
    X[1, 3] = bad
    assert v.is_ready_small_X(X, 4, net.dtype, SMALL_EVAL_ROWS)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        net.predict(X)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_fast_path_sees_the_parameters_after_fit_pickle_and_load(backend, tmp_path):
    # the fast path keeps its kernel arguments between calls: they must be
    # the live parameters, not a stale copy
    import pickle

    net = Network([5, 8, 3], dtype="float64", seed=3, backend=backend)
    X = np.random.default_rng(4).standard_normal((40, 5))
    y = np.arange(40) % 3
    before = net.forward(X[:2])
    net.fit(X, y, epochs=3, batch_size=8, learning_rate=0.5)
    after = net.forward(X[:2])
    assert np.abs(after - before).max() > 1e-3
    fresh = Network([5, 8, 3], dtype="float64", seed=3, backend="numpy")
    for mine, theirs in zip(fresh.weights + fresh.biases, net.weights + net.biases):
        mine[...] = theirs
    np.testing.assert_allclose(after, fresh.forward(X[:2]), rtol=1e-12)
    net.save(tmp_path / "net.npz")
    for copy in (pickle.loads(pickle.dumps(net)), Network.load(tmp_path / "net.npz")):
        copy.forward(X[:2])  # its own cache, built on the copy's arrays
        copy.fit(X, y, epochs=1, batch_size=8, learning_rate=0.5)
        np.testing.assert_array_equal(net.forward(X[:2]), after)  # the original is untouched
        assert np.abs(copy.forward(X[:2]) - after).max() > 1e-4


def test_fast_path_is_not_taken_for_other_arrays():
    net = Network([4, 8, 2], dtype="float32")
    X = np.zeros((2, 4), dtype=np.float32)
    assert not v.is_ready_small_X(X.astype(np.float64), 4, net.dtype, SMALL_EVAL_ROWS)
    assert not v.is_ready_small_X(
        np.asfortranarray(np.zeros((2, 4), np.float32)), 4, net.dtype, SMALL_EVAL_ROWS
    )
    assert not v.is_ready_small_X(X[:, :3], 4, net.dtype, SMALL_EVAL_ROWS)
    assert not v.is_ready_small_X(np.zeros((0, 4), np.float32), 4, net.dtype, SMALL_EVAL_ROWS)
    big = np.zeros((SMALL_EVAL_ROWS + 1, 4), np.float32)
    assert not v.is_ready_small_X(big, 4, net.dtype, SMALL_EVAL_ROWS)
    # rows of zeros through a new network (zero biases, relu) give exact
    # zeros in every product, whatever gemm kernel the row count picks, so
    # 257 rows and 2 agree bit for bit here
    np.testing.assert_array_equal(net.forward(big)[:2], net.forward(X))


def test_a_large_evaluation_split_across_cores_gives_the_chunks_own_bits():
    from fastbackprop import _parallel
    from fastbackprop.network import EVAL_CHUNK

    net = Network([6, 16, 3], activation="tanh", dtype="float32", seed=5)
    rng = np.random.default_rng(3)
    n = 3 * EVAL_CHUNK + 17
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = rng.integers(0, 3, n)
    parts = _parallel.row_parts(n, EVAL_CHUNK)
    # parts cover the rows in order and cut only at chunk boundaries
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(hi == lo for (_, hi), (lo, _) in zip(parts, parts[1:]))
    assert all(lo % EVAL_CHUNK == 0 for lo, _ in parts)
    whole = net.forward(X)
    by_chunk = np.concatenate([net.forward(X[i : i + EVAL_CHUNK]) for i in range(0, n, EVAL_CHUNK)])
    np.testing.assert_array_equal(whole, by_chunk)
    reference = Network([6, 16, 3], activation="tanh", dtype="float32", seed=5, backend="numpy")
    assert net.score(X, y) == reference.score(X, y)
    np.testing.assert_allclose(net.compute_loss(X, y), reference.compute_loss(X, y), rtol=1e-5)


def test_row_parts_follow_the_cores_not_the_thread_setting():
    from fastbackprop import _parallel, get_num_threads, set_num_threads

    original = get_num_threads()
    try:
        set_num_threads(1)
        one = _parallel.row_parts(10_000, 2048)
    finally:
        set_num_threads(original)
    assert one == _parallel.row_parts(10_000, 2048)
    assert _parallel.row_parts(100, 2048) == [(0, 100)]
