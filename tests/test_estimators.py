"""The scikit-learn estimators' own behaviour: scikit-learn's estimator
checks, the network they train (bit for bit), their rules, extensions and
errors. Parity with scikit-learn's estimators is in test_sklearn_parity.py,
scikit-learn's own test file in test_sklearn_suite.py."""

import copy
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastbackprop import Network  # noqa: E402
from fastbackprop._sklearn_rules import glorot_uniform, set_parameters  # noqa: E402
from fastbackprop.estimators import MLPClassifier, MLPRegressor  # noqa: E402
from fastbackprop.optim import SGD, Adam  # noqa: E402
from fastbackprop.schedules import ReduceLROnPlateau  # noqa: E402


@parametrize_with_checks(
    [
        # scikit-learn checks its own MLPs with max_iter=100 (instance_generator)
        MLPClassifier(max_iter=100, random_state=0),
        MLPRegressor(max_iter=100, random_state=0),
        MLPClassifier(solver="lbfgs", max_iter=100, random_state=0),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    labels = rng.integers(0, 3, n)
    X = centres[labels] + rng.standard_normal((n, 2))
    return X, labels


def _network_like(sizes, seed, **kwargs):
    """The network an estimator builds with ``random_state=seed``:
    scikit-learn's initial weights from ``RandomState(seed)``."""
    net = Network(sizes, seed=seed, **kwargs)
    logistic = kwargs.get("activation") == "sigmoid"
    set_parameters(net, glorot_uniform(sizes, np.random.RandomState(seed), logistic))
    return net


def _parameters(model):
    network = model.network_ if hasattr(model, "network_") else model
    return network.get_training_state().parameters


def test_classifier_trains_the_network_it_wraps_bit_for_bit():
    X, y = _blobs()
    names = np.array(["ant", "bee", "cat"])[y]
    clf = MLPClassifier(
        (8, 8), activation="tanh", alpha=0.0, batch_size=32, max_iter=7, random_state=3
    )
    clf.set_params(n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(7\) reached"):
        clf.fit(X, names)
    net = _network_like([2, 8, 8, 3], 3, activation="tanh")
    net.fit(X, y, epochs=7, batch_size=32, optimizer=Adam(0.001, eps_before_correction=True))
    np.testing.assert_array_equal(_parameters(clf), _parameters(net))
    np.testing.assert_array_equal(clf.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), np.array(["ant", "bee", "cat"])[net.predict(X)])
    assert clf.loss_curve_ == net.history.loss  # softmax cross-entropy: the same units
    assert clf.n_iter_ == 7 and clf.t_ == 7 * 120
    assert clf.out_activation_ == "softmax" and clf.n_layers_ == 4 and clf.n_outputs_ == 3
    for ours, theirs in zip(clf.coefs_ + clf.intercepts_, net.weights + net.biases):
        np.testing.assert_array_equal(ours, theirs)


def test_regressor_trains_the_network_it_wraps_in_scikit_learns_units():
    # squared error with two outputs: the network's mean of err**2 over rows
    # and outputs has scikit-learn's gradient (err summed over outputs, over
    # rows) and twice its loss
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 3))
    Y = np.column_stack([X.sum(axis=1), X[:, 0] * X[:, 1]])
    reg = MLPRegressor(
        hidden_layer_sizes=(6,),
        solver="sgd",
        learning_rate_init=0.05,
        max_iter=5,
        alpha=0.01,
        random_state=2,
    )
    reg.set_params(batch_size=50, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, Y)
    net = _network_like([3, 6, 2], 2, loss="mse", output="identity")
    net.fit(
        X,
        Y,
        epochs=5,
        batch_size=50,
        optimizer=SGD(0.05, momentum=0.9, nesterov=True),
        weight_penalty=0.01,
    )
    np.testing.assert_array_equal(_parameters(reg), _parameters(net))
    np.testing.assert_array_equal(reg.predict(X), net.forward(X))
    assert reg.predict(X).shape == (50, 2)
    np.testing.assert_allclose(reg.loss_curve_[-1] - 0.5 * net.history.loss[-1], 0.0, atol=1e-2)


def test_one_output_regression_halves_the_rate_of_the_network():
    # one output: the network's gradient is twice scikit-learn's, so its SGD
    # runs at half the rate and takes the same steps
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 2))
    y = X[:, 0] - 2 * X[:, 1]
    reg = MLPRegressor(
        hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, alpha=0.0, batch_size=40
    )
    reg.set_params(learning_rate_init=0.1, max_iter=4, n_iter_no_change=np.inf, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, y)
    assert reg.network_.optimizer.learning_rate == 0.05
    net = _network_like([2, 5, 1], 0, loss="mse", output="identity")
    net.fit(X, y, epochs=4, batch_size=40, optimizer=SGD(0.05))
    np.testing.assert_allclose(_parameters(reg), _parameters(net), rtol=1e-14)
    np.testing.assert_allclose(reg.loss_curve_, 0.5 * np.array(net.history.loss), rtol=1e-14)


def test_float32_data_trains_a_float32_network_unless_dtype_says_otherwise():
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert clf.fit(X.astype(np.float32), y).network_.dtype == np.float32
        assert clf.coefs_[0].dtype == np.float32
        assert clf.fit(X, y).network_.dtype == np.float64
        assert clf.set_params(dtype="float32").fit(X, y).network_.dtype == np.float32


def test_pipeline_grid_search_and_cross_validation():
    X, y = _blobs(150)
    clf = MLPClassifier((8,), learning_rate_init=0.03, max_iter=60, random_state=0)
    pipe = make_pipeline(StandardScaler(), clf)
    search = GridSearchCV(pipe, {"mlpclassifier__learning_rate_init": [0.0001, 0.03]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert search.best_params_ == {"mlpclassifier__learning_rate_init": 0.03}
    assert search.best_score_ > 0.9
    assert scores.shape == (3,) and scores.min() > 0.5


def test_fit_never_changes_the_optimizer_or_schedule_it_was_given():
    X, y = _blobs()
    optimizer = Adam(0.01)
    schedule = ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5)
    clf = MLPClassifier((4,), optimizer=optimizer, lr_schedule=schedule, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.optimizer is optimizer and clf.network_.optimizer is not optimizer
    assert optimizer.learning_rate == 0.01
    untouched = ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5)
    assert clf.lr_schedule is schedule and repr(schedule) == repr(untouched)
    twin = clone(clf)
    assert twin.optimizer is not optimizer and twin.optimizer.learning_rate == 0.01


def test_warm_start_continues_the_weights_with_a_fresh_optimizer():
    # plain full-batch SGD keeps no state: 2 + 2 epochs are 4
    X, y = _blobs()
    params = dict(solver="sgd", momentum=0.0, batch_size=120, shuffle=False, random_state=5)
    whole = MLPClassifier((6,), max_iter=4, n_iter_no_change=np.inf, **params)
    halves = MLPClassifier((6,), max_iter=2, n_iter_no_change=np.inf, warm_start=True, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole.fit(X, y)
        halves.fit(X, y).fit(X, y)
    np.testing.assert_allclose(_parameters(halves), _parameters(whole), rtol=1e-14)
    assert halves.n_iter_ == 2 and halves.t_ == whole.t_ == 4 * 120
    np.testing.assert_allclose(halves.loss_curve_, whole.loss_curve_, rtol=1e-14)
    # Adam's moments start afresh in each fit, as scikit-learn's optimizer does
    adam = MLPClassifier((6,), max_iter=2, warm_start=True, random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        adam.fit(X, y)
        steps = int(adam.network_.get_training_state().counters[0])
        adam.fit(X, y)
    assert int(adam.network_.get_training_state().counters[0]) == steps
    with pytest.raises(ValueError, match="hidden_layer_sizes changed since the network was"):
        adam.set_params(hidden_layer_sizes=(5,)).fit(X, y)
    with pytest.raises(ValueError, match="activation changed since"):
        adam.set_params(hidden_layer_sizes=(6,), activation="tanh").fit(X, y)


def test_partial_fit_calls_are_fit_epochs_on_full_batches():
    X, y = _blobs()
    params = dict(solver="sgd", alpha=1e-3, learning_rate_init=0.05, random_state=1)
    fitted = MLPClassifier((6,), max_iter=10, n_iter_no_change=np.inf, shuffle=False, **params)
    with pytest.warns(ConvergenceWarning):
        fitted.fit(X, y)
    streamed = MLPClassifier((6,), shuffle=False, **params)
    for _ in range(10):
        streamed.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(_parameters(streamed), _parameters(fitted))
    np.testing.assert_allclose(streamed.loss_curve_, fitted.loss_curve_, rtol=1e-14)
    assert streamed.n_iter_ == 1 and streamed.t_ == fitted.t_


def test_partial_fit_needs_classes_first_and_refuses_new_labels():
    X, y = _blobs()
    clf = MLPClassifier((4,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_outputs_ == 3
    before = _parameters(clf)
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        clf.partial_fit(X[:3], [0, 7, 1])
    np.testing.assert_array_equal(_parameters(clf), before)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        clf.set_params(early_stopping=True).partial_fit(X, y)


def _sklearn_stop(curve, patience, tol, higher_is_better=False):
    """The epoch (1-based) at which scikit-learn's MLP stops on ``curve``,
    written from its _update_no_improvement_count, or None."""
    best, count = (-np.inf if higher_is_better else np.inf), 0
    for epoch, value in enumerate(curve, start=1):
        if higher_is_better:
            count = count + 1 if value < best + tol else 0
            best = max(best, value)
        else:
            count = count + 1 if value > best - tol else 0
            best = min(best, value)
        if count > patience:
            return epoch
    return None


def test_the_training_loss_stop_is_scikit_learns_to_the_epoch():
    X, y = _blobs()
    for patience, tol in ((2, 1e-3), (5, 1e-2), (10, 1e-4)):
        clf = MLPClassifier((8,), learning_rate_init=0.01, tol=tol, n_iter_no_change=patience)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.set_params(max_iter=400, random_state=0).fit(X, y)
        assert clf.n_iter_ == (_sklearn_stop(clf.loss_curve_, patience, tol) or 400)
        assert clf.best_loss_ == min(clf.loss_curve_)


def test_early_stopping_scores_the_held_out_rows_and_keeps_the_best_epoch():
    X, y = _blobs(200)
    clf = MLPClassifier(
        (16,), learning_rate_init=0.1, early_stopping=True, n_iter_no_change=3, max_iter=300
    )
    clf.set_params(random_state=0).fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == _sklearn_stop(scores, 3, 1e-4, True) < 300
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    # the split is scikit-learn's: train_test_split after the initial weights
    from sklearn.model_selection import train_test_split

    rs = np.random.RandomState(0)
    glorot_uniform([2, 16, 3], rs, False)
    _, held = train_test_split(np.arange(200), random_state=rs, test_size=0.1)
    assert clf.score(X[held], y[held]) == clf.best_validation_score_


def test_early_stopping_on_the_loss_keeps_the_lowest_epoch():
    X, y = _blobs(200)
    clf = MLPClassifier((16,), learning_rate_init=0.5, early_stopping=True, max_iter=40)
    clf.set_params(validation_metric="loss", n_iter_no_change=np.inf, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    curve = clf.validation_loss_curve_
    assert clf.n_iter_ == 40 == len(curve) == len(clf.validation_scores_)
    assert int(np.argmin(curve)) < 39  # not monotone at this rate
    from sklearn.model_selection import train_test_split

    rs = np.random.RandomState(0)
    glorot_uniform([2, 16, 3], rs, False)
    _, held = train_test_split(np.arange(200), random_state=rs, test_size=0.1)
    assert clf.network_.compute_loss(X[held], y[held]) == min(curve)
    assert clf.best_validation_score_ == clf.validation_scores_[int(np.argmin(curve))]


def test_running_out_warns_and_an_error_filter_keeps_the_fitted_model():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = MLPClassifier((8,), learning_rate_init=0.05, tol=0.1, max_iter=500).fit(X, y)
        assert stopped.n_iter_ < 500
        clf = MLPClassifier((4,), max_iter=3, random_state=0)
        with pytest.raises(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
            clf.fit(X, y)
        assert clf.n_iter_ == 3 == clf.network_.history.epochs
        lbfgs = MLPClassifier((4,), solver="lbfgs", max_iter=2, random_state=0)
        with pytest.raises(ConvergenceWarning, match="lbfgs failed to converge"):
            lbfgs.fit(X, y)
        assert lbfgs.n_iter_ == 2


def test_class_weight_weighs_rows_by_the_labels_of_y():
    X, y = _blobs()
    names = np.array(["a", "b", "c"])[y]
    clf = MLPClassifier((4,), class_weight={"a": 2.0, "b": 0.5}, max_iter=3, random_state=0)
    plain = clone(clf).set_params(class_weight=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, names)
        plain.fit(X, names, sample_weight=np.array([2.0, 0.5, 1.0])[y])
    np.testing.assert_array_equal(_parameters(clf), _parameters(plain))
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        clone(clf).set_params(class_weight="balanced").partial_fit(
            X, names, classes=["a", "b", "c"]
        )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_binary_labels_train_one_logistic_output():
    X, y = _blobs()
    two = np.where(y == 0, "no", "yes")
    clf = MLPClassifier((6,), solver="lbfgs", random_state=0).fit(X, two)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (6, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba[:, 1], clf.network_.forward(X)[:, 0])
    np.testing.assert_array_equal(
        clf.predict(X), np.array(["no", "yes"])[(proba[:, 1] > 0.5).astype(int)]
    )
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert clf.score(X, two) > 0.95


def test_one_class_predicts_that_class_as_scikit_learn():
    X, _ = _blobs()
    clf = MLPClassifier((4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, np.full(len(X), "only"))
    assert clf.classes_.tolist() == ["only"]
    assert (clf.predict(X) == "only").all() and clf.predict_proba(X).shape == (120, 2)


def test_multilabel_indicator_trains_one_logistic_output_per_label():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] < 0.5]).astype(int)
    clf = MLPClassifier((16,), learning_rate_init=0.02, max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    assert clf.network_.loss == "binary_cross_entropy" and clf.out_activation_ == "logistic"
    assert clf.predict(X).shape == (200, 3) and set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.score(X, Y) > 0.8  # exact-match ratio over all three labels
    np.testing.assert_array_equal(clf.predict(X), (clf.predict_proba(X) > 0.5).astype(int))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"hidden_layer_sizes": (4, 0)}, ValueError, r"hidden_layer_sizes must be > 0"),
        ({"hidden_layer_sizes": "wide"}, TypeError, "hidden_layer_sizes must be an int or a"),
        ({"hidden_layer_sizes": (4, 2.5)}, TypeError, "hidden_layer_sizes must hold ints"),
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
        ({"batch_size": "big"}, TypeError, "batch_size must be an int"),
        ({"solver": "newton"}, ValueError, "solver"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer"),
        ({"solver": "sgd", "optimizer": "adam"}, ValueError, "solver='sgd' contradicts"),
        ({"solver": "lbfgs", "dropout": 0.5}, ValueError, "lbfgs.*dropout"),
        ({"solver": "lbfgs", "clip_norm": 1.0}, ValueError, "lbfgs.*clip_norm"),
        ({"learning_rate": "cyclic"}, ValueError, "learning_rate"),
        ({"learning_rate": "adaptive", "lr_schedule": "cosine"}, ValueError, "lr_schedule"),
        ({"learning_rate_init": -1.0}, ValueError, "learning_rate_init"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"momentum": 1.5, "solver": "sgd"}, ValueError, "momentum"),
        ({"beta_1": 1.0}, ValueError, "beta_1"),
        ({"epsilon": 0.0}, ValueError, "epsilon"),
        ({"max_fun": 0}, ValueError, "max_fun"),
        ({"power_t": -1.0}, ValueError, "power_t"),
        ({"validation_metric": "auc"}, ValueError, "validation_metric"),
        ({"optimizer": SGD(), "weight_decay": 0.1}, ValueError, "weight_decay was given"),
        ({"activation": "softsign"}, ValueError, "activation"),
        ({"dtype": "float16"}, ValueError, "dtype"),
        ({"early_stopping": True, "validation_fraction": 1.5}, ValueError, "validation_fraction"),
        ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change must be >= 1"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"class_weight": "even"}, ValueError, "class_weight must be None, 'balanced' or a dict"),
        ({"random_state": -1}, ValueError, "random_state must be an int >= 0"),
        ({"lr_schedule": "linear"}, ValueError, "lr_schedule must be None, a Schedule or one of"),
        (
            {"lr_schedule": ReduceLROnPlateau()},
            ValueError,
            r"lr_schedule watches 'val_loss', which this fit does not log; it logs accuracy, "
            r"learning_rate, loss \(val_ metrics need early_stopping=True\)",
        ),
    ],
)
def test_bad_parameters_are_refused_at_fit_and_change_nothing(params, error, message):
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    fitted = dict(clf.__dict__)
    clf.set_params(**params)  # scikit-learn's rule: set_params never checks
    with pytest.raises(error, match=message):
        clf.fit(X, y)
    assert clf.network_ is fitted["network_"] and clf.n_iter_ == fitted["n_iter_"]
    assert {k: val for k, val in clf.__dict__.items() if k.endswith("_")} == {
        k: val for k, val in fitted.items() if k.endswith("_")
    }


def test_a_failed_fit_keeps_the_fitted_feature_count():
    X, y = _blobs()
    clf = MLPClassifier((4,), solver="lbfgs", max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.fit(np.full((5, 7), np.nan), np.arange(5) % 2)
    assert clf.n_features_in_ == 2
    assert clf.predict(X).shape == (120,)


def test_the_docstring_examples_run():
    import doctest

    import fastbackprop.estimators as module

    result = doctest.testmod(module, raise_on_error=False)
    assert result.attempted >= 10 and result.failed == 0


def test_unfitted_errors_and_pickle_round_trip():
    X, y = _blobs()
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)
    with pytest.raises(NotFittedError):
        MLPRegressor().coefs_  # noqa: B018
    clf = MLPClassifier((4,), solver="lbfgs", max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(_parameters(again), _parameters(clf))


def test_coefs_and_intercepts_are_the_networks_weights_and_can_be_set():
    X, y = _blobs()
    clf = MLPClassifier((4,), solver="lbfgs", max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    before = clf.predict_proba(X)
    coefs = [w * 2 for w in clf.coefs_]
    clf.coefs_ = coefs
    np.testing.assert_array_equal(clf.network_.weights[0], coefs[0])
    assert not np.allclose(clf.predict_proba(X), before)
    clf.intercepts_ = [np.zeros(4), np.zeros(3)]
    assert not clf.intercepts_[0].any()
    with pytest.raises(ValueError, match=r"coefs_ must hold one array per layer shaped"):
        clf.coefs_ = [np.zeros((2, 4))]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_diverging_fit_raises_scikit_learns_error_and_changes_nothing():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = X.sum(axis=1) * 10
    reg = MLPRegressor(
        hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.5, max_iter=1, warm_start=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.set_params(random_state=0).fit(X, y)
    state = reg.network_.get_training_state()
    curve = list(reg.loss_curve_)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        reg.set_params(max_iter=200).fit(X, y)
    after = reg.network_.get_training_state()
    np.testing.assert_array_equal(after.parameters, state.parameters)
    np.testing.assert_array_equal(after.optimizer_state, state.optimizer_state)
    assert reg.loss_curve_ == curve and reg.n_iter_ == 1
    # with early stopping it ends instead, with a NaN score and the best weights
    early = MLPRegressor(
        hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.5, early_stopping=True
    )
    early.set_params(random_state=0).fit(X, y)
    assert np.isnan(early.validation_scores_[-1]) and np.isfinite(_parameters(early)).all()


@pytest.mark.parametrize("warm_start", [False, True])
def test_bad_parameters_are_refused_also_when_continuing(warm_start):
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=2, warm_start=warm_start, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    for params in ({"optimizer": "lbfgs"}, {"dropout": 5.0}, {"max_iter": -1}):
        with pytest.raises(ValueError, match=list(params)[0]):
            clone(clf).set_params(**params).fit(X, y)
        trained = copy.deepcopy(clf)
        with pytest.raises(ValueError, match=list(params)[0]):
            trained.set_params(**params).partial_fit(X, y)


def test_partial_fit_refuses_another_optimizer_and_counts_calls():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 8))  # more rows than one of partial_fit's blocks
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifier((4,), alpha=0.0, random_state=0).partial_fit(X, y, classes=[0, 1])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    assert clf.network_.history.epochs == 3  # three blocks of rows, one curve entry
    # the pass's mean batch loss: blocks of 8000, 8000 and 4000 rows, in
    # batches of 200
    expected = np.average(clf.network_.history.loss, weights=[40, 40, 20])
    assert clf.loss_ == pytest.approx(expected, rel=1e-12)
    clf.partial_fit(X[:100], y[:100], classes=[1, 0])  # the same classes again
    assert len(clf.loss_curve_) == 2 and clf.t_ == 20100
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] is not the same as the classes_"):
        clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="partial_fit continues with the optimizer"):
        clf.set_params(solver="sgd").partial_fit(X[:100], y[:100])
    assert len(clf.loss_curve_) == 2


def test_verbose_prints_scikit_learns_lines(capsys):
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=3, verbose=True, early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Iteration ") == 3 and out.count("Validation score: ") == 3
    assert f"Iteration 3, loss = {clf.loss_curve_[-1]:.8f}" in out


def test_sparse_input_and_targets_train_as_dense():
    from scipy import sparse

    X, y = _blobs()
    with pytest.raises(ValueError, match="does not support multiclass-multioutput"):
        MLPClassifier((4,)).fit(X, np.column_stack([y, (y + 1) % 3]))
    Y = np.column_stack([y == 0, y == 1]).astype(int)
    dense = MLPClassifier((4,), solver="lbfgs", max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense.fit(X, Y)
        thin = clone(dense).fit(sparse.csr_matrix(X), sparse.csr_matrix(Y))
    np.testing.assert_array_equal(_parameters(thin), _parameters(dense))
    np.testing.assert_array_equal(thin.predict(sparse.csc_matrix(X)), dense.predict(X))


def test_a_scalar_sample_weight_weighs_every_row_alike():
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ones = clone(clf).fit(X, y, sample_weight=np.full(len(y), 2.0))
        np.testing.assert_array_equal(
            _parameters(clf.fit(X, y, sample_weight=2.0)), _parameters(ones)
        )


def test_clip_norm_clips_scikit_learns_gradient():
    # one output: the network's gradient is twice scikit-learn's, so its
    # clip is twice the estimator's
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 2))
    y = 10 * X[:, 0]
    reg = MLPRegressor(
        hidden_layer_sizes=(4,), solver="sgd", momentum=0.0, alpha=0.0, batch_size=30
    )
    reg.set_params(clip_norm=1e-2, learning_rate_init=0.1, random_state=0)
    reg.partial_fit(X, y)
    net = _network_like([2, 4, 1], 0, loss="mse", output="identity")
    net.optimizer = SGD(0.05)
    net.partial_fit(X, y, batch_size=30, clip_norm=2e-2, shuffle=True)
    np.testing.assert_allclose(_parameters(reg), _parameters(net), rtol=1e-14)


def test_a_failed_fit_leaves_a_random_state_where_it_was():
    X, y = _blobs()
    rs = np.random.RandomState(0)
    clf = MLPClassifier((5,), random_state=rs, max_iter=3)
    with pytest.raises(ValueError, match="The validation set is too small"):
        clf.set_params(early_stopping=True, validation_fraction=0.001).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(early_stopping=False).fit(X, y)
        twin = clone(clf).set_params(random_state=np.random.RandomState(0)).fit(X, y)
    np.testing.assert_array_equal(_parameters(clf), _parameters(twin))


def test_warm_start_is_checked_on_every_call():
    X, y = _blobs()
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        MLPClassifier((4,), warm_start="yes").fit(X, y)
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        MLPClassifier((4,), warm_start="yes").partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_needs_the_same_classes_in_scikit_learns_words():
    X, y = _blobs()
    clf = MLPClassifier((4,), solver="lbfgs", max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    with pytest.raises(ValueError, match=r"Previously got \[0 1 2\], `y` has \[0 1\]"):
        clf.fit(X, y % 2)


def test_odd_parameter_values_get_clear_errors():
    X, y = _blobs()
    with pytest.raises(TypeError, match="lr_schedule must be None, a Schedule or one of"):
        MLPClassifier((4,), lr_schedule=np.array([1, 2])).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(np.array(4), max_iter=2).fit(X, y)
    assert clf.network_.layer_sizes == (2, 4, 3)
    with pytest.raises(ValueError, match="classes must not hold NaN"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[0.0, 1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="classes must be a non-empty 1-D list"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[[0, 1, 2]])
    Y = np.column_stack([y == 0, y == 1]).astype(int)
    with pytest.raises(ValueError, match=r"classes must be None or range\(2\)"):
        MLPClassifier((4,)).partial_fit(X, Y, classes=[5, 1])


def test_class_weight_follows_scikit_learns_rule_for_unknown_keys():
    X, y = _blobs()
    names = np.array(["a", "b", "c"])[y]
    clf = MLPClassifier((4,), solver="lbfgs", max_iter=2, random_state=0)
    with pytest.raises(ValueError, match=r"class_weight\[7\] must be"):
        clf.set_params(class_weight={"a": 1.0, 7: -5.0}).fit(X, names)
    with pytest.raises(ValueError, match=r"keys \[1\] that are not classes of y"):
        clf.set_params(class_weight={1: 2.0}).fit(X, names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(class_weight={"a": 1.0, "b": 2.0, "c": 1.0, "d": 9.0}).fit(X, names)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.ones(130), r"sample_weight must be 1-D with one weight per row \(100\)"),
        (np.full(100, np.nan), "sample_weight must be finite and >= 0"),
        (-np.ones(100), "sample_weight must be finite and >= 0"),
    ],
)
def test_sample_weight_is_checked_before_the_validation_split(weights, message):
    X = np.random.default_rng(0).standard_normal((100, 3))
    reg = MLPRegressor(hidden_layer_sizes=(4,), early_stopping=True, max_iter=2)
    with pytest.raises(ValueError, match=message):
        reg.fit(X, X.sum(axis=1), sample_weight=weights)


def test_lr_schedule_monitors_are_checked_in_its_words():
    X, y = _blobs()
    typo = ReduceLROnPlateau(monitor="los")
    with pytest.raises(ValueError, match="lr_schedule watches 'los', which this fit does not"):
        MLPClassifier((4,), lr_schedule=typo).fit(X, y)
    accuracy = ReduceLROnPlateau(monitor="accuracy")
    with pytest.raises(ValueError, match="lr_schedule watches 'accuracy'"):
        MLPRegressor(hidden_layer_sizes=(4,), lr_schedule=accuracy).fit(X, X[:, 0])
    on_accuracy = MLPClassifier((4,), lr_schedule=accuracy, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert on_accuracy.fit(X, y).n_iter_ == 2


def test_partial_fit_shuffles_the_whole_call_not_each_block():
    rng = np.random.default_rng(0)
    n = 3 * 8192
    X = rng.standard_normal((n, 2))
    y = np.repeat([0, 1, 2], 8192)  # sorted: each block of 8192 rows holds one class
    clf = MLPClassifier((4,), alpha=0.0, batch_size=512, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    net = _network_like([2, 4, 3], 0)
    perm = net.rng.permutation(n)
    for block in range(3):
        rows = perm[block * 8192 : (block + 1) * 8192]
        assert np.bincount(y[rows], minlength=3).min() > 2500  # about a third of each
    net.optimizer = Adam(eps_before_correction=True)  # scikit-learn's Adam
    for block in range(3):
        rows = perm[block * 8192 : (block + 1) * 8192]
        net.partial_fit(X[rows], y[rows], batch_size=512)
    np.testing.assert_array_equal(_parameters(clf), _parameters(net))


def test_balanced_class_weights_count_sample_weights_as_scikit_learn_does():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 6 + [1] * 4)
    w = np.array([1.0] * 6 + [3.0] * 4)
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y, sample_weight=w)
    X = np.random.default_rng(0).standard_normal((10, 2))
    clf = MLPClassifier((3,), class_weight="balanced", max_iter=1, random_state=0)
    plain = clone(clf).set_params(class_weight=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=w)
        plain.fit(X, y, sample_weight=w * expected[y])
    np.testing.assert_array_equal(_parameters(clf), _parameters(plain))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scikit_learns_logistic_is_sigmoid_with_its_smaller_initial_weights():
    X, y = _blobs()
    clf = MLPClassifier((4,), activation="logistic", solver="lbfgs", max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert clf.fit(X, y).network_.activations == ("sigmoid",)
        sigmoid = clone(clf).set_params(activation="sigmoid").fit(X, y)
        clf.set_params(warm_start=True).fit(X, y)  # the same network, not a changed one
    np.testing.assert_array_equal(_parameters(sigmoid), _parameters(clone(sigmoid).fit(X, y)))


def test_a_warm_start_carries_the_stopping_rule_on_as_scikit_learn_does():
    X, y = _blobs()
    clf = MLPClassifier((16,), tol=1e-2, n_iter_no_change=3, max_iter=500, random_state=0)
    clf.fit(X, y)
    first = clf.n_iter_
    assert first == _sklearn_stop(clf.loss_curve_, 3, 1e-2) < 500
    clf.set_params(warm_start=True).fit(X, y)
    # its count was already past 3: the next epoch without improvement stops it
    assert clf.n_iter_ == _sklearn_stop_after(clf.loss_curve_, first, 3, 1e-2)
    assert clf.best_loss_ == min(clf.loss_curve_)


def _sklearn_stop_after(curve, first, patience, tol):
    """Epochs the warm-started fit ran: scikit-learn's rule over the whole
    curve, its best and count carried on from the first fit's epochs."""
    best, count = np.inf, 0
    for epoch, value in enumerate(curve, start=1):
        count = count + 1 if value > best - tol else 0
        best = min(best, value)
        if epoch > first and count > patience:
            return epoch - first
    return None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_tags_and_dtypes_match_what_the_estimator_does():
    assert MLPClassifier().__sklearn_tags__().classifier_tags.multi_label
    assert not MLPClassifier(class_weight="balanced").__sklearn_tags__().classifier_tags.multi_label
    assert MLPClassifier().__sklearn_tags__().input_tags.sparse
    X, y = _blobs()
    reg = MLPRegressor(hidden_layer_sizes=(4,), dtype="float32", solver="lbfgs", max_iter=5).fit(
        X, X
    )
    assert reg.network_.dtype == np.float32 and reg.predict(X).dtype == np.float64
    assert reg.predict(X.astype(np.float32)).dtype == np.float32


def test_decisions_use_the_networks_precision_whatever_the_input_dtype():
    X, y = _blobs()
    clf = MLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X * 10, y)
    X32 = (X * 10).astype(np.float32)
    as64 = X32.astype(np.float64)
    np.testing.assert_array_equal(clf.predict(X32), clf.predict(as64))
    # a float64 model's outputs stay float64 for float32 input, as scikit-learn's
    proba32, proba64 = clf.predict_proba(X32), clf.predict_proba(as64)
    assert proba32.dtype == proba64.dtype == np.float64
    np.testing.assert_array_equal(proba32, proba64)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(clf.predict_log_proba(X32), np.log(proba32))
    small = clone(clf).set_params(dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small.fit(X * 10, y)
    assert small.predict_proba(X32).dtype == np.float32
    assert small.predict_proba(as64).dtype == np.float64


def test_poisson_regression_refuses_negative_targets_and_a_changed_loss():
    X, y = _blobs()
    with pytest.raises(ValueError, match=r"y must hold counts or rates >= 0 for loss='poisson'"):
        MLPRegressor(loss="poisson").fit(X, y - 1.0)
    reg = MLPRegressor(loss="poisson", solver="lbfgs", max_iter=5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y.astype(float))
    assert reg.out_activation_ == "exp" and (reg.predict(X) > 0).all()
    with pytest.raises(ValueError, match="loss changed since the network was fitted"):
        reg.set_params(loss="squared_error").fit(X, y.astype(float))
