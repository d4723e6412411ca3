"""asv benchmarks: ``asv run`` (``--python=same --quick`` for a smoke run).

asv imports every module in this package, including the pytest-benchmark
files (so its environment needs pytest; see ``asv.conf.json``), and collects
only ``time_``, ``peakmem_`` and ``track_`` attributes, which live here.

Workloads come from :mod:`fastbackprop.workloads` at the reduced sample
counts of ``_cases.EPOCH_SAMPLES``; every one runs in its own dtype and in
the other, to track both precisions.
"""

import time

from fastbackprop import Network
from fastbackprop.bench import STARTUP_CONFIGS, cold_compile_seconds, warm_start_seconds
from fastbackprop.workloads import WORKLOADS, make_data

from ._cases import EPOCH_SAMPLES, TINY_EPOCHS


class Training:
    """One training unit (an epoch; ``TINY_EPOCHS`` full-batch epochs for
    tiny) through the public API with the Numba backend."""

    params = (list(WORKLOADS), ["float32", "float64"])
    param_names = ["workload", "dtype"]
    timeout = 300

    def setup(self, name, dtype):
        workload = WORKLOADS[name]
        self.workload = workload
        self.X, self.y = make_data(workload, n_samples=EPOCH_SAMPLES[name], dtype=dtype)
        self.kwargs = workload.network_kwargs(backend="numba", dtype=dtype)
        self.fit_args = {
            "epochs": TINY_EPOCHS if name == "tiny" else workload.epochs,
            "batch_size": min(workload.batch_size, self.X.shape[0]),
            **workload.fit_kwargs(),
        }
        # asv times after setup: compile (or load from cache) here
        n_warm = 2 * workload.batch_size
        self.net = Network(**self.kwargs)
        self.net.fit(self.X[:n_warm], self.y[:n_warm], epochs=1)

    def time_epoch(self, name, dtype):
        self.net.fit(self.X, self.y, **self.fit_args)

    def peakmem_fit(self, name, dtype):
        self.net.fit(self.X, self.y, **self.fit_args)

    def track_final_loss(self, name, dtype):
        # a fresh seed-0 network: the value depends only on the code, so a
        # change flags a change in the numerics, not in the run order
        history = Network(**self.kwargs).fit(self.X, self.y, **self.fit_args)
        return history.loss[-1]

    track_final_loss.unit = "loss"

    def track_gflops(self, name, dtype):
        samples = self.X.shape[0] * self.fit_args["epochs"]
        start = time.perf_counter()
        self.net.fit(self.X, self.y, **self.fit_args)
        seconds = time.perf_counter() - start
        return self.workload.flops_per_sample() * samples / seconds / 1e9

    track_gflops.unit = "GFLOP/s"


class Startup:
    """Import plus one epoch in a subprocess: every kernel compiled from
    scratch (empty NUMBA_CACHE_DIR), per configuration; a second
    configuration once the demo's network filled the cache; and everything
    loaded from the on-disk cache."""

    timeout = 600
    params = list(STARTUP_CONFIGS)
    param_names = ["config"]

    def track_cold_compile_seconds(self, config):
        return cold_compile_seconds(config)

    track_cold_compile_seconds.unit = "seconds"

    def track_after_the_demo_seconds(self, config):
        return cold_compile_seconds(config, after="tiny float64")

    track_after_the_demo_seconds.unit = "seconds"

    def track_warm_start_seconds(self, config):
        return warm_start_seconds()  # the same for all: nothing compiles

    track_warm_start_seconds.unit = "seconds"
