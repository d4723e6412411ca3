"""The scikit-learn estimators: scikit-learn's own estimator checks, and
that they train exactly the Network they wrap."""

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
from fastbackprop._data import split_rows  # noqa: E402
from fastbackprop.estimators import MLPClassifier, MLPRegressor  # noqa: E402
from fastbackprop.optim import SGD, Adam  # noqa: E402
from fastbackprop.schedules import ReduceLROnPlateau  # noqa: E402


@parametrize_with_checks(
    [
        MLPClassifier((16,), max_iter=100, random_state=0),
        MLPRegressor((16,), max_iter=200, learning_rate_init=0.01, random_state=0),
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


def test_classifier_trains_the_network_it_wraps_bit_for_bit():
    X, y = _blobs()
    names = np.array(["ant", "bee", "cat"])[y]
    clf = MLPClassifier(
        (8, 8), activation="tanh", batch_size=32, max_iter=7, n_iter_no_change=None, random_state=3
    )
    clf.fit(X, names)
    net = Network([2, 8, 8, 3], activation="tanh", seed=3)
    net.fit(X, y, epochs=7, batch_size=32, optimizer="adam")
    np.testing.assert_array_equal(
        clf.network_.get_training_state().parameters, net.get_training_state().parameters
    )
    np.testing.assert_array_equal(clf.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), np.array(["ant", "bee", "cat"])[net.predict(X)])
    assert clf.loss_curve_ == net.history.loss
    assert clf.n_iter_ == 7


def test_regressor_trains_the_network_it_wraps_bit_for_bit():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 3))
    Y = np.column_stack([X.sum(axis=1), X[:, 0] * X[:, 1]])
    reg = MLPRegressor(
        (6,), optimizer=SGD(0.05, momentum=0.9), max_iter=5, n_iter_no_change=None, random_state=2
    )
    reg.fit(X, Y)
    net = Network([3, 6, 2], loss="mse", output="identity", seed=2)
    net.fit(X, Y, epochs=5, batch_size=50, optimizer=SGD(0.05, momentum=0.9))
    np.testing.assert_array_equal(
        reg.network_.get_training_state().parameters, net.get_training_state().parameters
    )
    np.testing.assert_array_equal(reg.predict(X), net.forward(X))
    assert reg.predict(X[:, :]).shape == (50, 2)


def test_float32_data_trains_a_float32_network_unless_dtype_says_otherwise():
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=2, n_iter_no_change=None, random_state=0)
    assert clf.fit(X.astype(np.float32), y).network_.dtype == np.float32
    assert clf.fit(X, y).network_.dtype == np.float64
    assert clf.set_params(dtype="float32").fit(X, y).network_.dtype == np.float32


def test_pipeline_grid_search_and_cross_validation():
    X, y = _blobs(150)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=60, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__learning_rate_init": [0.001, 0.03]}, cv=3)
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
    clf = MLPClassifier(
        (4,), optimizer=optimizer, lr_schedule=schedule, max_iter=30, n_iter_no_change=None
    )
    clf.fit(X, y)
    assert clf.optimizer is optimizer and clf.network_.optimizer is not optimizer
    assert optimizer.learning_rate == 0.01
    untouched = ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5)
    assert clf.lr_schedule is schedule and repr(schedule) == repr(untouched)
    # ... and clone gives an independent copy of both
    twin = clone(clf)
    assert twin.optimizer is not optimizer and twin.optimizer.learning_rate == 0.01


def test_warm_start_and_partial_fit_continue_where_training_stopped():
    X, y = _blobs()
    whole = MLPClassifier((6,), batch_size=40, max_iter=4, n_iter_no_change=None, random_state=5)
    whole.fit(X, y)
    halves = clone(whole).set_params(max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        halves.fit(X, y).fit(X, y)
    np.testing.assert_array_equal(
        halves.network_.get_training_state().parameters,
        whole.network_.get_training_state().parameters,
    )
    assert halves.n_iter_ == 4

    # partial_fit: one pass each, in the given order, as Network.partial_fit
    stream = MLPClassifier((6,), batch_size=40, shuffle=False, random_state=5)
    stream.partial_fit(X[:60], y[:60], classes=[0, 1, 2]).partial_fit(X[60:], y[60:])
    net = Network([2, 6, 3], seed=5)
    net.optimizer = Adam()
    net.partial_fit(X[:60], y[:60], batch_size=40).partial_fit(X[60:], y[60:], batch_size=40)
    np.testing.assert_array_equal(
        stream.network_.get_training_state().parameters, net.get_training_state().parameters
    )


def test_partial_fit_needs_classes_first_and_refuses_new_labels():
    X, y = _blobs()
    clf = MLPClassifier((4,))
    with pytest.raises(ValueError, match="classes must be given on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_outputs_ == 3
    before = clf.network_.get_training_state().parameters
    with pytest.raises(ValueError, match=r"labels not in classes_ \[0, 1, 2\]: \[7\]"):
        clf.partial_fit(X[:3], [0, 7, 1])
    np.testing.assert_array_equal(clf.network_.get_training_state().parameters, before)


def _sklearn_stop(curve, patience, tol):
    """The epoch (1-based) at which scikit-learn's MLP stops on ``curve``,
    written from its _update_no_improvement_count, or None."""
    best, count = np.inf, 0
    for epoch, value in enumerate(curve, start=1):
        count = count + 1 if value > best - tol else 0
        best = min(best, value)
        if count > patience:
            return epoch
    return None


def test_early_stopping_follows_scikit_learns_rule_and_keeps_the_best_epoch():
    X, y = _blobs(200)
    clf = MLPClassifier(
        (16,),
        learning_rate_init=0.1,
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=300,
        random_state=0,
    )
    clf.fit(X, y)
    curve = clf.validation_loss_curve_
    assert len(curve) == clf.n_iter_ == _sklearn_stop(curve, 3, 1e-4) < 300
    best_epoch = int(np.argmin(curve)) + 1
    assert best_epoch < clf.n_iter_
    # the same training by hand, for the best epoch's number of epochs: the
    # estimator holds out the same rows in every fit (its own generator,
    # from random_state) and trains on the others
    train, held = _held_out(y)
    net = Network([2, 16, 3], seed=0)
    net.fit(
        X[train],
        y[train],
        epochs=best_epoch,
        batch_size=200,
        optimizer=Adam(0.1),
        validation_data=(X[held], y[held]),
    )
    np.testing.assert_array_equal(
        clf.network_.get_training_state().parameters, net.get_training_state().parameters
    )
    assert net.history.val_loss == curve[:best_epoch]


def test_the_training_loss_stop_is_scikit_learns_to_the_epoch():
    X, y = _blobs()
    for patience, tol in ((2, 1e-3), (5, 1e-2), (10, 1e-4)):
        clf = MLPClassifier((8,), learning_rate_init=0.01, tol=tol, n_iter_no_change=patience)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.set_params(max_iter=400, random_state=0).fit(X, y)
        assert clf.n_iter_ == (_sklearn_stop(clf.loss_curve_, patience, tol) or 400)


def _held_out(y, fraction=0.1, random_state=0):
    # the split MLPClassifier makes with an int random_state
    return split_rows(y, len(y), fraction, np.random.default_rng([random_state, 1]))


def test_training_loss_plateau_stops_and_running_out_warns():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = MLPClassifier((8,), learning_rate_init=0.05, tol=0.1, max_iter=500).fit(X, y)
    assert stopped.n_iter_ < 500
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\) reached"):
        MLPClassifier((8,), max_iter=3).fit(X, y)


def test_class_weight_keys_are_the_labels_of_y():
    X, y = _blobs()
    names = np.array(["a", "b", "c"])[y]
    weights = {"a": 2.0, "b": 0.5}
    clf = MLPClassifier((4,), class_weight=weights, max_iter=3, n_iter_no_change=None)
    clf.set_params(random_state=0).fit(X, names)
    net = Network([2, 4, 3], seed=0)
    net.fit(X, y, epochs=3, batch_size=120, optimizer="adam", class_weight={0: 2.0, 1: 0.5})
    np.testing.assert_array_equal(
        clf.network_.get_training_state().parameters, net.get_training_state().parameters
    )
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        clone(clf).set_params(class_weight="balanced").partial_fit(
            X, names, classes=["a", "b", "c"]
        )


def test_multilabel_indicator_trains_one_sigmoid_per_label():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] < 0.5]).astype(int)
    clf = MLPClassifier((16,), learning_rate_init=0.02, max_iter=300, n_iter_no_change=None)
    clf.set_params(random_state=0).fit(X, Y)
    assert clf.network_.loss == "binary_cross_entropy"
    assert clf.predict(X).shape == (200, 3) and set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.score(X, Y) > 0.8  # exact-match ratio over all three labels
    np.testing.assert_array_equal(clf.predict(X), (clf.predict_proba(X) > 0.5).astype(int))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"hidden_layer_sizes": (4, 0)}, ValueError, "hidden_layer_sizes must hold ints >= 1"),
        ({"hidden_layer_sizes": "wide"}, TypeError, "hidden_layer_sizes must be an int or a"),
        ({"hidden_layer_sizes": (4, 2.5)}, TypeError, "hidden_layer_sizes must hold ints"),
        ({"hidden_layer_sizes": 2.5}, TypeError, "hidden_layer_sizes must be an int or a seq"),
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
        ({"batch_size": "big"}, TypeError, "batch_size must be an int"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer"),
        ({"learning_rate_init": -1.0}, ValueError, "learning_rate_init"),
        ({"optimizer": Adam(), "learning_rate_init": 0.1}, ValueError, "learning_rate_init was"),
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
    clf = MLPClassifier((4,), max_iter=2, n_iter_no_change=None, random_state=0).fit(X, y)
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
    clf = MLPClassifier((4,), max_iter=2, n_iter_no_change=None, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="needs at least 2"):
        clf.fit(np.ones((5, 7)), np.zeros(5))
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
    clf = MLPClassifier((4,), max_iter=3, n_iter_no_change=None, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(
        again.network_.get_training_state().parameters, clf.network_.get_training_state().parameters
    )


@pytest.mark.parametrize("warm_start", [False, True])
def test_bad_parameters_are_refused_also_when_continuing(warm_start):
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=2, n_iter_no_change=None, warm_start=warm_start)
    clf.set_params(random_state=0).fit(X, y)
    for params in ({"optimizer": "lbfgs"}, {"dropout": 5.0}, {"max_iter": -1}):
        with pytest.raises(ValueError, match=list(params)[0]):
            clone(clf).set_params(**params).fit(X, y)
        trained = copy.deepcopy(clf)
        with pytest.raises(ValueError, match=list(params)[0]):
            trained.set_params(**params).partial_fit(X, y)


def test_a_failed_warm_start_fit_leaves_the_network_as_it_was():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = X.sum(axis=1) * 10
    reg = MLPRegressor((8,), optimizer=SGD(0.5), max_iter=1, warm_start=True, random_state=0)
    reg.set_params(n_iter_no_change=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    params, state = (
        reg.network_.get_training_state().parameters,
        reg.network_.get_training_state().optimizer_state,
    )
    counters, epochs = reg.network_.get_training_state().counters, reg.network_.history.epochs
    with pytest.raises(FloatingPointError):  # NonFiniteLossError: it diverges
        reg.set_params(max_iter=200).fit(X, y)
    np.testing.assert_array_equal(reg.network_.get_training_state().parameters, params)
    np.testing.assert_array_equal(reg.network_.get_training_state().optimizer_state, state)
    np.testing.assert_array_equal(reg.network_.get_training_state().counters, counters)
    assert reg.network_.history.epochs == epochs == reg.n_iter_ == len(reg.loss_curve_) == 1


def test_a_convergence_warning_raised_as_an_error_keeps_the_fitted_model():
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match=r"maximum iterations \(3\) reached"):
            clf.fit(X, y)
    assert clf.n_iter_ == 3 == clf.network_.history.epochs


def test_warm_start_applies_a_new_rate_and_a_new_optimizer_starts_afresh():
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=2, n_iter_no_change=None, warm_start=True, random_state=0)
    clf.fit(X, y)
    steps = int(clf.network_.get_training_state().counters[0])
    clf.set_params(learning_rate_init=0.5).fit(X, y)
    assert clf.network_.optimizer.learning_rate == 0.5
    assert int(clf.network_.get_training_state().counters[0]) == 2 * steps  # Adam's state went on
    clf.set_params(optimizer="rmsprop", learning_rate_init=None).fit(X, y)
    assert (
        clf.network_.optimizer.name == "rmsprop"
        and int(clf.network_.get_training_state().counters[0]) == steps
    )
    assert clf.n_iter_ == 6
    with pytest.raises(ValueError, match="hidden_layer_sizes changed since the network was"):
        clf.set_params(hidden_layer_sizes=(5,)).fit(X, y)
    with pytest.raises(ValueError, match="activation changed since"):
        clf.set_params(hidden_layer_sizes=(4,), activation="tanh").fit(X, y)
    assert clf.n_iter_ == 6


def test_partial_fit_counts_calls_and_refuses_other_classes():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 8))  # more rows than one of partial_fit's blocks
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=[0, 1])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    assert clf.network_.history.epochs == 3  # three blocks of rows, one curve entry
    # the pass's mean batch loss: blocks of 8000, 8000 and 4000 rows, in
    # batches of 200
    expected = np.average(clf.network_.history.loss, weights=[40, 40, 20])
    assert clf.loss_ == pytest.approx(expected, rel=1e-12)
    clf.partial_fit(X[:100], y[:100], classes=[1, 0])  # the same classes again
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] is not the same as the classes_"):
        clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="partial_fit continues with the optimizer"):
        clf.set_params(optimizer="sgd").partial_fit(X[:100], y[:100])
    assert clf.n_iter_ == 2


def test_class_weight_for_a_class_the_data_lacks_is_ignored():
    X, y = _blobs()
    two = y % 2
    weighted = MLPClassifier((4,), class_weight={0: 1.0, 1: 2.0, 2: 3.0}, max_iter=3)
    plain = MLPClassifier((4,), class_weight={0: 1.0, 1: 2.0}, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted.set_params(random_state=0).fit(X, two)
        plain.set_params(random_state=0).fit(X, two)
    np.testing.assert_array_equal(
        weighted.network_.get_training_state().parameters,
        plain.network_.get_training_state().parameters,
    )
    with pytest.raises(ValueError, match="leaves every row with weight 0"):
        plain.set_params(class_weight={0: 0.0, 1: 0.0}).fit(X, two)
    with pytest.raises(ValueError, match="sample_weight must have a positive sum"):
        plain.set_params(class_weight={0: 2.0}).fit(X, two, sample_weight=np.zeros(len(two)))


def test_plateau_schedule_watches_the_training_loss_without_early_stopping():
    X, y = _blobs()
    clf = MLPClassifier((4,), lr_schedule="plateau", max_iter=5, n_iter_no_change=None)
    clf.set_params(random_state=0).fit(X, y)
    assert clf.n_iter_ == 5
    early = clone(clf).set_params(early_stopping=True).fit(X, y)
    assert len(early.validation_loss_curve_) == 5


def test_early_stopping_on_too_few_rows_names_validation_fraction():
    with pytest.raises(ValueError, match=r"validation_fraction=0.1 leaves 0 of 5 rows"):
        MLPRegressor(early_stopping=True).fit(np.ones((5, 2)), np.arange(5.0))


def test_early_stopping_without_patience_keeps_the_best_epoch():
    X, y = _blobs(200)
    clf = MLPClassifier(
        (16,), learning_rate_init=0.5, early_stopping=True, n_iter_no_change=None, max_iter=40
    )
    clf.set_params(tol=0.0)  # every improvement counts: the lowest epoch is the best
    clf.set_params(random_state=0).fit(X, y)
    assert clf.n_iter_ == 40
    train, held = _held_out(y)
    net = Network([2, 16, 3], seed=0)
    net.fit(X[train], y[train], epochs=40, batch_size=200, optimizer=Adam(0.5))
    assert net.history.epochs == 40
    assert int(np.argmin(clf.validation_loss_curve_)) < 39  # not monotone at this rate
    best = clf.network_.compute_loss(X[held], y[held])
    assert best == min(clf.validation_loss_curve_)


def test_verbose_true_prints_every_epoch(capsys):
    X, y = _blobs()
    MLPClassifier((4,), max_iter=3, n_iter_no_change=None, verbose=True).fit(X, y)
    assert capsys.readouterr().out.count("Epoch ") == 3


def test_unsupported_and_sparse_targets():
    from scipy import sparse

    X, y = _blobs()
    with pytest.raises(ValueError, match="does not support multiclass-multioutput"):
        MLPClassifier((4,)).fit(X, np.column_stack([y, (y + 1) % 3]))
    Y = np.column_stack([y == 0, y == 1]).astype(int)
    dense = MLPClassifier((4,), max_iter=3, n_iter_no_change=None, random_state=0).fit(X, Y)
    thin = clone(dense).fit(X, sparse.csr_matrix(Y))
    np.testing.assert_array_equal(
        thin.network_.get_training_state().parameters,
        dense.network_.get_training_state().parameters,
    )


def test_a_scalar_sample_weight_weighs_every_row_alike():
    X, y = _blobs()
    clf = MLPClassifier((4,), max_iter=3, n_iter_no_change=None, random_state=0)
    ones = clone(clf).fit(X, y, sample_weight=np.full(len(y), 2.0))
    np.testing.assert_array_equal(
        clf.fit(X, y, sample_weight=2.0).network_.get_training_state().parameters,
        ones.network_.get_training_state().parameters,
    )


def test_partial_fit_clips_as_the_network_does():
    X, y = _blobs()
    clipped = MLPClassifier((4,), clip_norm=1e-3, learning_rate_init=0.1, random_state=0)
    clipped.partial_fit(X, y, classes=[0, 1, 2])
    net = Network([2, 4, 3], seed=0)
    net.optimizer = Adam(0.1)
    net.partial_fit(X, y, batch_size=120, clip_norm=1e-3, shuffle=True)  # one block
    np.testing.assert_array_equal(
        clipped.network_.get_training_state().parameters, net.get_training_state().parameters
    )
    free = clone(clipped).set_params(clip_norm=None).partial_fit(X, y, classes=[0, 1, 2])
    assert not np.array_equal(
        free.network_.get_training_state().parameters, net.get_training_state().parameters
    )


def test_early_stopping_weighs_the_validation_rows():
    X, y = _blobs(200)
    weights = np.random.default_rng(1).choice([0.0, 1.0, 3.0], size=200)
    clf = MLPClassifier((8,), early_stopping=True, max_iter=2, n_iter_no_change=None)
    clf.set_params(random_state=0).fit(X, y, sample_weight=weights)
    train, held = _held_out(y)
    net = Network([2, 8, 3], seed=0)
    net.fit(
        X[train],
        y[train],
        epochs=1,
        batch_size=200,
        optimizer="adam",
        sample_weight=weights[train],
    )
    weighted = net.compute_loss(X[held], y[held], sample_weight=weights[held])
    assert clf.validation_loss_curve_[0] == weighted
    assert weighted != net.compute_loss(X[held], y[held])
    only_zero = np.where(np.isin(np.arange(200), held), 0.0, 1.0)
    with pytest.raises(ValueError, match="leaves only rows of weight 0 on the validation side"):
        clf.fit(X, y, sample_weight=only_zero)


def test_warm_start_with_early_stopping_never_ends_worse_on_its_validation_rows():
    X, y = _blobs(200)
    clf = MLPClassifier((16,), learning_rate_init=0.01, early_stopping=True, max_iter=200)
    clf.set_params(random_state=0, n_iter_no_change=5).fit(X, y)
    train, held = _held_out(y)
    before = clf.network_.compute_loss(X[held], y[held])
    params = clf.network_.get_training_state().parameters
    # a rate far too high: epochs worse than where it starts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(warm_start=True, learning_rate_init=50.0, max_iter=3, tol=0.0).fit(X, y)
    new = clf.validation_loss_curve_[-3:]
    assert max(new) > before
    after = clf.network_.compute_loss(X[held], y[held])
    assert after == min(before, *new)  # the best of where it began and each epoch
    if after == before:
        np.testing.assert_array_equal(clf.network_.get_training_state().parameters, params)


def test_a_failed_fit_leaves_a_random_state_where_it_was():
    X, y = _blobs()
    rs = np.random.RandomState(0)
    clf = MLPClassifier((5,), random_state=rs, max_iter=3, n_iter_no_change=None)
    with pytest.raises(ValueError, match="validation_fraction"):
        clf.set_params(early_stopping=True, validation_fraction=0.001).fit(X, y)
    clf.set_params(early_stopping=False).fit(X, y)
    twin = clone(clf).set_params(random_state=np.random.RandomState(0)).fit(X, y)
    np.testing.assert_array_equal(
        clf.network_.get_training_state().parameters, twin.network_.get_training_state().parameters
    )


def test_warm_start_is_checked_on_every_call():
    X, y = _blobs()
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        MLPClassifier((4,), warm_start="yes").fit(X, y)
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        MLPClassifier((4,), warm_start="yes").partial_fit(X, y, classes=[0, 1, 2])


def test_odd_parameter_values_get_clear_errors():
    X, y = _blobs()
    with pytest.raises(TypeError, match="lr_schedule must be None, a Schedule or one of"):
        MLPClassifier((4,), lr_schedule=np.array([1, 2])).fit(X, y)
    clf = MLPClassifier(np.array(4), max_iter=2, n_iter_no_change=None).fit(X, y)
    assert clf.network_.layer_sizes == (2, 4, 3)
    with pytest.raises(ValueError, match=r"classes has 1 class \(1\)"):
        MLPClassifier((4,)).partial_fit(X, np.ones(len(y)), classes=[1])
    with pytest.raises(ValueError, match="classes must not hold NaN"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[0.0, 1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="classes must be a non-empty 1-D list"):
        MLPClassifier((4,)).partial_fit(X, y, classes=[[0, 1, 2]])
    Y = np.column_stack([y == 0, y == 1]).astype(int)
    with pytest.raises(ValueError, match=r"classes must be None or range\(2\)"):
        MLPClassifier((4,)).partial_fit(X, Y, classes=[5, 1])
    fitted = MLPClassifier((4,), max_iter=2, n_iter_no_change=None).fit(X, y)
    with pytest.raises(ValueError, match="is not the same as the classes_ the estimator was"):
        fitted.partial_fit(X, y, classes=[0, 1])


def test_class_weight_follows_scikit_learns_rule_for_unknown_keys():
    X, y = _blobs()
    names = np.array(["a", "b", "c"])[y]
    clf = MLPClassifier((4,), max_iter=2, n_iter_no_change=None, random_state=0)
    with pytest.raises(ValueError, match=r"class_weight\[7\] must be"):
        clf.set_params(class_weight={"a": 1.0, 7: -5.0}).fit(X, names)
    # an int key on string labels, while "b" and "c" have no weight
    with pytest.raises(ValueError, match=r"keys \[1\] that are not classes of y"):
        clf.set_params(class_weight={1: 2.0}).fit(X, names)
    # every class weighted: an extra key is a class this y lacks, and is fine
    clf.set_params(class_weight={"a": 1.0, "b": 2.0, "c": 1.0, "d": 9.0}).fit(X, names)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.ones(130), r"sample_weight must be 1-D with one weight per row \(100\)"),
        (np.ones(90), r"sample_weight must be 1-D with one weight per row \(100\)"),
        (np.full(100, np.nan), "sample_weight must be finite and >= 0"),
        (-np.ones(100), "sample_weight must be finite and >= 0"),
    ],
)
def test_sample_weight_is_checked_before_the_validation_split(weights, message):
    X = np.random.default_rng(0).standard_normal((100, 3))
    reg = MLPRegressor((4,), early_stopping=True, max_iter=2)
    with pytest.raises(ValueError, match=message):
        reg.fit(X, X.sum(axis=1), sample_weight=weights)


def test_partial_fit_loss_skips_weightless_blocks_whatever_the_dtype():
    rng = np.random.default_rng(0)
    n = 3 * 8192  # three blocks of partial_fit's 8192 rows
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    w = np.ones(n)
    w[8192:16384] = 0.0  # the second block trains nothing
    clf = MLPClassifier((4,), batch_size=4096, shuffle=False, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1], sample_weight=w)
    losses = clf.network_.history.loss
    assert len(losses) == 2 and clf.loss_ == pytest.approx(np.mean(losses), rel=1e-12)
    # weights that are positive in float64 but 0 in the network's float32
    w[:16384] = 1e-50
    clf.partial_fit(X, y, sample_weight=w)
    assert clf.loss_ == clf.network_.history.loss[-1]  # only the last block trained
    assert clf.n_iter_ == 2 and len(clf.network_.history.loss) == 3


def test_lr_schedule_monitors_are_checked_in_its_words():
    X, y = _blobs()
    typo = ReduceLROnPlateau(monitor="los")
    with pytest.raises(ValueError, match="lr_schedule watches 'los', which this fit does not"):
        MLPClassifier((4,), lr_schedule=typo).fit(X, y)
    with pytest.raises(ValueError, match="lr_schedule watches 'los'"):
        MLPClassifier((4,), lr_schedule=typo).partial_fit(X, y, classes=[0, 1, 2])
    accuracy = ReduceLROnPlateau(monitor="accuracy")
    with pytest.raises(ValueError, match="lr_schedule watches 'accuracy'"):
        MLPRegressor((4,), lr_schedule=accuracy).fit(X, X[:, 0])
    on_accuracy = MLPClassifier((4,), lr_schedule=accuracy, max_iter=2, n_iter_no_change=None)
    assert on_accuracy.fit(X, y).n_iter_ == 2


def test_partial_fit_shuffles_the_whole_call_not_each_block():
    rng = np.random.default_rng(0)
    n = 3 * 8192
    X = rng.standard_normal((n, 2))
    y = np.repeat([0, 1, 2], 8192)  # sorted: each block of 8192 rows holds one class
    clf = MLPClassifier((4,), batch_size=512, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    # the network saw three blocks; each mixed the classes, as one random
    # order over the call would (a block of one class has accuracy 1 or 0
    # from a constant prediction; its loss would be far from the others')
    net = Network([2, 4, 3], seed=0)
    perm = net.rng.permutation(n)
    for block in range(3):
        rows = perm[block * 8192 : (block + 1) * 8192]
        counts = np.bincount(y[rows], minlength=3)
        assert counts.min() > 2500  # about a third of each class
    net.optimizer = Adam()
    for block in range(3):
        rows = perm[block * 8192 : (block + 1) * 8192]
        net.partial_fit(X[rows], y[rows], batch_size=512)
    np.testing.assert_array_equal(
        clf.network_.get_training_state().parameters, net.get_training_state().parameters
    )


def test_balanced_class_weights_count_sample_weights_as_scikit_learn_does():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 6 + [1] * 4)
    w = np.array([1.0] * 6 + [3.0] * 4)
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y, sample_weight=w)
    X = np.random.default_rng(0).standard_normal((10, 2))
    clf = MLPClassifier((3,), class_weight="balanced", max_iter=1, n_iter_no_change=None)
    clf.set_params(random_state=0).fit(X, y, sample_weight=w)
    net = Network([2, 3, 2], seed=0)
    net.fit(X, y, epochs=1, batch_size=10, optimizer="adam", sample_weight=w * expected[y])
    np.testing.assert_array_equal(
        clf.network_.get_training_state().parameters, net.get_training_state().parameters
    )
    # and Network.fit's own class_weight="balanced" counts them the same way
    own = Network([2, 3, 2], seed=0)
    own.fit(
        X, y, epochs=1, batch_size=10, optimizer="adam", sample_weight=w, class_weight="balanced"
    )
    np.testing.assert_array_equal(
        own.get_training_state().parameters, net.get_training_state().parameters
    )


def test_scikit_learns_logistic_is_sigmoid():
    X, y = _blobs()
    clf = MLPClassifier((4,), activation="logistic", max_iter=2, n_iter_no_change=None)
    assert clf.fit(X, y).network_.activations == ("sigmoid",)
    clf.set_params(warm_start=True).fit(X, y)  # the same network, not a changed one
    assert clf.n_iter_ == 4


def test_a_warm_start_carries_the_stopping_rule_on_as_scikit_learn_does():
    X, y = _blobs()
    clf = MLPClassifier((16,), tol=1e-2, n_iter_no_change=3, max_iter=500, random_state=0)
    clf.fit(X, y)
    first = clf.n_iter_
    assert first == _sklearn_stop(clf.loss_curve_, 3, 1e-2) < 500
    clf.set_params(warm_start=True).fit(X, y)
    # its count was already past 3: the next epoch without improvement stops it
    assert clf.n_iter_ - first == _sklearn_stop_after(clf.loss_curve_, first, 3, 1e-2)
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


def test_tags_and_dtypes_match_what_the_estimator_does():
    assert MLPClassifier().__sklearn_tags__().classifier_tags.multi_label
    assert not MLPClassifier(class_weight="balanced").__sklearn_tags__().classifier_tags.multi_label
    X, y = _blobs()
    reg = MLPRegressor((4,), dtype="float32", max_iter=2, n_iter_no_change=None).fit(X, X)
    assert reg.network_.dtype == np.float32 and reg.predict(X).dtype == np.float64
    assert reg.predict(X.astype(np.float32)).dtype == np.float32


def test_partial_fit_of_one_block_is_network_partial_fit_bit_for_bit():
    rng = np.random.default_rng(3)
    for n in (150, 600):  # one batch, and several batches in one block
        X = rng.standard_normal((n, 4))
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
        clf = MLPClassifier((8,), batch_size=200, random_state=0)
        clf.partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
        net = Network([4, 8, 2], seed=0)
        net.optimizer = Adam()
        net.partial_fit(X, y, batch_size=200, shuffle=True).partial_fit(
            X, y, batch_size=200, shuffle=True
        )
        np.testing.assert_array_equal(
            clf.network_.get_training_state().parameters, net.get_training_state().parameters
        )


def test_partial_fit_counts_in_the_stopping_rule_as_scikit_learn_does():
    X, y = _blobs()
    clf = MLPClassifier((8,), tol=1e-3, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.best_loss_ == clf.loss_curve_[0]
    for _ in range(5):
        clf.partial_fit(X, y)
    assert clf.best_loss_ == min(clf.loss_curve_)
    best, count = np.inf, 0
    for value in clf.loss_curve_:
        count = count + 1 if value > best - 1e-3 else 0
        best = min(best, value)
    assert clf._stopping_state == ("loss", best, count)


def test_without_patience_warm_fits_always_run_max_iter():
    X, y = _blobs()
    clf = MLPClassifier(
        (8,), early_stopping=True, n_iter_no_change=None, max_iter=5, warm_start=True
    )
    clf.set_params(learning_rate_init=0.05, random_state=0)
    for call in range(1, 9):
        clf.fit(X, y)
        assert clf.n_iter_ == 5 * call


def test_decisions_use_the_networks_precision_whatever_the_input_dtype():
    X, y = _blobs()
    clf = MLPClassifier((8,), learning_rate_init=0.05, max_iter=200, random_state=0)
    clf.fit(X * 10, y)
    X32 = (X * 10).astype(np.float32)
    as64 = X32.astype(np.float64)
    np.testing.assert_array_equal(clf.predict(X32), clf.predict(as64))
    log32, log64 = clf.predict_log_proba(X32), clf.predict_log_proba(as64)
    assert log32.dtype == np.float32 and log64.dtype == np.float64
    np.testing.assert_array_equal(log32, log64.astype(np.float32))
