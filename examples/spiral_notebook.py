"""The two-arm spiral from the notebook seed, with a report figure.

Trains a 2-16-8-1 tanh network on the spiral, prints per-layer gradient
statistics (are the gradients vanishing or exploding?), and saves a 2x2
PNG: the data, the decision boundary, the loss and the accuracy.

    python examples/spiral_notebook.py [report.png]
"""

import sys

from fastbackprop import Network
from fastbackprop.datasets import spiral
from fastbackprop.diagnostics import gradient_stats
from fastbackprop.plotting import training_report

path = sys.argv[1] if len(sys.argv) > 1 else "spiral_report.png"

X, y = spiral(n_samples=400, noise=0.3, seed=0)  # standardised (400, 2), labels 0/1
# LeCun init suits tanh: it keeps the pre-activations near unit variance.
net = Network([2, 16, 8, 1], activation="tanh", loss="binary_cross_entropy", init="lecun", seed=0)
history = net.fit(X, y, epochs=1000, learning_rate=0.5, verbose=100)
print(f"train accuracy: {net.score(X, y):.4f}")

print("layer  |W|       |dL/dW|    ratio")
for row in gradient_stats(net, X, y):
    print(
        f"{row['layer']:>5}  {row['weight_norm']:8.4f}  {row['grad_norm']:.3e}  {row['ratio']:.3e}"
    )

training_report(net, X, y, history, path)  # needs matplotlib: pip install fastbackprop[plot]
print("saved", path)
