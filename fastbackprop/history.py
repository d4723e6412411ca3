"""The record of a ``fit``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch metrics of one call to :meth:`Network.fit`.

    Attributes
    ----------
    loss : list of float
        Mean of the batch losses seen during each epoch.
    accuracy : list of float or None
        Fraction of training rows predicted right during each epoch, for the
        classification losses; ``None`` for ``mse``.
    """

    loss: list = field(default_factory=list)
    accuracy: list | None = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.loss)

    def as_dict(self) -> dict:
        """The metrics as ``{name: list}``, leaving out absent ones."""
        return {
            k: v for k, v in (("loss", self.loss), ("accuracy", self.accuracy)) if v is not None
        }


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
