"""The estimators against scikit-learn's own ``MLPClassifier`` and
``MLPRegressor``, run side by side with the same parameters.

With an int ``random_state`` both start from the same weights (scikit-
learn's Glorot draw), and without shuffling both visit the same batches, so
their steps must agree to rounding: this checks the loss units, ``alpha``,
SGD's momentum and Nesterov, Adam, the ``invscaling`` and ``adaptive``
rates, the stopping rules, the validation split and lbfgs. Where the two
differ by design (torch's Adam puts epsilon after the bias correction), the
tolerance says so."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn import neural_network as reference  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastbackprop import estimators as ours  # noqa: E402


def _data(n=60, n_features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    score = X @ rng.standard_normal((n_features, 3))
    return X, score


def _both(name, X, y, sample_weight=None, **params):
    """Our estimator and scikit-learn's, each fitted on the same data."""
    fitted = []
    for module in (ours, reference):
        model = getattr(module, name)(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y, sample_weight=sample_weight)
        fitted.append(model)
    return fitted


def _assert_same_model(mine, theirs, rtol, atol=None):
    assert mine.n_iter_ == theirs.n_iter_
    assert mine.n_layers_ == theirs.n_layers_ and mine.n_outputs_ == theirs.n_outputs_
    assert mine.out_activation_ == theirs.out_activation_
    for a, b in zip(mine.coefs_ + mine.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3 if atol is None else atol)


# every case runs full batches or batches without shuffling: the same steps.
# The last number is the loss curve's tolerance: with several squared-error
# outputs, the part of the alpha penalty the loss units do not carry over is
# added at the epoch's starting weights (scikit-learn: each batch's)
SGD_CASES = {
    "binary-nesterov-alpha": (
        "MLPClassifier",
        "binary",
        dict(activation="tanh", momentum=0.9, alpha=1e-2, batch_size=60),
        1e-9,
    ),
    "multiclass-momentum-minibatch": (
        "MLPClassifier",
        "multiclass",
        dict(momentum=0.5, nesterovs_momentum=False, alpha=1e-3, batch_size=16),
        1e-9,
    ),
    # the rate changes every epoch: the momentum buffer is rescaled with it
    "regression-invscaling-momentum-alpha": (
        "MLPRegressor",
        "regression1",
        dict(momentum=0.9, learning_rate="invscaling", alpha=1.0, batch_size=10),
        1e-9,
    ),
    "regression-adaptive-nesterov": (
        "MLPRegressor",
        "regression1",
        dict(momentum=0.9, learning_rate="adaptive", n_iter_no_change=2, tol=1e-2, batch_size=10),
        1e-9,
    ),
    "multilabel-logistic-invscaling": (
        "MLPClassifier",
        "multilabel",
        dict(activation="logistic", momentum=0.0, learning_rate="invscaling", power_t=0.3),
        1e-9,
    ),
    "regression-one-output-weighted": (
        "MLPRegressor",
        "regression1",
        dict(momentum=0.9, alpha=1e-2, batch_size=20, sample_weight=True),
        1e-9,
    ),
    "poisson-counts": (
        "MLPRegressor",
        "counts",
        dict(loss="poisson", momentum=0.9, alpha=1e-3, learning_rate_init=0.01, batch_size=60),
        1e-9,
    ),
    "regression-two-outputs-adaptive": (
        "MLPRegressor",
        "regression2",
        dict(momentum=0.0, learning_rate="adaptive", n_iter_no_change=2, tol=1e-2),
        1e-9,
    ),
}


def _targets(kind, score):
    if kind == "binary":
        return np.where(score[:, 0] > 0, "yes", "no")
    if kind == "multiclass":
        return score.argmax(axis=1)
    if kind == "multilabel":
        return (score > 0).astype(int)
    if kind == "regression1":
        return score[:, 0]
    if kind == "counts":
        return np.random.default_rng(5).poisson(np.exp(0.3 * score[:, 0]))
    return score[:, :2]


@pytest.mark.parametrize("case", list(SGD_CASES))
def test_sgd_takes_scikit_learns_steps(case):
    name, kind, params, loss_rtol = SGD_CASES[case]
    params = dict(params)
    X, score = _data()
    y = _targets(kind, score)
    weights = np.linspace(0.5, 1.5, len(X)) if params.pop("sample_weight", False) else None
    params = dict(
        dict(hidden_layer_sizes=(7,), solver="sgd", max_iter=25),
        learning_rate_init=params.pop("learning_rate_init", 0.05),
        shuffle=False,
        random_state=3,
        **params,
    )
    mine, theirs = _both(name, X, y, sample_weight=weights, **params)
    _assert_same_model(mine, theirs, rtol=1e-9)
    np.testing.assert_allclose(mine.loss_curve_, theirs.loss_curve_, rtol=loss_rtol)
    assert mine.t_ == theirs.t_
    assert mine.best_loss_ == pytest.approx(theirs.best_loss_, rel=loss_rtol)
    if name == "MLPClassifier":
        np.testing.assert_array_equal(mine.predict(X), theirs.predict(X))
    else:
        np.testing.assert_allclose(mine.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-12)


def test_adam_takes_scikit_learns_steps():
    # scikit-learn's Adam adds epsilon before the bias correction (torch's
    # after it: a ReLU unit that rarely fires then drifts apart by 6e-4 here)
    X, score = _data()
    mine, theirs = _both(
        "MLPClassifier",
        X,
        score.argmax(axis=1),
        hidden_layer_sizes=(7, 5),
        alpha=1e-3,
        batch_size=20,
        shuffle=False,
        max_iter=30,
        random_state=1,
    )
    _assert_same_model(mine, theirs, rtol=1e-9)
    np.testing.assert_allclose(mine.loss_curve_, theirs.loss_curve_, rtol=1e-4)


def test_early_stopping_holds_out_scikit_learns_rows_and_scores_them_alike():
    X, score = _data(n=100)
    y = np.where(score[:, 0] > 0, 1, 0)
    mine, theirs = _both(
        "MLPClassifier",
        X,
        y,
        hidden_layer_sizes=(6,),
        solver="sgd",
        learning_rate_init=0.1,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=4,
        shuffle=False,
        max_iter=200,
        random_state=0,
    )
    np.testing.assert_allclose(mine.validation_scores_, theirs.validation_scores_, rtol=1e-12)
    assert mine.best_validation_score_ == theirs.best_validation_score_
    _assert_same_model(mine, theirs, rtol=1e-9)
    assert mine.best_loss_ is None and theirs.best_loss_ is None


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor", "three-outputs", "poisson"])
def test_lbfgs_iterates_as_scikit_learns(name):
    # three outputs: scikit-learn's gradient sums them where its loss
    # averages them, and lbfgs follows that gradient here too
    X, score = _data()
    y = {"MLPClassifier": score.argmax(axis=1), "MLPRegressor": score[:, 0]}.get(name)
    extra = {}
    if name == "three-outputs":
        name, y = "MLPRegressor", score
    if name == "poisson":
        name, y, extra = "MLPRegressor", _targets("counts", score), {"loss": "poisson"}
    mine, theirs = _both(
        name,
        X,
        y,
        hidden_layer_sizes=(6,),
        solver="lbfgs",
        alpha=1e-2,
        max_iter=8,
        random_state=2,
        **extra,
    )
    _assert_same_model(mine, theirs, rtol=1e-7)
    assert mine.loss_ == pytest.approx(theirs.loss_, rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_input_dtype_is_the_models_as_in_scikit_learn(dtype):
    X, score = _data()
    mine, theirs = _both(
        "MLPRegressor",
        X.astype(dtype),
        score[:, 0],
        hidden_layer_sizes=(5,),
        solver="sgd",
        batch_size=60,
        shuffle=False,
        max_iter=10,
        random_state=0,
    )
    _assert_same_model(mine, theirs, rtol=1e-9 if dtype == np.float64 else 1e-4)
    assert mine.predict(X.astype(dtype)).dtype == theirs.predict(X.astype(dtype)).dtype == dtype


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_partial_fit_follows_scikit_learns_invscaling_rate(momentum):
    X, score = _data()
    y = score[:, 0]
    models = [
        module.MLPRegressor(
            hidden_layer_sizes=(5,),
            solver="sgd",
            momentum=momentum,
            learning_rate="invscaling",
            learning_rate_init=0.05,
            batch_size=60,
            shuffle=False,
            random_state=4,
        )
        for module in (ours, reference)
    ]
    for model in models:
        for _ in range(6):
            model.partial_fit(X, y)
    _assert_same_model(*models, rtol=1e-9)
    np.testing.assert_allclose(models[0].loss_curve_, models[1].loss_curve_, rtol=1e-9)


def test_poisson_with_early_stopping_reports_scikit_learns_loss():
    # the deviance's constant comes from the training rows, not the held-out
    X, score = _data(n=100)
    y = _targets("counts", score)
    mine, theirs = _both(
        "MLPRegressor",
        X,
        y,
        loss="poisson",
        hidden_layer_sizes=(6,),
        solver="sgd",
        learning_rate_init=0.01,
        early_stopping=True,
        validation_fraction=0.3,
        shuffle=False,
        batch_size=70,
        max_iter=10,
        random_state=0,
    )
    _assert_same_model(mine, theirs, rtol=1e-9)
    np.testing.assert_allclose(mine.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(mine.validation_scores_, theirs.validation_scores_, rtol=1e-9)


def test_a_layer_assigned_into_coefs_reaches_the_model_as_in_scikit_learn():
    X, score = _data()
    y = score.argmax(axis=1)
    mine, theirs = _both(
        "MLPClassifier", X, y, hidden_layer_sizes=(5,), solver="lbfgs", max_iter=5, random_state=0
    )
    for model in (mine, theirs):
        model.coefs_[1] = np.zeros_like(model.coefs_[1])
        model.intercepts_[1] = np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(mine.predict_proba(X), theirs.predict_proba(X), rtol=1e-12)
    assert (mine.predict(X) == 1).all()
