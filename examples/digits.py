"""Handwritten digits (8x8 images, 10 classes) with minibatch SGD.

Needs scikit-learn for the data: ``pip install fastbackprop[datasets]``.
Reaches about 98% accuracy on a held-out 20% in a couple of seconds.

    python examples/digits.py
"""

import numpy as np

from fastbackprop import Network
from fastbackprop.datasets import load_digits

X, y = load_digits()  # X (1797, 64) in [0, 1], y (1797,) digits 0-9

# Hold out 20% for testing, chosen at random but reproducibly.
order = np.random.default_rng(0).permutation(len(y))
n_test = round(0.2 * len(y))
test, train = order[:n_test], order[n_test:]

net = Network([64, 128, 10], activation="relu", loss="cross_entropy", seed=0)
# Small batches give many cheap steps per epoch, which plain SGD needs here.
net.fit(X[train], y[train], epochs=60, batch_size=16, learning_rate=0.05, verbose=10)

print(f"test accuracy: {net.score(X[test], y[test]):.4f} on {n_test} images")
