"""Learning-rate schedules.

A *static* schedule (``is_static = True``) knows the rate of every epoch in
advance: ``Network.fit`` can call :meth:`Schedule.rates` once and hand the
whole array to the compiled epochs. :class:`ReduceLROnPlateau` is dynamic: it
decides after each epoch from that epoch's logs.

The formulas follow PyTorch's ``torch.optim.lr_scheduler`` (closed forms) and
scikit-learn's ``invscaling``, with ``epoch`` the 0-based index of the epoch
about to run.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _validation as v
from .callbacks import _Monitor

#: a reduction smaller than this is ignored, as torch's ``eps``
PLATEAU_EPS = 1e-8


def _check_gamma(value, argument: str = "gamma") -> float:
    return v.check_positive_float(value, argument)


def _check_open_unit(value, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a number strictly between 0 and 1; got {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{argument} must be strictly between 0 and 1; got {value!r}")
    return value


class Schedule:
    """Base class of the learning-rate schedules.

    Attributes
    ----------
    is_static : bool
        ``True`` when the rate of every epoch is known before training, so
        :meth:`rates` can precompute them all.
    """

    is_static = True

    def learning_rate(self, epoch: int, base_lr: float) -> float:
        """Rate for the epoch with 0-based index ``epoch``, given the initial ``base_lr``."""
        raise NotImplementedError

    def monitored_metrics(self) -> tuple:
        """Names of the logged metrics the schedule reads (none here)."""
        return ()

    def rates(self, epochs: int, base_lr: float) -> np.ndarray:
        """Rates of epochs ``0 .. epochs-1`` as a float64 array of length ``epochs``.

        Raises
        ------
        TypeError
            For a dynamic schedule, whose rates depend on training.
        """
        if not self.is_static:
            raise TypeError(
                f"{type(self).__name__} is not static; call learning_rate() and "
                "update(logs) once per epoch instead"
            )
        epochs = v.check_count(epochs, "epochs", 0)
        base_lr = v.check_positive_float(base_lr, "base_lr")
        return np.array([self.learning_rate(e, base_lr) for e in range(epochs)], dtype=np.float64)

    def reset(self):
        """Forget any state from a previous fit (a no-op for static schedules)."""

    def __repr__(self):
        args = ", ".join(f"{k}={val!r}" for k, val in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same rate every epoch: ``base_lr``."""

    def learning_rate(self, epoch, base_lr):
        return float(base_lr)


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs (torch ``StepLR``).

    ``lr = base_lr * gamma ** (epoch // step_size)``

    Parameters
    ----------
    step_size : int >= 1
    gamma : float > 0, default 0.1
    """

    def __init__(self, step_size, gamma=0.1):
        self.step_size = v.check_count(step_size, "step_size", 1)
        self.gamma = _check_gamma(gamma)

    def learning_rate(self, epoch, base_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """Multiply the rate by ``gamma`` every epoch (torch ``ExponentialLR``).

    ``lr = base_lr * gamma ** epoch``

    Parameters
    ----------
    gamma : float > 0
    """

    def __init__(self, gamma):
        self.gamma = _check_gamma(gamma)

    def learning_rate(self, epoch, base_lr):
        return base_lr * self.gamma**epoch


class CosineAnnealing(Schedule):
    """Cosine curve from ``base_lr`` down to ``eta_min`` over ``t_max`` epochs
    (torch ``CosineAnnealingLR``, closed form).

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2``

    Parameters
    ----------
    t_max : int >= 1
        Epochs from ``base_lr`` to ``eta_min``. Beyond ``t_max`` the rate
        climbs back along the same cosine, as in torch.
    eta_min : float >= 0, default 0.0
    """

    def __init__(self, t_max, eta_min=0.0):
        self.t_max = v.check_count(t_max, "t_max", 1)
        self.eta_min = v.check_non_negative_float(eta_min, "eta_min")

    def learning_rate(self, epoch, base_lr):
        cosine = (1 + math.cos(math.pi * epoch / self.t_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cosine


class InverseScaling(Schedule):
    """scikit-learn's ``invscaling``, counted in epochs.

    ``lr = base_lr / (epoch + 1) ** power_t``

    Parameters
    ----------
    power_t : float >= 0, default 0.5
    """

    def __init__(self, power_t=0.5):
        self.power_t = v.check_non_negative_float(power_t, "power_t")

    def learning_rate(self, epoch, base_lr):
        return base_lr / (epoch + 1) ** self.power_t


class ReduceLROnPlateau(Schedule):
    """Cut the rate when a metric stops improving (torch ``ReduceLROnPlateau``
    with ``threshold_mode="abs"``).

    Parameters
    ----------
    monitor : str, default "val_loss"
        Key of the epoch logs to watch.
    factor : float in (0, 1), default 0.1
        ``new_lr = max(lr * factor, min_lr)``.
    patience : int >= 0, default 10
        Non-improving epochs tolerated: the rate is cut at the end of the
        ``patience + 1``-th consecutive epoch without improvement, as in torch
        (``patience=0`` cuts at the first one).
    min_delta : float >= 0, default 1e-4
        An improvement must beat the best value by more than this (torch's
        ``threshold``).
    cooldown : int >= 0, default 0
        Epochs after a cut during which non-improving epochs are not counted.
    min_lr : float >= 0, default 0.0
        The rate never goes below this.
    mode : {"auto", "min", "max"}, default "auto"
        ``auto`` is ``max`` when ``monitor`` contains ``"acc"``, else ``min``.

    Notes
    -----
    Per fit: :meth:`reset`, then for each epoch ``learning_rate(epoch,
    base_lr)`` before it (the first call starts at ``base_lr``) and
    ``update(logs)`` after it, which returns the rate for the next epoch.
    """

    is_static = False

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        mode="auto",
    ):
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.factor = _check_open_unit(factor, "factor")
        self.patience = v.check_count(patience, "patience", 0)
        self.cooldown = v.check_count(cooldown, "cooldown", 0)
        self.min_lr = v.check_non_negative_float(min_lr, "min_lr")
        self.reset()

    monitor = property(lambda self: self._monitor.monitor, doc="Name of the watched metric.")
    mode = property(lambda self: self._monitor.mode, doc='Resolved mode, "min" or "max".')
    min_delta = property(lambda self: self._monitor.min_delta, doc="Smallest improvement.")
    best = property(lambda self: self._monitor.best, doc="Best monitored value seen.")

    def monitored_metrics(self):
        return (self.monitor,)

    def reset(self):
        """Forget the best value, counters and current rate (start of a fit)."""
        self._monitor.reset()
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.current_lr = None

    def learning_rate(self, epoch, base_lr):
        """The current rate; the first call after :meth:`reset` sets it to ``base_lr``."""
        if self.current_lr is None:
            self.current_lr = float(base_lr)
        return self.current_lr

    def update(self, logs) -> float:
        """Take the finished epoch's logs; return the rate for the next epoch.

        Raises
        ------
        ValueError
            When ``monitor`` is not among the logs.
        """
        if self.current_lr is None:
            raise RuntimeError("call learning_rate(epoch, base_lr) before update(logs)")
        current = self._monitor.value(logs)
        # the order of these steps is torch's ReduceLROnPlateau.step
        if self._monitor.improved(current):
            self._monitor.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.current_lr * self.factor, self.min_lr)
            if self.current_lr - new_lr > PLATEAU_EPS:
                self.current_lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.current_lr


#: names accepted by :func:`get_schedule`
SCHEDULES = ("constant", "step", "exponential", "cosine", "invscaling", "plateau")


def get_schedule(schedule, epochs=None) -> Schedule:
    """Resolve a schedule name or instance.

    Parameters
    ----------
    schedule : None, str or Schedule
        ``None`` or ``"constant"``: :class:`Constant`; ``"step"``:
        ``StepDecay(30, 0.1)``; ``"exponential"``: ``ExponentialDecay(0.95)``;
        ``"cosine"``: ``CosineAnnealing(t_max=epochs)``; ``"invscaling"``:
        ``InverseScaling(0.5)``; ``"plateau"``: ``ReduceLROnPlateau()``.
        An instance is returned as is.
    epochs : int or None
        Length of the fit; required by ``"cosine"``.

    Returns
    -------
    Schedule
    """
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if not isinstance(schedule, str):
        raise TypeError(
            f"schedule must be None, a Schedule or one of {', '.join(SCHEDULES)}; "
            f"got {type(schedule).__name__}"
        )
    name = v.check_name(schedule, SCHEDULES, "schedule")
    if name == "constant":
        return Constant()
    if name == "step":
        return StepDecay(step_size=30, gamma=0.1)
    if name == "exponential":
        return ExponentialDecay(gamma=0.95)
    if name == "cosine":
        if epochs is None:
            raise ValueError(
                "schedule='cosine' needs epochs (its t_max); pass get_schedule('cosine', "
                "epochs=N) or CosineAnnealing(t_max=...)"
            )
        return CosineAnnealing(t_max=v.check_count(epochs, "epochs", 1))
    if name == "invscaling":
        return InverseScaling(power_t=0.5)
    return ReduceLROnPlateau()


__all__ = [
    "SCHEDULES",
    "Schedule",
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "CosineAnnealing",
    "InverseScaling",
    "ReduceLROnPlateau",
    "get_schedule",
]
