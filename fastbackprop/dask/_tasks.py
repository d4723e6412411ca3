"""The functions Dask runs as tasks: a rank's round, the averaging, and
the blockwise predictions and scores. Each is a plain function of its
inputs, so a task rerun after a worker's death gives the same bits."""

from __future__ import annotations

import numpy as np

from . import _inputs, _local_sgd


def round_task(previous, average, staged, pieces, classes):
    """One rank's round, as a Dask task: ``previous`` is the rank's model,
    or the result of its last round; ``average`` the last round's average
    (None before the first)."""
    model = previous[0] if isinstance(previous, tuple) else previous
    X, y = staged
    averaged = None if average is None else average[0]
    return _local_sgd.train_round(model, averaged, X, y, pieces, classes)


def average_task(*results):
    """The round's average of the ranks' results ``(model, loss, rows)``,
    and its ``(loss sum, rows)``. (Averaging the models directly, rather
    than a small task's copy of their parameters, saves a scheduler hop a
    round for one model transfer.)"""
    flat = [_local_sgd.parameters(model) for model, _, _ in results]
    rows = [n for _, _, n in results]
    average = _local_sgd.average(flat, rows)
    return average, sum(loss * n for _, loss, n in results), sum(rows)


def round_totals(average):
    """``(loss sum, rows)`` of a round, without its parameters."""
    return average[1], average[2]


def predict_block(block, model, method):
    """``model.method`` on one block (a task; ``model`` was scattered once).
    An empty block (a filtered partition) gives an empty result."""
    X = _inputs.as_numpy(block)
    if X.shape[0] == 0:
        one = getattr(model, method)(np.zeros((1, model.n_features_in_), dtype=X.dtype))
        return one[:0]
    return getattr(model, method)(X)


def score_block(x_block, y_block, model):
    """A block's share of the score (a task): ``(right, rows)`` for a
    classifier; ``(rows, mean, M2, squared residuals)`` per output for a
    regressor; None for an empty block."""
    X, y = _inputs.as_numpy(x_block), _inputs.as_numpy(y_block)
    if X.shape[0] == 0:
        return None
    predicted = model.predict(X)
    if getattr(model, "_is_classifier", False):
        if predicted.ndim == 1:
            right = predicted == (y[:, 0] if y.ndim == 2 else y)
        else:  # multilabel: every label of a row right
            right = (predicted == y).all(axis=1)
        return int(right.sum()), int(X.shape[0])
    y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(X.shape[0], -1)
    mean = y.mean(axis=0)
    return X.shape[0], mean, ((y - mean) ** 2).sum(axis=0), ((y - predicted) ** 2).sum(axis=0)
