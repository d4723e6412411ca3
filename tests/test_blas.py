"""The kernels' BLAS: the strided gemm against NumPy, the provider choice,
and the same training on MKL and on SciPy's BLAS."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import TOLERANCE

import fastbackprop
from fastbackprop import _blas_provider
from fastbackprop.kernels.blas import gemm, gemm_scaled

DTYPES = ["float64", "float32"]


def _block(rng, rows, cols, dtype, extra_cols):
    """A (rows, cols) column block of a wider row-major matrix."""
    wide = rng.standard_normal((rows, cols + extra_cols)).astype(dtype)
    return wide[:, 1 : cols + 1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("m, n, k", [(1, 7, 5), (6, 1, 9), (5, 8, 1), (33, 17, 70)])
def test_gemm_matches_numpy_on_strided_blocks(dtype, transpose_a, transpose_b, m, n, k):
    rng = np.random.default_rng(0)
    a = _block(rng, *((k, m) if transpose_a else (m, k)), dtype, 3)
    b = _block(rng, *((n, k) if transpose_b else (k, n)), dtype, 2)
    out_wide = np.full((m, n + 4), np.nan, dtype=dtype)
    out = out_wide[:, 2 : n + 2]
    gemm(out, a, b, transpose_a, transpose_b)
    expected = (a.T if transpose_a else a).astype(np.float64) @ (b.T if transpose_b else b)
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=atol)
    # the columns beside the block are untouched
    assert np.isnan(out_wide[:, :2]).all() and np.isnan(out_wide[:, n + 2 :]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_of_an_empty_sum_is_zero_and_empty_outputs_are_fine(dtype):
    out = np.full((3, 4), np.nan, dtype=dtype)
    gemm(out, np.empty((3, 0), dtype), np.empty((0, 4), dtype), False, False)
    assert (out == 0).all()
    empty = np.empty((0, 4), dtype)
    gemm(empty, np.empty((0, 5), dtype), np.ones((5, 4), dtype), False, False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transpose_a", [False, True])
def test_gemm_scaled_adds_to_a_scaled_output(dtype, transpose_a):
    # plain SGD's step inside the weight-gradient call: W <- -lr dW + (1 - lr wd) W
    rng = np.random.default_rng(1)
    m, n, k = 9, 6, 20
    a = _block(rng, *((k, m) if transpose_a else (m, k)), dtype, 3)
    b = _block(rng, k, n, dtype, 2)
    start = _block(rng, m, n, dtype, 4)
    out = start.copy()
    gemm_scaled(out, a, b, transpose_a, False, -0.25, 0.75)
    product = (a.T if transpose_a else a).astype(np.float64) @ b
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(out, -0.25 * product + 0.75 * start, rtol=rtol, atol=atol)
    # an empty sum leaves beta * out
    gemm_scaled(out, np.empty((m, 0), dtype), np.empty((0, n), dtype), False, False, 2.0, 0.5)
    np.testing.assert_allclose(out, 0.5 * (-0.25 * product + 0.75 * start), rtol=rtol, atol=atol)


def test_auto_is_mkl_when_installed_and_the_plan_or_the_cpu_says_so():
    # the plan measured on this machine, else MKL on an Intel CPU (_blas_plan)
    installed = _blas_provider._find_mkl() is not None
    expected = "mkl" if installed and _blas_provider._auto_choice() == "mkl" else "scipy"
    if os.environ.get("FASTBACKPROP_BLAS", "auto") not in ("", "auto"):
        pytest.skip("FASTBACKPROP_BLAS chooses the provider in this run")
    assert _blas_provider.provider() == expected
    assert fastbackprop.blas_provider() == expected


def _python(code, blas):
    env = dict(os.environ, FASTBACKPROP_BLAS=blas)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.slow
def test_an_unknown_provider_is_a_clear_error():
    # read when the kernels first load: here, with the first network
    result = _python("import fastbackprop; fastbackprop.Network([2, 3, 2])", "openblas")
    assert result.returncode != 0
    assert "FASTBACKPROP_BLAS must be one of auto, mkl, scipy, got 'openblas'" in result.stderr


@pytest.mark.slow
def test_asking_for_mkl_without_it_is_a_clear_error():
    if _blas_provider._find_mkl() is not None:
        pytest.skip("mkl is installed")
    result = _python("import fastbackprop; fastbackprop.Network([2, 3, 2])", "mkl")
    assert result.returncode != 0
    assert "the mkl package is not installed" in result.stderr


_MKL_STARTED_FIRST = """
import ctypes
from fastbackprop import _blas_provider
ctypes.CDLL(str(_blas_provider._find_mkl())).MKL_Get_Max_Threads()  # starts MKL, threaded
import fastbackprop
print(fastbackprop.blas_provider())
"""


@pytest.mark.slow
def test_mkl_started_with_threads_by_someone_else_is_not_used():
    if _blas_provider._find_mkl() is None:
        pytest.skip("mkl is not installed")
    auto = _python(_MKL_STARTED_FIRST, "auto")
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.split()[-1] == "scipy"
    forced = _python(_MKL_STARTED_FIRST, "mkl")
    assert forced.returncode != 0
    assert "MKL was already started with threads" in forced.stderr


_FIT = """
import json, numpy as np, fastbackprop
rng = np.random.default_rng(0)
X = rng.standard_normal((256, 12))
y = rng.integers(0, 3, 256)
net = fastbackprop.Network([12, 32, 16, 3], dtype="float64", seed=0)
net.fit(X, y, epochs=3, batch_size=64, optimizer="adam", learning_rate=1e-2)
print(json.dumps({"blas": fastbackprop.blas_provider(),
                  "params": net.get_training_state().parameters.tolist(),
                  "out": net.forward(X[:5]).tolist()}))
"""


@pytest.mark.slow
def test_both_providers_train_the_same_network():
    results = {}
    if _blas_provider._find_mkl() is None:
        pytest.skip("mkl is not installed: only scipy's BLAS to run")
    for blas in ("scipy", "mkl"):
        run = _python(_FIT, blas)
        assert run.returncode == 0, run.stderr
        results[blas] = json.loads(run.stdout.splitlines()[-1])
        assert results[blas]["blas"] == blas
    # float64, three epochs: only the products' rounding differs
    for key in ("params", "out"):
        np.testing.assert_allclose(
            results["mkl"][key], results["scipy"][key], rtol=1e-9, atol=1e-12
        )
