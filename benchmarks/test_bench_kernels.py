"""pytest-benchmark: each Numba kernel against its NumPy twin.

Run with ``pytest benchmarks/ --benchmark-only``. One group per kernel and
shape, holding a ``numba`` and a ``numpy`` entry, so ``--benchmark-group-by``
defaults show the pair side by side.
"""

import numpy as np
import pytest

from fastbackprop._codes import IDENTITY

from ._cases import (
    ACTIVATION_CASES,
    BACKENDS,
    LINEAR_CASES,
    LOSS_CASES,
    SGD_CASES,
    bind,
    case_id,
    random,
)

BACKEND_NAMES = list(BACKENDS)


def _run(benchmark, group, fn, values):
    """Warm (compiles the Numba kernel outside the timing), then time ``fn``."""
    benchmark.group = group
    args = bind(fn, values)
    fn(*args)
    benchmark(fn, *args)


def _linear_values(case):
    batch, n_in, n_out, dtype = case
    return {
        "out": np.empty((batch, n_out), dtype),
        "inp": random((batch, n_in), dtype, 1),
        "W": random((n_in, n_out), dtype, 2),
        "b": random(n_out, dtype, 3),
        "dinp": np.empty((batch, n_in), dtype),
        "dW": np.empty((n_in, n_out), dtype),
        "db": np.empty(n_out, dtype),
        "dout": random((batch, n_out), dtype, 4),
        "compute_dinp": True,
    }


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("case", LINEAR_CASES, ids=case_id)
def test_linear_forward(benchmark, case, backend):
    values = _linear_values(case)
    _run(
        benchmark,
        f"linear_forward {case_id(case)}",
        BACKENDS[backend]["linear"].linear_forward,
        values,
    )
    assert np.isfinite(values["out"]).all()


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("case", LINEAR_CASES, ids=case_id)
def test_linear_backward(benchmark, case, backend):
    values = _linear_values(case)
    _run(
        benchmark,
        f"linear_backward {case_id(case)}",
        BACKENDS[backend]["linear"].linear_backward,
        values,
    )
    assert np.isfinite(values["dW"]).all() and np.isfinite(values["dinp"]).all()


def _activation_values(case):
    batch, width, dtype, _ = case
    inp = random((batch, width), dtype, 1, scale=3.0)
    return {
        "inp": inp,
        "out": np.tanh(inp) if case[3] == "tanh" else np.maximum(inp, 0),
        "dout": random((batch, width), dtype, 2),
        "dinp": np.empty_like(inp),
    }


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=case_id)
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_activation(benchmark, direction, case, backend):
    name = case[3]
    module = BACKENDS[backend]["activations"]
    fn = getattr(module, f"{name}_{direction}")
    values = _activation_values(case)
    if direction == "forward":
        values["out"] = np.empty_like(values["inp"])
    _run(benchmark, f"{name}_{direction} {case_id(case[:3])}", fn, values)
    written = values["out" if direction == "forward" else "dinp"]
    assert np.isfinite(written).all()


def _loss_values(case):
    batch, n_out, dtype, loss = case
    logits = random((batch, n_out), dtype, 1, scale=4.0)
    rng = np.random.default_rng(2)
    if loss == "cross_entropy":
        targets = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, batch)]
    else:
        targets = rng.integers(0, 2, (batch, n_out)).astype(dtype)
    per_row = 1 if loss == "cross_entropy" else n_out
    return {
        "logits": logits,
        "targets": targets,
        "out": np.empty_like(logits),
        "row_loss": np.empty(batch, dtype),
        "dlogits": np.empty_like(logits),
        # each row's share of the mean loss, no sample weights
        "row_scale": np.full(batch, 1.0 / (batch * per_row), dtype),
        "output_code": IDENTITY,
    }


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("case", LOSS_CASES, ids=case_id)
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_loss(benchmark, direction, case, backend):
    forward, backward = BACKENDS[backend]["losses"].LOSSES[case[3]]
    values = _loss_values(case)
    if direction == "backward":
        forward(*bind(forward, values))  # backward reads the output activations
    fn = forward if direction == "forward" else backward
    _run(benchmark, f"{fn.__name__} {case_id(case[:3])}", fn, values)
    written = values["row_loss" if direction == "forward" else "dlogits"]
    assert np.isfinite(written).all()


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("case", SGD_CASES, ids=case_id)
def test_sgd_update(benchmark, case, backend):
    n_params, dtype = case
    values = {
        "params": random(n_params, dtype, 1),
        # tiny steps: thousands of timed rounds must not push params to inf
        "grads": random(n_params, dtype, 2, scale=1e-6),
        "learning_rate": np.dtype(dtype).type(0.01),
    }
    _run(benchmark, f"sgd_update {case_id(case)}", BACKENDS[backend]["optim"].sgd_update, values)
    assert np.isfinite(values["params"]).all()
