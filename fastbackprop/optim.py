"""Optimizers: torch.optim's algorithms, run inside the compiled epoch.

Each class only validates and holds hyperparameters; the update itself is
``kernels.optim.optimizer_update`` (and its NumPy twin). The moment buffers
live with the network, so a second ``fit`` continues where the first
stopped.
"""

from __future__ import annotations

import numpy as np

from . import _codes as c
from . import _validation as v


class Optimizer:
    """Base class: a code for the kernel and a vector of hyperparameters."""

    code = c.SGD
    name = "optimizer"

    def __init__(self, learning_rate: float, weight_decay: float = 0.0):
        self._set_checked(learning_rate=learning_rate, weight_decay=weight_decay)

    def _set_checked(self, **hyperparameters):
        """Set each hyperparameter through its check (``_ATTRIBUTE_CHECKS``),
        the one table the constructors and :meth:`check` share."""
        for key, value in hyperparameters.items():
            setattr(self, key, _ATTRIBUTE_CHECKS[key](value, key))

    def hyperparameters(self) -> np.ndarray:
        """The float64 vector ``optimizer_update`` reads (see ``_codes.HYPER_*``)."""
        hyper = np.zeros(c.N_HYPER)
        hyper[c.HYPER_WEIGHT_DECAY] = self.weight_decay
        return hyper

    def get_config(self) -> dict:
        """Constructor arguments, for saving and ``repr``."""
        return {k: getattr(self, k) for k in self._config_keys}

    def check(self, learning_rate=None) -> None:
        """Check the hyperparameters again, as the constructor does.

        They are plain attributes that a user may set between fits
        (``net.optimizer.learning_rate = 1e-4``, as in Keras); ``fit``
        calls this before it trains.

        Parameters
        ----------
        learning_rate : float or None
            A rate about to replace the current one, which is then not checked.

        Raises
        ------
        ValueError, TypeError
            Naming the attribute, for a value the constructor would refuse.
        """
        for key in self._config_keys:
            check = _ATTRIBUTE_CHECKS.get(key)  # a subclass's own keys are its own
            if check is not None and (key != "learning_rate" or learning_rate is None):
                check(getattr(self, key), key)
        self._check_together()

    def _check_together(self) -> None:
        """Rules that tie hyperparameters together (none here)."""

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` with dampening 0.

    Parameters
    ----------
    learning_rate : float, default 0.01
    momentum : float, default 0.0
        Heavy-ball momentum in [0, 1).
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0``).
    weight_decay : float, default 0.0
        L2 penalty added to the gradient of every parameter, biases included.
    """

    code = c.SGD
    name = "sgd"
    _config_keys = ("learning_rate", "momentum", "nesterov", "weight_decay")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self._set_checked(momentum=momentum, nesterov=nesterov)
        self._check_together()

    def _check_together(self):
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")

    def hyperparameters(self):
        hyper = super().hyperparameters()
        hyper[c.HYPER_MOMENTUM] = self.momentum
        hyper[c.HYPER_NESTEROV] = float(self.nesterov)
        return hyper


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``: ``weight_decay`` is L2 added to the gradient.

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates, in [0, 1).
    eps : float, default 1e-8
    weight_decay : float, default 0.0
    eps_before_correction : bool, default False
        Add ``eps`` to ``sqrt(v)`` before the bias correction, as
        scikit-learn's ``AdamOptimizer`` (``m / (sqrt(v) + eps) *
        sqrt(1 - beta2**t) / (1 - beta1**t)``), instead of after it, as torch.
        The two differ where ``v`` is tiny (a unit that rarely fires).
    """

    code = c.ADAM
    name = "adam"
    _config_keys = (
        "learning_rate",
        "beta1",
        "beta2",
        "eps",
        "weight_decay",
        "eps_before_correction",
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        eps_before_correction=False,
    ):
        super().__init__(learning_rate, weight_decay)
        self._set_checked(
            beta1=beta1, beta2=beta2, eps=eps, eps_before_correction=eps_before_correction
        )

    def hyperparameters(self):
        hyper = super().hyperparameters()
        hyper[c.HYPER_MOMENTUM] = self.beta1
        hyper[c.HYPER_BETA2] = self.beta2
        hyper[c.HYPER_EPS] = self.eps
        hyper[c.HYPER_EPS_BEFORE_CORRECTION] = float(self.eps_before_correction)
        return hyper


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: decoupled weight decay
    ``p -= lr * weight_decay * p`` before the Adam step.

    Parameters are those of :class:`Adam`, with ``weight_decay=0.01``.
    """

    code = c.ADAMW
    name = "adamw"

    def __init__(
        self,
        learning_rate=0.001,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.01,
        eps_before_correction=False,
    ):
        super().__init__(learning_rate, beta1, beta2, eps, weight_decay, eps_before_correction)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` (not centred).

    Parameters
    ----------
    learning_rate : float, default 0.01
    alpha : float, default 0.99
        Decay of the running mean of squared gradients, in [0, 1).
    eps : float, default 1e-8
    momentum : float, default 0.0
    weight_decay : float, default 0.0
    """

    code = c.RMSPROP
    name = "rmsprop"
    _config_keys = ("learning_rate", "alpha", "eps", "momentum", "weight_decay")

    def __init__(self, learning_rate=0.01, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self._set_checked(alpha=alpha, eps=eps, momentum=momentum)

    def hyperparameters(self):
        hyper = super().hyperparameters()
        hyper[c.HYPER_MOMENTUM] = self.alpha
        hyper[c.HYPER_EPS] = self.eps
        hyper[c.HYPER_RMS_MOMENTUM] = self.momentum
        return hyper


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop)}


def make_optimizer(name_or_optimizer, learning_rate=None) -> Optimizer:
    """An optimizer from a name (with an optional rate) or an instance.

    Passing both an instance and ``learning_rate`` is ambiguous and raises.
    """
    if isinstance(name_or_optimizer, Optimizer):
        if learning_rate is not None:
            raise ValueError(
                "learning_rate was given together with an optimizer object; set the rate "
                "on the optimizer instead (e.g. Adam(learning_rate=0.01))"
            )
        return name_or_optimizer
    name = v.check_name(name_or_optimizer, tuple(OPTIMIZERS), "optimizer")
    cls = OPTIMIZERS[name]
    return cls() if learning_rate is None else cls(learning_rate=learning_rate)


def optimizer_from_config(name: str, config: dict) -> Optimizer:
    return OPTIMIZERS[v.check_name(name, tuple(OPTIMIZERS), "optimizer")](**config)


def _check_unit_interval(value, argument):
    value = v.check_non_negative_float(value, argument)
    if value >= 1:
        raise ValueError(f"{argument} must lie in [0, 1); got {value!r}")
    return value


# what each hyperparameter must be, for ``Optimizer.check``
_ATTRIBUTE_CHECKS = {
    "learning_rate": v.check_positive_float,
    "weight_decay": v.check_non_negative_float,
    "momentum": _check_unit_interval,
    "nesterov": v.check_bool,
    "beta1": _check_unit_interval,
    "beta2": _check_unit_interval,
    "alpha": _check_unit_interval,
    "eps": v.check_positive_float,
    "eps_before_correction": v.check_bool,
}
