"""Thread-count independence, concurrent use from Python threads, and no
memory growth over repeated fits."""

import os
import threading

import numba
import numpy as np
import pytest

import fastbackprop
from fastbackprop import Network, _parallel
from fastbackprop._config import get_num_threads, set_num_threads
from fastbackprop.optim import Adam

WIDE = [512, 1024, 1024, 10]
WIDE_BATCH = 1024
WIDE_ROWS = 2048


def _wide_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((WIDE_ROWS, WIDE[0])).astype(np.float32)
    y = rng.integers(0, WIDE[-1], WIDE_ROWS)
    net = Network(WIDE, dtype="float32", seed=1, dropout=0.1)
    net.fit(X, y, epochs=1, batch_size=WIDE_BATCH, optimizer=Adam(1e-3))
    return net.get_training_state().parameters, net.forward(X[:WIDE_BATCH])


def test_results_do_not_depend_on_thread_count():
    cores = numba.config.NUMBA_NUM_THREADS
    if cores < 2:
        pytest.skip("needs at least 2 Numba threads")
    # the parameters are split into update chunks, and the input layer's
    # product by input column: every parallel phase of a step runs
    n_params = Network(WIDE).count_parameters()
    chunks = _parallel.update_chunks(n_params, _parallel.shard_count(WIDE_BATCH))
    assert chunks >= 2 and _parallel.input_chunks(WIDE, chunks) == chunks
    # and each batch is split in shards: one per core, so more than two on
    # a larger machine, where 1, 2 and all threads are compared
    assert _parallel.shard_count(WIDE_BATCH) >= 2
    original = get_num_threads()
    results = []
    try:
        for n_threads in sorted({1, 2, cores}):
            set_num_threads(n_threads)
            assert fastbackprop._config.get_num_threads() == n_threads
            results.append(_wide_fit())
    finally:
        set_num_threads(original)
    (params_1, out_1), *others = results
    assert np.all(np.isfinite(params_1))
    for params, out in others:
        assert np.array_equal(params_1, params)
        assert np.array_equal(out_1, out)


@pytest.mark.parametrize(
    "bad, error", [(0, ValueError), (-1, ValueError), (99, ValueError), ("2", TypeError)]
)
def test_set_num_threads_rejects_bad_values(bad, error):
    if bad == 99 and numba.config.NUMBA_NUM_THREADS >= 99:
        pytest.skip("machine has 99 threads")
    original = get_num_threads()
    with pytest.raises(error, match="n_threads"):
        set_num_threads(bad)
    assert get_num_threads() == original


def test_set_num_threads_rejects_bool_and_float():
    with pytest.raises(TypeError):
        set_num_threads(True)
    with pytest.raises(TypeError):
        set_num_threads(2.0)


def test_set_num_threads_is_exported():
    assert fastbackprop.set_num_threads is set_num_threads


# ---------------------------------------------------------- Python threads
def _job(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 8))
    y = rng.integers(0, 3, 200)
    net = Network([8, 32, 16, 3], seed=seed, dropout=0.1)
    net.fit(X, y, epochs=15, batch_size=20, optimizer=Adam(0.01))
    return net.get_training_state().parameters, net.predict(X), net.forward(X)


def test_concurrent_fits_in_python_threads_match_sequential():
    seeds = [0, 1, 2, 3]
    sequential = [_job(s) for s in seeds]
    results = [None] * len(seeds)
    errors = []
    barrier = threading.Barrier(len(seeds))

    def run(i):
        try:
            barrier.wait()
            results[i] = _job(seeds[i])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    for got, want in zip(results, sequential, strict=True):
        for a, b in zip(got, want, strict=True):
            assert np.array_equal(a, b)


def test_concurrent_predict_on_one_network():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3000, 8))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = Network([8, 16, 2], seed=0)
    net.fit(X[:500], y[:500], epochs=30, batch_size=50, optimizer=Adam(0.01))
    expected_out = net.forward(X)
    expected = net.predict(X)
    assert np.mean(expected == y) > 0.9  # a correct classifier, not noise
    outputs = [[], []]
    errors = []
    barrier = threading.Barrier(2)

    def run(i):
        try:
            barrier.wait()
            for _ in range(20):
                outputs[i].append((net.predict(X), net.forward(X)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    for per_thread in outputs:
        assert len(per_thread) == 20
        for labels, out in per_thread:
            assert np.array_equal(labels, expected)
            assert np.array_equal(out, expected_out)


# ------------------------------------------------------------------ memory
def _rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    pytest.skip("no VmRSS in /proc/self/status")


def test_repeated_fits_do_not_grow_memory():
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 10))
    y = rng.integers(0, 3, 256)
    Xv = rng.standard_normal((64, 10))
    yv = rng.integers(0, 3, 64)

    def one_fit(seed):
        net = Network([10, 32, 3], seed=seed, dropout=0.1)
        net.fit(X, y, epochs=5, batch_size=32, optimizer=Adam(0.01), validation_data=(Xv, yv))
        net.predict(X)

    for seed in range(5):
        one_fit(seed)
    before = _rss_kb()
    for seed in range(50):
        one_fit(seed)
    after = _rss_kb()
    assert after - before < 4 * 1024, f"RSS grew by {(after - before) / 1024:.1f} MB"


def test_whole_data_evaluation_uses_at_most_the_callers_threads():
    # the parts are fixed by the machine (fixed bits); the threads running
    # them are the caller's count (a Dask worker's, say), never more
    parts = [(k, k + 1) for k in range(8)]

    def task(lo, hi):
        return lo, threading.get_ident()

    before = numba.get_num_threads()
    try:
        for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
            numba.set_num_threads(threads)
            results = _parallel.run_parts(task, parts)
            assert [lo for lo, _ in results] == list(range(8))
            assert len({ident for _, ident in results}) <= threads
            if threads == 1:
                assert {ident for _, ident in results} == {threading.get_ident()}
    finally:
        numba.set_num_threads(before)
