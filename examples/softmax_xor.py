"""XOR as a two-class softmax problem with a 2-4-2 relu network.

Same data as ``xor_sigmoid.py``, but two outputs and cross-entropy over a
softmax, the setup that generalises to many classes.

    python examples/softmax_xor.py
"""

from fastbackprop import Network
from fastbackprop.datasets import xor

X, y = xor()

net = Network([2, 4, 2], activation="relu", loss="cross_entropy", seed=0)
net.fit(X, y, epochs=1000, learning_rate=0.1, verbose=100)

print("class probabilities:")
print(net.predict_proba(X).round(3))
print("predictions:", net.predict(X).tolist(), "targets:", y.tolist())
