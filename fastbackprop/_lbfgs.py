"""scikit-learn's ``solver="lbfgs"``: SciPy's L-BFGS-B on a network's
full-batch loss and gradient, both from one compiled pass
(``Network.flat_objective``) per evaluation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize

from ._sklearn_rules import LossUnits


class LbfgsResult(NamedTuple):
    n_iter: int
    loss: float
    converged: bool
    message: str


def fit_lbfgs(
    network,
    X,
    targets,
    sample_weight,
    *,
    units: LossUnits,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    verbose: bool,
) -> LbfgsResult:
    """Minimise scikit-learn's objective over ``network``'s parameters, in
    place: the network's weighted mean loss in scikit-learn's units plus
    ``alpha / 2 * sum(W**2) / sum(w)`` over the weight matrices, with
    ``maxiter=max_iter``, ``maxfun=max_fun`` and ``gtol=tol`` as
    scikit-learn passes them. The parameters live in the network's dtype;
    SciPy works in float64 on them."""
    network_objective = network.flat_objective(X, targets, sample_weight)
    total_weight = float(len(X) if sample_weight is None else np.sum(sample_weight))
    mask = network.weight_mask()
    iteration = [0]

    def objective(theta):
        loss, gradient = network_objective(theta)
        value = units.loss * loss + units.offset
        # scikit-learn's gradient, which is its loss's but for several
        # squared-error outputs (it sums them where the loss averages)
        gradient /= units.gradient
        if alpha:
            # the penalty at the parameters as the network holds them
            weights = theta[mask].astype(network.dtype).astype(np.float64)
            value += 0.5 * alpha * float(weights @ weights) / total_weight
            gradient[mask] += alpha / total_weight * weights
        return value, gradient

    def report(intermediate_result):
        iteration[0] += 1
        if verbose:
            print(f"Iteration {iteration[0]}, loss = {intermediate_result.fun:.8f}")

    start = network.get_training_state().parameters.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        result = minimize(
            objective,
            start,
            method="L-BFGS-B",
            jac=True,
            callback=report,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        )
    network_objective(result.x)  # leave the network at the solution
    message = result.message if isinstance(result.message, str) else result.message.decode()
    return LbfgsResult(
        min(int(result.nit), max_iter), float(result.fun), result.status == 0, message
    )
