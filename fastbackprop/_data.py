"""Training-data preparation that needs the network's targets or RNG:
class weights and stratified validation splits."""

from __future__ import annotations

import numpy as np

from . import _validation as v


def class_labels(Y: np.ndarray, loss: str) -> np.ndarray | None:
    """The class of each row of dense targets, or None for regression."""
    if loss == "cross_entropy":
        return Y.argmax(axis=1)
    if loss == "binary_cross_entropy" and Y.shape[1] == 1:
        return (Y[:, 0] > 0.5).astype(np.int64)
    return None


def balanced_class_weights(labels: np.ndarray, n_classes: int, sample_weight=None) -> np.ndarray:
    """scikit-learn's "balanced" weight of each class, ``n / (k * count)``
    over the ``k`` classes present (0 for an absent class). With
    ``sample_weight`` (n,), ``n`` and the counts are sums of weights, as in
    scikit-learn >= 1.6, so every class ends with the same total weight."""
    counts = np.bincount(labels, weights=sample_weight, minlength=n_classes).astype(np.float64)
    present = counts > 0
    per_class = np.zeros(n_classes)
    per_class[present] = counts.sum() / (present.sum() * counts[present])
    return per_class


def class_weight_per_row(class_weight, Y: np.ndarray, loss: str, sample_weight=None) -> np.ndarray:
    """Weights ``(n,)`` from ``"balanced"`` (scikit-learn's n / (k * count))
    or a ``{class: weight}`` dict."""
    labels = class_labels(Y, loss)
    if labels is None:
        raise ValueError(
            "class_weight needs single-label classification (cross_entropy, or "
            "binary_cross_entropy with one output)"
        )
    n_classes = Y.shape[1] if loss == "cross_entropy" else 2
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a dict; got {class_weight!r}")
        return balanced_class_weights(labels, n_classes, sample_weight)[labels]
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"class_weight must be 'balanced' or a dict; got {type(class_weight).__name__}"
        )
    per_class = np.ones(n_classes)
    for cls, weight in class_weight.items():
        # a bool key would silently stand for class 0 or 1
        if isinstance(cls, (bool, np.bool_)) or not isinstance(cls, (int, np.integer)):
            raise TypeError(f"class_weight keys must be int class indices; got {cls!r}")
        if not 0 <= cls < n_classes:
            raise ValueError(
                f"class_weight keys must be class indices in [0, {n_classes}); got {cls!r}"
            )
        per_class[int(cls)] = v.check_non_negative_float(weight, f"class_weight[{cls!r}]")
    return per_class[labels]


def validation_split_indices(Y: np.ndarray, loss: str, fraction: float, rng) -> tuple:
    """(train_rows, validation_rows): a random ``fraction`` held out, the same
    fraction of every class for classification."""
    return split_rows(class_labels(Y, loss), Y.shape[0], fraction, rng)


def split_rows(labels, n: int, fraction: float, rng, argument: str = "validation_split") -> tuple:
    """(train_rows, validation_rows) of ``range(n)``: the nearest whole
    number to ``fraction`` of each class's rows (of all rows when ``labels``
    is None), drawn from ``rng``, both sorted. ``argument`` names the
    fraction in the error when a side would be empty."""
    groups = (
        [np.arange(n)]
        if labels is None
        else [np.flatnonzero(labels == k) for k in np.unique(labels)]
    )
    held = []
    for rows in groups:
        take = int(round(fraction * len(rows)))
        held.append(rng.permutation(rows)[:take])
    validation = np.sort(np.concatenate(held))
    if validation.size == 0 or validation.size == n:
        raise ValueError(
            f"{argument}={fraction} leaves {validation.size} of {n} rows for validation; "
            "choose a fraction that leaves rows on both sides"
        )
    train = np.setdiff1d(np.arange(n), validation)
    return train, validation
