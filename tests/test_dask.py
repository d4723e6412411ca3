"""fastbackprop.dask on a real LocalCluster: 2 worker processes, 1 thread each.

The distributed fit is checked against plain in-process computations,
bit for bit: one rank against a plain ``partial_fit`` loop, two ranks
against the same averaging written out with the public estimators, a fit
through a worker's death against one without.
"""

import contextlib
import os
import pickle
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("sklearn")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from fastbackprop.dask import DaskMLPClassifier, DaskMLPRegressor, warm_up  # noqa: E402
from fastbackprop.estimators import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def client():
    # a task whose worker died is retried once: the give-up test stays short
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with Client(cluster) as client:
            client.wait_for_workers(2)
            yield client
        cluster.close()


def blobs(n=1200, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    y[X[:, 2] > 1.0] = 2
    return X, y


def split_chunks(array, sizes):
    bounds = np.cumsum([0, *sizes])
    return [array[lo:hi] for lo, hi in zip(bounds, bounds[1:])]


def epoch_pieces(n, batch, sync_every, seed, epoch, rank, shuffle=True):
    """The ``partial_fit`` calls of a rank in an epoch, round by round, as
    (lo, hi) slices of its rows: windows of 8192 // batch * batch rows,
    visited in the order ``default_rng([seed, epoch, rank])`` permutes them
    to, cut into rounds of ``sync_every`` batches and at window edges."""
    size = max(batch, 8192 // batch * batch)
    windows = [(lo, min(lo + size, n)) for lo in range(0, n, size)]
    if shuffle:
        windows = [
            windows[i] for i in np.random.default_rng([seed, epoch, rank]).permutation(len(windows))
        ]
    # position -> (row, window): a call never crosses a window's edge
    sequence = [(row, w) for w, (lo, hi) in enumerate(windows) for row in range(lo, hi)]
    span = sync_every * batch
    rounds = []
    for start in range(0, n, span):
        rows = sequence[start : start + span]
        pieces, first = [], rows[0][0]
        for (row, window), (next_row, next_window) in zip(rows, rows[1:] + [(None, None)]):
            if next_window != window:
                pieces.append((first, row + 1))
                first = next_row
        rounds.append(pieces)
    return rounds


def serial_local_sgd(local_class, params, X_parts, y_parts, n_ranks, sync_every, epochs):
    """Local SGD with model averaging, written out with the public
    estimators: contiguous runs of partitions per rank, each rank's epoch
    in ``epoch_pieces``, averages weighted by the rows of the round."""
    seed = params["random_state"]
    runs = np.array_split(np.arange(len(X_parts)), n_ranks)
    data = [
        (np.concatenate([X_parts[i] for i in run]), np.concatenate([y_parts[i] for i in run]))
        if len(run)
        else None
        for run in runs
    ]
    rows = [0 if d is None else len(d[0]) for d in data]
    batch = [min(params["batch_size"], n) for n in rows]
    classes = np.unique(np.concatenate(y_parts)) if local_class is MLPClassifier else None
    ranks = [local_class(**{**params, "batch_size": b}) if n else None for n, b in zip(rows, batch)]
    average = None
    for epoch in range(epochs):
        plans = [
            epoch_pieces(n, b, sync_every, seed, epoch, k) if n else []
            for k, (n, b) in enumerate(zip(rows, batch))
        ]
        for j in range(max(len(plan) for plan in plans)):
            trained = []
            for k, plan in enumerate(plans):
                if j >= len(plan):
                    continue
                model = ranks[k]
                if average is not None:
                    model.coefs_, model.intercepts_ = average
                n = 0
                for lo, hi in plan[j]:
                    Xk, yk = data[k][0][lo:hi], data[k][1][lo:hi]
                    if classes is not None:
                        model.partial_fit(Xk, yk, classes=classes)
                    else:
                        model.partial_fit(Xk, yk)
                    n += hi - lo
                trained.append((model, n))
            if len(trained) == 1:
                model = trained[0][0]
                average = ([w.copy() for w in model.coefs_], [b.copy() for b in model.intercepts_])
                continue
            total = float(sum(n for _, n in trained))
            parts = []
            for name in ("coefs_", "intercepts_"):
                layers = []
                for i in range(len(getattr(trained[0][0], name))):
                    acc = np.zeros(getattr(trained[0][0], name)[i].shape)
                    for model, n in trained:
                        acc += (n / total) * getattr(model, name)[i]
                    layers.append(acc.astype(getattr(trained[0][0], name)[i].dtype))
                parts.append(layers)
            average = tuple(parts)
    return average


def assert_same_model(est, average):
    for got, want in zip(est.coefs_, average[0]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(est.intercepts_, average[1]):
        np.testing.assert_array_equal(got, want)


PARAMS = dict(
    hidden_layer_sizes=(12,),
    batch_size=40,
    learning_rate_init=0.01,
    random_state=7,
    max_iter=3,
    tol=0.0,
    n_iter_no_change=100,
)


def test_one_rank_equals_a_plain_partial_fit_loop(client):
    X, y = blobs(20_000)  # three windows of 8160 rows
    dX = da.from_array(X, chunks=(6000, -1))
    dy = da.from_array(y, chunks=6000)
    est = DaskMLPClassifier(**PARAMS, sync_every=90, n_ranks=1).fit(dX, dy)

    plain = MLPClassifier(**PARAMS)
    calls = 0
    for epoch in range(PARAMS["max_iter"]):
        for pieces in epoch_pieces(len(X), 40, 90, 7, epoch, 0):
            for lo, hi in pieces:
                plain.partial_fit(X[lo:hi], y[lo:hi], classes=[0, 1, 2])
                calls += 1
    assert calls > 3 * 6  # rounds cut at window edges
    for got, want in zip(est.coefs_ + est.intercepts_, plain.coefs_ + plain.intercepts_):
        np.testing.assert_array_equal(got, want)
    assert est.n_iter_ == 3 and est.t_ == 3 * len(X)
    assert est.rounds_ == 3 * 6


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_two_ranks_equal_the_serial_averaging(client, kind):
    X, y = blobs(18_000)
    sizes = [5000, 4000, 1000, 8000]  # uneven partitions; ranks of 9000 rows (2 windows)
    if kind == "regressor":
        y = X[:, 0] * 2.0 - X[:, 3] + 0.1
        dask_class, local_class = DaskMLPRegressor, MLPRegressor
    else:
        dask_class, local_class = DaskMLPClassifier, MLPClassifier
    dX = da.from_array(X, chunks=(tuple(sizes), -1))
    dy = da.from_array(y, chunks=(tuple(sizes),))
    est = dask_class(**PARAMS, sync_every=70, n_ranks=2).fit(dX, dy)
    expected = serial_local_sgd(
        local_class,
        PARAMS,
        split_chunks(X, sizes),
        split_chunks(y, sizes),
        n_ranks=2,
        sync_every=70,
        epochs=3,
    )
    assert_same_model(est, expected)
    # the model learned: better than the mean / the majority class
    baseline = 0.0 if kind == "regressor" else np.bincount(y).max() / len(y)
    assert est.score(dX, dy) > baseline + 0.1


def test_a_rank_with_no_rows_and_more_ranks_than_chunks(client):
    X, y = blobs(600)
    dX = da.from_array(X, chunks=(300, -1))
    dy = da.from_array(y, chunks=300)
    est = DaskMLPClassifier(**PARAMS, sync_every=4, n_ranks=3).fit(dX, dy)
    expected = serial_local_sgd(
        MLPClassifier,
        PARAMS,
        split_chunks(X, [300, 300]),
        split_chunks(y, [300, 300]),
        n_ranks=3,
        sync_every=4,
        epochs=3,
    )
    assert_same_model(est, expected)
    assert est._ranks_[2] is None


def test_dataframes_train_like_arrays(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = blobs(600)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    dX = dd.from_pandas(frame, npartitions=3, sort=False)
    dy = dd.from_pandas(pd.Series(y), npartitions=3, sort=False)
    sizes = [len(part) for part in dX.partitions]
    from_frames = DaskMLPClassifier(**PARAMS, n_ranks=2).fit(dX, dy)
    from_arrays = DaskMLPClassifier(**PARAMS, n_ranks=2).fit(
        da.from_array(X, chunks=(tuple(sizes), -1)), da.from_array(y, chunks=(tuple(sizes),))
    )
    for got, want in zip(from_frames.coefs_, from_arrays.coefs_):
        np.testing.assert_array_equal(got, want)
    proba = from_frames.predict_proba(dX)
    assert isinstance(proba, da.Array)
    np.testing.assert_array_equal(proba.compute(), from_frames.to_local().predict_proba(X))


def test_predictions_are_dask_arrays_with_the_model_scattered_once(client):
    X, y = blobs(800)
    dX = da.from_array(X, chunks=(100, -1))
    dy = da.from_array(y, chunks=100)
    est = DaskMLPClassifier((256,), max_iter=2, random_state=0, n_ranks=2).fit(dX, dy)
    local = est.to_local()
    assert type(local) is MLPClassifier
    predicted = est.predict(dX)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), local.predict(X))
    np.testing.assert_array_equal(est.predict_proba(dX).compute(), local.predict_proba(X))
    assert est.score(dX, dy) == pytest.approx(local.score(X, y), abs=1e-12)
    # eight blocks, one model: beyond the input's, the graph holds a
    # reference to the scattered model, not eight copies (nor one)
    added = len(pickle.dumps(dict(predicted.__dask_graph__()))) - len(
        pickle.dumps(dict(dX.__dask_graph__()))
    )
    assert added < len(pickle.dumps(local)) / 4


def test_pickling_between_calls_equals_training_straight_through(client):
    X, y = blobs(600)
    dX = da.from_array(X, chunks=(200, -1))
    dy = da.from_array(y, chunks=200)
    straight = DaskMLPClassifier(**PARAMS, solver="adam", n_ranks=2)
    pickled = DaskMLPClassifier(**PARAMS, solver="adam", n_ranks=2)
    for _ in range(3):
        straight.partial_fit(dX, dy)
        pickled = pickle.loads(pickle.dumps(pickled.partial_fit(dX, dy)))
    for got, want in zip(pickled.coefs_, straight.coefs_):
        np.testing.assert_array_equal(got, want)
    assert pickled.loss_curve_ == straight.loss_curve_ and len(straight.loss_curve_) == 3


def kill_worker(client, worker):
    """``os._exit`` on ``worker``, then wait until the scheduler has seen it
    go (the nanny starts a new worker under another address)."""
    with contextlib.suppress(Exception):  # the worker dies while answering
        client.run(os._exit, 1, workers=[worker])
    deadline = time.monotonic() + 30
    while worker in client.scheduler_info()["workers"]:
        assert time.monotonic() < deadline, f"{worker} did not die"
        time.sleep(0.01)


def _kill_when_training(client, done: threading.Event, killed: list):
    """Kill a worker (os._exit) the first time it runs a training round."""
    while not done.is_set():
        for worker, keys in client.processing().items():
            if any("round_task" in str(key) for key in keys):
                kill_worker(client, worker)
                killed.append(worker)
                return
        time.sleep(0.005)


def test_a_worker_killed_mid_fit_gives_the_same_bits(client):
    X, y = blobs(4000)
    dX = da.from_array(X, chunks=(500, -1))
    dy = da.from_array(y, chunks=500)
    params = {**PARAMS, "batch_size": 20, "max_iter": 4}
    undisturbed = DaskMLPClassifier(**params, sync_every=2, n_ranks=2).fit(dX, dy)
    done, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_when_training, args=(client, done, killed))
    killer.start()
    try:
        disturbed = DaskMLPClassifier(**params, sync_every=2, n_ranks=2).fit(dX, dy)
    finally:
        done.set()
        killer.join()
    assert killed, "no worker was killed during the fit"
    for got, want in zip(disturbed.coefs_, undisturbed.coefs_):
        np.testing.assert_array_equal(got, want)
    client.wait_for_workers(2, timeout=60)


def _always_dies(block):
    os._exit(1)


def test_a_fit_that_keeps_killing_workers_raises_and_changes_nothing(client):
    X, y = blobs(400)
    dX = da.from_array(X, chunks=(200, -1))
    dy = da.from_array(y, chunks=200)
    est = DaskMLPClassifier(**PARAMS, n_ranks=2).fit(dX, dy)
    before = [w.copy() for w in est.coefs_], list(est.loss_curve_)
    # meta given: dask would call the function on an empty block to infer it
    deadly = dX.map_blocks(_always_dies, dtype=dX.dtype, meta=np.empty((0, 0)))
    est.set_params(warm_start=True)
    with pytest.raises(RuntimeError, match="worker died"):
        est.fit(deadly, dy)
    for got, want in zip(est.coefs_, before[0]):
        np.testing.assert_array_equal(got, want)
    assert est.loss_curve_ == before[1]
    client.wait_for_workers(2, timeout=60)


def test_lost_scattered_data_is_a_clear_error(client):
    X, y = blobs(400)
    worker = sorted(client.scheduler_info()["workers"])[0]
    future = client.scatter(X, hash=False, workers=[worker])
    dX = da.from_delayed(future, shape=X.shape, dtype=X.dtype)
    dy = da.from_array(y, chunks=-1)
    kill_worker(client, worker)
    with pytest.raises(RuntimeError, match="lost"):
        DaskMLPClassifier(**PARAMS).fit(dX, dy)
    client.wait_for_workers(2, timeout=60)


def _threads_in_a_fit():
    import numba

    from fastbackprop import Network
    from fastbackprop.callbacks import Callback

    seen = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(numba.get_num_threads())

    net = Network([4, 8, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(256, 4))
    net.fit(X, (X[:, 0] > 0).astype(int), epochs=1, batch_size=64, callbacks=[Record()])
    return seen[0], numba.config.NUMBA_NUM_THREADS


def test_a_task_uses_its_workers_thread_count(client):
    threads, cores = client.submit(_threads_in_a_fit, pure=False).result()
    if cores < 2:
        pytest.skip("one core: a worker's thread count cannot be told apart from it")
    assert threads == 1


def test_warm_up_reports_every_worker(client):
    import fastbackprop

    reports = warm_up(client, dtypes="float64")
    assert sorted(reports) == sorted(client.scheduler_info()["workers"])
    for report in reports.values():
        assert report["version"] == fastbackprop.__version__
        assert report["threads"] == 1


def test_grid_search_under_joblib_dask_backend(client):
    joblib = pytest.importorskip("joblib")
    from sklearn.model_selection import GridSearchCV

    X, y = blobs(300)
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (16,)]}
    base = MLPClassifier(max_iter=30, random_state=0)
    local = GridSearchCV(base, grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(base, grid, cv=3).fit(X, y)
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_


def test_dask_ml_incremental(client):
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = blobs(600)
    dX = da.from_array(X, chunks=(200, -1))
    dy = da.from_array(y, chunks=200)
    params = dict(hidden_layer_sizes=(8,), random_state=0, batch_size=50)
    wrapped = dask_ml_wrappers.Incremental(MLPClassifier(**params), shuffle_blocks=False)
    wrapped.fit(dX, dy, classes=[0, 1, 2])
    plain = MLPClassifier(**params)
    for lo in range(0, 600, 200):
        plain.partial_fit(X[lo : lo + 200], y[lo : lo + 200], classes=[0, 1, 2])
    for got, want in zip(wrapped.estimator_.coefs_, plain.coefs_):
        np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ bad input
def test_column_chunks_are_refused(client):
    X, y = blobs(200)
    with pytest.raises(ValueError, match="chunked by columns"):
        DaskMLPClassifier(**PARAMS).fit(da.from_array(X, chunks=(100, 3)), da.from_array(y))


def test_numpy_input_to_fit_is_a_type_error(client):
    X, y = blobs(200)
    with pytest.raises(TypeError, match="dask array"):
        DaskMLPClassifier(**PARAMS).fit(X, y)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"solver": "lbfgs"}, "solver='lbfgs'"),
        ({"early_stopping": True}, "early_stopping=True"),
        ({"learning_rate": "adaptive", "solver": "sgd"}, "learning_rate='adaptive'"),
        ({"sync_every": 0}, "sync_every"),
        ({"n_ranks": 1.5}, "n_ranks"),
        ({"alpha": -1.0}, "alpha"),
    ],
)
def test_unsupported_or_bad_parameters_change_nothing(client, change, message):
    X, y = blobs(200)
    dX = da.from_array(X, chunks=(100, -1))
    dy = da.from_array(y, chunks=100)
    est = DaskMLPClassifier(**PARAMS, n_ranks=2).fit(dX, dy)
    before = [w.copy() for w in est.coefs_]
    est.set_params(**change, warm_start=True)
    with pytest.raises((ValueError, TypeError), match=message):
        est.fit(dX, dy)
    for got, want in zip(est.coefs_, before):
        np.testing.assert_array_equal(got, want)


def test_parameters_are_scikit_learns_plus_the_dask_ones():
    from sklearn.base import clone

    est = DaskMLPRegressor(hidden_layer_sizes=(5,), sync_every=9, alpha=0.5)
    params = est.get_params()
    assert params["sync_every"] == 9 and params["alpha"] == 0.5 and params["client"] is None
    assert set(params) == set(MLPRegressor().get_params()) | {"sync_every", "n_ranks", "client"}
    assert clone(est).get_params() == params


# ------------------------------------------------- found by an independent review
def test_pickling_leaves_the_live_estimator_whole(client):
    est = DaskMLPClassifier(**PARAMS, client=client)
    pickle.dumps(est)
    copied = __import__("copy").deepcopy(est)
    assert est.get_params()["client"] is client and copied.get_params()["client"] is None


def test_multilabel_targets_train_and_score(client):
    X, _ = blobs(600)
    Y = (X[:, :3] > 0).astype(int)
    dX = da.from_array(X, chunks=(200, -1))
    dY = da.from_array(Y, chunks=(200, -1))
    est = DaskMLPClassifier(**PARAMS, n_ranks=2).fit(dX, dY)
    local = est.to_local()
    np.testing.assert_array_equal(est.predict(dX).compute(), local.predict(X))
    assert est.score(dX, dY) == pytest.approx(local.score(X, Y), abs=1e-12)


def test_parameters_set_between_calls_apply_to_every_rank(client):
    X, y = blobs(600)
    dX = da.from_array(X, chunks=(300, -1))
    dy = da.from_array(y, chunks=300)
    changed = DaskMLPClassifier(**PARAMS, n_ranks=2).partial_fit(dX, dy)
    kept = pickle.loads(pickle.dumps(changed))
    changed.set_params(alpha=10.0)  # read on every call, as by one process's partial_fit
    changed.partial_fit(dX, dy)
    kept.partial_fit(dX, dy)
    assert not np.array_equal(changed.coefs_[0], kept.coefs_[0])
    assert all(rank.alpha == 10.0 for rank in changed._ranks_)
    before = [w.copy() for w in changed.coefs_]
    changed.set_params(solver="sgd")  # refused by the ranks' partial_fit, as one process's
    with pytest.raises(ValueError, match="optimizer"):
        changed.partial_fit(dX, dy)
    for got, want in zip(changed.coefs_, before):
        np.testing.assert_array_equal(got, want)
    changed.set_params(solver="adam", n_ranks=3)
    with pytest.raises(ValueError, match="n_ranks"):
        changed.partial_fit(dX, dy)


def test_empty_partitions_predict_and_unknown_chunks_score(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = blobs(900)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = y
    parts = dd.from_pandas(frame, npartitions=3, sort=False)
    filtered = parts[parts.f0 < 10.0]  # keeps every row, but the sizes are unknown
    filtered = dd.concat([filtered, parts[parts.f0 > 100.0]])  # an empty partition
    features, labels = filtered.drop(columns="label"), filtered[["label"]]
    est = DaskMLPClassifier(**PARAMS, n_ranks=2).fit(features, labels["label"])
    local = est.to_local()
    assert est.predict(features).compute().shape == (900,)
    assert est.score(features, labels) == pytest.approx(local.score(X, y), abs=1e-12)
    unknown = labels["label"].to_dask_array()  # chunks of unknown sizes
    assert est.score(features, unknown) == pytest.approx(local.score(X, y), abs=1e-12)
    with pytest.raises(ValueError, match="6 row chunks but y has 3"):
        est.score(features, da.from_array(y, chunks=300))


def test_regressor_score_and_output_dtype_follow_the_plain_estimator(client):
    X, _ = blobs(800)
    Y = np.column_stack([X[:, 0] * 2.0, X[:, 1] - X[:, 2]])
    dX = da.from_array(X, chunks=(200, -1))
    dY = da.from_array(Y, chunks=(200, -1))
    est = DaskMLPRegressor(**PARAMS, dtype="float32", n_ranks=2).fit(dX, dY)
    local = est.to_local()
    predicted = est.predict(dX)
    assert predicted.dtype == local.predict(X).dtype == np.float64
    np.testing.assert_array_equal(predicted.compute(), local.predict(X))
    assert est.score(dX, dY) == pytest.approx(local.score(X, Y), rel=1e-9)
    constant = da.from_array(np.ones((800, 2)), chunks=(200, -1))
    assert est.score(dX, constant) == pytest.approx(local.score(X, np.ones((800, 2))))
