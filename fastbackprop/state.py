"""A network's whole training state, taken and put back as one value.

:meth:`Network.get_training_state` takes it and
:meth:`Network.set_training_state` puts it back. Every rollback of a call
that fails, ``EarlyStopping``'s best weights, the estimators and saving use
this one pair.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._layout import Counter
from .history import History

__all__ = ["TrainingState"]


def _frozen_copy(array, dtype=None) -> np.ndarray:
    copied = np.array(array, dtype=dtype, copy=True, order="C")
    copied.flags.writeable = False
    return copied


@dataclass(frozen=True, eq=False, repr=False)
class TrainingState:
    """Everything training changes in a :class:`~fastbackprop.Network`.

    Made by :meth:`Network.get_training_state`; put back with
    :meth:`Network.set_training_state`. The arrays are read-only copies, so
    training the network after taking a state does not change the state.

    Attributes
    ----------
    layer_sizes : tuple of int
        The layer sizes of the network the state was taken from: a state
        only fits a network with the same ones (and ``dtype``).
    parameters : ndarray (n_parameters,)
        The weights and biases, flat, layer by layer: ``W_0`` (row major),
        ``b_0``, ``W_1``, ``b_1``, ... in the network's dtype.
    optimizer : Optimizer
        The optimizer object itself: putting the state back into the network
        it came from makes it that network's optimizer again (so a later
        ``fit(optimizer=...)`` with that instance continues its state); into
        another network, a copy of it.
    optimizer_config : dict
        The optimizer's hyperparameters when the state was taken
        (``get_config()``), put back with it.
    learning_rate : float
        The optimizer's learning rate when the state was taken (``fit``'s
        ``learning_rate`` argument changes it in place).
    optimizer_state : ndarray (2, n_parameters)
        The optimizer's moment buffers (Adam's ``m`` and ``v``, SGD's
        momentum buffer), laid out like ``parameters``.
    counters : ndarray (2,) of int64
        The optimizer's step count (Adam's bias correction) and the count
        of every step taken (which keys the dropout masks).
    rng_state : dict
        The state of the network's generator (:attr:`Network.rng`), as
        ``numpy.random.Generator.bit_generator.state`` gives it.
    dropout_seed : int
        The seed of the dropout masks, drawn once when the network was made.
    history : History
        A copy of the network's ``history`` when the state was taken;
        putting the state back gives the network's own ``history`` these
        values again.
    history_lengths : dict
        ``history.lengths()`` when the state was taken.
    """

    layer_sizes: tuple
    parameters: np.ndarray
    optimizer: Any
    learning_rate: float
    optimizer_state: np.ndarray
    counters: np.ndarray
    rng_state: dict
    dropout_seed: int
    history: Any
    history_lengths: dict
    optimizer_config: dict | None = None  # None: the optimizer's get_config() now

    def __post_init__(self):
        # copies, read-only: a state never changes after it is taken
        object.__setattr__(self, "layer_sizes", tuple(int(s) for s in self.layer_sizes))
        object.__setattr__(self, "parameters", _frozen_copy(self.parameters))
        object.__setattr__(self, "optimizer_state", _frozen_copy(self.optimizer_state))
        object.__setattr__(self, "counters", _frozen_copy(self.counters))
        object.__setattr__(self, "rng_state", copy.deepcopy(self.rng_state))
        object.__setattr__(self, "history_lengths", dict(self.history_lengths))
        # snapshots, not the live objects: a network's history and optimizer
        # go on changing after the state is taken
        history = self.history
        if isinstance(history, History):
            # each metric's list copied (its floats are immutable): cheaper
            # than a deep copy for EarlyStopping, which takes a state at
            # every better epoch
            values = history.as_dict().items()
            copies = {key: None if value is None else list(value) for key, value in values}
            object.__setattr__(self, "history", History(**copies))
        if self.optimizer_config is None:
            config = getattr(self.optimizer, "get_config", None)
            object.__setattr__(self, "optimizer_config", dict(config()) if callable(config) else {})
        elif isinstance(self.optimizer_config, dict):
            object.__setattr__(self, "optimizer_config", dict(self.optimizer_config))

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters (the network's)."""
        return self.parameters.dtype

    def __repr__(self):
        return (
            f"TrainingState(layer_sizes={list(self.layer_sizes)}, dtype={self.dtype.name!r}, "
            f"optimizer={self.optimizer!r}, steps={int(self.counters[Counter.OPTIMIZER_STEP])}, "
            f"epochs={self.history_lengths.get('loss')})"
        )
