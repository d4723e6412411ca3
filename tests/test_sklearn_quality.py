"""Learning quality against scikit-learn's MLPs, on data sets that ship
with scikit-learn: the same settings, the same random splits, and the mean
held-out score within the noise of the paired differences."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn import datasets  # noqa: E402
from sklearn import neural_network as reference  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastbackprop import estimators as ours  # noqa: E402

SPLITS = 5


def _california():
    try:
        return datasets.fetch_california_housing(return_X_y=True, download_if_missing=False)
    except OSError:
        pytest.skip("California housing is not in scikit-learn's data home (no download here)")


CASES = {
    "digits": (lambda: datasets.load_digits(return_X_y=True), "MLPClassifier", {}),
    "breast-cancer": (
        lambda: datasets.load_breast_cancer(return_X_y=True),
        "MLPClassifier",
        {"hidden_layer_sizes": (32,), "solver": "lbfgs", "max_iter": 300},
    ),
    # issue 20's measurement: (32,) relu, Adam at 1e-3, batches of 32
    "diabetes": (
        lambda: datasets.load_diabetes(return_X_y=True),
        "MLPRegressor",
        {"hidden_layer_sizes": (32,), "batch_size": 32, "max_iter": 200},
    ),
    "california": (
        _california,
        "MLPRegressor",
        {"hidden_layer_sizes": (64,), "early_stopping": True, "max_iter": 50},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_held_out_scores_match_scikit_learns(case):
    load, name, params = CASES[case]
    X, y = load()
    if case == "california":
        X, y = X[:4000], y[:4000]  # enough rows to tell, in a few seconds
    scores = {"ours": [], "scikit-learn": []}
    for split in range(SPLITS):
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=split)
        for label, module in (("ours", ours), ("scikit-learn", reference)):
            model = make_pipeline(
                StandardScaler(), getattr(module, name)(random_state=split, **params)
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train, y_train)
            scores[label].append(model.score(X_test, y_test))
    difference = np.array(scores["ours"]) - np.array(scores["scikit-learn"])
    noise = 2 * difference.std(ddof=1) / np.sqrt(SPLITS)
    # within two standard errors of the paired differences, or 0.01
    assert abs(difference.mean()) <= max(noise, 0.01), scores
