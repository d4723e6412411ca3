"""A soak test (issue 22): random configurations, trained one after another
for about ten minutes (``FASTBACKPROP_SOAK_SECONDS``), each checked for the
invariants: finite parameters (or a divergence that restored them),
save/load equality, and the same bits with 1 and 2 threads."""

import os
import time

import numpy as np
import pytest
from conftest import make_targets

from fastbackprop import Network, NonFiniteLossError, get_num_threads, set_num_threads
from fastbackprop._codes import ACTIVATION_CODES, LOSS_CODES
from fastbackprop.optim import OPTIMIZERS

SECONDS = float(os.environ.get("FASTBACKPROP_SOAK_SECONDS", "600"))


def random_configuration(rng) -> dict:
    n_hidden = int(rng.integers(0, 4))
    # one in four large enough (16,384 parameters or more, batches of 32 rows
    # or more) for the parallel step's update chunks, the others small
    widest = 200 if rng.integers(0, 4) == 0 else 64
    sizes = [int(rng.integers(1, widest))] + [int(rng.integers(1, widest)) for _ in range(n_hidden)]
    loss = str(rng.choice(list(LOSS_CODES)))
    n_out = int(rng.integers(2, 6)) if loss == "cross_entropy" else int(rng.integers(1, 4))
    return {
        "network": {
            "layer_sizes": sizes + [n_out],
            "activation": str(rng.choice(list(ACTIVATION_CODES))),
            "loss": loss,
            "dtype": str(rng.choice(["float64", "float32"])),
            "dropout": float(rng.choice([0.0, 0.0, 0.2])) if n_hidden else 0.0,
            "seed": int(rng.integers(0, 2**31)),
        },
        "rows": int(rng.integers(1, 300)),
        "fit": {
            "epochs": int(rng.integers(1, 4)),
            "batch_size": int(rng.integers(1, 80 if widest == 64 else 160)),
            "optimizer": str(rng.choice(list(OPTIMIZERS))),
            "learning_rate": float(10 ** rng.uniform(-4, 0)),
            "clip_norm": float(rng.choice([0.0, 1.0])) or None,
            "weight_penalty": float(rng.choice([0.0, 1e-3])),
            "shuffle": bool(rng.integers(0, 2)),
        },
    }


def train(config, data, threads):
    set_num_threads(threads)
    net = Network(**config["network"])
    try:
        net.fit(*data, **config["fit"])
        diverged = False
    except NonFiniteLossError:
        diverged = True
    return net, diverged


@pytest.mark.slow
def test_random_configurations_keep_every_invariant(tmp_path):
    rng = np.random.default_rng(int(os.environ.get("FASTBACKPROP_SOAK_SEED", "0")))
    threads_before = get_num_threads()
    most = min(2, threads_before)
    deadline = time.monotonic() + SECONDS
    done = diverged = chunked = 0
    try:
        while time.monotonic() < deadline:
            config = random_configuration(rng)
            n_in, n_out = config["network"]["layer_sizes"][0], config["network"]["layer_sizes"][-1]
            X = rng.standard_normal((config["rows"], n_in)) * float(rng.choice([0.1, 1.0, 10.0]))
            y = make_targets(config["network"]["loss"], config["rows"], n_out, rng)
            net, failed = train(config, (X, y), threads=1)
            params = net.get_training_state().parameters
            assert np.isfinite(params).all(), config
            other, failed_too = train(config, (X, y), threads=most)
            assert failed_too == failed, config
            np.testing.assert_array_equal(other.get_training_state().parameters, params)
            path = tmp_path / "soak.npz"
            net.save(path)
            loaded = Network.load(path)
            np.testing.assert_array_equal(loaded.get_training_state().parameters, params)
            np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
            done += 1
            diverged += failed
            batch = min(config["fit"]["batch_size"], config["rows"])
            chunked += net.count_parameters() >= 1 << 14 and batch >= 32
    finally:
        set_num_threads(threads_before)
    print(
        f"soak: {done} configurations in {SECONDS:.0f} s, {diverged} diverged and restored, "
        f"{chunked} large enough for the chunked parallel step"
    )
    assert done >= 10 and chunked >= 1
