"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in replacements for ``sklearn.neural_network``'s estimators of the
same names: change the import, keep the code. They take scikit-learn's
parameters with its defaults and meanings (``solver`` ``"adam"``,
``"sgd"`` or ``"lbfgs"``, ``alpha``, ``learning_rate``, ``momentum``, the
Adam betas, ``max_fun``...), start from scikit-learn's initial weights for
the same int ``random_state``, and set its fitted attributes (``coefs_``,
``intercepts_``, ``loss_curve_``, ``validation_scores_``, ``t_``...). The
training runs in fastbackprop's compiled loop. ``clone``, ``Pipeline``,
``GridSearchCV`` and pickling work.

Extensions, all off by default: ``optimizer`` (AdamW, RMSprop, or an
optimizer object), ``weight_decay``, ``lr_schedule``, ``clip_norm``,
``dropout``, ``dtype``, ``validation_metric`` and, for the classifier,
``class_weight``. Where one overlaps a scikit-learn parameter, the
docstring says which wins, and contradictions are refused.

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
import dataclasses
import math
import numbers
import warnings

import numpy as np

try:
    from scipy import sparse
    from scipy.special import xlogy
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - the test extra installs it
    raise ImportError(
        "fastbackprop.estimators needs scikit-learn >= 1.6: pip install 'fastbackprop[sklearn]'"
    ) from error

from . import _sklearn_settings, _sklearn_targets
from . import _validation as v
from ._lbfgs import fit_lbfgs
from ._sklearn_rules import (
    EpochRule,
    LossUnits,
    RuleRate,
    RuleState,
    Validation,
    glorot_uniform,
    in_network_units,
    set_parameters,
)
from ._sklearn_settings import Settings
from ._sklearn_targets import Targets
from .history import NonFiniteLossError
from .network import Network, stream_blocks
from .optim import SGD, Optimizer

__all__ = ["MLPClassifier", "MLPRegressor"]

_FLOAT_DTYPES = (np.float64, np.float32)
_DEFAULT_BATCH = 200  # scikit-learn's batch_size="auto": min(200, n_samples)
_STOCHASTIC_SOLVERS = ("sgd", "adam")
#: scikit-learn's words, which its tests match
_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)
#: what a new fit forgets (scikit-learn's _initialize sets them afresh)
_FITTED = (
    "network_",
    "classes_",
    "n_outputs_",
    "n_layers_",
    "out_activation_",
    "n_iter_",
    "t_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "validation_loss_curve_",
    "_rule_state",
)


class _LayerList(list):
    """``coefs_`` and ``intercepts_``: a list of live views of the network's
    parameters whose items can be assigned, as scikit-learn's list items
    can (``clf.coefs_[0] = W`` copies ``W`` into the network)."""

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            raise TypeError("assign one layer at a time, or the whole list")
        view = list.__getitem__(self, index)
        if np.shape(value) != view.shape:
            raise ValueError(f"layer {index} is shaped {view.shape}; got {np.shape(value)}")
        view[...] = value


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, checks,
    building the network, training it, and undoing a call that fails.
    Subclasses say how ``y`` becomes the network's targets
    (``_encode_targets``), how rows are weighted (``_row_weights``) and how
    the held-out rows are scored (``_validation_scorer``)."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        optimizer=None,
        weight_decay=None,
        lr_schedule=None,
        clip_norm=None,
        dropout=0.0,
        dtype=None,
        validation_metric="score",
    ):
        # scikit-learn's rule: store the arguments as given, check them in fit
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.clip_norm = clip_norm
        self.dropout = dropout
        self.dtype = dtype
        self.validation_metric = validation_metric

    # ------------------------------------------------------------- checks
    def _settings(self):
        """Every parameter, checked (``_sklearn_settings.read``)."""
        return _sklearn_settings.read(self)

    @staticmethod
    def _sample_weight(sample_weight, n_samples: int):
        """``sample_weight`` checked, as float64 ``(n,)``, or None. A scalar
        weighs every row alike, as in scikit-learn."""
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
            sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
        return v.check_sample_weight(sample_weight, n_samples, np.dtype(np.float64))[:, 0]

    # ------------------------------------------------------------ the network
    def _activation(self):
        """``activation`` with scikit-learn's name ``"logistic"`` read as
        ``"sigmoid"``."""
        if isinstance(self.activation, str):
            return "sigmoid" if self.activation == "logistic" else self.activation
        if isinstance(self.activation, (list, tuple)):
            return ["sigmoid" if name == "logistic" else name for name in self.activation]
        return self.activation

    def _logistic(self) -> bool:
        """scikit-learn's smaller initial weights for logistic units: for
        ``"logistic"`` (or ``"sigmoid"``) hidden layers, all of them."""
        names = [self._activation()] if isinstance(self._activation(), str) else self._activation()
        return len(names) > 0 and all(name == "sigmoid" for name in names)

    def _build_network(self, n_features, encoding, settings, dtype, random_state) -> Network:
        """A new network with scikit-learn's initial weights, drawn first
        from ``random_state`` (as scikit-learn's ``_initialize``)."""
        sizes = [n_features, *settings.hidden, encoding.n_outputs]
        initial = glorot_uniform(sizes, random_state, self._logistic())
        state = self.random_state
        # the network's own generator shuffles and draws dropout masks
        seed = int(state) if isinstance(state, numbers.Integral) else None
        network = Network(
            sizes,
            activation=self._activation(),
            output=encoding.output,
            loss=encoding.loss,
            dtype=dtype if settings.dtype is None else settings.dtype,
            seed=seed if seed is not None else int(random_state.randint(np.iinfo(np.int32).max)),
            dropout=self.dropout,
        )
        set_parameters(network, initial)
        return network

    def _check_same_network(self, network: Network, settings: Settings) -> None:
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

    # ---------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        """``fit`` (``incremental=False``) or ``partial_fit``. A failure puts
        back the estimator's attributes, a ``RandomState`` it drew from, and
        the state of a network that was being continued."""
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
        if converged is not True:  # after the fit stands: an error filter keeps the model
            warnings.warn(converged, ConvergenceWarning, stacklevel=3)  # the caller of fit
        return self

    def _fit_unguarded(self, X, y, sample_weight, incremental, classes, continuing):
        """Train; returns True, or the ``ConvergenceWarning``'s words when
        the solver ran out of iterations."""
        if incremental and v.check_bool(self.early_stopping, "early_stopping"):
            raise ValueError("partial_fit does not support early_stopping=True")
        if sparse.issparse(y):
            y = y.toarray()  # a sparse multilabel indicator; the network's targets are dense
        X, y = validate_data(
            self,
            X,
            y,
            reset=not continuing,
            accept_sparse=["csr", "csc", "coo"],
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=not self._is_classifier,
        )
        if sparse.issparse(X):
            X = X.toarray()  # the compiled loop reads dense rows
        settings = self._settings()
        encoding = self._encode_targets(y, continuing, classes, incremental)
        weights = self._row_weights(
            self._sample_weight(sample_weight, X.shape[0]), encoding, incremental
        )
        random_state = check_random_state(self.random_state)  # per call, as scikit-learn
        if continuing:
            network = self.network_
            self._check_same_network(network, settings)
            state = copy.deepcopy(self._rule_state)
        else:
            network = self._build_network(X.shape[1], encoding, settings, X.dtype, random_state)
            state = RuleState()
        units = self._units(encoding, weights)
        if settings.solver == "lbfgs":
            result = fit_lbfgs(
                network,
                X,
                encoding.targets,
                weights,
                units=units,
                alpha=settings.alpha,
                max_iter=settings.epochs,
                max_fun=settings.max_fun,
                tol=settings.tol,
                verbose=settings.verbose,
            )
            if not np.isfinite(network.get_training_state().parameters).all():
                raise ValueError(_NON_FINITE)
            converged = (
                True
                if result.converged
                else f"lbfgs failed to converge after {result.n_iter} iteration(s): "
                f"{result.message}. Increase the number of iterations (max_iter) or the "
                "number of function evaluations (max_fun), or scale the data."
            )
            self._adopt(network, encoding, state, continuing, settings, n_iter=result.n_iter)
            self.loss_ = result.loss
            return converged
        if incremental:
            n_iter, converged = self._partial_pass(
                network, X, encoding, weights, settings, units, state, continuing
            )
        else:
            n_iter, converged = self._train(
                network, X, encoding, weights, settings, units, state, random_state
            )
        self._adopt(network, encoding, state, continuing, settings, n_iter=n_iter)
        return converged

    @staticmethod
    def _units(encoding, weights, targets=None) -> LossUnits:
        """scikit-learn's loss against the network's (``LossUnits``); for
        Poisson with its constant ``y log y - y``, summed over the outputs
        and averaged over the (weighted) rows of ``targets`` (default all)."""
        units = LossUnits.of(encoding.loss, encoding.n_outputs)
        if encoding.loss != "poisson":
            return units
        targets = encoding.targets if targets is None else targets
        constant = (xlogy(targets, targets) - targets).sum(axis=1)
        return dataclasses.replace(units, offset=float(np.average(constant, weights=weights)))

    def _adopt(self, network, encoding, state, continuing, settings, n_iter) -> None:
        """Training succeeded: only now does the estimator change. A new
        fit forgets the attributes of the last one."""
        if not continuing:
            for name in _FITTED:
                self.__dict__.pop(name, None)
        self.network_ = network
        if encoding.classes is not None:
            self.classes_ = encoding.classes
        self.n_outputs_ = encoding.n_outputs
        self.n_layers_ = len(settings.hidden) + 2
        self.out_activation_ = encoding.out_activation
        self.n_iter_ = n_iter
        self.t_ = state.t
        self._rule_state = state
        if settings.solver == "lbfgs":
            return
        self.loss_curve_ = list(state.loss_curve)
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        if settings.early_stopping or state.validation_scores:
            self.best_loss_ = None
            self.validation_scores_ = list(state.validation_scores)
            self.best_validation_score_ = self._best_validation_score(state)
            if state.validation_losses:
                self.validation_loss_curve_ = list(state.validation_losses)
        else:
            self.best_loss_ = state.best_loss
            self.validation_scores_ = None
            self.best_validation_score_ = None

    @staticmethod
    def _best_validation_score(state: RuleState) -> float:
        """The score of the epoch whose parameters the fit ended with: the
        best score, or with ``validation_metric="loss"`` the score of the
        epoch of the lowest validation loss."""
        scores = state.validation_scores
        if state.validation_losses:
            return scores[int(np.nanargmin(state.validation_losses))]
        finite = [s for s in scores if not math.isnan(s)]
        return max(finite) if finite else math.nan

    def _resolve_batch(self, settings: Settings, n_rows: int) -> int:
        """scikit-learn's batch size on the training rows: ``"auto"`` is
        ``min(200, n)``, and a larger one is clipped, with its warning."""
        if settings.batch_size == "auto":
            return min(_DEFAULT_BATCH, n_rows)
        if settings.batch_size > n_rows:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped",
                stacklevel=5,
            )
        return min(settings.batch_size, n_rows)

    def _split(self, X, encoding, weights, settings, random_state):
        """scikit-learn's ``early_stopping`` split: ``train_test_split`` with
        its ``RandomState`` (after the initial weights were drawn), stratified
        on binary labels only. Returns the training and held-out row indices."""
        rows = np.arange(X.shape[0])
        train, held = train_test_split(
            rows,
            random_state=random_state,
            test_size=settings.validation_fraction,
            stratify=encoding.stratify,
        )
        if held.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        if weights is not None and not weights[train].sum() > 0:
            raise ValueError(
                "early_stopping leaves only rows of weight 0 for training; weigh more rows "
                "(sample_weight, class_weight) or hold out another validation_fraction"
            )
        return train, held

    @staticmethod
    def _penalty_share(weights, n_rows: int, batch: int, shuffle: bool) -> float:
        """``sum over batches of (rows / n) / (batch weight)``: the factor of
        ``alpha / 2 * sum(W**2)`` in scikit-learn's epoch loss, which adds
        each batch's penalty over its weight and averages batches by rows.
        Exact for batches in order; shuffled, with the batches' expected
        weight."""
        if weights is None:
            return math.ceil(n_rows / batch) / n_rows
        if shuffle:
            return math.ceil(n_rows / batch) / float(weights.sum())
        share = 0.0
        for start in range(0, n_rows, batch):
            block = weights[start : start + batch]
            if block.sum() > 0:
                share += block.shape[0] / n_rows / float(block.sum())
        return share

    def _rule(self, state, settings, units, network, n_rows, batch, share, validation):
        """The ``EpochRule`` of a fit or a ``partial_fit`` pass."""
        optimizer = settings.optimizer
        scikit_rates = settings.schedule is None and isinstance(optimizer, SGD)
        if state.learning_rate is None:
            state.learning_rate = optimizer.learning_rate
        return EpochRule(
            state,
            units=units,
            # the network's loss carries alpha over exactly when the loss and
            # gradient units are reciprocal; several squared-error outputs
            # (scikit-learn's loss averages them, its gradient sums) leave this
            residual_penalty=settings.alpha * (1.0 - units.loss * units.gradient),
            penalty_share=share,
            n_rows=n_rows,
            tol=settings.tol,
            patience=settings.patience,
            validation=validation,
            schedule=settings.learning_rate if scikit_rates else "constant",
            initial_rate=optimizer.learning_rate,
            power_t=settings.power_t,
            rate_scale=units.gradient if isinstance(optimizer, SGD) else 1.0,
            verbose=settings.verbose,
        )

    def _train(self, network, X, encoding, weights, settings, units, state, random_state):
        """``fit`` with ``sgd`` or ``adam``: ``Network.fit`` with a fresh
        optimizer (as scikit-learn makes one per fit) and scikit-learn's
        rule after every epoch. Returns ``(n_iter, converged)``."""
        targets = encoding.targets
        validation = None
        network_validation = None
        if settings.early_stopping:
            train, held = self._split(X, encoding, weights, settings, random_state)
            held_weights = None if weights is None else weights[held]
            validation = Validation(
                X[held],
                targets[held],
                held_weights,
                self._validation_scorer(X[held], encoding, held, held_weights),
                settings.watch_loss,
            )
            if settings.watch_loss or settings.schedule is not None:
                network_validation = (X[held], targets[held], held_weights)
            X, targets = X[train], targets[train]
            weights = None if weights is None else weights[train]
            units = self._units(encoding, weights, targets)  # the training rows' constant
        n_rows = X.shape[0]
        batch = self._resolve_batch(settings, n_rows)
        share = self._penalty_share(weights, n_rows, batch, settings.shuffle)
        state.learning_rate = None  # a fit starts from learning_rate_init
        rule = self._rule(state, settings, units, network, n_rows, batch, share, validation)
        if validation is not None and state.best_parameters is None:
            # scikit-learn's _initialize: the starting weights until an epoch scores
            state.best_parameters = network.get_training_state().parameters
        clip = None if settings.clip_norm is None else settings.clip_norm * units.gradient
        try:
            network.fit(
                X,
                targets,
                epochs=settings.epochs,
                batch_size=batch,
                shuffle=settings.shuffle,
                optimizer=in_network_units(settings.optimizer, units),
                clip_norm=clip,
                weight_penalty=settings.alpha * units.gradient,
                lr_schedule=RuleRate(rule) if settings.schedule is None else settings.schedule,
                sample_weight=weights,
                validation_data=network_validation,
                callbacks=[rule],
            )
        except NonFiniteLossError as error:
            if validation is None:
                raise ValueError(_NON_FINITE) from error
            # scikit-learn scores the diverged epoch as NaN and ends with the
            # best epoch's weights; the loop here stops at it
            state.validation_scores.append(math.nan)
            rule.iteration += 1
            rule.stopped = True
        if validation is not None:
            self._restore(network, state.best_parameters)
        if rule.stopped:
            return rule.iteration, True
        return rule.iteration, (
            f"Stochastic Optimizer: Maximum iterations ({settings.epochs}) reached and the "
            "optimization hasn't converged yet."
        )

    @staticmethod
    def _restore(network, parameters) -> None:
        state = network.get_training_state()
        network.set_training_state(
            dataclasses.replace(state, parameters=parameters), parameters_only=True
        )

    def _partial_pass(self, network, X, encoding, weights, settings, units, state, continuing):
        """``partial_fit``'s one pass, with the optimizer of the first call
        and the rate scikit-learn's rule left it (``invscaling``,
        ``adaptive``); then the rule's step, as one epoch."""
        rule_rate = settings.optimizer.learning_rate
        if continuing:
            if not self._same_rule(network.optimizer, settings.optimizer, units):
                raise ValueError(
                    "partial_fit continues with the optimizer of its first call; optimizer, "
                    "solver or their settings changed since: call fit to start afresh"
                )
        else:
            # a new network's optimizer state is zero and its step count 0
            network.optimizer = in_network_units(settings.optimizer, units)
            state.learning_rate = rule_rate
        n_rows = X.shape[0]
        batch = self._resolve_batch(settings, n_rows)
        share = self._penalty_share(weights, n_rows, batch, settings.shuffle)
        rule = self._rule(state, settings, units, network, n_rows, batch, share, None)
        network.optimizer.learning_rate = rule.network_rate()
        # One pass of Network.partial_fit, which streams the rows block by
        # block. One block shuffles as Network.partial_fit does; several
        # share one order over the whole call, drawn from the network's
        # generator.
        targets = encoding.targets
        if settings.shuffle and len(stream_blocks(n_rows, batch)) > 1:
            order = network.rng.permutation(n_rows)
            X, targets = X[order], targets[order]
            weights = None if weights is None else weights[order]
            shuffle_blocks = False
        else:
            shuffle_blocks = settings.shuffle
        clip = None if settings.clip_norm is None else settings.clip_norm * units.gradient
        rule.on_train_begin(network)
        try:
            network.partial_fit(
                X,
                targets,
                batch_size=batch,
                sample_weight=weights,
                shuffle=shuffle_blocks,
                clip_norm=clip,
                weight_penalty=settings.alpha * units.gradient,
            )
        except NonFiniteLossError as error:
            raise ValueError(_NON_FINITE) from error
        rule.on_epoch_end(1, {"loss": network.last_pass.loss})
        rule.on_train_end()
        return 1, True

    @staticmethod
    def _same_rule(current: Optimizer, wanted: Optimizer, units: LossUnits) -> bool:
        """Whether ``wanted`` (scikit-learn's units) is the network's
        ``current`` optimizer but for the learning rate."""
        if type(current) is not type(wanted):
            return False
        mine = current.get_config()
        theirs = in_network_units(wanted, units).get_config()
        mine.pop("learning_rate")
        theirs.pop("learning_rate")
        return mine == theirs

    def _row_weights(self, sample_weight, encoding, incremental: bool):
        """The weight of each row for the network."""
        return sample_weight

    def fit(self, X, y, sample_weight=None):
        """Train on ``(X, y)``: up to ``max_iter`` epochs (``sgd``, ``adam``)
        or iterations (``lbfgs``).

        With ``warm_start`` and a fitted estimator, training continues from
        the current weights (with a fresh optimizer, as scikit-learn's);
        otherwise a new network is built.

        Parameters
        ----------
        X : {array-like, sparse matrix} (n_samples, n_features)
            Sparse input is made dense.
        y : array-like (n_samples,) or (n_samples, n_outputs)
        sample_weight : float or array-like (n_samples,), optional
            Per-row weights >= 0; the loss is ``sum(w * l) / sum(w)``.

        Returns
        -------
        self
            The fitted estimator. A call that raises leaves it as it was.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _stochastic(self) -> bool:
        """``partial_fit`` exists only for the stochastic solvers, as in scikit-learn."""
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True

    # ------------------------------------------------------------ predict
    def _outputs(self, X):
        """The network's outputs for ``X``, in the network's precision, and
        the dtype to return values in: the input's, as scikit-learn's
        estimators do."""
        check_is_fitted(self, "network_")
        X = validate_data(
            self, X, reset=False, accept_sparse=["csr", "csc", "coo"], dtype=_FLOAT_DTYPES
        )
        if sparse.issparse(X):
            X = X.toarray()
        # as scikit-learn's: the input's dtype promoted with the weights'
        dtype = np.result_type(X.dtype, self.network_.dtype)
        return self.network_.forward(X.astype(self.network_.dtype, copy=False)), dtype

    @property
    def coefs_(self) -> list:
        """Weight matrices ``(n_in, n_out)``, one per layer: live views of
        the network's parameters (writing into them changes the model;
        assigning a list copies it in)."""
        check_is_fitted(self, "network_")
        return _LayerList(self.network_.weights)

    @coefs_.setter
    def coefs_(self, values):  # a list assigned whole is copied in
        self._write_parameters(values, self.network_.weights, "coefs_")

    @property
    def intercepts_(self) -> list:
        """Bias vectors ``(n_out,)``, one per layer, as live views."""
        check_is_fitted(self, "network_")
        return _LayerList(self.network_.biases)

    @intercepts_.setter
    def intercepts_(self, values):
        self._write_parameters(values, self.network_.biases, "intercepts_")

    @staticmethod
    def _write_parameters(values, views, name) -> None:
        values = list(values)
        if len(values) != len(views) or any(
            np.shape(value) != view.shape for value, view in zip(values, views)
        ):
            raise ValueError(
                f"{name} must hold one array per layer shaped "
                f"{[view.shape for view in views]}; got {[np.shape(x) for x in values]}"
            )
        for value, view in zip(values, views):
            view[...] = value

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # an int random_state fixes every draw: the same fit, bit for bit
        tags.non_deterministic = self.random_state is None
        tags.input_tags.sparse = True
        return tags


_SHARED_PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default (100,)
        Widths of the hidden layers; ``()`` for none.
    activation : {"identity", "logistic", "tanh", "relu"} or str or list, default "relu"
        Hidden activation; also fastbackprop's others (``"leaky_relu"``,
        ``"elu"``, ``"gelu"``, ``"silu"``, ``"sigmoid"`` = ``"logistic"``)
        and one name per hidden layer.
    solver : {"lbfgs", "sgd", "adam"}, default "adam"
        ``"lbfgs"`` runs SciPy's L-BFGS-B on the full-batch loss and
        gradient; ``"sgd"`` and ``"adam"`` train minibatches.
    alpha : float, default 0.0001
        L2 penalty ``alpha / 2 * sum(W**2) / sum(w)`` added to each batch's
        loss, on the weights, not the biases.
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` for "auto"; larger than the rows: clipped,
        with a warning. Not used by lbfgs.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        For ``solver="sgd"``: ``invscaling`` is ``learning_rate_init / (t_ +
        1) ** power_t`` after each epoch; ``adaptive`` divides the rate by 5
        whenever the stopping rule fires, and stops below 1e-6.
    learning_rate_init : float, default 0.001
    power_t : float, default 0.5
    max_iter : int, default 200
        Epochs (sgd, adam) or iterations (lbfgs) per ``fit``.
    shuffle : bool, default True
    random_state : int, RandomState or None, default None
        Draws the initial weights (scikit-learn's, for an int), the
        validation split, shuffling and dropout.
    tol : float, default 1e-4
        Smallest improvement that counts (lbfgs: its ``gtol``).
    verbose : bool, default False
        Print scikit-learn's ``Iteration N, loss = ...`` lines.
    warm_start : bool, default False
        ``fit`` continues from the fitted weights.
    momentum : float, default 0.9
        For sgd (torch's form, equal to scikit-learn's at a constant rate).
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (stratified for binary
        labels, as scikit-learn), stop when their score (accuracy, or R^2)
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, and end
        with the best epoch's weights. A diverging loss then ends training
        with a NaN score instead of an error.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's (epsilon also RMSprop's, for the ``optimizer`` extension).
    n_iter_no_change : int or np.inf, default 10
        Epochs without improvement before the rule fires (``None`` is
        ``np.inf``: it never does).
    max_fun : int, default 15000
        lbfgs's most loss evaluations.
    optimizer : None, str or Optimizer, default None
        Extension: ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` (with
        ``learning_rate_init`` and the matching settings above) or an object
        from :mod:`fastbackprop.optim`, copied, with its own settings. It
        wins over ``solver``, which must then be left at "adam" or name the
        same rule.
    weight_decay : float or None, default None
        Extension: torch's weight decay (on biases too), besides ``alpha``.
    lr_schedule : None, str or Schedule, default None
        Extension: see :mod:`fastbackprop.schedules`; replaces
        ``learning_rate``, which must then be "constant".
    clip_norm : float or None, default None
        Extension: clip the gradient's global norm.
    dropout : float or list of float, default 0.0
        Extension: inverted dropout after each hidden layer.
    dtype : {None, "float32", "float64"}, default None
        Extension: the network's precision; None is the input's.
    validation_metric : {"score", "loss"}, default "score"
        Extension: what ``early_stopping`` watches; "loss" is the held-out
        rows' loss.
"""

_SHARED_ATTRIBUTES = """
    coefs_, intercepts_ : list of ndarray
        Weights and biases per layer (live views of ``network_``).
    network_ : Network
        The trained network.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` was a DataFrame with string column names.
    n_outputs_, n_layers_ : int
    out_activation_ : str
    n_iter_ : int
        Epochs (or lbfgs iterations) of the last ``fit``; 1 after ``partial_fit``.
    t_ : int
        Rows trained on, over every call.
    loss_ : float
    loss_curve_ : list of float
        scikit-learn's loss after each epoch (sgd, adam).
    best_loss_ : float or None
        None with ``early_stopping``.
    validation_scores_ : list of float or None
        With ``early_stopping``.
    best_validation_score_ : float or None
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier: scikit-learn's ``MLPClassifier``,
    trained by fastbackprop.

    Softmax over three or more classes, one logistic output for two (or
    one), one logistic output per label for a multilabel indicator ``y``.

    Parameters
    ----------
    __PARAMETERS__
    class_weight : None, "balanced" or dict, default None
        Extension: per-class weights keyed by the labels of ``y``, by
        scikit-learn's rule (a class without a key weighs 1; keys for labels
        ``y`` lacks are allowed only when every class has a key).
        ``"balanced"`` is ``n / (n_classes * count)``; not for ``partial_fit``.

    Attributes
    ----------
    classes_ : ndarray
        The labels, sorted; for multilabel ``y``, ``arange(n_labels)``.
    __ATTRIBUTES__

    Examples
    --------
    >>> import numpy as np
    >>> from fastbackprop.estimators import MLPClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> y = np.array(["no", "yes", "yes", "no"])
    >>> clf = MLPClassifier((8,), activation="tanh", solver="lbfgs", random_state=0)
    >>> clf.fit(X, y).predict(X).tolist()
    ['no', 'yes', 'yes', 'no']
    """

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        optimizer=None,
        weight_decay=None,
        lr_schedule=None,
        clip_norm=None,
        dropout=0.0,
        dtype=None,
        validation_metric="score",
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            optimizer=optimizer,
            weight_decay=weight_decay,
            lr_schedule=lr_schedule,
            clip_norm=clip_norm,
            dropout=dropout,
            dtype=dtype,
            validation_metric=validation_metric,
        )
        self.class_weight = class_weight

    # ------------------------------------------------------------ targets
    def _encode_targets(self, y, continuing: bool, classes, incremental: bool) -> Targets:
        return _sklearn_targets.encode_labels(self, y, continuing, classes, incremental)

    def _validation_scorer(self, X_held, encoding, held, weights):
        """Accuracy of the held-out rows (subset accuracy for multilabel),
        NaN when the outputs are not finite, as scikit-learn's ``_score``."""
        truth = self._decide(encoding.targets[held].astype(np.float64), encoding)

        def score(network):
            outputs = network.forward(X_held)
            if not np.isfinite(outputs).all():
                return math.nan
            return float(
                accuracy_score(truth, self._decide(outputs, encoding), sample_weight=weights)
            )

        return score

    @staticmethod
    def _decide(outputs, encoding):
        """Class indices (or a 0/1 indicator) from outputs or targets."""
        if encoding.loss == "cross_entropy":
            return outputs if outputs.ndim == 1 else outputs.argmax(axis=1)
        decided = (outputs > 0.5).astype(np.int64)
        return decided[:, 0] if decided.shape[1] == 1 else decided

    def _row_weights(self, sample_weight, encoding, incremental: bool):
        return _sklearn_targets.class_row_weights(self, sample_weight, encoding, incremental)

    # ------------------------------------------------------------ methods
    @available_if(_BaseMLP._stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One pass over ``(X, y)`` with the current optimizer state, then
        scikit-learn's rule for one epoch (its ``invscaling`` and
        ``adaptive`` rates).

        The first call builds the network and its optimizer; later calls
        continue them (a changed optimizer or network shape is refused).
        ``clip_norm`` and ``alpha`` apply.

        Parameters
        ----------
        X : {array-like, sparse matrix} (n_samples, n_features)
        y : array-like (n_samples,) or multilabel indicator
        sample_weight : float or array-like (n_samples,), optional
        classes : array-like, optional
            Every label ``y`` may ever hold; needed on the first call (a batch
            need not show every class), unless ``y`` is a multilabel
            indicator. Later calls may repeat it.

        Returns
        -------
        self
        """
        if not hasattr(self, "network_") and classes is None:  # multilabel too, as scikit-learn
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` (two columns for binary
        labels); for multilabel, each label's probability."""
        outputs, dtype = self._outputs(X)
        if self.n_outputs_ == 1:
            positive = outputs[:, 0]
            outputs = np.column_stack([1 - positive, positive])
        return outputs.astype(dtype, copy=False)

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))``, as scikit-learn's (so a probability
        that rounds to 0 in the input's dtype gives ``-inf``)."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict(self, X) -> np.ndarray:
        """Labels ``(n,)`` (of ``classes_``), or a 0/1 indicator ``(n,
        n_labels)`` for a multilabel fit."""
        outputs, _ = self._outputs(X)
        if self.out_activation_ == "softmax":
            return self.classes_[outputs.argmax(axis=1)]
        if self.n_outputs_ > 1:
            return (outputs > 0.5).astype(np.int64)
        if len(self.classes_) == 1:
            return np.repeat(self.classes_, outputs.shape[0])
        return self.classes_[(outputs[:, 0] > 0.5).astype(np.int64)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = self.class_weight is None  # single-label only
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor: scikit-learn's ``MLPRegressor``,
    trained by fastbackprop.

    Squared error with identity outputs, or Poisson with exp outputs (the
    log link), one per column of ``y``.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default "squared_error"
        scikit-learn's half squared error, or half Poisson deviance for
        counts or rates ``y >= 0``.
    __PARAMETERS__

    Attributes
    ----------
    __ATTRIBUTES__

    Examples
    --------
    >>> import numpy as np
    >>> from fastbackprop.estimators import MLPRegressor
    >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", solver="lbfgs",
    ...                    random_state=0)
    >>> reg = reg.fit(X, X[:, 0] ** 2)
    >>> bool(reg.score(X, X[:, 0] ** 2) > 0.9)
    True
    """

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        optimizer=None,
        weight_decay=None,
        lr_schedule=None,
        clip_norm=None,
        dropout=0.0,
        dtype=None,
        validation_metric="score",
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            optimizer=optimizer,
            weight_decay=weight_decay,
            lr_schedule=lr_schedule,
            clip_norm=clip_norm,
            dropout=dropout,
            dtype=dtype,
            validation_metric=validation_metric,
        )
        self.loss = loss

    def _encode_targets(self, y, continuing: bool, classes, incremental: bool) -> Targets:
        loss = v.check_name(self.loss, ("squared_error", "poisson"), "loss")
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if continuing and targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} outputs but the estimator was fitted with "
                f"{self.n_outputs_}"
            )
        if continuing and (loss == "poisson") != (self.out_activation_ == "exp"):
            raise ValueError(
                "loss changed since the network was fitted; warm_start and partial_fit "
                "continue that network, so fit with warm_start=False to build a new one"
            )
        if loss == "poisson":  # the log link: exp outputs, counts or rates >= 0
            if (targets < 0).any():
                raise ValueError("y must hold counts or rates >= 0 for loss='poisson'")
            return Targets(targets, targets.shape[1], "poisson", "exp", "exp")
        return Targets(targets, targets.shape[1], "mse", "identity", "identity")

    def _validation_scorer(self, X_held, encoding, held, weights):
        """R^2 of the held-out rows, NaN when the outputs are not finite."""
        truth = encoding.targets[held]

        def score(network):
            outputs = network.forward(X_held)
            if not np.isfinite(outputs).all():
                return math.nan
            return float(r2_score(truth, outputs, sample_weight=weights))

        return score

    @available_if(_BaseMLP._stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One pass over ``(X, y)`` with the current optimizer state.

        As :meth:`MLPClassifier.partial_fit`, without ``classes``.

        Parameters
        ----------
        X : {array-like, sparse matrix} (n_samples, n_features)
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


for _estimator in (MLPClassifier, MLPRegressor):
    _estimator.__doc__ = _estimator.__doc__.replace(
        "__PARAMETERS__", _SHARED_PARAMETERS.strip()
    ).replace("__ATTRIBUTES__", _SHARED_ATTRIBUTES.strip())
