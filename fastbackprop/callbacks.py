"""Training callbacks, with Keras semantics.

``Network.fit`` calls, in order:

1. ``on_train_begin(network)`` once, before the first epoch;
2. ``on_epoch_end(epoch, logs)`` after every epoch (``epoch`` is 1-based,
   ``logs`` a dict such as ``{"loss": .., "accuracy": .., "val_loss": ..,
   "val_accuracy": .., "learning_rate": ..}``); a callback returning ``True``
   asks training to stop after this epoch;
3. ``on_train_end()`` once, after the last epoch, however training ended.

:class:`CallbackList` runs a list of callbacks with that protocol, so every
callback sees every epoch even when an earlier one asks to stop.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys

import numpy as np

from . import _validation as v
from ._atomic import atomic_write, check_target

MODES = ("auto", "min", "max")


def _check_path(path, argument: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a str or os.PathLike; got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{argument} must be a non-empty text path; got {path!r}")
    return path


def _check_writable(path, argument: str = "path"):
    """Refuse a file path that cannot be written (``_atomic.check_target``:
    its directory is missing, or it is a directory). The file callbacks run
    this when training begins (a callback before them may have made the
    directory), so the mistake shows before the first epoch; none of them
    opens its file before the first epoch ends. Placeholders
    (``"run{epoch}/ck.npz"``) leave what they touch to the save itself."""
    directory, name = os.path.split(path)
    if "{" in directory:
        return
    try:  # a placeholder in the name: only the directory can be checked
        check_target(path if "{" not in name else os.path.join(directory, "file"))
    except FileNotFoundError:
        raise ValueError(
            f"{argument} {path!r}: the directory {directory!r} does not exist"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"{argument} {path!r} is a directory, not a file path") from None


#: a value of each metric ``fit`` logs, to try a path's format specs on
_FIT_LOG_EXAMPLES = {
    "epoch": 1,
    "loss": 0.5,
    "accuracy": 0.5,
    "val_loss": 0.5,
    "val_accuracy": 0.5,
    "learning_rate": 0.01,
}


class _AnyLogValue:
    """Stands in for a metric a user's callback may add: takes any format
    spec, attribute or index."""

    def __format__(self, spec):
        return ""

    def __getattr__(self, name):
        return self

    def __getitem__(self, key):
        return self


class _ExampleLogs(dict):
    def __missing__(self, key):
        return _AnyLogValue()


def _check_format(path, argument: str = "path"):
    """Refuse a path that no epoch could fill: broken braces, a positional
    field, or a format spec that ``fit``'s own metric cannot take
    (``{loss:d}``)."""
    try:
        path.format_map(_ExampleLogs(_FIT_LOG_EXAMPLES))
    except (ValueError, IndexError, AttributeError, TypeError, KeyError) as exc:
        raise ValueError(f"{argument} {path!r} is not a usable format string: {exc}") from None


class _Monitor:
    """Tracks the best value of one logged metric.

    Shared by :class:`EarlyStopping`, :class:`ModelCheckpoint` and
    ``schedules.ReduceLROnPlateau`` so all three agree on what "improved"
    means: better than the best so far by more than ``min_delta``.
    """

    def __init__(self, monitor, mode, min_delta):
        if not isinstance(monitor, str):
            raise TypeError(
                f"monitor must be a str naming a logged metric; got {type(monitor).__name__}"
            )
        mode = v.check_name(mode, MODES, "mode")
        if mode == "auto":
            # accuracy-like metrics grow as the model improves; losses shrink
            mode = "max" if "acc" in monitor else "min"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = v.check_non_negative_float(min_delta, "min_delta")
        self.reset()

    def reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs) -> float:
        if self.monitor not in logs:
            hint = (
                " (val_* metrics need validation data)" if self.monitor.startswith("val_") else ""
            )
            raise ValueError(
                f"monitor={self.monitor!r} is not in the epoch logs{hint}; "
                f"available keys: {', '.join(sorted(logs)) or 'none'}"
            )
        return float(logs[self.monitor])

    def improved(self, current: float) -> bool:
        # NaN compares False both ways, so a NaN value is never an improvement
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta


class Callback:
    """Base class: every hook is a no-op. Subclass and override what you need."""

    def on_train_begin(self, network):
        """Called once before the first epoch with the network being trained."""

    def on_epoch_end(self, epoch: int, logs: dict) -> bool | None:
        """Called after each epoch.

        Parameters
        ----------
        epoch : int
            1-based number of the epoch just finished.
        logs : dict
            The epoch's metrics, e.g. ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``, ``learning_rate``.

        Returns
        -------
        bool or None
            ``True`` asks training to stop after this epoch.
        """

    def on_train_end(self):
        """Called once after the last epoch, whether training stopped early or not."""

    def monitored_metrics(self) -> tuple:
        """Names of the logged metrics this callback reads (none here):
        ``fit`` refuses ``val_loss`` or ``val_accuracy`` without validation
        data before training starts."""
        return ()


class CallbackList(Callback):
    """Runs several callbacks as one.

    Parameters
    ----------
    callbacks : None, Callback or sequence of Callback
        ``None`` means no callbacks.

    Notes
    -----
    ``on_epoch_end`` calls every callback, then returns ``True`` if any asked
    to stop, so a logger after an :class:`EarlyStopping` still records the
    final epoch.
    """

    def __init__(self, callbacks=None):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        elif isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(
                f"callbacks must be a Callback or a list of them; got {type(callbacks).__name__}"
            )
        callbacks = list(callbacks)
        for i, callback in enumerate(callbacks):
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks[{i}] must be a fastbackprop.callbacks.Callback; "
                    f"got {type(callback).__name__}"
                )
        self.callbacks = callbacks

    def __len__(self):
        return len(self.callbacks)

    def on_train_begin(self, network):
        # if one fails to begin, those begun end (closing any files)
        begun = []
        try:
            for callback in self.callbacks:
                callback.on_train_begin(network)
                begun.append(callback)
        except BaseException:
            for callback in begun:
                with contextlib.suppress(Exception):
                    callback.on_train_end()
            raise

    def on_epoch_end(self, epoch, logs):
        stop = False
        for callback in self.callbacks:
            stop = bool(callback.on_epoch_end(epoch, logs)) or stop
        return stop

    def on_train_end(self):
        for callback in self.callbacks:
            callback.on_train_end()

    def monitored_metrics(self):
        return tuple(metric for c in self.callbacks for metric in c.monitored_metrics())

    def has_foreign_callbacks(self) -> bool:
        """Whether any callback, in nested lists too, is not one of this
        module's own classes (a user's, or a subclass of one of these):
        only such a callback can add names to the epoch logs."""
        for callback in self.callbacks:
            if isinstance(callback, CallbackList):
                if callback.has_foreign_callbacks():
                    return True
            elif type(callback).__module__ != __name__:
                return True
        return False


class EarlyStopping(Callback):
    """Stop training when a monitored metric stops improving.

    Parameters
    ----------
    monitor : str, default "val_loss"
        Key of the epoch logs to watch.
    patience : int, default 10
        Epochs without improvement after which training stops: with
        ``patience=3`` and the best value at epoch 5, training stops at the
        end of epoch 8.
    min_delta : float, default 0.0
        An improvement must beat the best value by more than this.
    mode : {"auto", "min", "max"}, default "auto"
        ``auto`` is ``max`` when ``monitor`` contains ``"acc"``, else ``min``.
    restore_best_weights : bool, default True
        Copy the parameters whenever the metric improves, and write the best
        copy back at the end of training, so the network ends with exactly the
        parameters of its best epoch, whether or not training stopped early.

    Attributes
    ----------
    best : float
        Best monitored value seen.
    best_epoch : int
        1-based epoch of ``best`` (0 before any improvement).
    stopped_epoch : int
        Epoch at which training was stopped, 0 if it was not.

    Raises
    ------
    ValueError
        From ``on_epoch_end`` when ``monitor`` is not among the logs, e.g.
        ``"val_loss"`` without validation data.
    """

    def __init__(
        self,
        monitor="val_loss",
        patience=10,
        min_delta=0.0,
        mode="auto",
        restore_best_weights=True,
    ):
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.patience = v.check_count(patience, "patience", 0)
        self.restore_best_weights = v.check_bool(restore_best_weights, "restore_best_weights")
        self._network = None
        self._reset()

    monitor = property(lambda self: self._monitor.monitor, doc="Name of the watched metric.")
    mode = property(lambda self: self._monitor.mode, doc='Resolved mode, "min" or "max".')
    min_delta = property(lambda self: self._monitor.min_delta, doc="Smallest improvement.")
    best = property(lambda self: self._monitor.best, doc="Best monitored value seen.")

    def _reset(self):
        self._monitor.reset()
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.wait = 0
        self._best_state = None  # the network's state at the best epoch

    def monitored_metrics(self):
        return (self.monitor,)

    def on_train_begin(self, network):
        # reset so one instance can serve several fits
        self._reset()
        self._network = network

    def on_epoch_end(self, epoch, logs):
        current = self._monitor.value(logs)
        if self._monitor.improved(current):
            self._monitor.best = current
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights and self._network is not None:
                self._best_state = self._network.get_training_state()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self):
        if self.restore_best_weights and self._best_state is not None:
            # the weights only: the optimizer, its steps and the history go on
            self._network.set_training_state(self._best_state, parameters_only=True)
        self._best_state = None
        self._network = None


class ModelCheckpoint(Callback):
    """Save the network after epochs, optionally only when a metric improves.

    Parameters
    ----------
    path : str or os.PathLike
        Where to save. May hold ``{epoch}`` and metric placeholders, filled
        with ``path.format(epoch=epoch, **logs)``, e.g.
        ``"ckpt-{epoch:03d}-{val_loss:.4f}.npz"``.
    monitor : str, default "val_loss"
        Metric that decides improvement when ``save_best_only``.
    save_best_only : bool, default False
        Save only when ``monitor`` improves on its best value so far;
        otherwise save after every epoch.
    mode : {"auto", "min", "max"}, default "auto"
        As in :class:`EarlyStopping`.

    Attributes
    ----------
    best : float
        Best monitored value seen (only tracked with ``save_best_only``).
    last_saved : str or None
        Path of the most recent save.

    Notes
    -----
    Saving is ``network.save(path)``.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        self.path = _check_path(path)
        _check_format(self.path)
        self._monitor = _Monitor(monitor, mode, 0.0)
        self.save_best_only = v.check_bool(save_best_only, "save_best_only")
        self._network = None
        self.last_saved = None

    monitor = property(lambda self: self._monitor.monitor, doc="Name of the watched metric.")
    mode = property(lambda self: self._monitor.mode, doc='Resolved mode, "min" or "max".')
    best = property(lambda self: self._monitor.best, doc="Best monitored value seen.")

    def monitored_metrics(self):
        return (self.monitor,) if self.save_best_only else ()

    def on_train_begin(self, network):
        _check_writable(self.path)
        self._monitor.reset()
        self._network = network
        self.last_saved = None

    def _format_path(self, epoch, logs) -> str:
        fields = {**logs, "epoch": epoch}
        try:
            return self.path.format(**fields)
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"path {self.path!r} has placeholder {exc} that is not in the epoch logs; "
                f"available: {', '.join(sorted(fields))}"
            ) from None

    def on_epoch_end(self, epoch, logs):
        if self._network is None:
            raise RuntimeError("ModelCheckpoint.on_train_begin(network) was not called")
        if self.save_best_only:
            current = self._monitor.value(logs)
            if not self._monitor.improved(current):
                return False
        path = self._format_path(epoch, logs)
        self._network.save(path)
        # only a save that succeeded counts as the new best
        if self.save_best_only:
            self._monitor.best = current
        self.last_saved = path
        return False

    def on_train_end(self):
        self._network = None


def _plain(value):
    """A log value as a JSON/CSV friendly Python scalar."""
    if isinstance(value, np.generic):
        value = value.item()
    return value


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` then the log keys, sorted.

    Parameters
    ----------
    path : str or os.PathLike
        File to write.
    append : bool, default False
        Append to an existing file (writing no second header if it already
        has content) instead of overwriting it.

    Notes
    -----
    The columns are fixed by the first epoch's logs; a key missing from a
    later epoch is written as ``NA``. The file is flushed after every row, so
    it can be read while training runs. It is opened when the first epoch
    ends, so a fit that fails before then leaves an existing file as it was.
    """

    def __init__(self, path, append=False):
        self.path = _check_path(path)
        self.append = v.check_bool(append, "append")
        self._file = None
        self._writer = None
        self._keys = None
        self._header_written = False

    def on_train_begin(self, network):
        # the file is opened (and, without append, emptied) when the first
        # epoch ends: a fit that fails to start leaves it as it was
        _check_writable(self.path)
        self.on_train_end()

    def _open(self):
        self.on_train_end()
        has_content = self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._file = open(self.path, "a" if self.append else "w", newline="", encoding="utf-8")
        self._keys = None
        self._header_written = has_content

    def on_epoch_end(self, epoch, logs):
        if self._file is None:
            self._open()
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file)
            if not self._header_written:
                self._writer.writerow(["epoch", *self._keys])
        # str(float) is the shortest repr that round-trips exactly
        row = [epoch] + [_plain(logs[k]) if k in logs else "NA" for k in self._keys]
        self._writer.writerow(row)
        self._file.flush()
        return False

    def on_train_end(self):
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None


def _json_value(value):
    value = _plain(value)
    # strict JSON has no NaN or Infinity; null keeps the file readable anywhere
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JSONLogger(Callback):
    """Keep the whole history as a JSON list of per-epoch dicts.

    Parameters
    ----------
    path : str or os.PathLike
        File rewritten after every epoch with ``[{"epoch": 1, "loss": ..}, ..]``.

    Notes
    -----
    Each write goes to a temporary file in the same directory, then
    ``os.replace`` swaps it in, so a reader never sees a half-written file.
    Non-finite numbers are written as ``null``.
    """

    def __init__(self, path):
        self.path = _check_path(path)
        self.records = []

    def on_train_begin(self, network):
        _check_writable(self.path)
        self.records = []

    def on_epoch_end(self, epoch, logs):
        record = {"epoch": epoch}
        record.update({k: _json_value(val) for k, val in logs.items() if k != "epoch"})
        self.records.append(record)
        self._write()
        return False

    def _write(self):
        # atomic but not synced to disk: it is rewritten after every epoch
        with atomic_write(self.path, "w", encoding="utf-8", durable=False) as f:
            json.dump(self.records, f, indent=1, allow_nan=False)


def _format_metric(value) -> str:
    value = _plain(value)
    if isinstance(value, float):
        # tiny values (a decayed learning rate) would print as 0.0000
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3e}"
        return f"{value:.4f}"
    return str(value)


class ProgressBar(Callback):
    """Show training progress.

    Uses a ``tqdm`` bar with the live metrics when tqdm is installed and the
    stream is a terminal; otherwise prints one line per epoch, like
    ``Epoch 3/10 - loss: 0.1234 - val_loss: 0.2345``.

    Parameters
    ----------
    total_epochs : int
        Number of epochs the fit will run (the bar's length).
    stream : file-like or None
        Where to write; ``None`` means ``sys.stdout`` at the time of writing.
    """

    def __init__(self, total_epochs, stream=None):
        self.total_epochs = v.check_count(total_epochs, "total_epochs", 0)
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(f"stream must have a write method; got {type(stream).__name__}")
        self.stream = stream
        self._bar = None

    def _stream(self):
        return sys.stdout if self.stream is None else self.stream

    def _make_bar(self, stream):
        isatty = getattr(stream, "isatty", None)
        if not (callable(isatty) and isatty()):
            return None
        try:
            # optional dependency (the "progress" extra): imported only when used
            from tqdm import tqdm
        except ImportError:
            return None
        return tqdm(total=self.total_epochs, file=stream, unit="epoch", dynamic_ncols=True)

    def on_train_begin(self, network):
        self.on_train_end()
        self._bar = self._make_bar(self._stream())

    def on_epoch_end(self, epoch, logs):
        metrics = {k: _format_metric(val) for k, val in logs.items()}
        if self._bar is not None:
            self._bar.set_postfix(metrics, refresh=False)
            self._bar.update(1)
            return False
        stream = self._stream()
        parts = [f"Epoch {epoch}/{self.total_epochs}"]
        parts += [f"{k}: {val}" for k, val in metrics.items()]
        stream.write(" - ".join(parts) + "\n")
        stream.flush()
        return False

    def on_train_end(self):
        if self._bar is not None:
            self._bar.close()
        self._bar = None
