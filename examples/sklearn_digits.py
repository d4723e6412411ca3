"""fastbackprop's MLPClassifier as a drop-in for scikit-learn's, on the 8x8 digits.

The same pipeline (StandardScaler, then the classifier with its default
settings and ``random_state=0``) with each library's ``MLPClassifier``, for
the default solver (Adam) and for ``solver="lbfgs"``, which scikit-learn
users often pick on small data. Each fit is timed as the best of three.

Needs scikit-learn: ``pip install "fastbackprop[sklearn]"``.

    python examples/sklearn_digits.py
"""

import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbackprop.estimators import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

for solver in ("adam", "lbfgs"):
    times = {}
    for name, estimator in (("scikit-learn", SklearnMLP), ("fastbackprop", MLPClassifier)):
        pipe = make_pipeline(StandardScaler(), estimator(solver=solver, random_state=0))
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                pipe.fit(X_train, y_train)
            best = min(best, time.perf_counter() - start)
        times[name] = best
        fitted = pipe[-1]
        print(
            f"{solver:>5} {name:>12}: fit {best * 1e3:7.1f} ms, {fitted.n_iter_:3d} iterations, "
            f"test accuracy {pipe.score(X_test, y_test):.4f}"
        )
    print(f"{solver:>5} speed-up: {times['scikit-learn'] / times['fastbackprop']:.2f}x")

# the estimator works in scikit-learn's model selection like any other
search = GridSearchCV(
    make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=50, random_state=0)),
    {"mlpclassifier__learning_rate_init": [1e-3, 1e-2]},
    cv=3,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)
print(f"grid search: best {search.best_params_}, test accuracy {search.score(X_test, y_test):.4f}")
