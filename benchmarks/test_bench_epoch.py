"""pytest-benchmark: one training epoch (the whole fit for ``tiny``) through
the public ``Network`` API, Numba against the NumPy reference.

Workloads run at reduced sample counts (``_cases.EPOCH_SAMPLES``) so each
benchmark takes seconds; ``fastbackprop.bench`` runs the full sizes.
"""

import numpy as np
import pytest

from fastbackprop import Network
from fastbackprop.workloads import WORKLOADS, make_data

from ._cases import EPOCH_SAMPLES, TINY_EPOCHS


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_epoch(benchmark, name, backend):
    workload = WORKLOADS[name]
    X, y = make_data(workload, n_samples=EPOCH_SAMPLES[name])
    net = Network(**workload.network_kwargs(backend=backend))
    fit_args = {
        "epochs": TINY_EPOCHS if name == "tiny" else workload.epochs,
        "batch_size": min(workload.batch_size, X.shape[0]),
        **workload.fit_kwargs(),
    }
    net.fit(X[: 2 * workload.batch_size], y[: 2 * workload.batch_size], epochs=1)  # compile
    benchmark.group = f"epoch {name} {X.shape[0]}x{fit_args['epochs']} {workload.dtype}"
    history = benchmark.pedantic(net.fit, args=(X, y), kwargs=fit_args, rounds=3, iterations=1)
    assert np.isfinite(history.loss).all()
