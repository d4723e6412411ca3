"""A call that fails says which argument is wrong, before anything changes:
parameters, optimizer state, counters, history and the random generator
all stay as they were, so the next fit runs as on an untouched copy."""

import copy
import threading

import numpy as np
import pytest
from conftest import assert_same_arrays, make_targets

from fastbackprop import Network
from fastbackprop.callbacks import Callback, CallbackList, EarlyStopping, ModelCheckpoint
from fastbackprop.network import STREAM_BLOCK
from fastbackprop.optim import SGD, Adam
from fastbackprop.schedules import ReduceLROnPlateau


def _problem(loss="cross_entropy", n=40, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), make_targets(loss, n, n_out, rng)


def _net(loss="cross_entropy", n_out=3, **kwargs):
    return Network([4, 6, n_out], loss=loss, activation="tanh", seed=5, **kwargs)


def _state(net):
    """The network's training state, and a copy of its history's values."""
    return net.get_training_state(), copy.deepcopy(net.history.as_dict())


def assert_unchanged(net, before):
    state, history = before
    now = net.get_training_state()
    assert_same_arrays(now, state)
    assert now.optimizer is state.optimizer
    assert now.rng_state == state.rng_state
    assert now.dropout_seed == state.dropout_seed
    assert net.history.as_dict() == history


# ------------------------------------------------ fit: checks before changes
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(validation_split=0.2, batch_size=0), ValueError, "batch_size"),
        (dict(validation_split=0.2, callbacks=[object()]), TypeError, "callbacks"),
        (dict(validation_split=0.2, lr_schedule="nope"), ValueError, "schedule"),
        (dict(validation_split=0.99), ValueError, "validation"),  # leaves no training row
    ],
)
def test_a_failed_fit_with_validation_split_draws_no_random_numbers(kwargs, error, match):
    X, y = _problem()
    net = _net()
    twin = copy.deepcopy(net)
    before = _state(net)
    with pytest.raises(error, match=match):
        net.fit(X, y, epochs=2, **kwargs)
    assert_unchanged(net, before)
    net.fit(X, y, epochs=3, batch_size=8)
    twin.fit(X, y, epochs=3, batch_size=8)
    np.testing.assert_array_equal(
        net.get_training_state().parameters, twin.get_training_state().parameters
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr_schedule="plateau"),
        dict(lr_schedule=ReduceLROnPlateau(monitor="val_accuracy")),
        dict(callbacks=[EarlyStopping()]),
        dict(callbacks=[ModelCheckpoint("unused.npz", save_best_only=True)]),
    ],
    ids=["plateau", "plateau-val-accuracy", "early-stopping", "best-checkpoint"],
)
def test_a_validation_metric_without_validation_data_is_refused_before_training(kwargs):
    X, y = _problem()
    net = _net()
    before = _state(net)
    with pytest.raises(ValueError, match="needs validation data"):
        net.fit(X, y, epochs=3, **kwargs)
    assert_unchanged(net, before)


def test_a_validation_split_that_holds_out_every_weighted_row_is_refused():
    X, y = _problem()
    weights = np.zeros(len(X))
    weights[0] = 1.0  # one weighted row: in the validation part or not, by chance
    for seed in range(20):
        net = Network([4, 6, 3], activation="tanh", seed=seed)
        before = _state(net)
        try:
            net.fit(X, y, epochs=1, validation_split=0.5, sample_weight=weights)
        except ValueError as error:
            assert "nothing is left to train on" in str(error)
            assert_unchanged(net, before)
            return
    pytest.fail("no seed held the weighted row out")


def test_accuracy_of_a_regression_is_refused_before_training():
    X, y = _problem("mse", n_out=1)
    net = _net("mse", n_out=1)
    before = _state(net)
    with pytest.raises(ValueError, match="no accuracy"):
        net.fit(X, y, epochs=3, callbacks=[EarlyStopping(monitor="accuracy")])
    assert_unchanged(net, before)


@pytest.mark.parametrize("name", ["score", "val_f1"])
def test_a_metric_added_by_a_callback_can_be_monitored(name):
    # names fit does not log itself are checked as the logs arrive, not
    # refused up front: a callback may add them, val_ ones too
    class AddsScore(Callback):
        def on_epoch_end(self, epoch, logs):
            logs[name] = -float(epoch)  # improves every epoch (mode min)

    X, y = _problem()
    stopper = EarlyStopping(monitor=name, patience=1)
    _net().fit(X, y, epochs=4, callbacks=[AddsScore(), stopper])
    assert stopper.best == -4.0


def test_an_optimizer_attribute_set_to_a_bad_value_is_refused_by_the_next_fit():
    X, y = _problem()
    net = _net()
    net.fit(X, y, epochs=1, optimizer=Adam(0.01))
    net.optimizer.learning_rate = -1.0  # as a Keras user would set it
    before = _state(net)
    with pytest.raises(ValueError, match="learning_rate"):
        net.fit(X, y, epochs=1)
    net.optimizer.learning_rate = None
    with pytest.raises(TypeError, match="learning_rate"):
        net.fit(X, y, epochs=1)
    net.optimizer.learning_rate = 0.01
    net.optimizer.beta1 = 1.5
    with pytest.raises(ValueError, match="beta1"):
        net.fit(X, y, epochs=1)
    assert_unchanged(net, before)


def test_a_learning_rate_given_to_fit_replaces_a_bad_attribute():
    X, y = _problem()
    a, b = _net(), _net()
    a.optimizer.learning_rate = -1.0
    a.fit(X, y, epochs=2, batch_size=8, shuffle=False, learning_rate=0.1)
    b.fit(X, y, epochs=2, batch_size=8, shuffle=False, learning_rate=0.1)
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )


def test_an_optimizer_subclass_with_its_own_constructor_trains():
    class HeavyBall(SGD):
        def __init__(self, lr):
            super().__init__(learning_rate=lr, momentum=0.9)

    X, y = _problem()
    a, b = _net(), _net()
    a.fit(X, y, epochs=2, batch_size=8, shuffle=False, optimizer=HeavyBall(0.05))
    b.fit(X, y, epochs=2, batch_size=8, shuffle=False, optimizer=SGD(0.05, momentum=0.9))
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )


def test_an_optimizer_attribute_set_to_a_good_value_is_used():
    X, y = _problem()
    a, b = _net(), _net()
    a.optimizer.learning_rate = 0.1
    a.optimizer.momentum = 0.5
    a.fit(X, y, epochs=2, batch_size=8, shuffle=False)
    b.fit(X, y, epochs=2, batch_size=8, shuffle=False, optimizer=SGD(0.1, momentum=0.5))
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )


def test_fit_inside_a_fit_of_the_same_network_is_refused():
    # the kernels release the GIL: two fits of one network would interleave
    # their steps, so a second one, from any thread, is refused
    class FitsAgain(Callback):
        def on_train_begin(self, network):
            self.network = network
            self.errors = []

        def on_epoch_end(self, epoch, logs):
            errors = []

            def fit_from_another_thread():
                try:
                    if epoch == 1:
                        self.network.fit(X, y, epochs=1)
                    elif epoch == 2:
                        self.network.partial_fit(X, y)
                    else:
                        self.network.train_step(X, y, 0.1)
                except RuntimeError as error:
                    errors.append(error)

            thread = threading.Thread(target=fit_from_another_thread)
            thread.start()
            thread.join()
            self.errors += errors

    X, y = _problem()
    net = _net()
    twin = _net()
    callback = FitsAgain()
    net.fit(X, y, epochs=3, callbacks=[callback])
    assert len(callback.errors) == 3  # a fit, a partial_fit, a train_step
    assert all("already training" in str(error) for error in callback.errors)
    twin.fit(X, y, epochs=3)
    np.testing.assert_array_equal(
        net.get_training_state().parameters, twin.get_training_state().parameters
    )  # nothing interleaved
    assert net.history.epochs == 3
    net.fit(X, y, epochs=1)  # the lock is free again
    assert int(net.get_training_state().counters[0]) == 4


def test_copies_of_a_network_train_on_their_own_locks():
    X, y = _problem()
    net = _net()
    net.fit(X, y, epochs=1)
    copy.deepcopy(net).fit(X, y, epochs=1)
    assert int(net.get_training_state().counters[0]) == 1


# ------------------------------------------- values that overflow float32
def test_values_too_large_for_float32_are_refused():
    X, y = _problem("mse", n_out=1)
    net = _net("mse", n_out=1, dtype="float32")
    before = _state(net)
    with pytest.raises(ValueError, match="y holds values too large .* float32"):
        net.fit(X, np.full(len(X), 1e39), epochs=1)
    with pytest.raises(ValueError, match="y holds values too large"):
        net.compute_loss(X, np.full(len(X), 1e39))
    with pytest.raises(ValueError, match="sample_weight holds values too large"):
        net.fit(X, y, epochs=1, sample_weight=np.full(len(X), 1e39))
    with pytest.raises(ValueError, match="sample_weight must have a positive sum"):
        net.compute_loss(X, y, sample_weight=np.full(len(X), 1e-50))  # 0 in float32
    assert_unchanged(net, before)


def test_class_weights_that_overflow_float32_are_refused():
    X, y = _problem()
    net = _net(dtype="float32")
    before = _state(net)
    with pytest.raises(ValueError, match="class_weight"):
        net.fit(X, y, epochs=1, class_weight={0: 1e39})
    assert_unchanged(net, before)


# ------------------------------------------------------------- partial_fit
def test_bad_data_in_a_late_block_undoes_the_earlier_blocks():
    n = STREAM_BLOCK + 100
    X, y = _problem(n=n)
    y = y.copy()
    y[-1] = 7  # no such class: found only in the second block
    net = _net()
    net.fit(X[:8], y[:8], epochs=1, optimizer=Adam(0.01))
    before = _state(net)
    history = net.history
    with pytest.raises(ValueError, match="labels"):
        net.partial_fit(X, y, batch_size=512)
    assert_unchanged(net, before)
    assert net.history is history  # restored in place


@pytest.mark.parametrize(
    "y, sample_weight, error, match",
    [
        (lambda y: np.array(1), None, ValueError, "y must hold"),
        (lambda y: 1, None, ValueError, "y must hold"),
        (lambda y: y[:-1], None, ValueError, "rows"),
        (lambda y: y, np.ones(STREAM_BLOCK + 5), ValueError, r"sample_weight .*\(8292\)"),
        (lambda y: y, (w for w in range(3)), TypeError, "sample_weight"),
        (lambda y: y, -np.ones(STREAM_BLOCK + 100), ValueError, "sample_weight"),
    ],
)
def test_partial_fit_checks_y_and_sample_weight_whole_and_up_front(y, sample_weight, error, match):
    X, labels = _problem(n=STREAM_BLOCK + 100)
    net = _net()
    before = _state(net)
    with pytest.raises(error, match=match):
        net.partial_fit(X, y(labels), sample_weight=sample_weight)
    assert_unchanged(net, before)


def test_partial_fit_skips_a_block_whose_rows_all_weigh_zero():
    n = STREAM_BLOCK + 64
    X, y = _problem(n=n)
    weights = np.r_[np.zeros(STREAM_BLOCK), np.ones(64)]
    streamed, direct = _net(), _net()
    streamed.partial_fit(X, y, batch_size=32, sample_weight=weights)
    direct.fit(X[STREAM_BLOCK:], y[STREAM_BLOCK:], epochs=1, batch_size=32, shuffle=False)
    np.testing.assert_array_equal(
        streamed.get_training_state().parameters, direct.get_training_state().parameters
    )
    assert streamed.history.epochs == 1


class _InterruptedStream:
    """Rows read block by block, as from a memmap; the second read is
    interrupted, as by a Ctrl-C."""

    def __init__(self, X):
        self.X, self.shape, self.ndim, self.reads = X, X.shape, X.ndim, 0

    def __getitem__(self, rows):
        self.reads += 1
        if self.reads == 2:
            raise KeyboardInterrupt
        return self.X[rows]


def test_an_interrupted_partial_fit_keeps_the_blocks_done():
    # only bad input undoes the call; an interrupt keeps the blocks trained
    # before it, as fit keeps the epochs done before one
    X, y = _problem(n=STREAM_BLOCK + 100)
    net = _net()
    stream = _InterruptedStream(X)
    with pytest.raises(KeyboardInterrupt):
        net.partial_fit(stream, y, batch_size=1024)
    assert stream.reads == 2
    # the first block's steps
    assert int(net.get_training_state().counters[0]) == STREAM_BLOCK // 1024
    assert net.history.epochs == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(callbacks=[EarlyStopping(monitor="los")]),
        dict(callbacks=[ModelCheckpoint("unused.npz", monitor="val_los", save_best_only=True)]),
        dict(lr_schedule=ReduceLROnPlateau(monitor="lr")),
    ],
    ids=["early-stopping", "best-checkpoint", "plateau"],
)
def test_a_monitor_that_fit_never_logs_is_refused_before_training(kwargs):
    X, y = _problem()
    net = _net()
    before = _state(net)
    with pytest.raises(ValueError, match="is not a metric fit logs; it logs: loss, learning_rate"):
        net.fit(X, y, epochs=3, validation_split=0.25, **kwargs)
    assert_unchanged(net, before)


def test_a_metric_logged_by_a_callback_in_a_nested_list_may_be_monitored():
    class AddsF1(Callback):
        def on_epoch_end(self, epoch, logs):
            logs["f1"] = float(epoch)  # improves every epoch in max mode

    X, y = _problem()
    stopper = EarlyStopping(monitor="f1", mode="max", patience=0)
    history = _net().fit(X, y, epochs=3, callbacks=[CallbackList([AddsF1()]), stopper])
    assert len(history.loss) == 3 and stopper.best_epoch == 3


def test_a_failed_fit_keeps_a_plateau_schedules_state():
    X, y = _problem()
    net = _net()
    plateau = ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5)
    net.fit(X, y, epochs=4, learning_rate=0.05, lr_schedule=plateau)
    state = dict(vars(plateau))
    with pytest.raises(TypeError, match="validation_data"):
        net.fit(X, y, epochs=1, lr_schedule=plateau, validation_data=X)
    assert vars(plateau) == state
