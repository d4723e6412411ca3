"""Shapes and data shared by the pytest-benchmark files.

Every shape is one the tests check: ``PARITY_SHAPES`` and the layers of the
workloads in :mod:`fastbackprop.workloads`, at each workload's batch size.
"""

import inspect

import numpy as np

from fastbackprop import kernels, reference  # noqa: F401  (registers both packages)
from fastbackprop.kernels import activations as k_act
from fastbackprop.kernels import linear as k_lin
from fastbackprop.kernels import losses as k_loss
from fastbackprop.kernels import optim as k_opt
from fastbackprop.reference import activations as r_act
from fastbackprop.reference import linear as r_lin
from fastbackprop.reference import losses as r_loss
from fastbackprop.reference import optim as r_opt
from fastbackprop.workloads import PARITY_SHAPES, WORKLOADS

#: backend name -> the modules holding its kernels, same names in both
BACKENDS = {
    "numba": {"linear": k_lin, "activations": k_act, "losses": k_loss, "optim": k_opt},
    "numpy": {"linear": r_lin, "activations": r_act, "losses": r_loss, "optim": r_opt},
}

#: full-epoch benchmarks: workload -> samples (enough rows for several batches,
#: few enough that the NumPy reference runs in about a second)
EPOCH_SAMPLES = {
    "tiny": 400,
    "mnist": 1280,
    "wide": 512,
    "deep": 1280,
    "large": 1024,
    "mnist_adam": 1280,
}
#: tiny's whole fit is 1000 full-batch epochs; 50 keep the NumPy twin quick
TINY_EPOCHS = 50


def _layer_cases():
    """Unique ``(batch, n_in, n_out, dtype)`` over parity shapes and workloads."""
    cases = []
    for shape in PARITY_SHAPES:
        sizes = shape["layer_sizes"]
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            cases.append((shape["batch"], n_in, n_out, "float64"))
    for w in WORKLOADS.values():
        for n_in, n_out in zip(w.layer_sizes[:-1], w.layer_sizes[1:]):
            cases.append((w.batch_size, n_in, n_out, w.dtype))
    return sorted(set(cases))


LINEAR_CASES = _layer_cases()
#: (batch, width, dtype): each workload's hidden layers, with its activation
ACTIVATION_CASES = sorted(
    {
        (w.batch_size, n, w.dtype, w.activation)
        for w in WORKLOADS.values()
        for n in w.layer_sizes[1:-1]
    }
)
#: (batch, n_out, dtype, loss name in the LOSSES table)
LOSS_CASES = sorted(
    {(w.batch_size, w.layer_sizes[-1], w.dtype, w.loss) for w in WORKLOADS.values()}
)
#: (n_params, dtype) of each workload's flat parameter buffer
SGD_CASES = sorted(
    {
        (sum(a * b + b for a, b in zip(w.layer_sizes[:-1], w.layer_sizes[1:])), w.dtype)
        for w in WORKLOADS.values()
    }
)


def case_id(case) -> str:
    return "-".join(map(str, case))


def random(shape, dtype, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def bind(fn, values: dict) -> list:
    """Arguments for ``fn`` looked up by parameter name in ``values``.

    Kernels and their twins share names and signatures; binding by name keeps
    the benchmarks working when an argument is added or moved (a name the
    benchmark does not provide fails loudly with a KeyError naming it).
    """
    names = inspect.signature(getattr(fn, "py_func", fn)).parameters
    return [values[name] for name in names]
