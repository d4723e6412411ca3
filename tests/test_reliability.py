"""Reliability you can measure (issue 22): saves killed with SIGKILL,
predicting while a fit runs, memory over many calls and while streaming a
large memmap, and no copy of input already in the network's format."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc

import numpy as np
import pytest

from fastbackprop import Network
from fastbackprop.optim import Adam

LINUX_PROC = os.path.exists("/proc/self/status")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


# ------------------------------------------------------------------ crashes
_SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from fastbackprop import Network
    path = sys.argv[1]
    nets = [Network([256, 512, 512, 10], seed=s) for s in (1, 2)]
    print("ready", flush=True)
    while True:  # alternate two models onto one path until killed
        for net in nets:
            net.save(path)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_save_killed_at_random_moments_leaves_a_whole_file(tmp_path):
    path = tmp_path / "model.npz"
    initial = Network([256, 512, 512, 10], seed=0)
    initial.save(path)
    models = {
        seed: Network([256, 512, 512, 10], seed=seed).get_training_state().parameters
        for seed in (0, 1, 2)
    }
    rng = np.random.default_rng(0)
    kills = 0
    for _ in range(25):
        saver = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert saver.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.4)))  # a save takes about 10-30 ms
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        kills += 1
        loaded = Network.load(path).get_training_state().parameters
        assert any(np.array_equal(loaded, params) for params in models.values())
    assert kills >= 20
    # a kill mid-write leaves its randomly named temporary file: most did
    torn = len(list(tmp_path.glob(".model.npz.*.tmp")))
    print(f"{kills} kills, {torn} in the middle of a write; every file whole")
    assert torn >= kills // 4
    # leftover temporary files (randomly named) do not disturb a later save
    initial.save(path)
    np.testing.assert_array_equal(Network.load(path).get_training_state().parameters, models[0])


# ------------------------------------------------------------------ threads
def test_predicting_while_a_fit_runs_is_well_formed_and_leaves_the_fit_alone():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4000, 20))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)

    def make():
        return Network([20, 64, 2], seed=0)

    quiet = make()
    quiet.fit(X, y, epochs=8, batch_size=32, optimizer=Adam(1e-3))
    busy = make()
    busy.predict_proba(X[:256])  # compiled before the fit: the readers read during it
    stop, seen, errors = threading.Event(), [], []

    def read():
        try:
            while not stop.is_set():
                proba = busy.predict_proba(X[:256])
                seen.append(proba)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        busy.fit(X, y, epochs=8, batch_size=32, optimizer=Adam(1e-3))
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert errors == []
    assert len(seen) > 10
    for proba in seen:
        assert proba.shape == (256, 2) and np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(
        busy.get_training_state().parameters, quiet.get_training_state().parameters
    )


# ------------------------------------------------------------------ memory
@pytest.mark.skipif(not LINUX_PROC, reason="needs /proc/self/status")
def test_a_hundred_fits_and_a_hundred_thousand_one_row_predicts_do_not_grow_memory():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 10))
    y = rng.integers(0, 3, 256)

    def one_fit(seed):
        net = Network([10, 32, 3], seed=seed, dropout=0.1)
        net.fit(X, y, epochs=3, batch_size=32, optimizer=Adam(0.01))
        return net

    for seed in range(5):
        net = one_fit(seed)
    for _ in range(2000):
        net.predict(X[:1])
    before = _status_kb("VmRSS")
    for seed in range(100):
        net = one_fit(seed)
    after_fits = _status_kb("VmRSS")
    row = X[:1].copy()
    for _ in range(100_000):
        net.predict(row)
    after_predicts = _status_kb("VmRSS")
    print(f"RSS growth: 100 fits {after_fits - before} kB, 100,000 predicts "
          f"{after_predicts - after_fits} kB")  # fmt: skip
    assert after_fits - before < 4 * 1024, f"100 fits grew RSS by {after_fits - before} kB"
    assert after_predicts - after_fits < 2 * 1024, (
        f"100,000 predicts grew RSS by {after_predicts - after_fits} kB"
    )


@pytest.mark.slow
@pytest.mark.skipif(not LINUX_PROC, reason="needs /proc/self/status")
def test_partial_fit_streams_a_2_gb_memmap_in_little_anonymous_memory():
    # the bench's own measurement (python -m fastbackprop.bench --reliability)
    from fastbackprop._bench_reliability import memmap_stream

    report = memmap_stream(gib=2.0, n_features=512)
    assert report["rows"] == (2 << 30) // (512 * 4) and np.isfinite(report["loss"])
    print(f"streaming 2 GiB: anonymous memory peak +{report['anon_growth_mb']:.1f} MB")
    assert report["anon_growth_mb"] < 300


def test_fit_makes_no_full_copy_of_ready_input():
    # float64 and C-contiguous: the network's own format, taken as it is
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 40))
    y = rng.integers(0, 2, 100_000)
    net = Network([40, 8, 2], seed=0)
    net.fit(X[:100], y[:100], epochs=1)  # compiled before measuring
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=1, batch_size=256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"fit on a {X.nbytes / 1e6:.0f} MB X allocated at most {peak / 1e6:.2f} MB")
    assert peak < X.nbytes / 4, f"fit allocated {peak} bytes for a {X.nbytes}-byte X"
