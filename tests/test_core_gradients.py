"""Gradients you can trust: central differences for every activation x
loss, and a network small enough to work out by hand."""

import math

import numpy as np
import pytest
from conftest import ACTIVATIONS, LOSSES, make_targets

from fastbackprop import Network, check_gradients


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_central_differences(activation, loss, backend, rng):
    net = Network([3, 5, 4, 2], activation=activation, loss=loss, seed=11, backend=backend)
    X = rng.standard_normal((7, 3))
    y = make_targets(loss, 7, 2, rng)
    assert check_gradients(net, X, y) < 1e-6


def test_gradients_with_sigmoid_output_and_probability_targets(rng):
    net = Network([3, 4, 1], activation="sigmoid", loss="mse", output="sigmoid", seed=2)
    assert check_gradients(net, rng.uniform(size=(6, 3)), rng.uniform(size=6)) < 1e-6
    net = Network([3, 4, 3], activation="tanh", loss="cross_entropy", seed=2)
    probs = rng.dirichlet(np.ones(3), size=6)
    assert check_gradients(net, rng.standard_normal((6, 3)), probs) < 1e-6


def test_float32_gradients_are_close_to_float64_differences(rng):
    net = Network([3, 5, 2], activation="tanh", loss="cross_entropy", dtype="float32", seed=4)
    X = rng.standard_normal((8, 3))
    assert check_gradients(net, X, rng.integers(0, 2, 8)) < 1e-4


def test_check_gradients_detects_a_wrong_gradient(rng, monkeypatch):
    net = Network([3, 4, 2], activation="tanh", seed=0, backend="numpy")
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    real = Network.gradients

    def doubled(self, X, y):
        gw, gb = real(self, X, y)
        return [2 * g for g in gw], gb

    monkeypatch.setattr(Network, "gradients", doubled)
    assert check_gradients(net, X, y) > 0.1


def _hand_network(backend):
    net = Network([2, 2, 1], activation="relu", loss="mse", backend=backend)
    net.weights[0][...] = [[1.0, -1.0], [0.5, 1.0]]
    net.biases[0][...] = [0.0, 0.5]
    net.weights[1][...] = [[1.0], [2.0]]
    net.biases[1][...] = [0.25]
    return net


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_hand_worked_mse_network(backend):
    # z1 = [1*1 + 2*0.5, 1*-1 + 2*1 + 0.5] = [2, 1.5]; relu keeps both
    # z2 = 2*1 + 1.5*2 + 0.25 = 5.25; target 5: loss = 0.25^2 = 0.0625
    # dL/dz2 = 2 * 0.25 = 0.5; dW2 = a1^T 0.5 = [[1], [0.75]]; db2 = [0.5]
    # dL/da1 = 0.5 * W2^T = [0.5, 1]; dW1 = x^T [0.5, 1]; db1 = [0.5, 1]
    net = _hand_network(backend)
    X, y = [[1.0, 2.0]], [5.0]
    assert net.forward(X)[0, 0] == pytest.approx(5.25)
    assert net.compute_loss(X, y) == pytest.approx(0.0625)
    (dW1, dW2), (db1, db2) = net.gradients(X, y)
    np.testing.assert_allclose(dW2, [[1.0], [0.75]])
    np.testing.assert_allclose(db2, [0.5])
    np.testing.assert_allclose(dW1, [[0.5, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(db1, [0.5, 1.0])
    assert net.train_step(X, y, 0.1) == pytest.approx(0.0625)
    np.testing.assert_allclose(net.weights[1], [[0.9], [1.925]])
    np.testing.assert_allclose(net.weights[0], [[0.95, -1.1], [0.4, 0.8]])
    np.testing.assert_allclose(net.biases[0], [-0.05, 0.4])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_hand_worked_softmax_cross_entropy(backend):
    # logits [0, ln 3] -> softmax [1/4, 3/4]; label 1: loss = -ln(3/4)
    # dL/dz = softmax - onehot = [1/4, -1/4]; dW = x^T dz with x = [1]
    net = Network([1, 2], loss="cross_entropy", backend=backend)
    net.weights[0][...] = [[0.0, math.log(3.0)]]
    np.testing.assert_allclose(net.forward([[1.0]]), [[0.25, 0.75]])
    assert net.compute_loss([[1.0]], [1]) == pytest.approx(-math.log(0.75))
    (dW,), (db,) = net.gradients([[1.0]], [1])
    np.testing.assert_allclose(dW, [[0.25, -0.25]])
    np.testing.assert_allclose(db, [0.25, -0.25])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_hand_worked_binary_cross_entropy(backend):
    # one logit z = 2 with target 0: loss = log(1 + e^2); dL/dz = sigmoid(2)
    net = Network([1, 1], loss="binary_cross_entropy", backend=backend)
    net.weights[0][...] = [[2.0]]
    assert net.compute_loss([[1.0]], [0]) == pytest.approx(math.log1p(math.exp(2.0)))
    (dW,), _ = net.gradients([[1.0]], [0])
    assert dW[0, 0] == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_gradients_leave_parameters_unchanged(rng):
    net = Network([3, 4, 2], seed=1)
    before = net.get_training_state().parameters
    net.gradients(rng.standard_normal((5, 3)), rng.integers(0, 2, 5))
    np.testing.assert_array_equal(net.get_training_state().parameters, before)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_flat_objective_is_the_loss_and_gradient_at_the_given_parameters(backend, rng):
    X = rng.standard_normal((30, 3))
    y = rng.integers(0, 2, 30)
    w = rng.uniform(0.5, 2.0, 30)
    net = Network([3, 5, 2], activation="tanh", seed=1, backend=backend)
    objective = net.flat_objective(X, y, sample_weight=w)
    theta = net.get_training_state().parameters + 0.1
    loss, gradient = objective(theta)
    # the network now holds theta: its own loss and gradients agree
    np.testing.assert_array_equal(net.get_training_state().parameters, theta)
    assert loss == pytest.approx(net.compute_loss(X, y, sample_weight=w), rel=1e-12)
    gw, gb = net.gradients(X, y, sample_weight=w)
    expected = np.concatenate([a.ravel() for pair in zip(gw, gb) for a in pair])
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-15)
    assert gradient.dtype == np.float64
    with pytest.raises(ValueError, match="theta must have shape"):
        objective(theta[:-1])
    mask = net.weight_mask()
    assert mask.sum() == 3 * 5 + 5 * 2 and (~mask).sum() == 5 + 2
    flat = np.arange(mask.size, dtype=float)
    objective(flat)  # the parameters are now 0, 1, 2, ...
    np.testing.assert_array_equal(flat[mask], np.concatenate([w.ravel() for w in net.weights]))
