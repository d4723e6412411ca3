"""The benchmark harness runs, and its peers train the same problem.

No timings are asserted here: a speed claim lives in ``fastbackprop.bench``
and ``benchmarks/``, never in a unit test.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from fastbackprop import Network, _peers, bench
from fastbackprop.workloads import WORKLOADS, make_data

TINY_EPOCHS = 20
PEER_NAMES = ["numpy", "fastbackprop", "torch", "jax", "sklearn"]


def _require(peer):
    if peer in ("torch", "jax", "sklearn"):
        pytest.importorskip(peer)


@pytest.fixture(scope="module")
def tiny():
    workload = WORKLOADS["tiny"]
    return (workload, *make_data(workload))


@pytest.fixture(scope="module")
def reference_losses(tiny):
    unit = _peers.numpy_peer(*tiny, epochs=TINY_EPOCHS)
    return [unit() for _ in range(3)]


@pytest.mark.slow
def test_quick_bench_prints_a_table(tmp_path):
    command = [sys.executable, "-m", "fastbackprop.bench", "--quick", "--workloads", "tiny"]
    report_path = tmp_path / "report.json"
    command += ["--peers", "numpy", "--skip-startup", "--optimizers", "adam"]
    command += ["--json", str(report_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["engine", "ms/unit", "samples/s", "GFLOP/s", "%", "peak"] in lines
    engines = ("fastbackprop", "numpy")
    rows = {w[0]: w for w in lines if w and w[0] in engines and len(w) == 5}
    assert set(rows) == {"fastbackprop", "numpy"}
    for words in rows.values():
        assert float(words[1]) > 0  # ms per unit
    assert "fastbackprop vs numpy:" in result.stdout
    assert result.stdout.startswith("machine: ")
    assert "predict latency" in result.stdout
    # --optimizers: fastbackprop alone with sgd and adam, relative to sgd
    assert "tiny optimizer cost" in result.stdout
    report = json.loads(report_path.read_text())
    (costs,) = report["optimizer_costs"]
    # one round per repeat (--quick: 1); best and worst are its extremes
    latency = report["predict_latency_us"]
    assert len(latency["rounds"]) == report["args"]["repeats"]
    assert latency["best"] == min(latency["rounds"]) > 0
    assert latency["worst"] == max(latency["rounds"])
    assert costs["relative_to_sgd"]["sgd"] == 1.0
    assert costs["ms_per_unit"]["adam"] > 0
    ratio = costs["ms_per_unit"]["adam"] / costs["ms_per_unit"]["sgd"]
    assert costs["relative_to_sgd"]["adam"] == pytest.approx(ratio)
    # and what each one's update loop alone would take per unit
    assert set(costs["update_arithmetic_ms"]) == {"sgd", "adam"}
    assert min(costs["update_arithmetic_ms"].values()) > 0
    assert "the update arithmetic alone, per unit: sgd" in result.stdout
    # the scikit-learn section: both estimators, both solvers, in one run
    rows = report["estimators"]
    assert [row["solver"] for row in rows] == ["adam", "lbfgs"]
    for row in rows:
        assert row["speed-up"] == pytest.approx(row["scikit-learn ms"] / row["fastbackprop ms"])
        # the same initial weights and rules: both learn the digits
        assert min(row["scikit-learn accuracy"], row["fastbackprop accuracy"]) > 0.95
    assert "| lbfgs |" in result.stdout


@pytest.mark.parametrize("peer", PEER_NAMES)
def test_peer_loss_decreases_on_tiny(peer, tiny):
    _require(peer)
    unit = _peers.PEERS[peer](*tiny, epochs=TINY_EPOCHS)
    losses = [unit() for _ in range(3)]
    assert losses[0] > losses[1] > losses[2]


@pytest.mark.parametrize("peer", PEER_NAMES[1:])
def test_peer_matches_the_reference_on_tiny(peer, tiny, reference_losses):
    # tiny is full batch, so the row order cannot matter: with the same
    # initial weights, loss and learning rate every engine takes the same
    # steps, up to float64 rounding
    _require(peer)
    unit = _peers.PEERS[peer](*tiny, epochs=TINY_EPOCHS)
    losses = [unit() for _ in range(3)]
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-6)


@pytest.mark.parametrize("peer", PEER_NAMES[1:])
def test_every_peer_takes_torch_s_adam_steps_on_tiny(peer, tiny):
    # the workload's optimizer in every engine: full batch, float64, the
    # same initial weights, so Adam's steps agree with the NumPy reference's
    # (torch's algorithm). scikit-learn adds its epsilon to sqrt(v) before
    # the bias correction instead of after: the same steps up to that.
    import dataclasses

    _require(peer)
    workload = dataclasses.replace(tiny[0], optimizer="adam", learning_rate=0.01)
    reference = _peers.numpy_peer(workload, *tiny[1:], epochs=TINY_EPOCHS)
    unit = _peers.PEERS[peer](workload, *tiny[1:], epochs=TINY_EPOCHS)
    expected = [reference() for _ in range(2)]
    losses = [unit() for _ in range(2)]
    assert expected[1] < expected[0]  # Adam trains
    np.testing.assert_allclose(losses, expected, rtol=1e-4 if peer == "sklearn" else 1e-6)


def test_an_engine_in_its_own_process_gives_the_same_unit(tiny):
    workload, X, y = tiny
    here = _peers.numpy_peer(workload, X, y, epochs=TINY_EPOCHS)
    there = bench.EngineProcess(workload, X, TINY_EPOCHS, "numpy")
    try:
        assert there.ready and there.seconds is None
        assert [there() for _ in range(2)] == [here() for _ in range(2)]  # the same bits
        assert there.seconds > 0  # timed in the worker
    finally:
        there.close()


def test_initial_parameters_are_the_networks(tiny):
    workload = tiny[0]
    params = _peers.initial_parameters(workload, "float64")
    net = Network(**workload.network_kwargs(backend="numba"))
    assert len(params) == len(net.weights)
    for (W, b), W_net, b_net in zip(params, net.weights, net.biases):
        np.testing.assert_array_equal(W, W_net)
        np.testing.assert_array_equal(b, b_net)


def test_sgemm_peak_is_positive():
    assert _peers.sgemm_peak("float32", n=64, repeats=2) > 0


def test_fastbackprop_peer_trains_with_the_named_optimizer(tiny):
    workload, X, y = tiny
    unit = _peers.fastbackprop_peer(workload, X, y, epochs=TINY_EPOCHS, optimizer="adam")
    net = Network(**workload.network_kwargs(backend="numba"))
    history = net.fit(X, y, epochs=TINY_EPOCHS, batch_size=X.shape[0], optimizer="adam")
    assert net.optimizer.name == "adam"
    assert unit() == history.loss[-1]


def test_predict_latency_reports_every_round():
    latency = bench.predict_latency_us(None, n_calls=5, rounds=3)
    assert len(latency["rounds"]) == 3
    assert latency["best"] == min(latency["rounds"]) > 0
    assert latency["worst"] == max(latency["rounds"])


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--json", "no/such/dir/b.json"], "No such directory"),
        (["--json", ""], "must not be empty"),
        (["--json", "newdir/"], "Not a file path"),
        (["--json", "."], "Is a directory"),
        (["--workloads", "huge"], "huge"),
        (["--dask", "64,x"], "--dask takes comma-separated ints"),
        (["--dask", "0"], "--dask values must be at least 1"),
    ],
)
def test_bad_bench_options_stop_before_any_timing(argv, fragment, capsys):
    with pytest.raises(SystemExit) as stop:
        bench.parse_args(argv)
    assert stop.value.code == 2
    assert fragment in capsys.readouterr().err


def test_the_reliability_section_measures_both_thread_counts():
    from fastbackprop import _bench_reliability

    rows = _bench_reliability.predict_throughput(seconds=0.05, threads=(1, 2), rows=(1,))
    assert [(r["threads"], r["rows"]) for r in rows] == [(1, 1), (2, 1)]
    assert all(r["rows_per_s"] > 0 for r in rows)
    assert bench.parse_args(["--reliability"]).reliability is True
    assert "| 1 |" in _bench_reliability.format_report(rows, None)


def test_the_dask_option_reads_its_sync_every_values():
    assert bench.parse_args(["--dask", "64,256"]).dask == [64, 256]
    assert bench.parse_args(["--dask"]).dask == "default"
    assert bench.parse_args([]).dask is None


def test_cold_compile_refuses_an_unknown_configuration():
    # before any subprocess starts: the names are those the report prints
    with pytest.raises(ValueError, match="config must be one of tiny float64"):
        bench.cold_compile_seconds("tiny float16")
    with pytest.raises(ValueError, match="got 'nope'"):
        bench.cold_compile_seconds("tiny float64", after="nope")
