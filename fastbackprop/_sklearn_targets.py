"""What ``y`` becomes for the network in :mod:`fastbackprop.estimators`:
scikit-learn's label binarisation for the classifier (classes in the
labels' own words, one logistic output for two classes, softmax for more, a
multilabel indicator as it is), checked against the fitted classes when
training continues, and the ``class_weight`` extension's row weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from . import _validation as v
from ._data import balanced_class_weights


@dataclass
class Targets:
    """What ``y`` becomes for the network: its targets, loss and output, the
    classifier's ``classes_``, each row's class index (single-label only,
    for ``class_weight``) and what scikit-learn's validation split
    stratifies on (binary labels only, as scikit-learn)."""

    targets: np.ndarray
    n_outputs: int
    loss: str
    output: str
    out_activation: str
    classes: np.ndarray | None = None
    labels: np.ndarray | None = None
    stratify: np.ndarray | None = None


def encode_labels(est, y, continuing: bool, classes, incremental: bool) -> Targets:
    """scikit-learn's label binarisation: class indices and softmax for
    three or more classes, a 0/1 column and one logistic output for two
    (or one), the indicator itself for multilabel ``y``."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    kind = type_of_target(y)
    if kind == "multiclass-multioutput":
        raise ValueError(
            "MLPClassifier does not support multiclass-multioutput y (several columns of "
            "labels); give one column of labels or a 0/1 multilabel indicator"
        )
    multilabel = kind == "multilabel-indicator"
    known = _known_classes(est, y, multilabel, continuing, classes, incremental)
    if multilabel:
        if y.shape[1] != len(known):
            raise ValueError(
                f"y has {y.shape[1]} labels (columns) but the estimator has {len(known)}"
            )
        targets = np.asarray(y, dtype=np.float64)
        return Targets(targets, len(known), "binary_cross_entropy", "sigmoid", "logistic", known)
    index = np.searchsorted(known, y)
    index[index == len(known)] = 0  # out of range: caught just below
    unknown = known[index] != y
    if unknown.any():
        raise ValueError(
            f"`y` has classes not in `self.classes_`. `self.classes_` has {known}. "
            f"'y' has {unique_labels(y)}."
        )
    if len(known) <= 2:  # one logistic output, positive class classes_[1]
        positive = (index == 1).reshape(-1, 1)
        return Targets(
            positive.astype(np.float64),
            1,
            "binary_cross_entropy",
            "sigmoid",
            "logistic",
            known,
            labels=index.astype(np.int64),
            stratify=positive,
        )
    return Targets(
        index.astype(np.int64),
        len(known),
        "cross_entropy",
        "softmax",
        "softmax",
        known,
        labels=index.astype(np.int64),
    )


def _known_classes(est, y, multilabel, continuing, classes, incremental) -> np.ndarray:
    """``classes_`` for this call: new ones for a new fit (``classes`` on
    ``partial_fit``'s first call), else the fitted ones, checked against
    ``y`` as scikit-learn checks them."""
    given = None if classes is None else check_classes(classes)
    if not continuing:
        if multilabel:
            known = np.arange(y.shape[1])
            if given is not None and not np.array_equal(given, known):
                raise ValueError(
                    "for a multilabel indicator y, classes must be None or "
                    f"range({y.shape[1]}), one per column; got {given.tolist()}"
                )
            return known
        return np.unique(y) if given is None else given
    fitted_multilabel = est.out_activation_ == "logistic" and est.n_outputs_ > 1
    if multilabel != fitted_multilabel:
        fitted = "a multilabel indicator" if fitted_multilabel else "single labels"
        raise ValueError(
            f"y must be {fitted}, as when the estimator was first fitted; "
            "fit with warm_start=False to change that"
        )
    known = est.classes_
    if given is not None and not np.array_equal(given, known):
        raise ValueError(
            f"classes={given.tolist()} is not the same as the classes_ the estimator "
            f"was fitted with ({known.tolist()})"
        )
    if not incremental and not multilabel:
        present = unique_labels(y)
        if set(present.tolist()) != set(known.tolist()):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {known}, `y` has {present}"
            )
    return known


def check_classes(classes) -> np.ndarray:
    """``partial_fit``'s ``classes``: 1-D, non-empty, no NaN; sorted and unique."""
    given = np.asarray(classes)
    if given.ndim != 1 or given.size == 0:
        raise ValueError(f"classes must be a non-empty 1-D list of labels; got shape {given.shape}")
    if given.dtype.kind == "f" and np.isnan(given).any():
        raise ValueError("classes must not hold NaN")
    return np.unique(given)


def class_row_weights(est, sample_weight, encoding, incremental: bool):
    """``sample_weight`` times ``class_weight``'s weight of each row's
    class."""
    if est.class_weight is None:
        return sample_weight
    if encoding.labels is None:
        raise ValueError("class_weight needs single-label y, not a multilabel indicator")
    classes, labels = encoding.classes, encoding.labels
    if isinstance(est.class_weight, str):
        if est.class_weight != "balanced":
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict; got {est.class_weight!r}"
            )
        if incremental:
            # one block of a stream would weigh its classes unlike the next
            # (scikit-learn's SGDClassifier refuses it too)
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit; "
                "give a dict of weights computed over the whole data"
            )
        per_class = balanced_class_weights(labels, len(classes), sample_weight)
    elif isinstance(est.class_weight, dict):
        per_class = _dict_class_weights(est, classes)
    else:
        raise TypeError(
            "class_weight must be None, 'balanced' or a dict; "
            f"got {type(est.class_weight).__name__}"
        )
    weights = per_class[labels]
    if sample_weight is not None:  # checked by _sample_weight
        weights = weights * sample_weight
    if not weights.sum() > 0:
        raise ValueError("class_weight (times sample_weight) leaves every row with weight 0")
    return weights


def _dict_class_weights(est, classes) -> np.ndarray:
    """Each class's weight from the ``class_weight`` dict, by
    scikit-learn's rule: a class without a key weighs 1, and keys for
    labels ``y`` lacks are allowed when every class has a weight (a
    cross-validation fold may lack a class), refused otherwise (a key
    that matches nothing is then likely a mistake)."""
    position = {label: i for i, label in enumerate(classes.tolist())}
    per_class = np.ones(len(classes))
    weighted, strangers = set(), []
    for label, weight in est.class_weight.items():
        weight = v.check_non_negative_float(weight, f"class_weight[{label!r}]")
        key = label.item() if isinstance(label, np.generic) else label
        if key in position:
            per_class[position[key]] = weight
            weighted.add(position[key])
        else:
            strangers.append(label)
    if strangers and len(weighted) < len(classes):
        unweighted = [c for i, c in enumerate(classes.tolist()) if i not in weighted]
        raise ValueError(
            f"class_weight has keys {strangers!r} that are not classes of y, and the classes "
            f"{unweighted!r} have no weight; the classes are {classes.tolist()!r}"
        )
    return per_class
