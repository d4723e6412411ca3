"""The bench's Dask section (``--dask``): local SGD on a LocalCluster of
two 1-thread worker processes against one process with one thread.

Both train the mnist workload's network (784-128-64-10, float32, scikit-
learn's defaults: Adam, batches of 200) for the same epochs on the same
60,000 synthetic rows, and are scored on 10,000 more from the same teacher.
The Dask fit is timed from ``fit`` to its return, with the data already
persisted on the workers (as a user's would be) and the kernels warm.
"""

from __future__ import annotations

import time
import warnings

EPOCHS = 10
N_TRAIN, N_TEST = 60_000, 10_000
CHUNK_ROWS = 10_000


def compare(epochs: int = EPOCHS, sync_every=(None,)) -> dict | None:
    """Times, throughput ratio, accuracies and the overhead per round;
    None without ``distributed``."""
    try:
        import dask.array as da
        from distributed import Client, LocalCluster, wait
    except ImportError:
        return None
    from sklearn.exceptions import ConvergenceWarning

    from . import _config
    from .dask import DEFAULT_SYNC_EVERY, DaskMLPClassifier, warm_up
    from .estimators import MLPClassifier
    from .workloads import WORKLOADS, make_data

    X, y = make_data(WORKLOADS["mnist"], n_samples=N_TRAIN + N_TEST)
    X_train, y_train, X_test, y_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    params = dict(
        hidden_layer_sizes=(128, 64), max_iter=epochs, tol=0.0, n_iter_no_change=10**6,
        random_state=0,
    )  # fmt: skip
    report = {"epochs": epochs, "rows": N_TRAIN, "runs": []}
    threads_before = _config.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the bench's arrays travel in the graph once; a real set is loaded by Dask
        warnings.filterwarnings("ignore", message="Sending large graph")
        _config.set_num_threads(1)
        try:
            MLPClassifier(**{**params, "max_iter": 1}).fit(X_train[:2000], y_train[:2000])
            start = time.perf_counter()
            single = MLPClassifier(**params).fit(X_train, y_train)
            report["single_s"] = time.perf_counter() - start
        finally:
            _config.set_num_threads(threads_before)
        report["single_accuracy"] = single.score(X_test, y_test)
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, Client(cluster) as client:
            warm_up(client, "float32")
            dX = da.from_array(X_train, chunks=(CHUNK_ROWS, -1)).persist()
            dy = da.from_array(y_train, chunks=CHUNK_ROWS).persist()
            wait([dX, dy])
            # one untimed epoch: the workers' first fit allocates and imports
            # what every later one reuses (0.2-0.4 s measured), as the single
            # process's warm-up fit above
            DaskMLPClassifier(**{**params, "max_iter": 1}).fit(dX, dy)
            start = time.perf_counter()
            for _ in range(20):
                client.submit(len, [0], pure=False).result()
            report["task_round_trip_ms"] = (time.perf_counter() - start) / 20 * 1e3
            for every in sync_every:
                every = DEFAULT_SYNC_EVERY if every is None else every
                est = DaskMLPClassifier(**params, sync_every=every)
                start = time.perf_counter()
                est.fit(dX, dy)
                seconds = time.perf_counter() - start
                report["runs"].append(
                    {
                        "sync_every": every,
                        "seconds": seconds,
                        "speed_up": report["single_s"] / seconds,
                        "rounds": est.rounds_,
                        # beyond a perfect halving of the single process's time
                        "overhead_per_round_ms": (seconds - report["single_s"] / 2)
                        / est.rounds_
                        * 1e3,
                        "accuracy": est.score(X_test, y_test),
                    }
                )
    return report


def format_report(report: dict) -> str:
    """The section as a Markdown table."""
    lines = [
        f"Dask: local SGD on a LocalCluster (2 worker processes x 1 thread) against one "
        f"process with 1 thread; mnist network, Adam, batch 200, {report['epochs']} epochs of "
        f"{report['rows']} rows; one process {report['single_s']:.2f} s, test accuracy "
        f"{report['single_accuracy']:.4f}; an empty task's round trip "
        f"{report['task_round_trip_ms']:.1f} ms:",
        "",
        "| sync_every | seconds | throughput vs 1 process | rounds | overhead per round "
        "| test accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {run['sync_every']} | {run['seconds']:.2f} | {run['speed_up']:.2f}x "
            f"| {run['rounds']} | {run['overhead_per_round_ms']:.1f} ms | {run['accuracy']:.4f} |"
        )
    return "\n".join(lines)
