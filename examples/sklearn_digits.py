"""fastbackprop's MLPClassifier in a scikit-learn pipeline, beside scikit-learn's own.

Both train the same network (64-128-64-10, relu, Adam at 0.001, batches of
200, 100 epochs, no L2 penalty, no early stop) on the 8x8 digits, in turn,
each timed as the best of three fits.

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

shared = {"hidden_layer_sizes": (128, 64), "batch_size": 200, "max_iter": 100, "random_state": 0}
models = {
    "fastbackprop": MLPClassifier(**shared, n_iter_no_change=None),
    # the same training: Adam at its default rate, no L2 term, every epoch run
    "scikit-learn": SklearnMLP(**shared, alpha=0.0, n_iter_no_change=10**9),
}
for name, model in models.items():
    pipe = make_pipeline(StandardScaler(), model)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(X_train, y_train)
        best = min(best, time.perf_counter() - start)
    accuracy = pipe.score(X_test, y_test)
    print(f"{name:>12}: fit {best * 1e3:7.1f} ms, test accuracy {accuracy:.4f}")

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
