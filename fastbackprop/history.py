"""The record of a ``fit``."""

from __future__ import annotations

from dataclasses import dataclass, field

_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


@dataclass
class History:
    """Per-epoch metrics of :meth:`Network.fit`.

    Attributes
    ----------
    loss : list of float
        Mean of the batch losses seen during each epoch, each batch weighing
        its rows (a short last batch counts less), as scikit-learn's.
    accuracy : list of float or None
        Fraction of training rows predicted right during each epoch, for the
        classification losses; ``None`` for ``mse``.
    val_loss, val_accuracy : list of float
        The weighted mean loss and the fraction predicted right on the
        validation data after each epoch (see :meth:`Network.fit` for their
        weights; empty without validation data; ``val_accuracy`` is ``None``
        for ``mse``).
    learning_rate : list of float
        The rate each epoch ran with.
    """

    loss: list = field(default_factory=list)
    accuracy: list | None = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list | None = field(default_factory=list)
    learning_rate: list = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.loss)

    def append(self, logs: dict) -> None:
        """Add one epoch's metrics."""
        for key in _KEYS:
            values = getattr(self, key)
            if values is not None and key in logs:
                values.append(float(logs[key]))

    def extend(self, other: History) -> None:
        """Add every epoch of ``other``."""
        for key in _KEYS:
            mine, theirs = getattr(self, key), getattr(other, key)
            if mine is not None and theirs:
                mine.extend(theirs)

    def lengths(self) -> dict:
        """How many values each metric holds, for :meth:`truncate`."""
        return {
            key: None if getattr(self, key) is None else len(getattr(self, key)) for key in _KEYS
        }

    def truncate(self, lengths: dict) -> None:
        """Drop what was recorded after :meth:`lengths` gave ``lengths``."""
        for key, length in lengths.items():
            values = getattr(self, key)
            if values is not None:
                del values[length:]

    def as_dict(self) -> dict:
        """The metrics as ``{name: list}``; absent ones are ``None``."""
        return {key: getattr(self, key) for key in _KEYS}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """The inverse of :meth:`as_dict`.

        Raises
        ------
        ValueError
            Unless ``data`` is a dict whose metrics are lists of numbers or
            None (a saved file's history, which may come from anywhere).
        """
        if not isinstance(data, dict):
            raise ValueError(f"history must be a dict of metric lists; got {type(data).__name__}")
        values = {key: data.get(key, []) for key in _KEYS}
        for key, metric in values.items():
            if metric is None and key in ("accuracy", "val_accuracy"):
                continue  # the accuracies of an mse network
            if not isinstance(metric, list) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in metric
            ):
                raise ValueError(f"history[{key!r}] must be a list of numbers")
        # one value per epoch in each, the validation ones when there were any
        epochs = len(values["loss"])
        for key in ("accuracy", "learning_rate"):
            if values[key] is not None and len(values[key]) != epochs:
                raise ValueError(f"history[{key!r}] has {len(values[key])} epochs, loss {epochs}")
        return cls(**values)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf during training.

    Attributes
    ----------
    epoch : int
        The 1-based epoch in which it happened.
    history : History
        The metrics of the epochs completed before it.
    """

    def __init__(self, message: str, epoch: int, history: History | None = None):
        super().__init__(message)
        self.epoch = epoch
        self.history = history
