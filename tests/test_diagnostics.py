"""gradient_stats against norms computed directly from Network.gradients."""

import math

import numpy as np
import pytest

from fastbackprop import Network
from fastbackprop.datasets import xor
from fastbackprop.diagnostics import gradient_stats


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_norms_of_net_gradients(dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, 3))
    y = rng.integers(0, 4, size=9)
    net = Network([3, 5, 6, 4], activation="tanh", seed=1, dtype=dtype, backend="numpy")
    stats = gradient_stats(net, X, y)

    grad_weights, _ = net.gradients(X, y)
    assert [row["layer"] for row in stats] == [0, 1, 2]
    for row, W, dW in zip(stats, net.weights, grad_weights, strict=True):
        expected_w = np.sqrt(np.sum(np.asarray(W, dtype=np.float64) ** 2))
        expected_g = np.sqrt(np.sum(np.asarray(dW, dtype=np.float64) ** 2))
        assert row["weight_norm"] == pytest.approx(expected_w, rel=1e-12)
        assert row["grad_norm"] == pytest.approx(expected_g, rel=1e-12)
        assert row["ratio"] == pytest.approx(expected_g / expected_w, rel=1e-12)
        assert row["grad_norm"] > 0  # a real gradient, not an empty buffer


def test_leaves_parameters_unchanged():
    X, y = xor()
    net = Network(
        [2, 4, 1], activation="sigmoid", loss="binary_cross_entropy", seed=0, backend="numpy"
    )
    before = net.get_training_state().parameters
    gradient_stats(net, X, y)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)


def test_zero_weights_give_inf_ratio_and_zero_over_zero_is_zero():
    X, _ = xor()
    y = [0, 1, 1, 1]  # unbalanced, so sum(p - y) != 0 below
    net = Network([2, 3, 1], activation="sigmoid", loss="binary_cross_entropy", backend="numpy")
    for array in net.weights + net.biases:  # live views of the parameters
        array[...] = 0.0
    stats = gradient_stats(net, X, y)
    # last layer: W is 0, hidden outputs are all 0.5, dW = 0.5 * mean(0.5 - y) != 0 -> inf
    assert stats[1]["weight_norm"] == 0.0 and stats[1]["grad_norm"] > 0
    assert math.isinf(stats[1]["ratio"])
    # first layer: with W2 = 0 no gradient flows back, 0 / 0 -> 0
    assert stats[0]["grad_norm"] == 0.0 and stats[0]["ratio"] == 0.0


def test_bad_data_raises_library_error():
    net = Network([2, 3, 1], loss="binary_cross_entropy", backend="numpy")
    with pytest.raises(ValueError, match="features"):
        gradient_stats(net, np.zeros((4, 3)), np.zeros(4))
