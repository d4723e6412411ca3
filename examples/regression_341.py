"""A 3-4-1 sigmoid network fitted with mean squared error.

The target lies in [0, 1], so the output unit is a sigmoid too
(``output="sigmoid"``), which keeps predictions in range.

    python examples/regression_341.py
"""

import numpy as np

from fastbackprop import Network
from fastbackprop.datasets import regression_341

X, y = regression_341(n_samples=64, seed=0)  # X (64, 3), y (64,) in [0, 1]

net = Network([3, 4, 1], activation="sigmoid", loss="mse", output="sigmoid", seed=0)
net.fit(X, y, epochs=5000, learning_rate=0.5, verbose=500)

print(f"MSE: {net.compute_loss(X, y):.6f}  R^2: {net.score(X, y):.4f}")
# A few predictions next to their targets.
for prediction, target in zip(net.predict(X[:5]), y[:5], strict=True):
    print(f"  predicted {prediction:.3f}  target {target:.3f}")
print(f"largest absolute error: {np.abs(net.predict(X) - y).max():.4f}")
