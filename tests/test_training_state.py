"""One state, one way back: ``Network.get_training_state`` takes everything
training changes and ``set_training_state`` puts it back, bit for bit;
``partial_fit`` streams its blocks through one workspace."""

import copy
from dataclasses import replace

import numpy as np
import pytest
from conftest import assert_same_arrays

import fastbackprop.network as network_module
from fastbackprop import Network, NonFiniteLossError, PassReport, TrainingState
from fastbackprop.callbacks import Callback
from fastbackprop.network import STREAM_BLOCK
from fastbackprop.optim import SGD, Adam


def _problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def _net(**kwargs):
    settings = dict(activation="tanh", seed=5, dropout=0.2)
    settings.update(kwargs)
    return Network([4, 6, 3], **settings)


def _assert_same(state, other):
    """Two states hold the same values, bit for bit."""
    assert_same_arrays(state, other)
    assert state.optimizer is other.optimizer
    assert state.learning_rate == other.learning_rate
    assert state.rng_state == other.rng_state
    assert state.dropout_seed == other.dropout_seed
    assert state.history_lengths == other.history_lengths


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_state_put_back_is_the_state_taken_bit_for_bit(backend):
    X, y = _problem()
    net = _net(backend=backend)
    net.fit(X, y, epochs=3, batch_size=8, optimizer=Adam(0.01))
    state = net.get_training_state()
    history = net.history
    values = copy.deepcopy(history.as_dict())
    twin = copy.deepcopy(net)
    # train on: other epochs, another rate, a validation split, a stream
    net.fit(X, y, epochs=4, batch_size=8, learning_rate=0.05, validation_split=0.25)
    net.partial_fit(X, y, batch_size=16, shuffle=True)
    assert not np.array_equal(net.get_training_state().parameters, state.parameters)
    net.set_training_state(state)
    _assert_same(net.get_training_state(), state)
    assert net.history is history and history.as_dict() == values
    assert net.optimizer.learning_rate == 0.01
    # the generator draws what it drew then, and training goes on as it would have
    np.testing.assert_array_equal(net.rng.permutation(10), twin.rng.permutation(10))
    for model in (net, twin):
        model.fit(X, y, epochs=2, batch_size=8)
        model.partial_fit(X, y, batch_size=16, shuffle=True)
    np.testing.assert_array_equal(
        net.get_training_state().parameters, twin.get_training_state().parameters
    )
    assert net.history.as_dict() == twin.history.as_dict()


def test_a_state_is_a_read_only_copy():
    X, y = _problem()
    net = _net()
    state = net.get_training_state()
    first = state.parameters.copy()
    net.fit(X, y, epochs=2, batch_size=8, optimizer="adam")
    np.testing.assert_array_equal(state.parameters, first)
    assert not state.optimizer_state.any() and not state.counters.any()
    for array in (state.parameters, state.optimizer_state, state.counters):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1
    with pytest.raises(AttributeError):
        state.dropout_seed = 0


def test_a_state_fits_another_network_of_the_same_shape():
    X, y = _problem()
    source = _net()
    source.fit(X, y, epochs=2, batch_size=8, optimizer=SGD(0.05, momentum=0.9))
    other = _net(seed=99)  # another seed: other weights, generator and dropout seed
    other.set_training_state(source.get_training_state())
    assert other.dropout_seed == source.dropout_seed
    assert other.history is not source.history  # a copy: never shared
    assert other.history.as_dict() == source.history.as_dict()
    for model in (source, other):
        model.fit(X, y, epochs=2, batch_size=8)
    np.testing.assert_array_equal(
        other.get_training_state().parameters, source.get_training_state().parameters
    )
    assert other.history.as_dict() == source.history.as_dict()


def test_parameters_only_puts_back_the_weights_and_nothing_else():
    X, y = _problem()
    net = _net()
    net.fit(X, y, epochs=2, batch_size=8, optimizer="adam")
    best = net.get_training_state()
    net.fit(X, y, epochs=2, batch_size=8)
    later = net.get_training_state()
    weights = net.weights[0]
    net.set_training_state(best, parameters_only=True)
    now = net.get_training_state()
    np.testing.assert_array_equal(now.parameters, best.parameters)
    np.testing.assert_array_equal(now.optimizer_state, later.optimizer_state)
    np.testing.assert_array_equal(now.counters, later.counters)
    assert now.rng_state == later.rng_state and net.history.epochs == 4
    # written in place: the live views see it
    np.testing.assert_array_equal(weights, best.parameters[:24].reshape(4, 6))


@pytest.mark.parametrize(
    "other, match",
    [
        (dict(layer_sizes=[4, 5, 3]), r"layer_sizes \[4, 6, 3\] and dtype float64; this one has "),
        (dict(layer_sizes=[4, 6, 3], dtype="float32"), "this one has .* float32"),
    ],
    ids=["shape", "dtype"],
)
def test_a_state_of_another_shape_or_dtype_is_refused_and_nothing_changes(other, match):
    X, y = _problem()
    source = _net()
    source.fit(X, y, epochs=2, batch_size=8, optimizer="adam")
    sizes = other.pop("layer_sizes")
    net = Network(sizes, activation="tanh", seed=1, **other)
    before, history = net.get_training_state(), copy.deepcopy(net.history.as_dict())
    for parameters_only in (False, True):
        with pytest.raises(ValueError, match=match):
            net.set_training_state(source.get_training_state(), parameters_only=parameters_only)
    _assert_same(net.get_training_state(), before)
    assert net.history.as_dict() == history


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda s: {"state": s.parameters}, TypeError, "state must be a TrainingState"),
        (lambda s: {"parameters": s.parameters[:-1]}, ValueError, r"state.parameters is float64"),
        (lambda s: {"optimizer_state": s.optimizer_state[:1]}, ValueError, "optimizer_state"),
        (lambda s: {"counters": np.array([-1, 0])}, ValueError, "counters must be >= 0"),
        (lambda s: {"counters": np.array([1.0, 2.0])}, ValueError, "state.counters is float64"),
        (lambda s: {"optimizer": "adam"}, TypeError, "state.optimizer must be"),
        (lambda s: {"dropout_seed": 2**63}, ValueError, "dropout_seed must lie in"),
        (lambda s: {"dropout_seed": 1.5}, TypeError, "dropout_seed must be an int"),
        (lambda s: {"history": s.history.as_dict()}, TypeError, "state.history must be"),
        (lambda s: {"history_lengths": {"los": 1}}, ValueError, "history_lengths"),
        (lambda s: {"rng_state": "PCG64"}, TypeError, "rng_state must be a dict"),
        (lambda s: {"learning_rate": -1.0}, ValueError, "state.learning_rate"),
        (lambda s: {"learning_rate": float("nan")}, ValueError, "state.learning_rate"),
        (lambda s: {"optimizer_config": {"nope": 1}}, ValueError, "optimizer_config must hold"),
        (lambda s: {"optimizer_config": {"momentum": -1.0}}, ValueError, "momentum"),
        (
            lambda s: {"rng_state": np.random.MT19937(0).state},
            ValueError,
            "'MT19937'; this network's generator is 'PCG64'",
        ),
        (
            lambda s: {"rng_state": {**s.rng_state, "state": "broken"}},
            ValueError,
            "rng_state is not a state of this generator",
        ),
    ],
)
def test_a_state_that_does_not_fit_is_refused_and_nothing_changes(change, error, match):
    X, y = _problem()
    net = _net()
    net.fit(X, y, epochs=2, batch_size=8, optimizer="adam")
    before, history = net.get_training_state(), copy.deepcopy(net.history.as_dict())
    fresh = _net(seed=1)
    assert isinstance(before, TrainingState)
    changes = change(fresh.get_training_state())
    bad = (
        changes.pop("state")
        if "state" in changes
        else replace(fresh.get_training_state(), **changes)
    )
    with pytest.raises(error, match=match):
        net.set_training_state(bad)
    _assert_same(net.get_training_state(), before)
    assert net.history.as_dict() == history


def test_parameters_only_must_be_a_bool():
    net = _net()
    with pytest.raises(TypeError, match="parameters_only"):
        net.set_training_state(net.get_training_state(), parameters_only="yes")


def test_a_fit_that_cannot_begin_is_undone_through_the_state():
    class FailsToBegin(Callback):
        def on_train_begin(self, network):
            for W in network.weights:  # a callback that changes the network first
                W[...] = 0.0
            raise RuntimeError("cannot begin")

    X, y = _problem()
    net = _net()
    net.fit(X, y, epochs=2, batch_size=8, optimizer="rmsprop")
    before = net.get_training_state()
    with pytest.raises(RuntimeError, match="cannot begin"):
        net.fit(X, y, epochs=3, optimizer="adam", validation_split=0.25, callbacks=[FailsToBegin()])
    _assert_same(net.get_training_state(), before)
    assert net.optimizer.name == "rmsprop"


# ------------------------------------------------------------- partial_fit
def _count_workspaces(monkeypatch):
    made = []
    real = network_module.TrainingWorkspace

    def counted(*args, **kwargs):
        made.append(args[1])  # the rows it is sized for
        return real(*args, **kwargs)

    monkeypatch.setattr(network_module, "TrainingWorkspace", counted)
    return made


@pytest.mark.parametrize("batch_size", [None, 1000])
def test_partial_fit_streams_its_blocks_through_one_workspace(monkeypatch, batch_size):
    n = 2 * STREAM_BLOCK + 100  # two full blocks and a small last one
    X, y = _problem(n=n)
    streamed, blockwise = _net(dropout=0.0), _net(dropout=0.0)
    for model in (streamed, blockwise):
        model.optimizer = Adam(0.01)
    made = _count_workspaces(monkeypatch)
    streamed.partial_fit(X, y, batch_size=batch_size, shuffle=True)
    largest = STREAM_BLOCK if batch_size is None else batch_size
    assert made == [largest]
    # the same as a call per block, each with a workspace of its own
    blocks = network_module.stream_blocks(n, batch_size)
    assert len(blocks) == 3
    for rows in blocks:
        blockwise.partial_fit(X[rows], y[rows], batch_size=batch_size, shuffle=True)
    # a call per block makes its own, and the next call of the same shape
    # reuses it: one for the two full blocks, one for the small last block
    assert made[1:] == [largest, min(largest, X[blocks[-1]].shape[0])]
    np.testing.assert_array_equal(
        streamed.get_training_state().parameters, blockwise.get_training_state().parameters
    )
    assert streamed.history.as_dict() == blockwise.history.as_dict()
    assert streamed.rng.bit_generator.state == blockwise.rng.bit_generator.state


def test_partial_fit_reports_its_pass():
    n = STREAM_BLOCK + 100
    X, y = _problem(n=n)
    net = _net()
    assert net.last_pass is None
    weights = np.ones(n)
    net.partial_fit(X, y, batch_size=512, sample_weight=weights)
    report = net.last_pass
    assert isinstance(report, PassReport)
    assert report.block_rows == (STREAM_BLOCK, 100) and report.rows == n
    assert report.block_losses == tuple(net.history.loss)
    expected = np.average(net.history.loss, weights=[STREAM_BLOCK, 100])
    assert report.loss == pytest.approx(expected, rel=1e-15)
    weights[:STREAM_BLOCK] = 0.0  # the first block trains nothing
    net.partial_fit(X, y, batch_size=512, sample_weight=weights)
    assert net.last_pass.block_rows == (100,) and net.last_pass.loss == net.history.loss[-1]


def test_a_partial_fit_that_diverges_keeps_the_blocks_before():
    n = 2 * STREAM_BLOCK
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4))
    y = rng.standard_normal(n)
    y[STREAM_BLOCK:] = 1e200  # its squared error overflows
    net = Network([4, 6, 1], loss="mse", seed=0)
    with pytest.raises(NonFiniteLossError, match="block 2") as info:
        net.partial_fit(X, y, batch_size=STREAM_BLOCK // 4)
    assert info.value.epoch == 2 and len(info.value.history.loss) == 1
    assert int(net.get_training_state().counters[0]) == 4  # the first block's steps
    assert net.history.epochs == 1 and np.isfinite(net.get_training_state().parameters).all()
    assert net.last_pass is None


def test_a_state_is_not_put_back_while_another_thread_trains():
    import threading

    class PutsBack(Callback):
        def on_train_begin(self, network):
            self.network, self.state, self.errors = network, network.get_training_state(), []

        def on_epoch_end(self, epoch, logs):
            def put_back():
                try:
                    self.network.set_training_state(self.state)
                except RuntimeError as error:
                    self.errors.append(error)

            thread = threading.Thread(target=put_back)
            thread.start()
            thread.join()
            if epoch == 2:  # from the training thread itself it is allowed
                self.network.set_training_state(self.state, parameters_only=True)

    X, y = _problem()
    net = _net()
    callback = PutsBack()
    net.fit(X, y, epochs=2, batch_size=8, callbacks=[callback])
    assert len(callback.errors) == 2 and "already training" in str(callback.errors[0])
    np.testing.assert_array_equal(net.get_training_state().parameters, callback.state.parameters)
    assert net.history.epochs == 2


def test_a_state_keeps_its_history_through_a_rewind_and_retraining():
    # a state holds the history as it was, not the live object: rewinding,
    # training otherwise and putting a later state back gives that state's
    # values, not the second run's
    X, y = _problem()
    net = _net()
    first = net.get_training_state()
    net.fit(X, y, epochs=3, batch_size=8, learning_rate=0.01)
    later, values = net.get_training_state(), copy.deepcopy(net.history.as_dict())
    history = net.history
    net.set_training_state(first)
    assert net.history.epochs == 0
    net.fit(X, y, epochs=3, batch_size=8, learning_rate=0.5)
    assert net.history.learning_rate == [0.5, 0.5, 0.5]
    net.set_training_state(later)
    assert net.history.as_dict() == values and values["learning_rate"] == [0.01] * 3
    assert net.history is history  # the network's own object, which callers may hold
    np.testing.assert_array_equal(net.get_training_state().parameters, later.parameters)


def test_every_hyperparameter_comes_back_and_networks_never_share_an_optimizer():
    X, y = _problem()
    net = _net()
    optimizer = SGD(0.1, momentum=0.9)
    net.fit(X, y, epochs=1, batch_size=8, optimizer=optimizer)
    state = net.get_training_state()
    optimizer.momentum, optimizer.learning_rate = 0.0, 0.3
    net.set_training_state(state)
    assert net.optimizer is optimizer  # the same object: fit(optimizer=it) continues
    assert optimizer.momentum == 0.9 and optimizer.learning_rate == 0.1
    other = _net(seed=1)
    other.set_training_state(state)
    assert other.optimizer is not optimizer and other.optimizer == optimizer
    other.optimizer.learning_rate = 0.7
    assert optimizer.learning_rate == 0.1


def test_a_reused_workspace_leaks_nothing_into_the_next_fit():
    # a network keeps its last fit's buffers for the next fit of that
    # shape; whatever an earlier fit left in them changes no bit of the next
    X, y = _problem(n=300)
    used, fresh = _net(dropout=0.0), _net(dropout=0.0)
    start = used.get_training_state()
    used.fit(X[::-1], y[::-1], epochs=2, batch_size=64)  # other data through the buffers
    kept = used._workspace[1]
    used.set_training_state(start)
    for model in (used, fresh):
        model.fit(X, y, epochs=2, batch_size=64)
    assert used._workspace[1] is kept  # the same buffers, reused
    assert_same_arrays(used.get_training_state(), fresh.get_training_state())
    assert "_workspace" not in copy.deepcopy(used).__dict__  # a copy makes its own


def test_a_fit_without_callbacks_that_fails_before_training_puts_back_what_it_changed(
    monkeypatch,
):
    # without callbacks only the optimizer and the generator change before
    # training starts, so only they are saved; a failure there (here: right
    # after them) must still leave the network exactly as it was
    X, y = _problem(n=120)
    net = _net(dropout=0.0)
    net.fit(X, y, epochs=2, batch_size=32, optimizer="adam", learning_rate=0.01)
    before = net.get_training_state()
    optimizer, rng = net.optimizer, net.rng.bit_generator.state

    class Failing(network_module.History):
        def __init__(self, **kwargs):
            raise MemoryError("no room for the history")

    monkeypatch.setattr(network_module, "History", Failing)
    with pytest.raises(MemoryError, match="no room"):
        # a new optimizer zeroes the state; the split moves the generator
        net.fit(X, y, epochs=1, optimizer="sgd", learning_rate=0.5, validation_split=0.2)
    assert net.optimizer is optimizer and net.optimizer.learning_rate == 0.01
    assert net.rng.bit_generator.state == rng
    assert_same_arrays(net.get_training_state(), before)
