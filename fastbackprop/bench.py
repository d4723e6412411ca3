"""Benchmark fastbackprop against NumPy, PyTorch and JAX on the standard workloads.

Run ``python -m fastbackprop.bench`` (or ``fastbackprop-bench``). Every
engine trains the same network on the same data in ONE process; the engines
take turns (each repeat runs every engine once), so a slow spell on a shared
machine hits all of them, and the best of the repeats is reported.

``--quick`` is a smoke run (1/20 of the samples, 20 epochs for ``tiny``, one
repeat): it checks that everything works, it measures nothing worth quoting.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import _bench_dask, _bench_estimators, _bench_reliability, _peers
from ._atomic import atomic_write, check_writable
from ._blas_provider import provider as blas_provider
from ._machine import cpu_model, cpu_vendor, vector_isa, version
from .network import Network
from .optim import OPTIMIZERS
from .workloads import WORKLOADS, make_data

#: optional peers; fastbackprop itself always runs
OPTIONAL_PEERS = ("torch", "jax", "sklearn")
ALL_PEERS = ("numpy",) + OPTIONAL_PEERS
QUICK_FRACTION = 20
QUICK_TINY_EPOCHS = 20
#: pause between turns so one engine's spinning worker threads (OpenMP,
#: BLAS) go to sleep before the next engine starts. OpenBLAS's workers
#: (NumPy's BLAS) spin for about 0.1 s after a call: measured, a ``tiny``
#: fit started 0 or 0.05 s after NumPy matrix products took 66-141 ms,
#: after 0.2 s 34-38 ms, as on a quiet machine. At 0.05 s, the engine after
#: NumPy in each turn (PyTorch) was timed against those spinning threads.
PAUSE_SECONDS = 0.3

# The subprocess for start-up times: import, then one epoch of ``tiny``. Run
# with an empty NUMBA_CACHE_DIR it measures the cold compile; with the normal
# (already filled) cache it measures a warm start. Same script, so cold minus
# warm is the compile time.
_STARTUP_SCRIPT = """
import sys, time
start = time.perf_counter()
import numpy as np
import fastbackprop
from fastbackprop.workloads import WORKLOADS, make_data
if sys.argv[1].startswith("tiny"):  # the demo's network, in one dtype
    w = WORKLOADS["tiny"]
    X, y = make_data(w)
    net = fastbackprop.Network(**w.network_kwargs(backend="numba", dtype=sys.argv[1][5:]))
    net.fit(X, y, epochs=1, batch_size=w.batch_size, learning_rate=w.learning_rate)
else:  # another network, loss, optimizer and dtype: a relu classifier, Adam, float32
    X = np.random.default_rng(0).standard_normal((1000, 20)).astype(np.float32)
    net = fastbackprop.Network([20, 64, 3], activation="relu", dtype="float32", seed=0)
    net.fit(X, (X[:, :3]).argmax(axis=1), epochs=1, batch_size=200, optimizer="adam")
print(time.perf_counter() - start)
"""
#: the configurations whose first fit is timed: the demo's network (tiny) in
#: each dtype, and a float32 relu classifier with Adam; within a dtype they
#: share the training loop's kernels, and each has its own activations,
#: loss and optimizer
STARTUP_CONFIGS = ("tiny float64", "tiny float32", "relu adam float32")


# ------------------------------------------------------------------ arguments
def _csv(allowed):
    def parse(text):
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown name(s) {unknown}; choose from {', '.join(allowed)}"
            )
        return names

    return parse


def installed_peers() -> list:
    """Peers whose library is importable: numpy always, torch, jax and
    sklearn (scikit-learn's MLPClassifier) if installed."""
    return ["numpy"] + [name for name in OPTIONAL_PEERS if importlib.util.find_spec(name)]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fastbackprop-bench",
        description="Time one unit of training (an epoch; the whole fit for tiny) "
        "in fastbackprop and its peers, taking turns, best of N.",
    )
    parser.add_argument(
        "--workloads",
        type=_csv(tuple(WORKLOADS)),
        default=list(WORKLOADS),
        help=f"comma-separated, from {','.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument(
        "--peers",
        type=_csv(("fastbackprop",) + ALL_PEERS),
        default=None,
        help=f"comma-separated, from {','.join(ALL_PEERS)} (default: all installed)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="turns per engine (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1/20 of the samples, 1 repeat"
    )
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), default=None, help="override every workload"
    )
    parser.add_argument(
        "--optimizers",
        type=_csv(tuple(OPTIMIZERS)),
        default=[],
        help="also time fastbackprop alone with each of these optimizers (comma-separated, "
        f"from {','.join(OPTIMIZERS)}), taking turns with sgd, and print each one's time "
        "relative to sgd",
    )
    parser.add_argument("--json", metavar="PATH", default=None, help="also write results here")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="time every engine in this process (by default each runs in a process of its "
        "own: loaded together, their thread pools slow each other down)",
    )
    parser.add_argument(
        "--skip-startup",
        action="store_true",
        help="skip the cold-compile and warm-start subprocesses",
    )
    parser.add_argument(
        "--skip-estimators",
        action="store_true",
        help="skip the scikit-learn section (the swapped import against scikit-learn's MLP)",
    )
    parser.add_argument(
        "--dask",
        nargs="?",
        const="default",
        default=None,
        metavar="SYNC_EVERY,...",
        help="also run the Dask section: local SGD on a LocalCluster of two 1-thread "
        "workers against one 1-thread process (needs the [dask] extra); optionally the "
        "sync_every values to time, comma-separated (default: the estimators' default)",
    )
    parser.add_argument(
        "--reliability",
        action="store_true",
        help="also run the reliability section: predict throughput from 1 and 2 threads "
        "sharing one network, and the memory of streaming a 2 GiB memmap (written to a "
        "temporary file) through partial_fit",
    )
    args = parser.parse_args(argv)
    if args.dask not in (None, "default"):
        try:
            args.dask = [int(value) for value in args.dask.split(",")]
        except ValueError:
            parser.error(f"--dask takes comma-separated ints; got {args.dask!r}")
        if min(args.dask) < 1:
            parser.error("--dask values must be at least 1")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.json is not None:  # found now, not after minutes of timing
        try:
            check_writable(args.json)
        except (OSError, ValueError) as error:
            parser.error(f"--json {args.json!r}: {getattr(error, 'strerror', None) or error}")
    if args.quick:
        args.repeats = 1
    return args


# -------------------------------------------------------------- machine facts
def openblas_core_type() -> str:
    """The kernel set OpenBLAS chose (threadpoolctl's ``architecture``), and
    ``OPENBLAS_CORETYPE`` when the environment forces one."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    found = {
        p.get("architecture") for p in threadpool_info() if p.get("internal_api") == "openblas"
    }
    chosen = ", ".join(sorted(a for a in found if a)) or "no OpenBLAS loaded"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return f"{chosen} (OPENBLAS_CORETYPE={forced})" if forced else chosen


def _blas() -> list:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed"]
    return [
        f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('num_threads')} threads)"
        for pool in threadpool_info()
    ]


def machine_facts() -> dict:
    """CPU, cores, library versions, Numba threading layer and threads, BLAS.

    Call after a parallel kernel has run: Numba picks its threading layer
    lazily and raises if asked before.
    """
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not yet chosen"
    return {
        "cpu": cpu_model(),
        "vendor": cpu_vendor(),
        "isa": vector_isa(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "torch": version("torch"),
        "jax": version("jax"),
        "sklearn": version("scikit-learn"),
        "numba_threading_layer": layer,
        "numba_threads": numba.get_num_threads(),
        "kernel_blas": _kernel_blas(),
        "openblas_core": openblas_core_type(),
        "blas": _blas(),
    }


def _kernel_blas() -> str:
    """The kernels' BLAS with its version: ``mkl 2026.2.1`` or ``scipy
    (OpenBLAS 0.3.30)``."""
    name = blas_provider()
    if name == "mkl":
        return f"mkl {version('mkl')}"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return name
    for pool in threadpool_info():
        if "scipy.libs" in pool.get("filepath", "") and pool.get("user_api") == "blas":
            return f"scipy ({pool.get('internal_api')} {pool.get('version')})"
    return name


def format_facts(facts: dict) -> str:
    return (
        f"machine: {facts['cpu']} ({facts['vendor'] or 'vendor unknown'}; {facts['isa']}), "
        f"{facts['cores']} cores | python {facts['python']}, "
        f"numpy {facts['numpy']}, numba {facts['numba']}, torch {facts['torch']}, "
        f"jax {facts['jax']}, scikit-learn {facts['sklearn']} | "
        f"numba threading layer {facts['numba_threading_layer']}, "
        f"{facts['numba_threads']} threads | kernels' BLAS: {facts['kernel_blas']} | "
        f"OpenBLAS core type: {facts['openblas_core']} | "
        f"loaded BLAS: {'; '.join(facts['blas']) or 'none found'}"
    )


# ------------------------------------------------------------------ workloads
def workload_case(name: str, quick: bool, dtype: str | None):
    """The workload, its data and the epochs per unit, reduced when ``quick``."""
    workload = WORKLOADS[name]
    epochs = workload.epochs
    n_samples = workload.n_samples
    if quick and name == "tiny":
        epochs = min(epochs, QUICK_TINY_EPOCHS)  # tiny's cost is its epochs, not its rows
    elif quick:
        n_samples = max(workload.batch_size, n_samples // QUICK_FRACTION)
    X, y = make_data(workload, n_samples=n_samples, dtype=dtype)
    return workload, X, y, epochs


class EngineProcess:
    """One engine's unit, run in a process of its own (``_bench_worker``);
    calling it runs one unit there and returns its loss, and ``seconds`` is
    that unit's time, measured in the worker."""

    def __init__(self, workload, X, epochs: int, engine: str):
        from ._bench_worker import ANSWER_PREFIX

        self._prefix = ANSWER_PREFIX
        self._process = subprocess.Popen(
            [sys.executable, "-m", "fastbackprop._bench_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        spec = {
            "workload": workload.name,
            "n_samples": int(X.shape[0]),
            "dtype": X.dtype.name,
            "epochs": int(epochs),
            "engine": engine,
        }
        self.ready = self._ask({"build": spec})["ready"]
        self.seconds = None

    def _ask(self, request: dict) -> dict:
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(f"the bench worker exited (code {self._process.wait()})") from None
        for line in self._process.stdout:
            if line.startswith(self._prefix):
                return json.loads(line[len(self._prefix) :])
        raise RuntimeError(f"the bench worker exited (code {self._process.wait()})")

    def __call__(self) -> float:
        answer = self._ask({"run": True})
        self.seconds = answer["seconds"]
        return answer["loss"]

    def close(self) -> None:
        try:
            self._process.stdin.close()
        except BrokenPipeError:
            pass
        self._process.wait()


def build_engines(workload, X, y, epochs: int, peers, isolated: bool = True) -> dict:
    """``{engine: unit}`` for fastbackprop and every requested peer that is
    installed; with ``isolated``, each an ``EngineProcess``."""
    engines = {}
    try:
        for name in ["fastbackprop"] + [p for p in peers if p != "fastbackprop"]:
            if isolated:
                unit = EngineProcess(workload, X, epochs, name)
                if not unit.ready:
                    unit.close()
                    unit = None
            else:
                unit = _peers.PEERS[name](workload, X, y, epochs=epochs)
            if unit is None:
                print(f"  {name}: not installed, skipped")
            else:
                engines[name] = unit
    except BaseException:  # the workers already started end with the bench
        for unit in engines.values():
            if isinstance(unit, EngineProcess):
                unit.close()
        raise
    return engines


def time_in_turns(engines: dict, repeats: int) -> tuple[dict, dict]:
    """Each repeat runs every engine once, in turn.

    Returns
    -------
    times : dict
        ``{engine: [seconds per unit, ...]}``
    losses : dict
        ``{engine: [loss after each unit, ...]}``
    """
    times = {name: [] for name in engines}
    losses = {name: [] for name in engines}
    for _ in range(repeats):
        for name, unit in engines.items():
            gc.collect()
            time.sleep(PAUSE_SECONDS)
            start = time.perf_counter()
            loss = unit()
            elapsed = time.perf_counter() - start
            # an engine in its own process times its unit there
            times[name].append(getattr(unit, "seconds", None) or elapsed)
            losses[name].append(float(loss))
    return times, losses


def summarize(workload, n_samples: int, epochs: int, times: dict, peak: float) -> list:
    """One row per engine from its best time."""
    samples = n_samples * epochs
    flops = workload.flops_per_sample() * samples
    rows = []
    for name, seconds in times.items():
        best = min(seconds)
        gflops = flops / best / 1e9
        rows.append(
            {
                "engine": name,
                "ms_per_unit": best * 1e3,
                "samples_per_s": samples / best,
                "gflops": gflops,
                "pct_peak": 100.0 * gflops / peak,
                "times_s": seconds,
            }
        )
    return rows


def speed_ratios(rows: list) -> dict:
    """``{peer: peer time / fastbackprop time}``: above 1 means fastbackprop is faster."""
    best = {row["engine"]: row["ms_per_unit"] for row in rows}
    if "fastbackprop" not in best:
        return {}
    return {name: ms / best["fastbackprop"] for name, ms in best.items() if name != "fastbackprop"}


def format_table(rows: list) -> str:
    header = f"{'engine':<14}{'ms/unit':>12}{'samples/s':>14}{'GFLOP/s':>10}{'% peak':>9}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['engine']:<14}{row['ms_per_unit']:>12.2f}{row['samples_per_s']:>14,.0f}"
            f"{row['gflops']:>10.2f}{row['pct_peak']:>8.1f}%"
        )
    return "\n".join(lines)


def describe_case(workload, X, epochs: int, repeats: int) -> str:
    sizes = "-".join(map(str, workload.layer_sizes))
    batch = min(workload.batch_size, X.shape[0])
    return (
        f"{workload.name}: {sizes} {workload.activation}, {X.dtype.name}, "
        f"{X.shape[0]} samples x {epochs} epoch(s) per unit, batch {batch}, "
        f"lr {workload.learning_rate:g}, best of {repeats}"
    )


def run_workload(name: str, args, peers, peaks: dict) -> dict:
    workload, X, y, epochs = workload_case(name, args.quick, args.dtype)
    print()
    print(describe_case(workload, X, epochs, args.repeats))
    engines = build_engines(workload, X, y, epochs, peers, isolated=not args.in_process)
    try:
        times, losses = time_in_turns(engines, args.repeats)
    finally:
        for unit in engines.values():
            if isinstance(unit, EngineProcess):
                unit.close()
    rows = summarize(workload, X.shape[0], epochs, times, peaks[X.dtype.name])
    ratios = speed_ratios(rows)
    print(format_table(rows))
    for peer, ratio in ratios.items():
        print(f"fastbackprop vs {peer}: {ratio:.2f}x")
    return {
        "workload": name,
        "dtype": X.dtype.name,
        "n_samples": int(X.shape[0]),
        "epochs_per_unit": epochs,
        "rows": rows,
        "ratios": ratios,
        "losses": losses,
    }


def optimizer_costs(name: str, args) -> dict:
    """fastbackprop alone on one workload with plain SGD and each of
    ``args.optimizers``, taking turns like the peers; and, for each, the
    time its update arithmetic alone takes per unit
    (:func:`update_arithmetic_ms`).

    Returns
    -------
    dict
        ``{"workload", "ms_per_unit": {optimizer: best ms},
        "relative_to_sgd": {optimizer: best ms / sgd's best ms},
        "update_arithmetic_ms": {optimizer: ms per unit}}``
    """
    workload, X, y, epochs = workload_case(name, args.quick, args.dtype)
    names = ["sgd"] + [opt for opt in args.optimizers if opt != "sgd"]
    units = {opt: _peers.fastbackprop_peer(workload, X, y, epochs, optimizer=opt) for opt in names}
    time_in_turns(units, 1)  # untimed: first-touch of each network's buffers
    times, _ = time_in_turns(units, args.repeats)
    best = {opt: min(seconds) * 1e3 for opt, seconds in times.items()}
    relative = {opt: ms / best["sgd"] for opt, ms in best.items()}
    steps = epochs * -(-X.shape[0] // min(workload.batch_size, X.shape[0]))
    alone = {opt: update_arithmetic_ms(workload, X.dtype, opt, steps) for opt in names}
    print(
        f"{name} optimizer cost (fastbackprop, best of {args.repeats}): "
        + ", ".join(f"{opt} {best[opt]:.1f} ms ({relative[opt]:.3f}x sgd)" for opt in names)
    )
    print(
        "  the update arithmetic alone, per unit: "
        + ", ".join(
            f"{opt} {alone[opt]:.1f} ms ({alone[opt] / best['sgd']:.3f} of sgd's unit)"
            for opt in names
        )
    )
    return {
        "workload": name,
        "ms_per_unit": best,
        "relative_to_sgd": relative,
        "update_arithmetic_ms": alone,
    }


def update_arithmetic_ms(workload, dtype, optimizer: str, steps: int, calls: int = 200) -> float:
    """The time ``steps`` updates by ``optimizer`` take when each core
    updates its share of the parameters with every buffer already in
    cache: one core's share timed alone (best of ``calls``), times
    ``steps``.

    The parameters, gradients and moments of that share fit in one core's
    L2 cache, so this is the loop's arithmetic, not its memory traffic: about
    what the optimizer adds to an epoch, less where a core's loop fills time
    it would otherwise spend waiting for the other at the end of a step.
    (Plain SGD without weight decay takes its step inside the weight
    gradient's BLAS call in training, so its loop here overstates what it
    adds.)
    """
    import numba

    from .kernels.optim import optimizer_update

    n_params = Network(**workload.network_kwargs(backend="numpy")).count_parameters()
    share = -(-n_params // numba.get_num_threads())
    rng = np.random.default_rng(0)
    params = rng.standard_normal(share).astype(dtype)
    grads = rng.standard_normal(share).astype(dtype)
    state = np.zeros((2, share), dtype=dtype)
    rule = OPTIMIZERS[optimizer]()
    hyper, code, rate = rule.hyperparameters(), rule.code, rule.learning_rate
    optimizer_update(params, grads, state, hyper, 0, rate, code)  # compile, warm
    best = float("inf")
    for step in range(calls):
        start = time.perf_counter()
        optimizer_update(params, grads, state, hyper, step, rate, code)
        best = min(best, time.perf_counter() - start)
    return best * steps * 1e3


# ------------------------------------------------------- latency and start-up
def predict_latency_us(dtype: str | None, n_calls: int, rounds: int = 1) -> dict:
    """Wall time of ``Network.predict`` on one row of the mnist network.

    Each of ``rounds`` rounds times ``n_calls`` calls and takes their
    median; the rounds are separated by a short pause, so a noisy spell
    on a shared machine spoils a round rather than the whole measurement.
    Returns ``{"best": the lowest round median, "worst": the highest, "rounds":
    every round's median}``, in microseconds: the best round, like the best
    of the repeats for the epoch times.
    """
    workload = WORKLOADS["mnist"]
    net = Network(**workload.network_kwargs(backend="numba", dtype=dtype))
    X, _ = make_data(workload, n_samples=1, dtype=dtype)
    for _ in range(10):  # compile and warm caches
        net.predict(X)
    medians = []
    for _ in range(rounds):
        time.sleep(PAUSE_SECONDS)
        samples = []
        for _ in range(n_calls):
            start = time.perf_counter()
            net.predict(X)
            samples.append(time.perf_counter() - start)
        medians.append(statistics.median(samples) * 1e6)
    return {"best": min(medians), "worst": max(medians), "rounds": medians}


def _time_subprocess(env: dict, config: str = "tiny float64") -> float:
    result = subprocess.run(
        [sys.executable, "-c", _STARTUP_SCRIPT, config],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def cold_compile_seconds(config: str = "tiny float64", after: str | None = None) -> float:
    """Import fastbackprop and run one epoch of ``config`` (one of
    ``STARTUP_CONFIGS``) in a subprocess whose NUMBA_CACHE_DIR is a fresh
    empty directory, so every kernel the fit uses compiles; with ``after``,
    once another subprocess has run that configuration in the same cache
    (what a second configuration still compiles).

    Returns
    -------
    float
        Seconds, timed inside the subprocess (interpreter start excluded).
    """
    for name in (config, after):
        if name is not None and name not in STARTUP_CONFIGS:
            raise ValueError(f"config must be one of {', '.join(STARTUP_CONFIGS)}; got {name!r}")
    with tempfile.TemporaryDirectory(prefix="fastbackprop-cold-") as cache_dir:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
        if after is not None:
            _time_subprocess(env, after)
        return _time_subprocess(env, config)


def warm_start_seconds() -> float:
    """The same subprocess as :func:`cold_compile_seconds` with the normal
    on-disk cache, run twice so the second finds it filled.

    Returns
    -------
    float
        Seconds of the second run.
    """
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    _time_subprocess(env)  # fills the normal cache if it is empty
    return _time_subprocess(env)


def startup_seconds() -> dict:
    """Cold compile per configuration (``STARTUP_CONFIGS``), the relu Adam
    classifier after the demo's network, and a warm start; cold minus warm
    is the compile time."""
    return {
        "cold_compile_s": {config: cold_compile_seconds(config) for config in STARTUP_CONFIGS},
        "second_config_s": cold_compile_seconds("relu adam float32", after="tiny float64"),
        "warm_start_s": warm_start_seconds(),
    }


# ----------------------------------------------------------------------- main
def _warm_numba():
    """One tiny fit so Numba has chosen its threading layer before we report it."""
    workload = WORKLOADS["tiny"]
    X, y = make_data(workload)
    Network(**workload.network_kwargs(backend="numba")).fit(X, y, epochs=1)


def main(argv=None) -> int:
    """Run the benchmark; see ``fastbackprop-bench --help``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status, 0 on success.
    """
    args = parse_args(argv)
    peers = installed_peers() if args.peers is None else args.peers
    _warm_numba()
    facts = machine_facts()
    print(format_facts(facts))

    dtypes = {args.dtype} if args.dtype else {WORKLOADS[w].dtype for w in args.workloads}
    side = 1024 if args.quick else 2048
    peaks = {dt: _peers.sgemm_peak(dt, n=side, repeats=3 if args.quick else 5) for dt in dtypes}
    print(
        "sgemm peak (NumPy BLAS, whole machine): "
        + ", ".join(f"{dt} {gf:.1f} GFLOP/s" for dt, gf in sorted(peaks.items()))
    )

    results = [run_workload(name, args, peers, peaks) for name in args.workloads]
    costs = None
    if args.optimizers:
        print()
        costs = [optimizer_costs(name, args) for name in args.workloads]

    print()
    latency = predict_latency_us(args.dtype, 200 if args.quick else 1000, args.repeats)
    print(
        f"predict latency, one row, mnist network: {latency['best']:.1f} us "
        f"(median of {200 if args.quick else 1000} calls, best of {args.repeats} rounds; "
        f"worst round {latency['worst']:.1f} us)"
    )
    estimators = None
    if not args.skip_estimators:
        estimators = _bench_estimators.compare(args.repeats)
        if estimators is not None:
            print()
            print(_bench_estimators.format_rows(estimators))
    distributed = None
    if args.dask is not None:
        sync_every = (None,) if args.dask == "default" else tuple(args.dask)
        distributed = _bench_dask.compare(sync_every=sync_every)
        print()
        print(
            "Dask section skipped: pip install 'fastbackprop[dask]'"
            if distributed is None
            else _bench_dask.format_report(distributed)
        )
    reliability = None
    if args.reliability:
        reliability = {
            "predict_throughput": _bench_reliability.predict_throughput(),
            "memmap_stream": _bench_reliability.memmap_stream(),
        }
        print()
        print(
            _bench_reliability.format_report(
                reliability["predict_throughput"], reliability["memmap_stream"]
            )
        )
    startup = None
    if not args.skip_startup:
        startup = startup_seconds()
        cold = ", ".join(f"{c} {s:.2f} s" for c, s in startup["cold_compile_s"].items())
        cold += f"; relu adam float32 after tiny float64 {startup['second_config_s']:.2f} s"
        print(
            "start-up (import + a first epoch): "
            f"cold compile {cold}; warm cache (tiny float64) {startup['warm_start_s']:.2f} s"
        )

    if args.json:
        report = {
            "machine": facts,
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "sgemm_peak_gflops": peaks,
            "workloads": results,
            "optimizer_costs": costs,
            "predict_latency_us": latency,
            "startup": startup,
            "estimators": estimators,
            "dask": distributed,
            "reliability": reliability,
        }
        with atomic_write(args.json, "w", encoding="utf-8", durable=False) as handle:
            json.dump(report, handle, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
