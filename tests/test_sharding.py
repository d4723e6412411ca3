"""Batches split into row shards on parallel threads give the same training
as whole batches, and BLAS is held to one thread only while they run."""

import numpy as np
import pytest
from conftest import make_targets
from threadpoolctl import threadpool_info

from fastbackprop import Network, _parallel
from fastbackprop._codes import N_HYPER
from fastbackprop.kernels import dropout as k_drop
from fastbackprop.kernels import optim as k_opt
from fastbackprop.optim import SGD, Adam, RMSprop
from fastbackprop.reference import dropout as r_drop
from fastbackprop.reference import optim as r_opt


def _fit_with_shards(
    monkeypatch,
    n_shards,
    optimizer,
    clip_norm=None,
    weights=None,
    n=2 * 64 + 1,
    n_chunks=1,
    split_input=False,
):
    monkeypatch.setattr(_parallel, "shard_count", lambda batch_size: n_shards)
    monkeypatch.setattr(_parallel, "update_chunks", lambda n_params, shards: n_chunks)
    # the network is far below MIN_SPLIT_INPUT_WEIGHTS: the split is forced
    input_chunks = n_chunks if split_input else 0
    monkeypatch.setattr(_parallel, "input_chunks", lambda sizes, chunks: input_chunks)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, 6))
    y = make_targets("cross_entropy", n, 3, rng)
    net = Network([6, 16, 12, 3], activation="tanh", dropout=0.25, seed=5)
    net.fit(
        X,
        y,
        epochs=3,
        batch_size=64,
        optimizer=optimizer,
        clip_norm=clip_norm,
        sample_weight=weights,
    )
    return net.get_training_state().parameters, net.history.loss, net.history.accuracy


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: SGD(0.1),  # with chunks, its step runs inside the gradient's BLAS call
        lambda: SGD(0.1, weight_decay=0.01),
        lambda: SGD(0.1, momentum=0.9),
        lambda: Adam(1e-2),
        lambda: RMSprop(1e-3, momentum=0.5),
    ],
    ids=["sgd-plain", "sgd-decay", "sgd-momentum", "adam", "rmsprop-momentum"],
)
@pytest.mark.parametrize(
    "n_shards, n_chunks, split_input",
    [(2, 1, False), (2, 2, False), (2, 2, True), (3, 2, True), (1, 3, True), (2, 4, True)],
)
def test_sharded_batches_train_like_whole_batches(
    monkeypatch, optimizer, n_shards, n_chunks, split_input
):
    # 129 rows in batches of 64: the last batch has one row, so all shards
    # but one are empty there. With split_input the chunks multiply blocks
    # of the 6 input columns; 4 chunks (blocks of 2) leave the last input
    # block and the last block of the 3-wide output layer empty.
    whole, whole_loss, whole_acc = _fit_with_shards(monkeypatch, 1, optimizer())
    sharded, sharded_loss, sharded_acc = _fit_with_shards(
        monkeypatch, n_shards, optimizer(), n_chunks=n_chunks, split_input=split_input
    )
    np.testing.assert_allclose(sharded, whole, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(sharded_loss, whole_loss, rtol=1e-12)
    assert sharded_acc == whole_acc


@pytest.mark.parametrize("split_input", [False, True], ids=["chunks", "split-input"])
def test_sharded_clipping_and_sample_weights(monkeypatch, split_input):
    # the first shard of every batch has zero weight; clipping needs the
    # combined gradient
    n = 128
    weights = np.where(np.arange(n) % 64 < 32, 0.0, 1.5)
    kwargs = dict(optimizer=Adam(1e-2), clip_norm=0.05, weights=weights, n=n)
    whole, whole_loss, whole_acc = _fit_with_shards(monkeypatch, 1, **kwargs)
    kwargs["optimizer"] = Adam(1e-2)
    sharded, sharded_loss, sharded_acc = _fit_with_shards(
        monkeypatch, 2, n_chunks=2, split_input=split_input, **kwargs
    )
    assert np.all(np.isfinite(sharded))
    np.testing.assert_allclose(sharded, whole, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(sharded_loss, whole_loss, rtol=1e-12)
    # the zero-weight shard still computes its outputs: accuracy counts every row
    assert sharded_acc == whole_acc


def test_float32_rmsprop_rounds_one_minus_alpha_like_torch():
    # 1 - alpha is rounded once from float64 (torch, the reference), not
    # computed in float32 from an already rounded alpha
    rng = np.random.default_rng(0)
    params = rng.standard_normal(64).astype(np.float32)
    grads = rng.standard_normal(64).astype(np.float32)
    hyper = np.zeros(N_HYPER)
    hyper[:3] = [0.99, 0.0, 1e-8]
    fast, reference = np.zeros((2, 64), np.float32), np.zeros((2, 64), np.float32)
    k_opt.optimizer_update(params.copy(), grads, fast, hyper, 0, np.float32(0.01), 3)
    r_opt.optimizer_update(params.copy(), grads, reference, hyper, 0, np.float32(0.01), 3)
    np.testing.assert_allclose(fast[0], reference[0], rtol=1e-7)


@pytest.mark.parametrize("module", [k_drop, r_drop], ids=["numba", "numpy"])
def test_dropout_mask_of_a_row_block_is_that_of_the_whole_batch(module):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 7))
    whole = np.empty_like(a)
    module.dropout_forward(whole, a, 0.4, np.uint64(module.dropout_key(11, 3, 1, 0, 7)))
    block = np.empty_like(a[13:])
    module.dropout_forward(block, a[13:], 0.4, np.uint64(module.dropout_key(11, 3, 1, 13, 7)))
    assert np.array_equal(block, whole[13:])
    assert 0 < np.count_nonzero(whole == 0) < whole.size


@pytest.mark.parametrize("module", [k_opt, r_opt], ids=["numba", "numpy"])
@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_update_slices_make_the_whole_update(module, code):
    # the chunks of the parallel step, one after the other, equal one step
    rng = np.random.default_rng(code)
    n = 37
    params = rng.standard_normal(n)
    grads = rng.standard_normal(n)
    state = np.abs(rng.standard_normal((2, n)))
    hyper = np.zeros(N_HYPER)
    hyper[:6] = [0.9, 0.999, 1e-8, 0.01, 1.0, 0.3]
    whole = params.copy(), state.copy()
    module.optimizer_update(whole[0], grads, whole[1], hyper, 4, 0.01, code)
    sliced = params.copy(), state.copy()
    for lo, hi in [(0, 10), (10, 11), (11, 11), (11, 37)]:
        p, s = sliced[0][lo:hi], sliced[1][:, lo:hi]
        module.update_slice(p, grads[lo:hi], s[0], s[1], hyper, 4, 0.01, code)
    np.testing.assert_array_equal(sliced[0], whole[0])
    np.testing.assert_array_equal(sliced[1], whole[1])
    assert not np.allclose(whole[0], params)


def _blas_threads():
    _parallel._blas_libraries()  # loads the BLAS the kernels call (MKL or scipy's)
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_is_single_threaded_only_inside_and_restored_after():
    before = _blas_threads()
    with _parallel.blas_single_threaded():
        assert all(n == 1 for n in _blas_threads())
        with _parallel.blas_single_threaded():  # a second training call at once
            assert all(n == 1 for n in _blas_threads())
        assert all(n == 1 for n in _blas_threads())  # still held by the first
    assert _blas_threads() == before
    with _parallel.blas_single_threaded(active=False):
        assert _blas_threads() == before


def test_blas_threads_are_restored_when_training_fails():
    before = _blas_threads()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)) * 10
    y = rng.standard_normal(64) * 10
    net = Network([3, 8, 1], activation="relu", loss="mse", seed=0)
    assert _parallel.shard_count(64) > 1 or _parallel.numba.config.NUMBA_NUM_THREADS == 1
    with pytest.raises(FloatingPointError):  # NonFiniteLossError, from a sharded loop
        net.fit(X, y, epochs=200, batch_size=64, learning_rate=5.0)
    assert np.isfinite(
        net.get_training_state().parameters
    ).all()  # restored to the last finite epoch
    assert _blas_threads() == before


def test_shard_count_follows_the_batch_not_the_thread_setting():
    assert _parallel.shard_count(1) == 1
    assert _parallel.shard_count(_parallel.MIN_SHARD_ROWS * 2 - 1) == 1
    cores = _parallel.numba.config.NUMBA_NUM_THREADS
    assert _parallel.shard_count(4096) == cores
    assert _parallel.update_chunks(10**6, 1) == 1  # BLAS keeps its threads
    assert _parallel.update_chunks(10, 2) == 1
    assert _parallel.update_chunks(10**6, 2) == 2
    big, small = [784, 128, 10], [64, 256, 10]  # mnist's and deep's first layers
    assert _parallel.input_chunks(big, 2) == 2
    assert _parallel.input_chunks(big, 1) == 0  # no chunks, no split
    assert _parallel.input_chunks(small, 2) == 0
    edge = _parallel.MIN_SPLIT_INPUT_WEIGHTS
    assert _parallel.input_chunks([edge // 2, 2, 1], 2) == 2  # at the threshold
    assert _parallel.input_chunks([edge - 1, 1, 1], 2) == 0  # one weight under it


@pytest.mark.parametrize(
    "n_slots, room_for_chunks, input_chunks, match",
    [
        (1, 1, 0, "no room for n_chunks"),  # bias-sum slots for one chunk
        (2, 1, 2, "no room for n_chunks"),  # no room for the partial products
        (2, 2, 3, "input_chunks must be 0 or n_chunks"),
        (2, 2, -2, "input_chunks must be 0 or n_chunks"),
    ],
    ids=["sums", "partials", "input-chunks", "negative-input-chunks"],
)
# called directly, outside Network's compile notice, which silences this
@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaExperimentalFeatureWarning")
def test_train_epochs_refuses_an_arena_too_small_for_its_chunks(
    n_slots, room_for_chunks, input_chunks, match
):
    # the chunks' bias sums and input-layer products write into the arena,
    # so an arena sized for fewer chunks (fewer bias-sum slots, or no room
    # for the partial products) is refused before anything runs
    from fastbackprop._codes import ACTIVATION_CODES, LOSS_CODES
    from fastbackprop._layout import Layout, TrainingWorkspace
    from fastbackprop.kernels import train as kernels
    from fastbackprop.kernels.ops import op_table

    layout = Layout([3, 5, 2])
    model = layout.model(
        np.array([ACTIVATION_CODES["relu"]]), np.zeros(1), LOSS_CODES["cross_entropy"], 0
    )
    params = np.random.default_rng(1).standard_normal(layout.n_params)
    X = np.random.default_rng(0).standard_normal((8, 3))
    Y = np.zeros((8, 2))
    Y[:, 0] = 1
    # the call below asks for 2 update chunks
    ws = TrainingWorkspace(layout, 8, np.float64, n_slots=n_slots, input_chunks=room_for_chunks)
    before = params.copy()
    optimizer = SGD(0.1)
    with pytest.raises(ValueError, match=match):
        kernels.train_epochs(
            params,
            np.zeros((2, layout.n_params)),
            np.zeros(2, dtype=np.int64),
            ws.arena,
            ws.bounds,
            ws.grads,
            ws.backup,
            X,
            Y,
            np.ones((8, 1)),
            np.arange(8)[None, :],
            np.array([0.1]),
            np.zeros(1),
            np.zeros(1, dtype=np.int64),
            8,
            1,
            2,
            input_chunks,
            model,
            op_table(np.float64, model.act_codes, model.loss_code, 0, optimizer.code).addresses,
            optimizer.code,
            optimizer.hyperparameters(),
            0.0,
            0,
            kernels.phase_kernels(np.float64).addresses,
        )
    np.testing.assert_array_equal(params, before)
