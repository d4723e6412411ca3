"""The four seed write-ups converge with fastbackprop."""

import numpy as np
import pytest

from fastbackprop import Network
from fastbackprop.workloads import WORKLOADS, make_data

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_softmax_xor_2_4_2_relu(backend):
    net = Network([2, 4, 2], activation="relu", loss="cross_entropy", seed=0, backend=backend)
    history = net.fit(XOR_X, XOR_Y, epochs=1000, learning_rate=0.1)
    assert net.predict(XOR_X).tolist() == [0, 1, 1, 0]
    assert history.loss[-1] < 0.05 < history.loss[0]


def test_sigmoid_xor_2_4_1():
    net = Network([2, 4, 1], activation="sigmoid", loss="binary_cross_entropy", seed=0)
    history = net.fit(XOR_X, XOR_Y, epochs=5000, learning_rate=1.0)
    assert net.predict(XOR_X).tolist() == [0, 1, 1, 0]
    assert history.accuracy[-1] == 1.0
    assert net.compute_loss(XOR_X, XOR_Y) < 0.01


def test_sigmoid_regression_3_4_1():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(64, 3))
    y = 0.2 + 0.3 * (X[:, 0] * X[:, 1] + X[:, 2])
    net = Network([3, 4, 1], activation="sigmoid", loss="mse", output="sigmoid", seed=0)
    start = net.compute_loss(X, y)
    history = net.fit(X, y, epochs=3000, learning_rate=2.0)
    assert history.accuracy is None  # regression has no accuracy
    assert net.compute_loss(X, y) < start / 50
    assert net.score(X, y) > 0.9
    assert net.predict(X).shape == (64,)


def test_notebook_spiral_reaches_99_percent(capsys):
    work = WORKLOADS["tiny"]
    X, y = make_data(work)
    net = Network(**work.network_kwargs())
    history = net.fit(X, y, epochs=1000, learning_rate=0.5, verbose=100)
    assert history.accuracy[-1] >= 0.99
    assert net.score(X, y) >= 0.99
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("Epoch 100/1000 - Loss: ")
    assert lines[-1].startswith("Epoch 1000/1000 - Loss: ")
    assert lines[-1].endswith(f"Accuracy: {history.accuracy[-1]:.4f}")
