import numpy as np
import pytest

from fastbackprop._codes import ACTIVATION_CODES, LOSS_CODES

ACTIVATIONS = list(ACTIVATION_CODES)
LOSSES = list(LOSS_CODES)
#: (rtol, atol) for Numba-vs-NumPy agreement in each dtype
TOLERANCE = {"float64": (1e-10, 1e-12), "float32": (1e-4, 1e-5)}


def make_targets(loss, n, n_out, rng):
    """Targets a network with ``loss`` and ``n_out`` outputs accepts."""
    if loss == "cross_entropy":
        return rng.integers(0, n_out, n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n, n_out)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, (n, n_out)).astype(float)
    return rng.standard_normal((n, n_out))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def assert_same_arrays(state, other):
    """Two training states (``Network.get_training_state``) hold the same
    parameters, optimizer state and step counters, bit for bit."""
    np.testing.assert_array_equal(state.parameters, other.parameters)
    np.testing.assert_array_equal(state.optimizer_state, other.optimizer_state)
    np.testing.assert_array_equal(state.counters, other.counters)
