"""Central-difference gradient check."""

from __future__ import annotations

import numpy as np

from . import _validation as v


def check_gradients(net, X, y, eps=1e-5) -> float:
    """Largest relative error between ``net.gradients`` and central differences.

    The differences are taken in float64 on a NumPy-backend copy of ``net``.
    For each parameter array the error is
    ``||g - g_fd|| / max(||g|| + ||g_fd||, 1e-12)``; the maximum over arrays
    is returned. Costs two loss evaluations per parameter: meant for small
    networks.

    Parameters
    ----------
    net : Network
    X, y : array-like
        Data and targets, as for :meth:`Network.gradients`.
    eps : float, default 1e-5
        Step of the central difference.

    Returns
    -------
    float
    """
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbackprop.Network; got {type(net).__name__}")
    eps = v.check_positive_float(eps, "eps")
    grad_w, grad_b = net.gradients(X, y)
    twin = Network(
        net.layer_sizes,
        activation=list(net.activations),
        output=net.output,
        loss=net.loss,
        dtype="float64",
        backend="numpy",
    )
    # through the live views: the twin is float64 whatever net's dtype
    for mine, theirs in zip(twin.weights + twin.biases, net.weights + net.biases, strict=True):
        mine[...] = theirs
    analytic = [np.asarray(g, dtype=np.float64) for g in grad_w + grad_b]
    views = twin.weights + twin.biases
    worst = 0.0
    for g, view in zip(analytic, views):
        numeric = np.empty_like(g)
        flat_view = view.reshape(-1)
        for k in range(flat_view.size):
            saved = flat_view[k]
            flat_view[k] = saved + eps
            up = twin.compute_loss(X, y)
            flat_view[k] = saved - eps
            down = twin.compute_loss(X, y)
            flat_view[k] = saved
            numeric.reshape(-1)[k] = (up - down) / (2 * eps)
        error = np.linalg.norm(g - numeric) / max(
            np.linalg.norm(g) + np.linalg.norm(numeric), 1e-12
        )
        worst = max(worst, float(error))
    return worst
