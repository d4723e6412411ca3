"""scikit-learn's MLP parameters, checked: what ``fit`` and ``partial_fit``
of :mod:`fastbackprop.estimators` read from an estimator on every call (so
``set_params`` applies), and the optimizer and schedule they make from them.

Every scikit-learn parameter is checked whatever the solver uses, as
scikit-learn does; the extensions that shape stochastic steps are refused
with lbfgs, and an extension that contradicts a scikit-learn parameter is
refused by name.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass

import numpy as np

from . import _validation as v
from .optim import OPTIMIZERS, SGD, Adam, AdamW, Optimizer, RMSprop
from .schedules import SCHEDULES, ReduceLROnPlateau, Schedule

_SOLVERS = ("lbfgs", "sgd", "adam")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_VALIDATION_METRICS = ("score", "loss")


@dataclass
class Settings:
    """Every parameter, checked, as the training takes it."""

    hidden: tuple
    solver: str
    epochs: int
    batch_size: object  # "auto" or an int: resolved on the training rows
    shuffle: bool
    verbose: bool
    tol: float
    patience: float  # math.inf: never stops
    alpha: float
    early_stopping: bool
    validation_fraction: float
    watch_loss: bool
    learning_rate: str
    power_t: float
    max_fun: int
    optimizer: Optimizer | None  # None for lbfgs
    schedule: object  # the user's lr_schedule, or None for scikit-learn's rates
    clip_norm: float | None
    dtype: np.dtype | None


def _check_unit(value, argument: str, *, closed: bool) -> float:
    """A float in [0, 1] (``closed``) or [0, 1)."""
    value = v.check_non_negative_float(value, argument)
    if value > 1.0 or (not closed and value == 1.0):
        bound = "1" if closed else "1 (excluded)"
        raise ValueError(f"{argument} must be between 0 and {bound}; got {value!r}")
    return value


def read(est) -> Settings:
    """Check every parameter, on every call: a later ``fit`` or
    ``partial_fit`` sees ``set_params``' changes too."""
    _check_random_state(est)
    solver = v.check_name(est.solver, _SOLVERS, "solver")
    verbose = est.verbose
    if not isinstance(verbose, (bool, np.bool_)):
        verbose = v.check_count(verbose, "verbose", 0)
    settings = Settings(
        hidden=_hidden_sizes(est),
        solver=solver,
        epochs=v.check_count(est.max_iter, "max_iter", 1),
        batch_size=_batch_size(est),
        shuffle=v.check_bool(est.shuffle, "shuffle"),
        verbose=bool(verbose),
        tol=v.check_non_negative_float(est.tol, "tol"),
        patience=_patience(est),
        alpha=v.check_non_negative_float(est.alpha, "alpha"),
        early_stopping=v.check_bool(est.early_stopping, "early_stopping"),
        validation_fraction=_validation_fraction(est),
        watch_loss=v.check_name(est.validation_metric, _VALIDATION_METRICS, "validation_metric")
        == "loss",
        learning_rate=v.check_name(est.learning_rate, _LEARNING_RATES, "learning_rate"),
        power_t=v.check_non_negative_float(est.power_t, "power_t"),
        max_fun=v.check_count(est.max_fun, "max_fun", 1),
        optimizer=None,
        schedule=None,
        clip_norm=None
        if est.clip_norm is None
        else v.check_positive_float(est.clip_norm, "clip_norm"),
        dtype=None if est.dtype is None else v.check_dtype(est.dtype),
    )
    # scikit-learn checks every parameter, whatever the solver uses
    v.check_positive_float(est.learning_rate_init, "learning_rate_init")
    _check_unit(est.momentum, "momentum", closed=True)
    v.check_bool(est.nesterovs_momentum, "nesterovs_momentum")
    _check_unit(est.beta_1, "beta_1", closed=False)
    _check_unit(est.beta_2, "beta_2", closed=False)
    _epsilon(est)
    v.check_dropout(est.dropout, len(settings.hidden))
    if solver == "lbfgs":
        _refuse_stochastic_extras(est)
    else:
        settings.optimizer = _make_optimizer(est, solver)
        settings.schedule = _schedule(est, settings)
    return settings


def _hidden_sizes(est) -> tuple[int, ...]:
    sizes = est.hidden_layer_sizes
    if isinstance(sizes, np.ndarray) and sizes.ndim == 0:
        sizes = sizes.item()
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    if isinstance(sizes, str) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints; got {sizes!r}")
    sizes = tuple(sizes)
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"hidden_layer_sizes must hold ints; got {est.hidden_layer_sizes!r}")
        if size < 1:
            raise ValueError(f"hidden_layer_sizes must be > 0, got {list(sizes)}.")
    return tuple(int(size) for size in sizes)


def _batch_size(est):
    if isinstance(est.batch_size, str) and est.batch_size == "auto":
        return "auto"
    return v.check_count(est.batch_size, "batch_size", 1)


def _patience(est) -> float:
    """``n_iter_no_change``: an int >= 1, or ``np.inf`` (or None) for a
    rule that never stops."""
    value = est.n_iter_no_change
    if value is None or (isinstance(value, float) and value == math.inf):
        return math.inf
    return v.check_count(value, "n_iter_no_change", 1)


def _validation_fraction(est) -> float:
    """In [0, 1), as scikit-learn; 0 holds out nothing, which only
    ``early_stopping`` refuses (too small a validation set)."""
    fraction = est.validation_fraction
    if isinstance(fraction, numbers.Real) and not isinstance(fraction, bool) and fraction == 0:
        return 0.0
    return v.check_fraction(fraction, "validation_fraction")


def _refuse_stochastic_extras(est) -> None:
    """lbfgs minimises the full-batch loss: the extensions that shape
    stochastic steps have no meaning there."""
    extras = {
        "optimizer": est.optimizer is not None,
        "weight_decay": est.weight_decay is not None,
        "lr_schedule": est.lr_schedule is not None,
        "clip_norm": est.clip_norm is not None,
        "dropout": np.any(np.asarray(est.dropout, dtype=float) > 0),
    }
    given = [name for name, is_set in extras.items() if is_set]
    if given:
        raise ValueError(
            f"solver='lbfgs' minimises the full-batch loss; {', '.join(given)} apply only "
            "to solver='sgd' or 'adam'"
        )


def _make_optimizer(est, solver: str) -> Optimizer:
    """The stochastic rule, in scikit-learn's units: ``solver``'s, or the
    ``optimizer`` extension's (which wins: a name takes
    ``learning_rate_init`` and the matching scikit-learn settings, an
    object its own). ``solver`` must then be its default ``"adam"`` or
    name the same rule."""
    chosen = est.optimizer
    if chosen is None:
        name = solver
    elif isinstance(chosen, Optimizer):
        name = None
    else:
        name = v.check_name(chosen, tuple(OPTIMIZERS), "optimizer")
    family = name if name is not None else type(chosen).__name__.lower()
    if chosen is not None and solver != "adam" and family != solver:
        raise ValueError(
            f"solver={solver!r} contradicts optimizer={chosen!r}; set one of them (the "
            "optimizer extension needs solver='adam', the default, or the same rule)"
        )
    decay = est.weight_decay
    if decay is not None:
        decay = v.check_non_negative_float(decay, "weight_decay")
    if name is None:
        if decay is not None:
            raise ValueError(
                "weight_decay was given together with an optimizer object; set it on "
                "the optimizer instead (e.g. Adam(learning_rate=0.01, weight_decay=0.1))"
            )
        return copy.deepcopy(chosen)
    rate = v.check_positive_float(est.learning_rate_init, "learning_rate_init")
    if name == "sgd":
        momentum = _check_unit(est.momentum, "momentum", closed=True)
        nesterov = v.check_bool(est.nesterovs_momentum, "nesterovs_momentum")
        return SGD(rate, momentum, nesterov and momentum > 0, decay or 0.0)
    if name == "rmsprop":
        return RMSprop(rate, eps=_epsilon(est), weight_decay=decay or 0.0)
    betas = (
        _check_unit(est.beta_1, "beta_1", closed=False),
        _check_unit(est.beta_2, "beta_2", closed=False),
    )
    # scikit-learn adds epsilon before Adam's bias correction
    if name == "adamw":
        extra = {} if decay is None else {"weight_decay": decay}
        return AdamW(rate, *betas, _epsilon(est), eps_before_correction=True, **extra)
    return Adam(rate, *betas, _epsilon(est), decay or 0.0, eps_before_correction=True)


def _epsilon(est) -> float:
    return v.check_positive_float(est.epsilon, "epsilon")


def _schedule(est, settings: Settings):
    """The ``lr_schedule`` extension for ``Network.fit`` (copied: a
    plateau schedule keeps state), or None for scikit-learn's
    ``learning_rate``, which it replaces: the two are refused together."""
    schedule = est.lr_schedule
    if schedule is None:
        return None
    if settings.learning_rate != "constant":
        raise ValueError(
            f"lr_schedule replaces learning_rate={settings.learning_rate!r}; set one of them"
        )
    if isinstance(schedule, str) and schedule == "plateau":
        return ReduceLROnPlateau(monitor="loss")
    if isinstance(schedule, Schedule):
        logged = {"loss", "learning_rate"} | ({"accuracy"} if est._is_classifier else set())
        if settings.early_stopping:
            logged |= {"val_" + name for name in logged - {"learning_rate"}}
        unknown = [name for name in schedule.monitored_metrics() if name not in logged]
        if unknown:
            needs = "" if settings.early_stopping else " (val_ metrics need early_stopping=True)"
            raise ValueError(
                f"lr_schedule watches {unknown[0]!r}, which this fit does not log; it logs "
                f"{', '.join(sorted(logged))}{needs}"
            )
        return copy.deepcopy(schedule)
    if not (isinstance(schedule, str) and schedule in SCHEDULES):
        raise (TypeError if not isinstance(schedule, str) else ValueError)(
            f"lr_schedule must be None, a Schedule or one of {', '.join(SCHEDULES)}; "
            f"got {schedule!r}"
        )
    return schedule


def _check_random_state(est) -> None:
    state = est.random_state
    if state is None or isinstance(state, np.random.RandomState):
        return
    if not isinstance(state, numbers.Integral) or isinstance(state, bool):
        raise TypeError(
            "random_state must be None, an int >= 0 or a numpy RandomState; "
            f"got {type(state).__name__}"
        )
    if state < 0:
        raise ValueError(f"random_state must be an int >= 0; got {state}")
