"""Numbers that tell whether training is healthy: per-layer gradient sizes."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["gradient_stats"]


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` without a ZeroDivisionError: a zero weight
    matrix with a non-zero gradient gives inf, and 0/0 gives 0 (nothing moves)."""
    if denominator > 0:
        return numerator / denominator
    return math.inf if numerator > 0 else 0.0


def gradient_stats(net, X, y) -> list[dict]:
    """Per-layer weight and gradient norms of ``net`` on ``(X, y)``.

    A ``ratio`` far below about 1e-3 means the layer barely learns (vanishing
    gradients); far above 1 (times the learning rate) means its steps are
    large compared with its weights (exploding gradients).

    Parameters
    ----------
    net : Network
        The network; it is not changed.
    X, y : array-like
        Data and targets, as accepted by ``net.gradients``.

    Returns
    -------
    list of dict
        One dict per layer, in order from the input, with keys ``layer``
        (0-based int), ``weight_norm`` and ``grad_norm`` (Frobenius norms of the
        weight matrix and of the gradient of the mean loss with respect to it)
        and ``ratio`` (``grad_norm / weight_norm``; inf when the weights are
        zero but the gradient is not, 0 when both are zero).

    Examples
    --------
    >>> from fastbackprop import Network
    >>> from fastbackprop.datasets import xor
    >>> X, y = xor()
    >>> net = Network([2, 4, 1], activation="sigmoid", loss="binary_cross_entropy", seed=0)
    >>> [row["layer"] for row in gradient_stats(net, X, y)]
    [0, 1]
    """
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbackprop.Network; got {type(net).__name__}")
    grad_weights, _ = net.gradients(X, y)
    stats = []
    for layer, (W, dW) in enumerate(zip(net.weights, grad_weights, strict=True)):
        # norms in float64 so a float32 network reports the same numbers
        weight_norm = float(np.linalg.norm(np.asarray(W, dtype=np.float64)))
        grad_norm = float(np.linalg.norm(np.asarray(dW, dtype=np.float64)))
        stats.append(
            {
                "layer": layer,
                "weight_norm": weight_norm,
                "grad_norm": grad_norm,
                "ratio": _ratio(grad_norm, weight_norm),
            }
        )
    return stats
