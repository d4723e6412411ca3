"""The vectorisable exp/tanh/sigmoid/log1p approximations, against NumPy.

Stated accuracy: float64 relative error <= 1e-15 everywhere (sigmoid in
absolute terms below 1e-300, where it is clamped); float32 results within
1 ulp of NumPy's float32 functions.
"""

import platform
import re

import numpy as np
import pytest
from numba import njit

from fastbackprop.kernels import elementary as k_elem
from fastbackprop.reference import elementary as r_elem

GRID = np.concatenate(
    [np.linspace(-30, 30, 200_001), np.linspace(-1e-3, 1e-3, 2001), [-1e4, -800.0, 0.0, 800.0, 1e4]]
)


def vectorised(scalar):
    @njit
    def apply(out, x):
        for i in range(x.shape[0]):
            out[i] = scalar(x[i])

    return apply


@pytest.mark.parametrize("name", ["exp_nonpositive", "tanh_fast", "sigmoid_fast"])
def test_float64_relative_error_below_1e_15(name):
    x = -np.abs(GRID) if name == "exp_nonpositive" else GRID
    out = np.empty_like(x)
    vectorised(getattr(k_elem, name))(out, x)
    expected = getattr(r_elem, name)(x)
    tiny = np.abs(expected) < 1e-300  # clamped region: only absolute agreement
    rel = np.abs(out - expected)[~tiny] / np.abs(expected)[~tiny]
    assert rel.max() <= 1e-15
    assert np.abs(out - expected)[tiny].max(initial=0) < 1e-300
    assert np.isfinite(out).all()


@pytest.mark.parametrize(
    "name, numpy_f32",
    [
        ("tanh_fast", np.tanh),
        ("sigmoid_fast", lambda x: (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)),
    ],
)
def test_float32_within_one_ulp_of_numpy(name, numpy_f32):
    x = GRID[np.abs(GRID) < 80].astype(np.float32)
    out = np.empty_like(x)
    vectorised(getattr(k_elem, name))(out, x)
    expected = numpy_f32(x)
    ulps = np.abs(out - expected) / np.spacing(np.abs(expected).astype(np.float32))
    assert ulps.max() <= 1.0


def test_exp_scale_covers_the_normal_range():
    x = np.array([-708.0, -700.5, -1.0, 0.0])
    out = np.empty_like(x)
    vectorised(k_elem.exp_nonpositive)(out, x)
    np.testing.assert_allclose(out, np.exp(x), rtol=1e-15)
    assert out[-1] == 1.0


def test_log1p_unit_relative_error_below_1e_15_on_its_domain():
    # [0, 1]: binary cross-entropy's log(1 + e^-|z|); both sides of the
    # switch at sqrt(2) - 1 and the subnormal end
    x = np.concatenate(
        [
            np.linspace(0.0, 1.0, 200_001),
            np.geomspace(1e-310, 1e-3, 2001),
            np.nextafter(np.sqrt(2) - 1, [0.0, 1.0]),
        ]
    )
    out = np.empty_like(x)
    vectorised(k_elem.log1p_unit)(out, x)
    expected = r_elem.log1p_unit(x)
    positive = expected > 0
    assert (np.abs(out - expected)[positive] / expected[positive]).max() <= 1e-15
    assert (out[~positive] == 0).all()


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="reads x86 assembly"
)
def test_log1p_unit_vectorises():
    # the reason it exists: math.log1p is a libm call that stops the loss
    # loop from vectorising

    apply = njit(error_model="numpy")(vectorised(k_elem.log1p_unit).py_func)
    x = np.linspace(0, 1, 64)
    apply(np.empty_like(x), x)
    asm = apply.inspect_asm(apply.signatures[0])
    assert re.search(r"vdivpd|divpd", asm)
