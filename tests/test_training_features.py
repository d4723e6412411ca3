"""Sample and class weights, dropout, validation, callbacks and schedules
through a real fit, progress output and recovery from a non-finite loss."""

import copy
import re
from dataclasses import replace

import numpy as np
import pytest
from conftest import LOSSES, assert_same_arrays, make_targets

from fastbackprop import Network
from fastbackprop._data import validation_split_indices
from fastbackprop.callbacks import Callback, EarlyStopping
from fastbackprop.history import NonFiniteLossError
from fastbackprop.optim import SGD, Adam
from fastbackprop.schedules import (
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    ReduceLROnPlateau,
    StepDecay,
)

BACKENDS = ["numba", "numpy"]


def _problem(loss="cross_entropy", n=30, n_in=4, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)), make_targets(loss, n, n_out, rng)


def _net(loss="cross_entropy", sizes=(4, 6, 3), seed=5, **kwargs):
    kwargs.setdefault("activation", "tanh")
    return Network(list(sizes), loss=loss, seed=seed, **kwargs)


def _flat(grads):
    gw, gb = grads
    return np.concatenate([np.ravel(a) for pair in zip(gw, gb, strict=True) for a in pair])


class Recorder(Callback):
    """Copies the parameters and logs after every epoch."""

    def __init__(self):
        self.params, self.opt_state, self.counters, self.logs = [], [], [], []
        self.states = []

    def on_train_begin(self, network):
        self.network = network

    def on_epoch_end(self, epoch, logs):
        state = self.network.get_training_state()
        self.states.append(state)
        self.params.append(state.parameters)
        self.opt_state.append(state.optimizer_state)
        self.counters.append(state.counters)
        self.logs.append(dict(logs))


# ------------------------------------------------------------ sample weights
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", LOSSES)
def test_integer_sample_weights_equal_repeated_rows(loss, backend):
    X, y = _problem(loss)
    weights = np.random.default_rng(1).integers(0, 4, len(X))
    weights[0] = 3  # some row is repeated
    Xr, yr = np.repeat(X, weights, axis=0), np.repeat(y, weights, axis=0)
    net = _net(loss, backend=backend)
    np.testing.assert_allclose(
        net.compute_loss(X, y, sample_weight=weights), net.compute_loss(Xr, yr), rtol=1e-12
    )
    np.testing.assert_allclose(
        _flat(net.gradients(X, y, sample_weight=weights)),
        _flat(net.gradients(Xr, yr)),
        rtol=1e-10,
        atol=1e-14,
    )
    a, b = _net(loss, backend=backend), _net(loss, backend=backend)
    a.fit(X, y, epochs=4, shuffle=False, sample_weight=weights, optimizer=SGD(0.2, momentum=0.5))
    b.fit(Xr, yr, epochs=4, shuffle=False, optimizer=SGD(0.2, momentum=0.5))
    assert not np.allclose(a.get_training_state().parameters, net.get_training_state().parameters)
    np.testing.assert_allclose(
        a.get_training_state().parameters, b.get_training_state().parameters, rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(a.history.loss, b.history.loss, rtol=1e-10)


def test_sample_weights_change_the_loss():
    X, y = _problem()
    net = _net()
    w = np.ones(len(X))
    w[:10] = 5.0
    assert net.compute_loss(X, y, sample_weight=w) != pytest.approx(net.compute_loss(X, y))
    # uniform weights of any scale are the plain mean
    assert net.compute_loss(X, y, sample_weight=np.full(len(X), 7.0)) == pytest.approx(
        net.compute_loss(X, y), rel=1e-12
    )


def _imbalanced(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = np.array([0] * 22 + [1] * 12 + [2] * 6)
    rng.shuffle(y)
    return X, y


def test_class_weight_balanced_equals_hand_computed_sample_weight():
    X, y = _imbalanced()
    counts = np.bincount(y, minlength=3).astype(float)
    by_hand = len(y) / (3 * counts[y])
    a, b = _net(), _net()
    ha = a.fit(X, y, epochs=3, shuffle=False, class_weight="balanced")
    hb = b.fit(X, y, epochs=3, shuffle=False, sample_weight=by_hand)
    np.testing.assert_allclose(
        a.get_training_state().parameters, b.get_training_state().parameters, rtol=1e-13, atol=1e-15
    )
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-13)
    c = _net()
    c.fit(X, y, epochs=3, shuffle=False)
    assert not np.allclose(c.get_training_state().parameters, a.get_training_state().parameters)


def test_class_weight_multiplies_sample_weight():
    X, y = _imbalanced()
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    a, b = _net(), _net()
    a.fit(X, y, epochs=2, shuffle=False, class_weight={0: 2.0, 2: 0.5}, sample_weight=sw)
    b.fit(X, y, epochs=2, shuffle=False, sample_weight=sw * np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(
        a.get_training_state().parameters, b.get_training_state().parameters, rtol=1e-13, atol=1e-15
    )


def test_dict_class_weight_equals_sample_weight():
    X, y = _imbalanced()
    a, b = _net(), _net()
    a.fit(X, y, epochs=3, shuffle=False, class_weight={0: 2.0, 2: 0.5})
    b.fit(X, y, epochs=3, shuffle=False, sample_weight=np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(
        a.get_training_state().parameters, b.get_training_state().parameters, rtol=1e-13, atol=1e-15
    )


@pytest.mark.parametrize(
    "weights",
    [
        pytest.param(lambda n: np.r_[-1.0, np.ones(n - 1)], id="negative"),
        pytest.param(lambda n: np.ones(n - 1), id="short"),
        pytest.param(lambda n: np.ones((n, 1)), id="2d"),
        pytest.param(lambda n: np.r_[np.nan, np.ones(n - 1)], id="nan"),
        pytest.param(lambda n: np.r_[np.inf, np.ones(n - 1)], id="inf"),
        pytest.param(lambda n: np.zeros(n), id="all-zero"),
    ],
)
def test_bad_sample_weight_raises_and_changes_nothing(weights):
    X, y = _problem()
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(ValueError, match="sample_weight"):
        net.fit(X, y, epochs=1, sample_weight=weights(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        net.compute_loss(X, y, sample_weight=weights(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        net.gradients(X, y, sample_weight=weights(len(X)))
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
    assert net.history.epochs == 0
    assert int(net.get_training_state().counters[0]) == 0


@pytest.mark.parametrize(
    "class_weight, error",
    [
        ({0: 0.0, 1: 0.0, 2: 0.0}, ValueError),
        ({0: -1.0}, ValueError),
        ({5: 1.0}, ValueError),
        ({0: float("nan")}, ValueError),
        ("uniform", ValueError),
        ([1.0, 2.0, 3.0], TypeError),
        ({0: "a"}, TypeError),
        ({0: None}, TypeError),
        ({True: 2.0}, TypeError),  # would silently stand for class 1
    ],
)
def test_bad_class_weight_raises_and_changes_nothing(class_weight, error):
    X, y = _imbalanced()
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(error, match="class_weight"):
        net.fit(X, y, epochs=1, class_weight=class_weight)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
    assert net.history.epochs == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_whose_rows_all_weigh_zero_takes_no_step(backend):
    # the middle batch of three weighs 0: training equals training on the
    # other two batches alone, and nothing is reported as diverged
    X, y = _problem(n=96)
    weights = np.r_[np.ones(32), np.zeros(32), np.ones(32)]
    kept = np.r_[0:32, 64:96]
    skipping = _net(backend=backend)
    history = skipping.fit(
        X, y, epochs=2, batch_size=32, shuffle=False, sample_weight=weights, optimizer=Adam(0.01)
    )
    alone = _net(backend=backend)
    expected = alone.fit(
        X[kept], y[kept], epochs=2, batch_size=32, shuffle=False, optimizer=Adam(0.01)
    )
    np.testing.assert_array_equal(
        skipping.get_training_state().parameters, alone.get_training_state().parameters
    )
    np.testing.assert_array_equal(
        skipping.get_training_state().counters, alone.get_training_state().counters
    )  # 4 steps each
    assert history.loss == expected.loss
    # every row counts in the accuracy: in the last epoch, the kept rows'
    # correct ones (the same parameters saw them) plus those of the weightless
    # batch, seen with the parameters after that epoch's first step
    after_first_step = _net(backend=backend)
    after_first_step.fit(
        X[kept], y[kept], epochs=1, batch_size=32, shuffle=False, optimizer=Adam(0.01)
    )
    after_first_step.fit(X[:32], y[:32], epochs=1, batch_size=32)  # the same Adam state goes on
    weightless_correct = int((after_first_step.predict(X[32:64]) == y[32:64]).sum())
    assert 0 < weightless_correct < 32  # the check below can tell them apart
    correct_kept = round(expected.accuracy[-1] * 64)
    assert history.accuracy[-1] == (correct_kept + weightless_correct) / 96


def test_weightless_batches_train_alike_on_both_backends():
    X, y = _problem(n=90)
    weights = np.where(
        np.arange(90) % 3 == 0, 1.0, 0.0
    )  # with shuffling, batches of 5 often weigh 0
    fits = [_net(backend=b) for b in BACKENDS]
    for net in fits:
        net.fit(X, y, epochs=3, batch_size=5, sample_weight=weights, optimizer=Adam(0.01))
    np.testing.assert_allclose(
        fits[0].get_training_state().parameters,
        fits[1].get_training_state().parameters,
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_array_equal(
        fits[0].get_training_state().counters, fits[1].get_training_state().counters
    )
    assert (
        int(fits[0].get_training_state().counters[0]) < 3 * 18 - 3
    )  # several batches took no step
    assert fits[0].history.accuracy == fits[1].history.accuracy


def test_class_weight_with_mse_raises():
    X, y = _problem("mse")
    net = _net("mse")
    with pytest.raises(ValueError, match="class_weight"):
        net.fit(X, y, epochs=1, class_weight="balanced")


# ------------------------------------------------------------------ dropout
def _dropout_run(seed=5, backend="numba", dropout=0.3, epochs=3, dtype="float64"):
    X, y = _problem(n=40)
    net = _net(seed=seed, sizes=(4, 8, 8, 3), backend=backend, dropout=dropout, dtype=dtype)
    net.fit(X, y, epochs=epochs, batch_size=10, optimizer=Adam(0.01))
    return net


def test_dropout_same_seed_is_identical():
    np.testing.assert_array_equal(
        _dropout_run().get_training_state().parameters,
        _dropout_run().get_training_state().parameters,
    )


def test_dropout_different_seed_differs():
    assert not np.array_equal(
        _dropout_run(seed=5).get_training_state().parameters,
        _dropout_run(seed=6).get_training_state().parameters,
    )


def test_dropout_masks_depend_on_dropout_seed():
    X, y = _problem(n=40)
    a = _net(sizes=(4, 8, 8, 3), dropout=0.3)
    b = copy.deepcopy(a)
    b.set_training_state(replace(b.get_training_state(), dropout_seed=b.dropout_seed + 1))
    a.fit(X, y, epochs=2, batch_size=10, shuffle=False)
    b.fit(X, y, epochs=2, batch_size=10, shuffle=False)
    assert not np.array_equal(a.get_training_state().parameters, b.get_training_state().parameters)


def test_dropout_changes_training():
    with_dropout = _dropout_run(dropout=0.5)
    without = _dropout_run(dropout=0.0)
    assert not np.allclose(
        with_dropout.get_training_state().parameters, without.get_training_state().parameters
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_off_at_inference(backend):
    X, y = _problem(n=40)
    net = _dropout_run(backend=backend, dropout=0.5)
    plain = _net(sizes=(4, 8, 8, 3), backend=backend, dropout=0.0)
    plain.set_training_state(net.get_training_state(), parameters_only=True)
    first = net.forward(X)
    np.testing.assert_array_equal(first, net.forward(X))
    np.testing.assert_array_equal(first, plain.forward(X))
    np.testing.assert_array_equal(net.predict(X), plain.predict(X))
    assert net.compute_loss(X, y) == plain.compute_loss(X, y)
    np.testing.assert_array_equal(_flat(net.gradients(X, y)), _flat(plain.gradients(X, y)))


def test_dropout_backends_agree():
    numba_net = _dropout_run(backend="numba", dropout=[0.3, 0.5])
    numpy_net = _dropout_run(backend="numpy", dropout=[0.3, 0.5])
    assert numba_net.dropout_seed == numpy_net.dropout_seed
    np.testing.assert_allclose(
        numba_net.get_training_state().parameters,
        numpy_net.get_training_state().parameters,
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        numba_net.history.loss, numpy_net.history.loss, rtol=1e-10, atol=1e-12
    )


def test_dropout_property_per_layer():
    net = _net(sizes=(4, 8, 8, 3), dropout=[0.1, 0.4])
    assert net.dropout == [0.1, 0.4]
    assert _net(sizes=(4, 8, 8, 3), dropout=0.2).dropout == [0.2, 0.2]


@pytest.mark.parametrize(
    "rate, error",
    [
        (-0.1, ValueError),
        (1.0, ValueError),
        (1.5, ValueError),
        (float("nan"), ValueError),
        ("0.5", TypeError),
        (True, TypeError),
        ([0.1], ValueError),  # two hidden layers need two rates
        ([0.1, 0.2, 0.3], ValueError),
    ],
)
def test_bad_dropout_rates_raise(rate, error):
    with pytest.raises(error, match="dropout"):
        _net(sizes=(4, 8, 8, 3), dropout=rate)


def test_a_zero_dimensional_dropout_array_is_one_rate():
    net = _net(sizes=(4, 8, 8, 3), dropout=np.array(0.2))
    assert net.dropout == [0.2, 0.2]


# -------------------------------------------------------------- validation
def test_validation_data_fills_history():
    X, y = _problem(n=40)
    Xv, yv = _problem(n=15, seed=9)
    net = _net()
    recorder = Recorder()
    history = net.fit(X, y, epochs=4, batch_size=8, validation_data=(Xv, yv), callbacks=[recorder])
    assert len(history.val_loss) == 4 and len(history.val_accuracy) == 4
    assert history.val_loss[-1] == pytest.approx(net.compute_loss(Xv, yv), rel=1e-12)
    assert history.val_accuracy[-1] == pytest.approx(net.score(Xv, yv))
    # every entry is the loss of that epoch's parameters
    probe = _net()
    for state, val_loss in zip(recorder.states, history.val_loss, strict=True):
        probe.set_training_state(state, parameters_only=True)
        assert val_loss == pytest.approx(probe.compute_loss(Xv, yv), rel=1e-12)
    assert net.history.val_loss == history.val_loss
    assert len(set(history.val_loss)) == 4  # training moves it


def test_no_validation_leaves_val_history_empty():
    X, y = _problem()
    history = _net().fit(X, y, epochs=2)
    assert history.val_loss == [] and history.val_accuracy == []


def test_validation_split_is_stratified_and_trains_on_the_rest():
    X, y = _imbalanced(n=40)
    net = _net(seed=21)
    twin = _net(seed=21)
    # the split draws from the network's generator: replay it on a copy
    Y = np.eye(3)[y]
    train, val = validation_split_indices(Y, "cross_entropy", 0.25, copy.deepcopy(net.rng))
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == len(y)
    for k in range(3):
        count = np.sum(y == k)
        assert abs(np.sum(y[val] == k) - 0.25 * count) <= 1
    assert abs(len(val) - 10) <= 1

    history = net.fit(X, y, epochs=3, shuffle=False, validation_split=0.25)
    twin_history = twin.fit(
        X[train], y[train], epochs=3, shuffle=False, validation_data=(X[val], y[val])
    )
    np.testing.assert_array_equal(
        net.get_training_state().parameters, twin.get_training_state().parameters
    )
    assert history.val_loss == twin_history.val_loss
    assert history.accuracy == twin_history.accuracy
    # training accuracy is counted over the training rows only
    for acc in history.accuracy:
        assert acc * len(train) == pytest.approx(round(acc * len(train)))


def test_validation_split_for_regression():
    X, y = _problem("mse", n=40)
    history = _net("mse").fit(X, y, epochs=2, validation_split=0.25)
    assert len(history.val_loss) == 2
    assert history.val_accuracy is None


def test_validation_data_and_split_together_raise():
    X, y = _problem()
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(ValueError, match="validation"):
        net.fit(X, y, epochs=1, validation_data=(X, y), validation_split=0.2)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
    assert net.history.epochs == 0


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_bad_validation_split_raises(fraction):
    X, y = _problem()
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(ValueError, match="validation_split"):
        net.fit(X, y, epochs=1, validation_split=fraction)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)


# ---------------------------------------------------- early stopping, schedules
def _overfitting_problem():
    """Validation labels unrelated to training labels: val_loss falls, then rises."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    Xv = rng.standard_normal((30, 4))
    yv = rng.integers(0, 3, 30)
    return X, y, Xv, yv


@pytest.mark.parametrize("patience, epochs", [(3, 300), (500, 40)])
def test_early_stopping_restores_best_epoch_weights(patience, epochs):
    X, y, Xv, yv = _overfitting_problem()
    net = _net(sizes=(4, 16, 3))
    recorder = Recorder()
    stopper = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = net.fit(
        X,
        y,
        epochs=epochs,
        optimizer=Adam(0.05),
        validation_data=(Xv, yv),
        callbacks=[recorder, stopper],
    )
    val = np.array(history.val_loss)
    best = int(np.argmin(val))
    assert len(recorder.params) == len(val)
    assert best < len(val) - 1  # so restoring is not a no-op
    assert stopper.best_epoch == best + 1
    assert not np.array_equal(recorder.params[-1], recorder.params[best])
    np.testing.assert_array_equal(net.get_training_state().parameters, recorder.params[best])
    assert net.compute_loss(Xv, yv) == pytest.approx(val.min(), rel=1e-12)
    if patience < epochs // 10:
        assert stopper.stopped_epoch == len(val) < epochs
        assert len(val) == best + 1 + patience
    else:
        assert stopper.stopped_epoch == 0 and len(val) == epochs


@pytest.mark.parametrize(
    "schedule, closed_form",
    [
        (StepDecay(2, 0.5), lambda e, lr: lr * 0.5 ** (e // 2)),
        (ExponentialDecay(0.9), lambda e, lr: lr * 0.9**e),
        (
            CosineAnnealing(5, eta_min=0.001),
            lambda e, lr: 0.001 + (lr - 0.001) * (1 + np.cos(np.pi * e / 5)) / 2,
        ),
        (InverseScaling(0.5), lambda e, lr: lr / np.sqrt(e + 1)),
        ("cosine", lambda e, lr: lr * (1 + np.cos(np.pi * e / 7)) / 2),
    ],
)
def test_schedule_rates_through_fit(schedule, closed_form):
    X, y = _problem()
    net = _net()
    history = net.fit(X, y, epochs=7, optimizer=SGD(0.1), lr_schedule=schedule)
    expected = [closed_form(e, 0.1) for e in range(7)]
    np.testing.assert_allclose(history.learning_rate, expected, rtol=1e-14)
    assert net.optimizer.learning_rate == 0.1  # the base rate is kept


def test_schedule_is_applied_to_the_updates():
    X, y = _problem()
    scheduled, manual = _net(), _net()
    scheduled.fit(X, y, epochs=6, shuffle=False, optimizer=SGD(0.1), lr_schedule=StepDecay(2, 0.5))
    manual.fit(X, y, epochs=2, shuffle=False, optimizer=SGD(0.1))
    manual.fit(X, y, epochs=2, shuffle=False, learning_rate=0.05)
    manual.fit(X, y, epochs=2, shuffle=False, learning_rate=0.025)
    np.testing.assert_allclose(
        scheduled.get_training_state().parameters,
        manual.get_training_state().parameters,
        rtol=1e-13,
        atol=1e-15,
    )


def test_reduce_lr_on_plateau_through_fit():
    X, y = _problem()
    net = _net()
    # min_delta so large that only the first epoch counts as an improvement
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100.0)
    history = net.fit(X, y, epochs=5, optimizer=SGD(0.1), lr_schedule=plateau)
    np.testing.assert_allclose(history.learning_rate, [0.1, 0.1, 0.05, 0.025, 0.0125], rtol=1e-14)


def test_reduce_lr_on_plateau_on_val_loss_reduces_the_rate():
    X, y, Xv, yv = _overfitting_problem()
    net = _net(sizes=(4, 16, 3))
    plateau = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    history = net.fit(
        X, y, epochs=60, optimizer=Adam(0.05), validation_data=(Xv, yv), lr_schedule=plateau
    )
    rates = np.array(history.learning_rate)
    assert rates[0] == 0.05
    assert rates[-1] < 0.05
    assert np.all(np.diff(rates) <= 0)


# ------------------------------------------------------------------- output
def test_progress_prints_plain_lines_when_not_a_tty(capsys):
    X, y = _problem()
    history = _net().fit(X, y, epochs=3, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {epoch}/3 - ")
        assert f"loss: {history.loss[epoch - 1]:.4f}" in line
        assert "\r" not in line and "\x1b" not in line


def test_verbose_keeps_the_seed_format(capsys):
    X, y = _problem()
    history = _net().fit(X, y, epochs=5, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    pattern = re.compile(r"^Epoch (\d+)/5 - Loss: (\d+\.\d{4}) - Accuracy: (\d\.\d{4})$")
    epochs = []
    for line in lines:
        match = pattern.match(line)
        assert match, line
        epoch = int(match.group(1))
        epochs.append(epoch)
        assert match.group(2) == f"{history.loss[epoch - 1]:.4f}"
        assert match.group(3) == f"{history.accuracy[epoch - 1]:.4f}"
    assert epochs == [2, 4, 5]


def test_verbose_zero_prints_nothing(capsys):
    X, y = _problem()
    _net().fit(X, y, epochs=3)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------- non-finite
def _divergent_problem():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((16, 4)) * 10
    y = rng.standard_normal((16, 1)) * 10
    return X, y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch_size", [None, 4])
def test_non_finite_loss_restores_params_and_adam_state(backend, batch_size):
    X, y = _divergent_problem()
    net = _net("mse", sizes=(4, 8, 1), backend=backend, activation="identity")
    net.fit(X, y, epochs=3, batch_size=4, optimizer=Adam(0.01))
    assert np.any(net.get_training_state().optimizer_state != 0)
    net.optimizer.learning_rate = 1e150  # the next steps overflow
    recorder = Recorder()
    before = (
        net.get_training_state().parameters,
        net.get_training_state().optimizer_state,
        net.get_training_state().counters,
    )
    with pytest.raises(NonFiniteLossError) as info:
        with np.errstate(over="ignore", invalid="ignore"):
            net.fit(X, y, epochs=10, batch_size=batch_size, callbacks=[recorder])
    epoch = info.value.epoch
    assert epoch == len(recorder.params) + 1
    assert len(info.value.history.loss) == epoch - 1
    expected = (
        before
        if epoch == 1
        else (recorder.params[-1], recorder.opt_state[-1], recorder.counters[-1])
    )
    np.testing.assert_array_equal(net.get_training_state().parameters, expected[0])
    np.testing.assert_array_equal(net.get_training_state().optimizer_state, expected[1])
    np.testing.assert_array_equal(net.get_training_state().counters, expected[2])
    assert np.all(np.isfinite(net.get_training_state().parameters)) and np.all(
        np.isfinite(net.get_training_state().optimizer_state)
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_loss_in_a_later_epoch_restores_that_epochs_start(backend):
    # without callbacks several epochs run in one compiled call; one Adam
    # step of 1e103 makes the three-layer product overflow in the next forward
    X, y = _divergent_problem()

    def fresh():
        net = _net("mse", sizes=(4, 8, 8, 1), backend=backend, activation="identity")
        net.fit(X, y, epochs=2, batch_size=4, optimizer=Adam(0.01))
        return net

    net = fresh()
    with pytest.raises(NonFiniteLossError) as info:
        with np.errstate(over="ignore", invalid="ignore"):
            net.fit(X, y, epochs=50, shuffle=False, optimizer=Adam(1e103))
    epoch = info.value.epoch
    assert epoch == 2
    twin = fresh()
    twin.fit(X, y, epochs=epoch - 1, shuffle=False, optimizer=Adam(1e103))
    assert (
        np.abs(twin.get_training_state().parameters).max() > 1e100
    )  # the state that was restored is the moved one
    assert_same_arrays(net.get_training_state(), twin.get_training_state())
    assert np.all(np.isfinite(net.get_training_state().parameters)) and np.all(
        np.isfinite(net.get_training_state().optimizer_state)
    )


def test_validation_losses_are_weighted_like_the_training_loss(rng):
    from fastbackprop._data import validation_split_indices

    X = rng.standard_normal((80, 3))
    y = rng.integers(0, 2, 80)
    w = rng.choice([0.0, 1.0, 3.0], size=80)
    # a triple: the third member weighs the validation rows
    net = Network([3, 4, 2], seed=0)
    history = net.fit(X[20:], y[20:], epochs=1, validation_data=(X[:20], y[:20], w[:20]))
    assert history.val_loss[0] == net.compute_loss(X[:20], y[:20], sample_weight=w[:20])
    assert history.val_loss[0] != net.compute_loss(X[:20], y[:20])
    # a split: the held-out rows keep their sample weights
    net = Network([3, 4, 2], seed=0)
    _, held = validation_split_indices(
        np.eye(2)[y], "cross_entropy", 0.25, Network([3, 4, 2], seed=0).rng
    )
    history = net.fit(X, y, epochs=1, sample_weight=w, validation_split=0.25)
    assert history.val_loss[0] == net.compute_loss(X[held], y[held], sample_weight=w[held])
    with pytest.raises(ValueError, match="validation_split holds out only rows of weight 0"):
        only_held_zero = np.where(np.isin(np.arange(80), held), 0.0, 1.0)
        Network([3, 4, 2], seed=0).fit(X, y, sample_weight=only_held_zero, validation_split=0.25)


def test_partial_fit_clips_each_step_as_fit_does(rng):
    X = rng.standard_normal((50, 3))
    y = rng.integers(0, 2, 50)
    streamed = Network([3, 4, 2], seed=0)
    streamed.partial_fit(X, y, batch_size=10, clip_norm=0.01)
    whole = Network([3, 4, 2], seed=0)
    whole.fit(X, y, epochs=1, batch_size=10, shuffle=False, clip_norm=0.01)
    np.testing.assert_array_equal(
        streamed.get_training_state().parameters, whole.get_training_state().parameters
    )
    unclipped = Network([3, 4, 2], seed=0).partial_fit(X, y, batch_size=10)
    assert not np.array_equal(
        unclipped.get_training_state().parameters, whole.get_training_state().parameters
    )
    before = streamed.get_training_state().parameters
    with pytest.raises(ValueError, match="clip_norm"):
        streamed.partial_fit(X, y, clip_norm=-1.0)
    np.testing.assert_array_equal(streamed.get_training_state().parameters, before)


def test_bad_validation_weights_are_named_as_such(rng):
    X = rng.standard_normal((30, 3))
    y = rng.integers(0, 2, 30)
    net = Network([3, 4, 2], seed=0)
    before = net.get_training_state().parameters
    with pytest.raises(ValueError, match="validation_data's weights must have a positive sum"):
        net.fit(X, y, epochs=1, validation_data=(X[:10], y[:10], np.zeros(10)))
    with pytest.raises(ValueError, match="validation_data's weights must be 1-D with one weight"):
        net.fit(X, y, epochs=1, validation_data=(X[:10], y[:10], np.ones(9)))
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
