"""Callbacks: early stopping with exact weight restore, checkpoints, loggers,
progress output, and argument validation."""

import csv
import io
import json
import math
import sys

import numpy as np
import pytest

from fastbackprop import Network
from fastbackprop.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    ModelCheckpoint,
    ProgressBar,
)


class FakeNetwork:
    """Stands in for a Network where only ``save`` matters."""

    def __init__(self):
        self.saved = []

    def save(self, path):
        self.saved.append(path)


def run(callback, logs_per_epoch, network=None):
    """Drive ``callback`` through a fit; return the epoch it stopped at (or None)."""
    callback.on_train_begin(network if network is not None else FakeNetwork())
    stopped = None
    for epoch, logs in enumerate(logs_per_epoch, start=1):
        if callback.on_epoch_end(epoch, logs):
            stopped = epoch
            break
    callback.on_train_end()
    return stopped


def val_losses(*values):
    return [{"loss": 1.0, "val_loss": value} for value in values]


# ----------------------------------------------------------- EarlyStopping
def test_early_stopping_stops_after_patience_bad_epochs():
    stopper = EarlyStopping(patience=3, restore_best_weights=False)
    # best at epoch 3; epochs 4, 5, 6 do not improve -> stop at 6
    stopped = run(stopper, val_losses(1.0, 0.8, 0.5, 0.6, 0.5, 0.7, 0.1))
    assert stopped == 6
    assert stopper.stopped_epoch == 6
    assert stopper.best == 0.5 and stopper.best_epoch == 3


def test_early_stopping_patience_zero_stops_at_first_bad_epoch():
    stopper = EarlyStopping(patience=0, restore_best_weights=False)
    assert run(stopper, val_losses(1.0, 0.9, 0.95, 0.1)) == 3


def test_early_stopping_min_delta_must_be_exceeded():
    stopper = EarlyStopping(patience=2, min_delta=0.1, restore_best_weights=False)
    # 0.95 and 0.91 beat 1.0 by less than 0.1: not improvements
    assert run(stopper, val_losses(1.0, 0.95, 0.91, 0.5)) == 3
    assert stopper.best == 1.0 and stopper.best_epoch == 1


def test_early_stopping_not_stopped_reports_zero():
    stopper = EarlyStopping(patience=5, restore_best_weights=False)
    assert run(stopper, val_losses(3, 2, 1, 1.5)) is None
    assert stopper.stopped_epoch == 0 and stopper.best_epoch == 3


def test_early_stopping_nan_is_never_an_improvement():
    stopper = EarlyStopping(patience=1, restore_best_weights=False)
    assert run(stopper, val_losses(1.0, math.nan, 0.5)) == 2
    assert stopper.best == 1.0


def test_early_stopping_mode_max_for_accuracy():
    stopper = EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=False)
    assert stopper.mode == "max"
    logs = [{"val_accuracy": a} for a in (0.5, 0.7, 0.9, 0.8, 0.85, 0.99)]
    assert run(stopper, logs) == 5
    assert stopper.best == 0.9 and stopper.best_epoch == 3


def test_early_stopping_explicit_mode_overrides_auto():
    stopper = EarlyStopping(monitor="score", mode="max", patience=1, restore_best_weights=False)
    assert run(stopper, [{"score": s} for s in (1, 2, 1)]) == 3
    assert stopper.best == 2


def params(net):
    """A copy of every weight and bias, through the public live views."""
    return np.concatenate([a.ravel() for a in [*net.weights, *net.biases]])


def _scripted_fit(net, stopper, values):
    """Set every parameter of ``net`` to a value unique to the epoch, then
    report that epoch's val_loss; return a copy of the parameters per epoch."""
    stopper.on_train_begin(net)
    snapshots = {}
    stopped = None
    for epoch, value in enumerate(values, start=1):
        for layer, (W, b) in enumerate(zip(net.weights, net.biases)):
            W[...] = epoch + 0.1 * layer
            b[...] = -epoch - 0.1 * layer
        snapshots[epoch] = params(net)
        if stopper.on_epoch_end(epoch, {"loss": 0.0, "val_loss": value}):
            stopped = epoch
            break
    stopper.on_train_end()
    return snapshots, stopped


def test_early_stopping_restores_best_epoch_weights_when_stopping():
    net = Network([2, 3, 2], seed=0)
    stopper = EarlyStopping(patience=2)
    snapshots, stopped = _scripted_fit(net, stopper, [0.9, 0.4, 0.6, 0.5, 0.1])
    assert stopped == 4 and stopper.best_epoch == 2
    np.testing.assert_array_equal(params(net), snapshots[2])
    assert net.weights[0][0, 0] == 2.0 and net.biases[1][0] == -2.1


def test_early_stopping_restores_best_weights_when_epochs_run_out():
    net = Network([2, 3, 2], seed=0)
    stopper = EarlyStopping(patience=10)
    snapshots, stopped = _scripted_fit(net, stopper, [0.9, 0.8, 0.3, 0.5, 0.4])
    assert stopped is None and stopper.stopped_epoch == 0
    np.testing.assert_array_equal(params(net), snapshots[3])


def test_early_stopping_snapshot_is_a_copy_not_a_view():
    # if the snapshot aliased the live buffer, later epochs would overwrite it
    net = Network([2, 3, 2], seed=0)
    stopper = EarlyStopping(patience=5)
    snapshots, _ = _scripted_fit(net, stopper, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(params(net), snapshots[1])


def test_early_stopping_without_restore_keeps_last_weights():
    net = Network([2, 3, 2], seed=0)
    stopper = EarlyStopping(patience=1, restore_best_weights=False)
    snapshots, stopped = _scripted_fit(net, stopper, [0.2, 0.5, 0.1])
    assert stopped == 2
    np.testing.assert_array_equal(params(net), snapshots[2])


def test_early_stopping_state_resets_between_fits():
    net = Network([2, 3, 2], seed=0)
    stopper = EarlyStopping(patience=1)
    _scripted_fit(net, stopper, [0.1, 0.5])
    snapshots, stopped = _scripted_fit(net, stopper, [0.9, 0.8, 0.85])
    assert stopped == 3 and stopper.best == 0.8 and stopper.best_epoch == 2
    np.testing.assert_array_equal(params(net), snapshots[2])


def test_early_stopping_restores_after_a_real_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = (X[:, 0] > 0).astype(int)
    # the NumPy backend keeps this test free of Numba compile time
    net = Network([2, 3, 2], seed=0, backend="numpy")
    stopper = EarlyStopping(monitor="loss", patience=3)
    stopper.on_train_begin(net)
    best = None
    for epoch, lr in enumerate([0.1, 0.1, 5.0, 5.0, 5.0, 5.0], start=1):
        loss = net.fit(X, y, epochs=1, learning_rate=lr).loss[-1]
        val = net.compute_loss(X, y)
        if best is None or val < best[0]:
            best = (val, params(net))
        if stopper.on_epoch_end(epoch, {"loss": val, "train_loss": loss}):
            break
    # the rate jump makes later epochs worse, so restoring actually matters
    assert stopper.best_epoch < epoch
    assert net.compute_loss(X, y) > best[0]
    stopper.on_train_end()
    np.testing.assert_array_equal(params(net), best[1])
    assert net.compute_loss(X, y) == best[0]


def test_early_stopping_missing_monitor_names_key_and_changes_nothing():
    net = Network([2, 3, 2], seed=0)
    before = params(net)
    stopper = EarlyStopping()
    stopper.on_train_begin(net)
    with pytest.raises(ValueError, match=r"monitor='val_loss'.*validation data.*accuracy, loss"):
        stopper.on_epoch_end(1, {"loss": 0.3, "accuracy": 0.9})
    assert stopper.best == math.inf and stopper.best_epoch == 0
    stopper.on_train_end()
    np.testing.assert_array_equal(params(net), before)


# --------------------------------------------------------- ModelCheckpoint
def test_checkpoint_saves_every_epoch_with_formatted_path():
    net = FakeNetwork()
    ckpt = ModelCheckpoint("ckpt-{epoch:02d}-{loss:.2f}.npz")
    run(ckpt, [{"loss": 0.5}, {"loss": 0.25}, {"loss": 0.75}], net)
    assert net.saved == ["ckpt-01-0.50.npz", "ckpt-02-0.25.npz", "ckpt-03-0.75.npz"]
    assert ckpt.last_saved == "ckpt-03-0.75.npz"


def test_checkpoint_save_best_only_saves_only_on_improvement():
    net = FakeNetwork()
    ckpt = ModelCheckpoint("best-{epoch}-{val_loss}.npz", save_best_only=True)
    run(ckpt, val_losses(0.5, 0.6, 0.4, 0.4, 0.45, 0.1), net)
    assert net.saved == ["best-1-0.5.npz", "best-3-0.4.npz", "best-6-0.1.npz"]
    assert ckpt.best == 0.1


def test_checkpoint_save_best_only_mode_max():
    net = FakeNetwork()
    ckpt = ModelCheckpoint("m{epoch}", monitor="val_accuracy", save_best_only=True)
    run(ckpt, [{"val_accuracy": a} for a in (0.6, 0.5, 0.7)], net)
    assert net.saved == ["m1", "m3"]


def test_checkpoint_works_with_monkeypatched_network_save(monkeypatch, tmp_path):
    net = Network([2, 3, 2], seed=0)
    calls = []
    monkeypatch.setattr(net, "save", lambda path: calls.append(path), raising=False)
    run(ModelCheckpoint(tmp_path / "net-{epoch}.npz"), [{"loss": 1.0}] * 2, net)
    assert calls == [str(tmp_path / "net-1.npz"), str(tmp_path / "net-2.npz")]


def test_checkpoint_unknown_placeholder_is_explained():
    ckpt = ModelCheckpoint("ckpt-{val_acc}.npz")
    net = FakeNetwork()
    ckpt.on_train_begin(net)
    with pytest.raises(ValueError, match=r"placeholder 'val_acc'.*epoch, loss"):
        ckpt.on_epoch_end(1, {"loss": 1.0})
    assert net.saved == []


def test_checkpoint_missing_monitor_with_save_best_only():
    ckpt = ModelCheckpoint("x", save_best_only=True)
    ckpt.on_train_begin(FakeNetwork())
    with pytest.raises(ValueError, match=r"monitor='val_loss'.*available keys: loss"):
        ckpt.on_epoch_end(1, {"loss": 1.0})


# ------------------------------------------------------------------ loggers
LOGS = [
    {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625, "learning_rate": 0.1},
    {"loss": 0.25, "accuracy": 0.875, "val_loss": 0.5, "learning_rate": 0.01},
    {"loss": 0.1 + 0.2, "accuracy": 1.0, "val_loss": 1 / 3, "learning_rate": 1e-5},
]


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_header_and_rows(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), LOGS)
    rows = _read_csv(path)
    assert rows[0] == ["epoch", "accuracy", "learning_rate", "loss", "val_loss"]
    assert len(rows) == 1 + len(LOGS)
    for epoch, (row, logs) in enumerate(zip(rows[1:], LOGS), start=1):
        assert int(row[0]) == epoch
        # values round-trip exactly
        assert [float(x) for x in row[1:]] == [logs[k] for k in rows[0][1:]]


def test_csv_logger_flushes_every_epoch(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_train_begin(FakeNetwork())
    logger.on_epoch_end(1, LOGS[0])
    assert len(_read_csv(path)) == 2  # readable while training still runs
    logger.on_epoch_end(2, LOGS[1])
    assert len(_read_csv(path)) == 3
    logger.on_train_end()


def test_csv_logger_overwrite_and_append(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), LOGS)
    run(CSVLogger(path), LOGS[:1])
    assert len(_read_csv(path)) == 2  # overwritten
    run(CSVLogger(path, append=True), LOGS[1:])
    rows = _read_csv(path)
    assert [r[0] for r in rows] == ["epoch", "1", "1", "2"]  # one header only


def test_csv_logger_missing_key_written_as_na(tmp_path):
    path = tmp_path / "log.csv"
    run(CSVLogger(path), [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5}])
    assert _read_csv(path)[2] == ["2", "0.5", "NA"]


def test_json_logger_writes_whole_history_each_epoch(tmp_path):
    path = tmp_path / "log.json"
    logger = JSONLogger(path)
    logger.on_train_begin(FakeNetwork())
    for epoch, logs in enumerate(LOGS, start=1):
        logger.on_epoch_end(epoch, logs)
        records = json.loads(path.read_text())
        assert len(records) == epoch
        assert records[-1] == {"epoch": epoch, **logs}
    logger.on_train_end()
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]  # no temp files left


def test_json_logger_is_strict_json_with_numpy_values(tmp_path):
    path = tmp_path / "log.json"
    run(JSONLogger(path), [{"loss": np.float32(0.5), "val_loss": math.nan, "n": np.int64(3)}])
    text = path.read_text()
    assert "NaN" not in text
    assert json.loads(text) == [{"epoch": 1, "loss": 0.5, "val_loss": None, "n": 3}]


def test_json_logger_starts_fresh_each_fit(tmp_path):
    path = tmp_path / "log.json"
    logger = JSONLogger(path)
    run(logger, LOGS)
    run(logger, LOGS[:1])
    assert len(json.loads(path.read_text())) == 1


# -------------------------------------------------------------- ProgressBar
class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    logs = [{"loss": 0.12344, "val_loss": 0.23456}, {"loss": 0.1, "learning_rate": 1e-5}]
    run(ProgressBar(10, stream=stream), logs)
    assert stream.getvalue().splitlines() == [
        "Epoch 1/10 - loss: 0.1234 - val_loss: 0.2346",
        "Epoch 2/10 - loss: 0.1000 - learning_rate: 1.000e-05",
    ]


def test_progress_defaults_to_stdout(capsys):
    run(ProgressBar(2), [{"loss": 1.0}, {"loss": 0.5}])
    assert capsys.readouterr().out == "Epoch 1/2 - loss: 1.0000\nEpoch 2/2 - loss: 0.5000\n"


def test_progress_uses_tqdm_on_a_terminal():
    pytest.importorskip("tqdm")
    stream = FakeTerminal()
    run(ProgressBar(3, stream=stream), [{"loss": 0.5, "val_loss": 0.75}] * 3)
    out = stream.getvalue()
    assert "Epoch 1/3" not in out
    assert "3/3" in out and "loss=0.5000" in out and "val_loss=0.7500" in out


def test_progress_falls_back_to_lines_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    stream = FakeTerminal()
    run(ProgressBar(1, stream=stream), [{"loss": 0.5}])
    assert stream.getvalue() == "Epoch 1/1 - loss: 0.5000\n"


# ------------------------------------------------------------- CallbackList
class Recorder(Callback):
    def __init__(self, stop_at=None):
        self.events = []
        self.stop_at = stop_at

    def on_train_begin(self, network):
        self.events.append(("begin", network))

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch", epoch))
        return epoch == self.stop_at

    def on_train_end(self):
        self.events.append(("end",))


def test_callback_list_calls_all_and_stops_if_any_asks():
    first, second = Recorder(stop_at=2), Recorder()
    net = FakeNetwork()
    assert run(CallbackList([first, second]), [{}] * 5, net) == 2
    expected = [("begin", net), ("epoch", 1), ("epoch", 2), ("end",)]
    assert first.events == expected and second.events == expected


def test_callback_list_accepts_none_and_single():
    assert len(CallbackList()) == 0 and len(CallbackList(None)) == 0
    assert len(CallbackList(Recorder())) == 1


def test_base_callback_is_a_no_op():
    assert run(Callback(), [{"loss": 1.0}] * 3) is None


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match=r"callbacks\[1\] must be a fastbackprop"):
        CallbackList([Recorder(), print])
    with pytest.raises(TypeError, match="callbacks must be a Callback or a list"):
        CallbackList("early")


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: EarlyStopping(patience=-1), ValueError, "patience must be >= 0"),
        (lambda: EarlyStopping(patience=2.0), TypeError, "patience must be an int"),
        (lambda: EarlyStopping(patience=True), TypeError, "patience must be an int"),
        (lambda: EarlyStopping(min_delta=-0.1), ValueError, "min_delta must be >= 0"),
        (lambda: EarlyStopping(min_delta=math.inf), ValueError, "min_delta must be >= 0 and fin"),
        (lambda: EarlyStopping(min_delta=math.nan), ValueError, "min_delta"),
        (lambda: EarlyStopping(min_delta="0"), TypeError, "min_delta must be a finite number"),
        (lambda: EarlyStopping(mode="best"), ValueError, "mode='best'.*auto, min, max"),
        (lambda: EarlyStopping(mode=None), TypeError, "mode must be a string"),
        (lambda: EarlyStopping(monitor=None), TypeError, "monitor must be a str"),
        (lambda: EarlyStopping(restore_best_weights=1), TypeError, "restore_best_weights"),
        (lambda: ModelCheckpoint(3), TypeError, "path must be a str"),
        (lambda: ModelCheckpoint(""), ValueError, "path must be a non-empty"),
        (lambda: ModelCheckpoint("p", mode="lower"), ValueError, "mode='lower'"),
        (lambda: ModelCheckpoint("p", monitor=1), TypeError, "monitor must be a str"),
        (lambda: ModelCheckpoint("p", save_best_only="yes"), TypeError, "save_best_only"),
        (lambda: ModelCheckpoint("ck{.npz"), ValueError, "'ck{.npz' is not a usable format"),
        (lambda: ModelCheckpoint("ck{loss:d}.npz"), ValueError, "not a usable format"),
        (lambda: ModelCheckpoint("ck{0}.npz"), ValueError, "not a usable format"),
        (lambda: CSVLogger(None), TypeError, "path must be a str"),
        (lambda: CSVLogger("p", append="no"), TypeError, "append must be True or False"),
        (lambda: JSONLogger(1.5), TypeError, "path must be a str"),
        (lambda: ProgressBar(-1), ValueError, "total_epochs must be >= 0"),
        (lambda: ProgressBar(3.0), TypeError, "total_epochs must be an int"),
        (lambda: ProgressBar(3, stream="out"), TypeError, "stream must have a write method"),
    ],
)
def test_bad_arguments_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 2)
XOR_Y = np.array([0, 1, 1, 0] * 2)


def test_a_path_that_cannot_be_written_stops_fit_before_any_epoch(tmp_path):
    # the directory goes away between making the callbacks and fitting: fit
    # fails before any epoch, leaves the earlier log file as it was (a
    # CSVLogger opens its file only when the first epoch ends), and undoes
    # the optimizer it had swapped in and the validation split it had drawn
    net = Network([2, 3, 2], seed=0)
    logged = tmp_path / "a.csv"
    net.fit(
        XOR_X, XOR_Y, epochs=3, optimizer="adam", learning_rate=0.01, callbacks=[CSVLogger(logged)]
    )
    log_before = logged.read_text()
    gone = tmp_path / "gone"
    gone.mkdir()
    for bad in (
        ModelCheckpoint(gone / "ck.npz"),
        JSONLogger(gone / "j"),
        CSVLogger(str(gone / ".." / "b.csv")),
    ):  # "gone/../b.csv" has no directory
        before = net.get_training_state()
        optimizer, history = net.optimizer, net.history.as_dict()
        gone.rmdir()
        nested = CallbackList([bad])  # a list inside the list is begun in order too
        with pytest.raises(ValueError, match="does not exist"):
            net.fit(
                XOR_X,
                XOR_Y,
                epochs=1,
                optimizer="sgd",
                learning_rate=0.5,
                validation_split=0.5,
                callbacks=[CSVLogger(logged), nested],
            )
        gone.mkdir()
        assert net.optimizer is optimizer and optimizer.learning_rate == 0.01
        after = net.get_training_state()
        np.testing.assert_array_equal(after.optimizer_state, before.optimizer_state)
        np.testing.assert_array_equal(after.counters, before.counters)
        np.testing.assert_array_equal(after.parameters, before.parameters)
        assert after.rng_state == before.rng_state
        assert net.history.as_dict() == history
        assert logged.read_text() == log_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "gone"]
    # and the next fit continues exactly as if the failed ones had not happened
    twin = Network([2, 3, 2], seed=0)
    twin.fit(XOR_X, XOR_Y, epochs=3, optimizer="adam", learning_rate=0.01)
    for model in (net, twin):
        model.fit(XOR_X, XOR_Y, epochs=2, validation_split=0.5)
    np.testing.assert_array_equal(
        net.get_training_state().parameters, twin.get_training_state().parameters
    )


def test_a_callback_that_fails_to_begin_ends_those_begun(tmp_path):
    class Refuses(Callback):
        def on_train_begin(self, network):
            raise RuntimeError("not today")

    net = Network([2, 3, 2], seed=0)
    net.fit(XOR_X, XOR_Y, epochs=2, optimizer="rmsprop", learning_rate=0.01)
    before = net.get_training_state()
    (tmp_path / "a.csv").write_text("kept\n")
    logger = CSVLogger(tmp_path / "a.csv")
    with pytest.raises(RuntimeError, match="not today"):
        net.fit(XOR_X, XOR_Y, epochs=1, optimizer="adam", callbacks=[logger, Refuses()])
    assert logger._file is None and (tmp_path / "a.csv").read_text() == "kept\n"
    assert net.optimizer is before.optimizer
    after = net.get_training_state()
    np.testing.assert_array_equal(after.optimizer_state, before.optimizer_state)
    np.testing.assert_array_equal(after.counters, before.counters)
    np.testing.assert_array_equal(after.parameters, before.parameters)


def test_a_callback_may_make_the_directory_a_later_one_logs_into(tmp_path):
    run_dir = tmp_path / "run1"

    class MakesRunDir(Callback):
        def on_train_begin(self, network):
            run_dir.mkdir()

    callbacks = [MakesRunDir(), CSVLogger(run_dir / "log.csv"), ModelCheckpoint(run_dir / "m")]
    Network([2, 3, 2], seed=0).fit(XOR_X, XOR_Y, epochs=2, callbacks=callbacks)
    assert sorted(p.name for p in run_dir.iterdir()) == ["log.csv", "m"]


def test_file_callbacks_may_be_made_before_their_directory(tmp_path):
    out = tmp_path / "out"
    callbacks = [CSVLogger(out / "l.csv"), JSONLogger(out / "l.json"), ModelCheckpoint(out / "m")]
    out.mkdir()
    Network([2, 3, 2], seed=0).fit(XOR_X, XOR_Y, epochs=2, callbacks=callbacks)
    assert sorted(p.name for p in out.iterdir()) == ["l.csv", "l.json", "m"]


@pytest.mark.parametrize("path", ["ck-{tag:s}.npz", "ck-{epoch:03d}-{val_loss:.4f}.npz", "{x}/ck"])
def test_checkpoint_paths_a_user_metric_could_fill_are_accepted(path):
    assert ModelCheckpoint(path).path == path


def test_a_directory_is_not_a_file_path(tmp_path):
    for make in (CSVLogger, JSONLogger, ModelCheckpoint):
        with pytest.raises(ValueError, match="is a directory"):
            CallbackList([make(tmp_path)]).on_train_begin(None)
