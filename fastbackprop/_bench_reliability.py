"""The bench's reliability section (``--reliability``): predicting from 1
and 2 Python threads on one network, and the memory of streaming a large
``np.memmap`` through ``partial_fit`` (issue 22)."""

from __future__ import annotations

import os
import tempfile
import threading
import time

import numpy as np

from .network import Network
from .workloads import WORKLOADS, make_data


def predict_throughput(seconds: float = 1.0, threads=(1, 2), rows=(1, 256)) -> list:
    """Rows predicted per second by ``n`` Python threads sharing one mnist
    network, each calling ``predict`` on ``rows`` rows in a loop."""
    workload = WORKLOADS["mnist"]
    net = Network(**workload.network_kwargs(backend="numba"))
    X, _ = make_data(workload, n_samples=max(rows))
    for n_rows in rows:
        net.predict(X[:n_rows])  # compiled and warm
    results = []
    for n_rows in rows:
        batch = np.ascontiguousarray(X[:n_rows])
        for n_threads in threads:
            counts = [0] * n_threads
            stop = threading.Event()

            def run(k, batch=batch, counts=counts, stop=stop):
                while not stop.is_set():
                    net.predict(batch)
                    counts[k] += 1

            workers = [threading.Thread(target=run, args=(k,)) for k in range(n_threads)]
            start = time.perf_counter()
            for worker in workers:
                worker.start()
            time.sleep(seconds)
            stop.set()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - start
            results.append(
                {"threads": n_threads, "rows": n_rows, "rows_per_s": sum(counts) * n_rows / elapsed}
            )
    return results


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def memmap_stream(gib: float = 2.0, n_features: int = 512) -> dict | None:
    """Peak anonymous memory and RSS while ``partial_fit`` streams a
    float32 ``np.memmap`` of ``gib`` GiB (written to a temporary file);
    None where ``/proc/self/status`` is missing."""
    if _status_kb("RssAnon") is None:
        return None
    rows = int(gib * (1 << 30)) // (n_features * 4)
    with tempfile.TemporaryDirectory(prefix="fastbackprop-memmap-") as folder:
        path = os.path.join(folder, "big.npy")
        data = np.lib.format.open_memmap(path, "w+", np.float32, (rows, n_features))
        block = np.random.default_rng(0).standard_normal((8192, n_features)).astype(np.float32)
        for start in range(0, rows, 8192):
            data[start : start + 8192] = block[: rows - start]
        data.flush()
        del data
        X = np.load(path, mmap_mode="r")
        y = (np.arange(rows) % 2).astype(np.int64)
        net = Network([n_features, 16, 2], seed=0, dtype="float32")
        net.partial_fit(X[:8192], y[:8192], batch_size=256)  # compiled before measuring
        baseline = {field: _status_kb(field) for field in ("RssAnon", "VmRSS")}
        peak = dict(baseline)
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                for field in peak:
                    peak[field] = max(peak[field], _status_kb(field))
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        start = time.perf_counter()
        try:
            net.partial_fit(X, y, batch_size=256)
        finally:
            stop.set()
            watcher.join()
        seconds = time.perf_counter() - start
        del X
    return {
        "gib": gib,
        "rows": net.last_pass.rows,
        "loss": net.last_pass.loss,
        "seconds": seconds,
        "anon_growth_mb": (peak["RssAnon"] - baseline["RssAnon"]) / 1024,
        "peak_rss_mb": peak["VmRSS"] / 1024,
        "baseline_rss_mb": baseline["VmRSS"] / 1024,
    }


def format_report(throughput: list, stream: dict | None) -> str:
    lines = ["predict from Python threads sharing one mnist network (rows/s):", ""]
    lines += ["| rows a call | 1 thread | 2 threads |", "|---|---|---|"]
    for n_rows in sorted({r["rows"] for r in throughput}):
        by_threads = {r["threads"]: r["rows_per_s"] for r in throughput if r["rows"] == n_rows}
        lines.append(
            f"| {n_rows} | {by_threads.get(1, float('nan')):,.0f} "
            f"| {by_threads.get(2, float('nan')):,.0f} |"
        )
    if stream is not None:
        lines += [
            "",
            f"partial_fit streaming a {stream['gib']:g} GiB float32 memmap: "
            f"{stream['seconds']:.1f} s, anonymous memory +{stream['anon_growth_mb']:.1f} MB, "
            f"peak RSS {stream['peak_rss_mb']:.0f} MB (file pages included; "
            f"{stream['baseline_rss_mb']:.0f} MB before)",
        ]
    return "\n".join(lines)
