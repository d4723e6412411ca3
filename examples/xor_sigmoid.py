"""XOR with a 2-4-1 sigmoid network: the first seed of this project.

A single sigmoid output with binary cross-entropy; XOR is the smallest
problem no linear model can solve, so the hidden layer has to earn its keep.

    python examples/xor_sigmoid.py
"""

from fastbackprop import Network
from fastbackprop.datasets import xor

X, y = xor()  # (4, 2) inputs, labels [0, 1, 1, 0]

net = Network([2, 4, 1], activation="sigmoid", loss="binary_cross_entropy", seed=0)
# Four rows, so every step is full batch; sigmoid units learn slowly, hence many epochs.
net.fit(X, y, epochs=10000, learning_rate=0.5, verbose=1000)

print("P(y=1):", net.predict_proba(X)[:, 0].round(3).tolist())
print("predictions:", net.predict(X).tolist(), "targets:", y.tolist())
