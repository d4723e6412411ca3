"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

They wrap :class:`~fastbackprop.Network` in scikit-learn's estimator API, so
``clone``, ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and pickling
work; with their default settings they pass scikit-learn's
``check_estimator``. Parameter names follow scikit-learn's
``MLPClassifier`` where the meaning is the same (``hidden_layer_sizes``,
``batch_size``, ``learning_rate_init``, ``max_iter``, ``tol``,
``n_iter_no_change``, ``early_stopping``, ``validation_fraction``,
``random_state``, ``warm_start``, ``verbose``) and :meth:`Network.fit`'s
otherwise (``optimizer``, ``weight_decay``, ``clip_norm``, ``lr_schedule``,
``dropout``, ``dtype``).

A call that raises (bad input, a diverging loss, an interrupt) leaves the
estimator and its network as they were before it.

Needs scikit-learn >= 1.6 (``pip install 'fastbackprop[sklearn]'``).

Examples
--------
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from fastbackprop.estimators import MLPClassifier
>>> from fastbackprop.datasets import spiral
>>> X, y = spiral(n_samples=200, seed=0)
>>> clf = MLPClassifier((32, 32), learning_rate_init=0.01, max_iter=500, random_state=0)
>>> model = make_pipeline(StandardScaler(), clf).fit(X, y)
>>> bool(model.score(X, y) > 0.9)
True
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

try:
    from scipy import sparse
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as error:  # pragma: no cover - the test extra installs it
    raise ImportError(
        "fastbackprop.estimators needs scikit-learn >= 1.6: pip install 'fastbackprop[sklearn]'"
    ) from error

from . import _validation as v
from ._data import balanced_class_weights, split_rows
from .callbacks import Callback
from .network import Network, stream_blocks
from .optim import OPTIMIZERS, Optimizer
from .schedules import SCHEDULES, ReduceLROnPlateau, Schedule

__all__ = ["MLPClassifier", "MLPRegressor"]

_FLOAT_DTYPES = (np.float64, np.float32)
_DEFAULT_BATCH = 200  # scikit-learn's batch_size="auto": min(200, n_samples)


@dataclass
class _Targets:
    """What ``y`` becomes for the network: its targets, their loss and
    output activation, and the classifier's ``classes_``."""

    targets: np.ndarray
    n_outputs: int
    loss: str
    output: str
    classes: np.ndarray | None = None

    @property
    def labels(self):
        """Each row's class index, for stratifying (None unless single-label)."""
        return self.targets if self.loss == "cross_entropy" else None


class _StoppingRule(Callback):
    """scikit-learn's MLP stopping rule on one logged loss.

    An epoch counts as no improvement unless its value is below the best
    so far by more than ``tol``; training stops once more than ``patience``
    such epochs come in a row. The best value moves on any decrease. With
    ``restore_best``, training ends with the weights of the epoch of the
    best value. A warm-started fit goes on from where the last one left
    the rule, as scikit-learn's does: ``baseline`` is the best value to
    beat (with ``restore_best``, the starting weights are its weights) and
    ``count`` the epochs without improvement so far. ``best`` and
    ``count`` hold the rule's state after training.
    """

    def __init__(self, monitor, patience, tol, restore_best, baseline=None, count=0):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best
        self.baseline = baseline
        self.start_count = count
        self.stopped_epoch = 0

    def monitored_metrics(self):
        return (self.monitor,)

    def on_train_begin(self, network):
        self._network = network
        self.best = math.inf if self.baseline is None else self.baseline
        self.count = self.start_count
        self.stopped_epoch = 0
        start_is_best = self.restore_best and self.baseline is not None
        self._best_state = network.get_training_state() if start_is_best else None

    def on_epoch_end(self, epoch, logs):
        value = logs[self.monitor]
        improved = value < self.best
        self.best, self.count = _rule_step(self.best, self.count, value, self.tol)
        if improved and self.restore_best:
            self._best_state = self._network.get_training_state()
        if self.count > self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self):
        if self._best_state is not None:
            self._network.set_training_state(self._best_state, parameters_only=True)
        self._network = None
        self._best_state = None


def _rule_step(best: float, count: int, value: float, tol: float) -> tuple:
    """One epoch of scikit-learn's rule (``_update_no_improvement_count``):
    the new best value and count of epochs without an improvement by more
    than ``tol``."""
    return min(best, value), (count + 1 if value > best - tol else 0)


@dataclass
class _Settings:
    """Every parameter, checked, as the network and ``Network.fit`` take it."""

    hidden: tuple
    epochs: int
    batch_size: int
    shuffle: bool
    verbose: int
    clip_norm: float | None
    schedule: object
    early_stopping: bool
    validation_fraction: float
    tol: float
    patience: int | None
    optimizer: Optimizer
    dtype: np.dtype | None

    @property
    def monitor(self) -> str:
        """The loss the stopping rule (and a "plateau" schedule) watches."""
        return "val_loss" if self.early_stopping else "loss"


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, checks,
    building the network, training it, and undoing a call that fails.
    Subclasses say how ``y`` becomes the network's targets
    (``_encode_targets``) and how rows are weighted (``_row_weights``)."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        optimizer="adam",
        learning_rate_init=None,
        weight_decay=None,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        lr_schedule=None,
        clip_norm=None,
        dropout=0.0,
        dtype=None,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        # scikit-learn's rule: store the arguments as given, check them in fit
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.lr_schedule = lr_schedule
        self.clip_norm = clip_norm
        self.dropout = dropout
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------- checks
    def _settings(self, n_samples: int, incremental: bool) -> _Settings:
        """Check every parameter, on every call: a later ``fit`` or
        ``partial_fit`` sees ``set_params``' changes too. (``partial_fit``
        uses neither the schedule nor the stopping rule, but checks them.)"""
        self._check_random_state()
        epochs = v.check_count(self.max_iter, "max_iter", 1)
        early = v.check_bool(self.early_stopping, "early_stopping")
        fraction = v.check_fraction(self.validation_fraction, "validation_fraction")
        verbose = self.verbose
        if isinstance(verbose, (bool, np.bool_)):
            verbose = int(verbose)  # scikit-learn's verbose=True: every epoch
        settings = _Settings(
            hidden=self._hidden_sizes(),
            epochs=epochs,
            batch_size=self._batch_size(n_samples),
            shuffle=v.check_bool(self.shuffle, "shuffle"),
            verbose=v.check_count(verbose, "verbose", 0),
            clip_norm=None
            if self.clip_norm is None
            else v.check_positive_float(self.clip_norm, "clip_norm"),
            schedule=None,  # set below: it depends on the others
            early_stopping=early,
            validation_fraction=fraction,
            tol=v.check_non_negative_float(self.tol, "tol"),
            patience=None
            if self.n_iter_no_change is None
            else v.check_count(self.n_iter_no_change, "n_iter_no_change", 1),
            optimizer=self._make_optimizer(),
            dtype=None if self.dtype is None else v.check_dtype(self.dtype),
        )
        settings.schedule = self._schedule(settings, incremental)
        return settings

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, np.ndarray) and sizes.ndim == 0:
            sizes = sizes.item()
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if isinstance(sizes, str) or not hasattr(sizes, "__iter__"):
            raise TypeError(
                f"hidden_layer_sizes must be an int or a sequence of ints; got {sizes!r}"
            )
        sizes = tuple(sizes)
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral):
                raise TypeError(
                    f"hidden_layer_sizes must hold ints; got {self.hidden_layer_sizes!r}"
                )
            if size < 1:
                raise ValueError(
                    f"hidden_layer_sizes must hold ints >= 1; got {self.hidden_layer_sizes!r}"
                )
        return tuple(int(size) for size in sizes)

    def _batch_size(self, n_samples: int) -> int:
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(_DEFAULT_BATCH, n_samples)
        return v.check_count(self.batch_size, "batch_size", 1)

    def _make_optimizer(self) -> Optimizer:
        """A fresh optimizer: a copy of the given object (fit never changes
        the estimator's parameters), or one made from the name, the rate and
        the weight decay."""
        if isinstance(self.optimizer, Optimizer):
            for name in ("learning_rate_init", "weight_decay"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} was given together with an optimizer object; set it on "
                        "the optimizer instead (e.g. Adam(learning_rate=0.01))"
                    )
            return copy.deepcopy(self.optimizer)
        name = v.check_name(self.optimizer, tuple(OPTIMIZERS), "optimizer")
        settings = {}
        if self.learning_rate_init is not None:
            settings["learning_rate"] = v.check_positive_float(
                self.learning_rate_init, "learning_rate_init"
            )
        if self.weight_decay is not None:
            settings["weight_decay"] = v.check_non_negative_float(self.weight_decay, "weight_decay")
        return OPTIMIZERS[name](**settings)

    def _schedule(self, settings: _Settings, incremental: bool):
        """``lr_schedule`` for ``Network.fit``: an object is copied (a plateau
        schedule keeps state); ``"plateau"`` watches the validation loss with
        ``early_stopping`` and the training loss without."""
        schedule = self.lr_schedule
        early_stopping = settings.early_stopping
        if isinstance(schedule, str) and schedule == "plateau":
            return ReduceLROnPlateau(monitor=settings.monitor)
        if isinstance(schedule, Schedule):
            # what fit logs for the schedule to watch (partial_fit uses none)
            logged = {"loss", "learning_rate"} | ({"accuracy"} if self._is_classifier else set())
            if early_stopping or incremental:
                logged |= {"val_" + name for name in logged - {"learning_rate"}}
            unknown = [name for name in schedule.monitored_metrics() if name not in logged]
            if unknown:
                needs = " (val_ metrics need early_stopping=True)" if not early_stopping else ""
                raise ValueError(
                    f"lr_schedule watches {unknown[0]!r}, which this fit does not log; it logs "
                    f"{', '.join(sorted(logged))}{needs}"
                )
            return copy.deepcopy(schedule)
        if schedule is not None and not (isinstance(schedule, str) and schedule in SCHEDULES):
            raise (TypeError if not isinstance(schedule, str) else ValueError)(
                f"lr_schedule must be None, a Schedule or one of {', '.join(SCHEDULES)}; "
                f"got {schedule!r}"
            )
        return schedule

    def _stopper(self, settings: _Settings, baseline: float | None, count: int):
        """The stopping rule for ``fit`` (see ``_StoppingRule``): on the
        validation loss with ``early_stopping``, which always ends with the
        best epoch's weights (also with ``n_iter_no_change=None``: it then
        never stops), else on the training loss. ``None`` when nothing is
        watched."""
        early = settings.early_stopping
        patience = settings.patience
        if patience is None:
            if not early:
                return None
            patience = math.inf  # never stops, even with a count carried on
        return _StoppingRule(settings.monitor, patience, settings.tol, early, baseline, count)

    def _check_random_state(self) -> None:
        state = self.random_state
        if state is None or isinstance(state, np.random.RandomState):
            return
        if not isinstance(state, numbers.Integral) or isinstance(state, bool):
            raise TypeError(
                "random_state must be None, an int >= 0 or a numpy RandomState; "
                f"got {type(state).__name__}"
            )
        if state < 0:
            raise ValueError(f"random_state must be an int >= 0; got {state}")

    def _seed(self):
        """``Network``'s seed: an int ``random_state`` as it is (so the
        estimator matches ``Network(seed=random_state)``), a draw from a
        ``RandomState`` (only when a network is built), or ``None``."""
        state = self.random_state
        if state is None or isinstance(state, numbers.Integral):
            return state if state is None else int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    @staticmethod
    def _sample_weight(sample_weight, n_samples: int):
        """``sample_weight`` checked, as float64 ``(n,)``, or None. A scalar
        weighs every row alike, as in scikit-learn. (The network checks them
        again in its dtype, where a tiny weight may become 0.)"""
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
            sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
        return v.check_sample_weight(sample_weight, n_samples, np.dtype(np.float64))[:, 0]

    def _validation_split(self, encoding: _Targets, weights, fraction: float, network):
        """(train_rows, validation_rows) for ``early_stopping``: the nearest
        whole number to ``validation_fraction`` of each class's rows (of all
        rows for regression and multilabel). With an int ``random_state`` the
        split is the same in every fit, as scikit-learn's, so a warm start
        validates on the rows it validated on before; otherwise it is drawn
        from the network's generator."""
        state = self.random_state
        if isinstance(state, numbers.Integral):
            # its own stream: not the one that drew the initial weights
            rng = np.random.default_rng([int(state), 1])
        else:
            rng = network.rng
        n = encoding.targets.shape[0]
        train, held = split_rows(encoding.labels, n, fraction, rng, "validation_fraction")
        if weights is not None:
            for rows, side in ((train, "training"), (held, "validation")):
                if not weights[rows].sum() > 0:
                    raise ValueError(
                        f"early_stopping with validation_fraction={fraction} leaves only rows "
                        f"of weight 0 on the {side} side; weigh more rows (sample_weight, "
                        "class_weight) or hold out another fraction"
                    )
        return train, held

    # ------------------------------------------------------------ the network
    def _activation(self):
        """``activation`` with scikit-learn's name ``"logistic"`` read as
        ``"sigmoid"``, so grids written for scikit-learn's MLP work."""
        if isinstance(self.activation, str):
            return "sigmoid" if self.activation == "logistic" else self.activation
        if isinstance(self.activation, (list, tuple)):
            return ["sigmoid" if name == "logistic" else name for name in self.activation]
        return self.activation

    def _build_network(self, n_features: int, encoding: _Targets, settings, dtype) -> Network:
        return Network(
            [n_features, *settings.hidden, encoding.n_outputs],
            activation=self._activation(),
            output=encoding.output,
            loss=encoding.loss,
            dtype=dtype if settings.dtype is None else settings.dtype,
            seed=self._seed(),
            dropout=self.dropout,
        )

    def _check_same_network(self, network: Network, settings: _Settings) -> None:
        """``warm_start`` and ``partial_fit`` continue the fitted network: its
        shape cannot change under them."""
        changed = []
        if settings.hidden != tuple(network.layer_sizes[1:-1]):
            changed.append("hidden_layer_sizes")
        else:
            n_hidden = len(settings.hidden)
            if v.check_activation(self._activation(), n_hidden) != tuple(network.activations):
                changed.append("activation")
            if not np.array_equal(v.check_dropout(self.dropout, n_hidden), network.dropout):
                changed.append("dropout")
        if settings.dtype is not None and settings.dtype != network.dtype:
            changed.append("dtype")
        if changed:
            raise ValueError(
                f"{', '.join(changed)} changed since the network was fitted; warm_start and "
                "partial_fit continue that network, so fit with warm_start=False to build "
                "a new one"
            )

    @staticmethod
    def _same_rule(current: Optimizer, wanted: Optimizer) -> bool:
        """Whether ``wanted`` is ``current`` but for the learning rate: then
        training continues with the current optimizer's state."""
        if type(current) is not type(wanted):
            return False
        mine, theirs = current.get_config(), wanted.get_config()
        mine.pop("learning_rate")
        theirs.pop("learning_rate")
        return mine == theirs

    # ---------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        """``fit`` (``incremental=False``) or ``partial_fit``. A failure puts
        back the estimator's attributes (``validate_data`` may have set some),
        a ``RandomState`` it drew from, and the state of a network that was
        being continued."""
        warm_start = v.check_bool(self.warm_start, "warm_start")
        continuing = hasattr(self, "network_") and (incremental or warm_start)
        saved = dict(self.__dict__)
        random_state = self.random_state
        if isinstance(random_state, np.random.RandomState):
            random_state_before = random_state.get_state()
        if continuing:
            network = self.network_
            network_before = network.get_training_state()
        try:
            converged = self._fit_unguarded(X, y, sample_weight, incremental, classes, continuing)
        except BaseException:
            try:
                if continuing:
                    network.set_training_state(network_before)
            except RuntimeError:
                pass  # another thread is training it: this call never did
            finally:
                if isinstance(random_state, np.random.RandomState):
                    random_state.set_state(random_state_before)
                self.__dict__.clear()
                self.__dict__.update(saved)
            raise
        if not converged:  # after the fit stands: an error filter keeps the model
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,  # the caller of fit
            )
        return self

    def _fit_unguarded(self, X, y, sample_weight, incremental, classes, continuing) -> bool:
        """Train; returns False when ``fit`` ran out of ``max_iter`` before
        its stopping rule was met."""
        if sparse.issparse(y):
            y = y.toarray()  # a sparse multilabel indicator; the network's targets are dense
        X, y = validate_data(
            self,
            X,
            y,
            reset=not continuing,
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=not self._is_classifier,
        )
        settings = self._settings(X.shape[0], incremental)
        encoding = self._encode_targets(y, continuing, classes)
        weights = self._row_weights(
            self._sample_weight(sample_weight, X.shape[0]), encoding, incremental
        )
        if continuing:
            network = self.network_
            self._check_same_network(network, settings)
        else:
            network = self._build_network(X.shape[1], encoding, settings, X.dtype)
        same_rule = continuing and self._same_rule(network.optimizer, settings.optimizer)
        history_before = network.history.lengths()
        if incremental:
            pass_loss = self._partial_pass(
                network, X, encoding, weights, settings, continuing, same_rule
            )
            converged = True
            stopping_state = self._rule_after_pass(pass_loss, settings, continuing)
        else:
            converged, stopping_state = self._train(
                network, X, encoding, weights, settings, continuing, same_rule
            )
        # training succeeded: only now does the estimator change
        if incremental:  # one value per call, as scikit-learn's
            losses, val_losses = [pass_loss], []
        else:
            losses = network.history.loss[history_before["loss"] :]
            val_losses = network.history.val_loss[history_before["val_loss"] :]
        curve = self.loss_curve_ if continuing else []
        val_curve = self.validation_loss_curve_ if continuing else []
        self.network_ = network
        if encoding.classes is not None:
            self.classes_ = encoding.classes
        self.n_outputs_ = encoding.n_outputs
        self._stopping_state = stopping_state
        self.best_loss_ = None if stopping_state is None else stopping_state[1]
        self.loss_curve_ = curve + losses
        self.validation_loss_curve_ = val_curve + val_losses
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        self.n_iter_ = (self.n_iter_ if continuing else 0) + len(losses)
        return converged

    def _train(self, network, X, encoding, weights, settings, continuing, same_rule) -> tuple:
        """``fit``'s training: ``Network.fit`` with the stopping rule, and
        with ``early_stopping`` on a validation split made here (see
        ``_validation_split``). Returns ``(converged, the rule's state)``:
        whether the rule stopped it (or there is none), and ``(monitor, best,
        count)`` or None."""
        targets = encoding.targets
        validation = None
        baseline = None
        if settings.early_stopping:
            train, held = self._validation_split(
                encoding, weights, settings.validation_fraction, network
            )
            held_weights = None if weights is None else weights[held]
            validation = (X[held], targets[held], held_weights)
            X, targets = X[train], targets[train]
            weights = None if weights is None else weights[train]
        # a warm start goes on with the rule's state (scikit-learn's best loss
        # and no-improvement count) when it watches the same loss
        count = 0
        carried = getattr(self, "_stopping_state", None) if continuing else None
        if carried is not None and carried[0] == settings.monitor:
            baseline, count = carried[1], carried[2]
        if settings.early_stopping and continuing:
            # the same rows as before (int random_state) or new ones: either
            # way, the weights it starts from are measured on these
            baseline = network.compute_loss(*validation)
        stopper = self._stopper(settings, baseline, count)
        network.fit(
            X,
            targets,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            learning_rate=settings.optimizer.learning_rate if same_rule else None,
            shuffle=settings.shuffle,
            verbose=settings.verbose,
            optimizer=None if same_rule else settings.optimizer,
            clip_norm=settings.clip_norm,
            lr_schedule=settings.schedule,
            sample_weight=weights,
            validation_data=validation,
            callbacks=None if stopper is None else [stopper],
        )
        state = None if stopper is None else (stopper.monitor, stopper.best, stopper.count)
        return settings.patience is None or stopper.stopped_epoch > 0, state

    def _rule_after_pass(self, pass_loss: float, settings: _Settings, continuing: bool):
        """The stopping rule's state after a ``partial_fit`` pass: as
        scikit-learn's, each call counts as an epoch of the training-loss
        rule (its best loss and no-improvement count), which a later warm
        start goes on with. A validation-loss state from ``fit`` is kept."""
        state = getattr(self, "_stopping_state", None) if continuing else None
        if state is not None and state[0] != "loss":
            return state
        best, count = (math.inf, 0) if state is None else state[1:]
        return ("loss", *_rule_step(best, count, pass_loss, settings.tol))

    def _partial_pass(self, network, X, encoding, weights, settings, continuing, same_rule):
        """``partial_fit``'s one pass, with the optimizer of the first call.
        Returns its loss: the mean of its blocks' losses (each the mean over
        the block's batches), weighted by their rows."""
        if continuing and not same_rule:
            raise ValueError(
                "partial_fit continues with the optimizer of its first call; optimizer or "
                "weight_decay changed since: call fit to start afresh"
            )
        if same_rule:  # learning_rate_init may change between calls
            network.optimizer.learning_rate = settings.optimizer.learning_rate
        else:
            # a new network's optimizer state is zero and its step count 0,
            # as fit's swap to a new optimizer leaves them
            network.optimizer = settings.optimizer
        # One pass of Network.partial_fit, which streams the rows block by
        # block (skipping a block whose rows all weigh 0) and reports the
        # pass's loss. One block shuffles as Network.partial_fit does, so the
        # estimator is its twin bit for bit; several share one order over
        # the whole call, drawn here from the network's generator.
        n = X.shape[0]
        targets = encoding.targets
        if settings.shuffle and len(stream_blocks(n, settings.batch_size)) > 1:
            order = network.rng.permutation(n)
            X, targets = X[order], targets[order]
            weights = None if weights is None else weights[order]
            shuffle_blocks = False
        else:
            shuffle_blocks = settings.shuffle
        network.partial_fit(
            X,
            targets,
            batch_size=settings.batch_size,
            sample_weight=weights,
            shuffle=shuffle_blocks,
            clip_norm=settings.clip_norm,
        )
        return network.last_pass.loss

    def _row_weights(self, sample_weight, encoding, incremental: bool):
        """The weight of each row for ``Network.fit``."""
        return sample_weight

    def fit(self, X, y, sample_weight=None):
        """Train on ``(X, y)`` for up to ``max_iter`` epochs.

        With ``warm_start`` and a fitted estimator, training continues from
        the current network and optimizer state (a changed
        ``learning_rate_init`` applies; a changed optimizer starts afresh);
        otherwise a new network is built.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)
        sample_weight : float or array-like (n_samples,), optional
            Per-row weights >= 0; the loss is ``sum(w * l) / sum(w)``.

        Returns
        -------
        self
            The fitted estimator. A call that raises leaves it as it was.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    # ------------------------------------------------------------ predict
    def _outputs(self, X):
        """The network's outputs for ``X``, in the network's precision, and
        the dtype to return values in: the input's, as scikit-learn's
        estimators do. (Decisions and logs use the network's precision.)"""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return self.network_.forward(X.astype(self.network_.dtype, copy=False)), X.dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # an int random_state fixes every draw: the same fit, bit for bit
        tags.non_deterministic = self.random_state is None
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier, trained by fastbackprop.

    Softmax cross-entropy over the classes of ``y`` (two or more); with a
    multilabel indicator ``y``, one sigmoid output and binary cross-entropy
    per label.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Widths of the hidden layers; ``()`` for none.
    activation : str or list of str, default "relu"
        Hidden activation (see :class:`~fastbackprop.Network`);
        scikit-learn's ``"logistic"`` is ``"sigmoid"``.
    optimizer : str or Optimizer, default "adam"
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` or an object from
        :mod:`fastbackprop.optim` (copied, so fitting never changes it).
    learning_rate_init : float or None, default None
        The optimizer's rate; ``None`` is its default (0.001 for Adam and
        AdamW, 0.01 for SGD and RMSprop). Not allowed with an object.
    weight_decay : float or None, default None
        The optimizer's weight decay, as torch.optim's (L2 added to the
        gradient; decoupled for AdamW); ``None`` is its default (0.01 for
        AdamW, else 0). Not allowed with an object.
    batch_size : int or "auto", default "auto"
        Rows per step; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default 200
        Most epochs per ``fit``.
    shuffle : bool, default True
        Visit the rows in a fresh random order every epoch.
    tol : float, default 1e-4
        Smallest improvement of the monitored loss that counts.
    n_iter_no_change : int or None, default 10
        scikit-learn's rule: stop once more than this many epochs in a row
        have not brought the watched loss below its best so far by more
        than ``tol``. It watches the training loss, or the validation loss
        with ``early_stopping`` (where scikit-learn watches the validation
        accuracy or R^2). ``None`` always runs ``max_iter`` epochs. Running
        out of ``max_iter`` before stopping warns ``ConvergenceWarning``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (of each class, for
        single-label classification), stop on their loss (weighted by
        ``sample_weight`` and ``class_weight``), and end with the weights of
        the epoch where it was lowest. With an int ``random_state`` every
        fit holds out the same rows, and a warm-started fit counts its
        starting weights as an epoch, so it never ends worse on those rows.
    validation_fraction : float, default 0.1
        Rounded to the nearest whole number of rows (per class).
    lr_schedule : None, str or Schedule, default None
        See :mod:`fastbackprop.schedules` (copied, so fitting never changes
        it). ``"plateau"`` watches the validation loss with
        ``early_stopping``, else the training loss. Each ``fit`` starts the
        schedule at its epoch 0, also a warm-started one; ``partial_fit``
        uses none.
    clip_norm : float or None, default None
        Clip the global gradient norm, as ``torch.nn.utils.clip_grad_norm_``.
    dropout : float or list of float, default 0.0
        Inverted dropout after each hidden layer, while training only.
    dtype : {None, "float32", "float64"}, default None
        Precision of the network; ``None`` is float32 for float32 ``X`` and
        float64 otherwise when a network is built, and the network's own
        when one is continued (``warm_start``, ``partial_fit``).
    class_weight : None, "balanced" or dict, default None
        Per-class weights keyed by the labels of ``y``, by scikit-learn's
        rule: a class without a key weighs 1, and a key for a label ``y``
        lacks (a cross-validation fold may lack a class) is allowed only
        when every class of ``y`` has a key. ``"balanced"`` is
        scikit-learn's ``n / (n_classes * count)``, with ``n`` and the counts
        summing ``sample_weight`` when given; not for ``partial_fit``.
    random_state : int, RandomState or None, default None
        Seeds initialisation, shuffling, dropout and the validation split.
        An int gives the same network as ``Network(seed=random_state)``.
    warm_start : bool, default False
        ``fit`` continues from the current network and optimizer state.
    verbose : int or bool, default 0
        Print a line every ``verbose`` epochs (``True``: every epoch).

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
        The labels, sorted; for multilabel ``y``, ``arange(n_labels)``.
    network_ : Network
        The trained network.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` was a DataFrame with string column names.
    n_outputs_ : int
        Outputs of the network.
    n_iter_ : int
        Epochs trained by ``fit`` (added up with ``warm_start``), plus one
        per ``partial_fit`` call.
    loss_ : float
        The last value of ``loss_curve_``.
    best_loss_ : float or None
        The best value of the loss the stopping rule watches (the training
        loss, or the validation loss with ``early_stopping``; each
        ``partial_fit`` call counts as an epoch of the training loss); None
        without a rule.
    loss_curve_ : list of float
        Each epoch's mean training loss, and each ``partial_fit`` call's.
    validation_loss_curve_ : list of float
        Each epoch's validation loss (with ``early_stopping``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastbackprop.estimators import MLPClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> y = np.array(["no", "yes", "yes", "no"])
    >>> clf = MLPClassifier((8,), activation="tanh", learning_rate_init=0.05,
    ...                     max_iter=1000, n_iter_no_change=None, random_state=0)
    >>> clf.fit(X, y).predict(X).tolist()
    ['no', 'yes', 'yes', 'no']
    """

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        optimizer="adam",
        learning_rate_init=None,
        weight_decay=None,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        lr_schedule=None,
        clip_norm=None,
        dropout=0.0,
        dtype=None,
        class_weight=None,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            optimizer=optimizer,
            learning_rate_init=learning_rate_init,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_iter=max_iter,
            shuffle=shuffle,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            lr_schedule=lr_schedule,
            clip_norm=clip_norm,
            dropout=dropout,
            dtype=dtype,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
        )
        self.class_weight = class_weight

    # ------------------------------------------------------------ targets
    def _encode_targets(self, y, continuing: bool, classes) -> _Targets:
        """Labels become class indices (softmax cross-entropy); a multilabel
        indicator stays 0/1 (sigmoid, binary cross-entropy). Continuing, the
        labels must be among ``classes_``."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind == "multiclass-multioutput":
            raise ValueError(
                "MLPClassifier does not support multiclass-multioutput y (several columns of "
                "labels); give one column of labels or a 0/1 multilabel indicator"
            )
        multilabel = kind == "multilabel-indicator"
        given = None if classes is None else self._check_classes(classes)
        if continuing:
            fitted_multilabel = self.network_.loss == "binary_cross_entropy"
            if multilabel != fitted_multilabel:
                fitted = "a multilabel indicator" if fitted_multilabel else "single labels"
                raise ValueError(
                    f"y must be {fitted}, as when the estimator was first fitted; "
                    "fit with warm_start=False to change that"
                )
            known = self.classes_
            if given is not None and not np.array_equal(given, known):
                raise ValueError(
                    f"classes={given.tolist()} is not the same as the classes_ the estimator "
                    f"was fitted with ({known.tolist()})"
                )
        elif multilabel:
            known = np.arange(y.shape[1])
            if given is not None and not np.array_equal(given, known):
                raise ValueError(
                    "for a multilabel indicator y, classes must be None or "
                    f"range({y.shape[1]}), one per column; got {given.tolist()}"
                )
        else:
            known = np.unique(y) if given is None else given
        if multilabel:
            if y.shape[1] != len(known):
                raise ValueError(
                    f"y has {y.shape[1]} labels (columns) but the estimator has {len(known)}"
                )
            return _Targets(
                targets=np.asarray(y, dtype=np.float64),
                n_outputs=len(known),
                loss="binary_cross_entropy",
                output="sigmoid",
                classes=known,
            )
        if len(known) < 2:
            source = "classes" if given is not None else "y"
            raise ValueError(
                f"{source} has 1 class ({known.tolist()[0]!r}); MLPClassifier needs at least 2"
            )
        index = np.searchsorted(known, y)
        index[index == len(known)] = 0  # out of range: caught just below
        unknown = known[index] != y
        if unknown.any():
            raise ValueError(
                f"y holds labels not in classes_ {known.tolist()}: {np.unique(y[unknown]).tolist()}"
            )
        return _Targets(
            targets=index.astype(np.int64),
            n_outputs=len(known),
            loss="cross_entropy",
            output="softmax",
            classes=known,
        )

    @staticmethod
    def _check_classes(classes) -> np.ndarray:
        """``partial_fit``'s ``classes``: 1-D, non-empty, no NaN; sorted and unique."""
        given = np.asarray(classes)
        if given.ndim != 1 or given.size == 0:
            raise ValueError(
                f"classes must be a non-empty 1-D list of labels; got shape {given.shape}"
            )
        if given.dtype.kind == "f" and np.isnan(given).any():
            raise ValueError("classes must not hold NaN")
        return np.unique(given)

    def _row_weights(self, sample_weight, encoding, incremental: bool):
        """``sample_weight`` times ``class_weight``'s weight of each row's
        class."""
        if self.class_weight is None:
            return sample_weight
        if encoding.loss != "cross_entropy":
            raise ValueError("class_weight needs single-label y, not a multilabel indicator")
        classes, labels = encoding.classes, encoding.targets
        if isinstance(self.class_weight, str):
            if self.class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be None, 'balanced' or a dict; got {self.class_weight!r}"
                )
            if incremental:
                # one block of a stream would weigh its classes unlike the next
                # (scikit-learn's SGDClassifier refuses it too)
                raise ValueError(
                    "class_weight='balanced' is not supported by partial_fit; "
                    "give a dict of weights computed over the whole data"
                )
            per_class = balanced_class_weights(labels, len(classes), sample_weight)
        elif isinstance(self.class_weight, dict):
            per_class = self._dict_class_weights(classes)
        else:
            raise TypeError(
                "class_weight must be None, 'balanced' or a dict; "
                f"got {type(self.class_weight).__name__}"
            )
        weights = per_class[labels]
        if sample_weight is not None:  # checked by _sample_weight
            weights = weights * sample_weight
        if not weights.sum() > 0:
            raise ValueError("class_weight (times sample_weight) leaves every row with weight 0")
        return weights

    def _dict_class_weights(self, classes) -> np.ndarray:
        """Each class's weight from the ``class_weight`` dict, by
        scikit-learn's rule: a class without a key weighs 1, and keys for
        labels ``y`` lacks are allowed when every class has a weight (a
        cross-validation fold may lack a class), refused otherwise (a key
        that matches nothing is then likely a mistake)."""
        position = {label: i for i, label in enumerate(classes.tolist())}
        per_class = np.ones(len(classes))
        weighted, strangers = set(), []
        for label, weight in self.class_weight.items():
            weight = v.check_non_negative_float(weight, f"class_weight[{label!r}]")
            key = label.item() if isinstance(label, np.generic) else label
            if key in position:
                per_class[position[key]] = weight
                weighted.add(position[key])
            else:
                strangers.append(label)
        if strangers and len(weighted) < len(classes):
            unweighted = [c for i, c in enumerate(classes.tolist()) if i not in weighted]
            raise ValueError(
                f"class_weight has keys {strangers!r} that are not classes of y, and the classes "
                f"{unweighted!r} have no weight; the classes are {classes.tolist()!r}"
            )
        return per_class

    # ------------------------------------------------------------ methods
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass over ``(X, y)`` with the current optimizer state.

        The first call builds the network and its optimizer; later calls
        continue them (a changed ``learning_rate_init`` applies, a changed
        optimizer or network shape is refused). ``clip_norm`` applies;
        ``max_iter``, ``tol``, ``n_iter_no_change``, ``early_stopping``,
        ``lr_schedule`` and ``verbose`` play no part (they are still checked).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or multilabel indicator
        classes : array-like, optional
            Every label ``y`` may ever hold; needed on the first call (a batch
            need not show every class), unless ``y`` is a multilabel
            indicator. Later calls may repeat it.
        sample_weight : float or array-like (n_samples,), optional

        Returns
        -------
        self
        """
        if not hasattr(self, "network_") and classes is None:
            if y is None or type_of_target(y) != "multilabel-indicator":
                raise ValueError("classes must be given on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``: softmax rows, or each
        label's sigmoid for a multilabel fit."""
        proba, dtype = self._outputs(X)
        return proba.astype(dtype, copy=False)

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))``."""
        proba, dtype = self._outputs(X)
        with np.errstate(divide="ignore"):
            return np.log(proba).astype(dtype, copy=False)

    def predict(self, X) -> np.ndarray:
        """Labels ``(n,)`` (of ``classes_``), or a 0/1 indicator ``(n,
        n_labels)`` for a multilabel fit."""
        proba, _ = self._outputs(X)
        if self.network_.loss == "binary_cross_entropy":
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = self.class_weight is None  # single-label only
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor, trained by fastbackprop.

    Mean squared error (as torch's ``MSELoss``) with identity outputs, one
    per column of ``y``.

    Parameters
    ----------
    hidden_layer_sizes, activation, optimizer, learning_rate_init, weight_decay
        As :class:`MLPClassifier`'s.
    batch_size, max_iter, shuffle, tol, n_iter_no_change
        As :class:`MLPClassifier`'s.
    early_stopping, validation_fraction, lr_schedule, clip_norm, dropout
        As :class:`MLPClassifier`'s; the validation rows are a random
        ``validation_fraction`` of all rows.
    dtype, random_state, warm_start, verbose
        As :class:`MLPClassifier`'s.

    Attributes
    ----------
    network_ : Network
        The trained network.
    n_features_in_, n_outputs_, n_iter_, loss_, best_loss_
        As :class:`MLPClassifier`'s.
    feature_names_in_, loss_curve_, validation_loss_curve_
        As :class:`MLPClassifier`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbackprop.estimators import MLPRegressor
    >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
    >>> reg = MLPRegressor((16,), activation="tanh", learning_rate_init=0.01,
    ...                    max_iter=500, n_iter_no_change=None, random_state=0)
    >>> reg = reg.fit(X, X[:, 0] ** 2)
    >>> bool(reg.score(X, X[:, 0] ** 2) > 0.9)
    True
    """

    def _encode_targets(self, y, continuing: bool, classes) -> _Targets:
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if continuing and targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} outputs but the estimator was fitted with "
                f"{self.n_outputs_}"
            )
        return _Targets(targets=targets, n_outputs=targets.shape[1], loss="mse", output="identity")

    def partial_fit(self, X, y, sample_weight=None):
        """One pass over ``(X, y)`` with the current optimizer state.

        As :meth:`MLPClassifier.partial_fit`, without ``classes``.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)
        sample_weight : float or array-like (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predictions ``(n,)`` for one output, else ``(n, n_outputs)``."""
        out, dtype = self._outputs(X)
        out = out.astype(dtype, copy=False)
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
