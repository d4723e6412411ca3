"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

They wrap :class:`~fastbackprop.Network` in scikit-learn's estimator API, so
``clone``, ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and pickling
work, and they pass scikit-learn's ``check_estimator``. Parameter names
follow scikit-learn's ``MLPClassifier`` where the meaning is the same
(``hidden_layer_sizes``, ``batch_size``, ``learning_rate_init``,
``max_iter``, ``tol``, ``n_iter_no_change``, ``early_stopping``,
``validation_fraction``, ``random_state``, ``warm_start``) and
:meth:`Network.fit`'s otherwise (``optimizer``, ``weight_decay``,
``clip_norm``, ``lr_schedule``, ``dropout``, ``dtype``).

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
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

try:
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
from .callbacks import EarlyStopping
from .network import Network
from .optim import OPTIMIZERS, Optimizer
from .schedules import Schedule

__all__ = ["MLPClassifier", "MLPRegressor"]

_FLOAT_DTYPES = (np.float64, np.float32)
_DEFAULT_BATCH = 200  # scikit-learn's batch_size="auto": min(200, n_samples)


@dataclass
class _Targets:
    """What ``y`` becomes for the network: its targets, their loss and
    output activation, and the fitted attributes that decode predictions
    (``classes_`` ...)."""

    targets: np.ndarray
    n_outputs: int
    loss: str
    output: str
    attributes: dict = field(default_factory=dict)


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, checks,
    building the network and running :meth:`Network.fit`. Subclasses say how
    targets become the network's (``_encode_targets``)."""

    _loss_kind = "regression"

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
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise TypeError(
                f"hidden_layer_sizes must be an int or a sequence of ints; got {sizes!r}"
            ) from None
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
                raise ValueError(
                    f"hidden_layer_sizes must hold ints >= 1; got {self.hidden_layer_sizes!r}"
                )
        return tuple(int(size) for size in sizes)

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

    def _fit_settings(self, n_samples: int) -> dict:
        """:meth:`Network.fit`'s keyword arguments but the optimizer, the
        weights and the callbacks, checked and named as the estimator names
        them."""
        schedule = self.lr_schedule
        if isinstance(schedule, Schedule):
            schedule = copy.deepcopy(schedule)  # a plateau schedule keeps state
        settings = dict(
            epochs=v.check_count(self.max_iter, "max_iter", 1),
            batch_size=self._batch_size(n_samples),
            shuffle=v.check_bool(self.shuffle, "shuffle"),
            verbose=v.check_count(self.verbose, "verbose", 0),
            clip_norm=self.clip_norm,
            lr_schedule=schedule,
        )
        if v.check_bool(self.early_stopping, "early_stopping"):
            settings["validation_split"] = v.check_fraction(
                self.validation_fraction, "validation_fraction"
            )
        return settings

    def _stopper(self):
        """scikit-learn's stopping rule: no improvement by more than ``tol``
        for ``n_iter_no_change`` epochs in a row, in the validation loss with
        ``early_stopping`` (ending with the best epoch's weights) or else in
        the training loss."""
        tol = v.check_non_negative_float(self.tol, "tol")
        early = v.check_bool(self.early_stopping, "early_stopping")
        if self.n_iter_no_change is None:
            return None
        return EarlyStopping(
            monitor="val_loss" if early else "loss",
            patience=v.check_count(self.n_iter_no_change, "n_iter_no_change", 1),
            min_delta=tol,
            restore_best_weights=early,
        )

    def _seed(self):
        """``Network``'s seed: an int ``random_state`` as it is (so the
        estimator matches ``Network(seed=random_state)``), a draw from a
        ``RandomState``, or ``None``."""
        state = self.random_state
        if state is None:
            return None
        if isinstance(state, numbers.Integral) and not isinstance(state, bool):
            return int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    def _build_network(self, n_features: int, encoding: _Targets, dtype) -> Network:
        return Network(
            [n_features, *self._hidden_sizes(), encoding.n_outputs],
            activation=self.activation,
            output=encoding.output,
            loss=encoding.loss,
            dtype=dtype,
            seed=self._seed(),
            dropout=self.dropout,
        )

    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        """``fit`` (``incremental=False``) or ``partial_fit``. Everything is
        checked and trained before any fitted attribute is set, and a failure
        puts back what ``validate_data`` had already set."""
        saved = dict(self.__dict__)
        try:
            return self._fit_unguarded(X, y, sample_weight, incremental, classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unguarded(self, X, y, sample_weight, incremental, classes):
        reuse = hasattr(self, "network_") and (
            incremental or v.check_bool(self.warm_start, "warm_start")
        )
        X, y = validate_data(
            self,
            X,
            y,
            reset=not reuse,
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=self._loss_kind == "regression",
        )
        encoding = self._encode_targets(y, reuse, classes)
        if reuse:
            network = self.network_
        else:
            dtype = X.dtype if self.dtype is None else v.check_dtype(self.dtype)
            network = self._build_network(X.shape[1], encoding, dtype)
        epochs_before = network.history.epochs
        stopped = True  # no convergence warning unless fit ran out of epochs
        if incremental:
            if not reuse:
                # a fresh network's optimizer state is zero and its step count
                # 0, as fit's swap to a new optimizer would leave them
                network.optimizer = self._make_optimizer()
            weights = self._row_weights(sample_weight, encoding, partial=True)
            network.partial_fit(
                X,
                encoding.targets,
                batch_size=self._batch_size(X.shape[0]),
                sample_weight=weights,
                shuffle=v.check_bool(self.shuffle, "shuffle"),
            )
        else:
            settings = self._fit_settings(X.shape[0])
            stopper = self._stopper()
            if stopper is not None:
                settings["callbacks"] = [stopper]
            network.fit(
                X,
                encoding.targets,
                optimizer=None if reuse else self._make_optimizer(),
                sample_weight=self._row_weights(sample_weight, encoding, partial=False),
                **settings,
            )
            stopped = stopper is None or stopper.stopped_epoch > 0
        # training succeeded: only now does the estimator change
        self.network_ = network
        for name, value in encoding.attributes.items():
            setattr(self, name, value)
        self.n_outputs_ = encoding.n_outputs
        history = network.history
        self.loss_curve_ = list(history.loss)
        self.loss_ = history.loss[-1] if history.loss else None
        self.validation_loss_curve_ = list(history.val_loss)
        self.n_iter_ = history.epochs
        if not stopped:
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({history.epochs - epochs_before}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,  # the caller of fit or partial_fit
            )
        return self

    def _batch_size(self, n_samples: int) -> int:
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(_DEFAULT_BATCH, n_samples)
        return v.check_count(self.batch_size, "batch_size", 1)

    def _row_weights(self, sample_weight, encoding, partial: bool):
        """``sample_weight`` times the classes' weights, or ``sample_weight``."""
        return sample_weight

    def fit(self, X, y, sample_weight=None):
        """Train on ``(X, y)`` for up to ``max_iter`` epochs.

        With ``warm_start`` and a fitted estimator, training continues from
        the current network and optimizer state; otherwise a new network is
        built.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like (n_samples,), optional
            Per-row weights >= 0; the loss is ``sum(w * l) / sum(w)``.

        Returns
        -------
        self
            The fitted estimator. A failed call leaves it as it was.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    # ------------------------------------------------------------ predict
    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        return self.network_.forward(X.astype(self.network_.dtype, copy=False))

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
        Hidden activation (see :class:`~fastbackprop.Network`).
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
        Stop after this many epochs in a row without an improvement by more
        than ``tol``: in the training loss, or the validation loss with
        ``early_stopping``. ``None`` always runs ``max_iter`` epochs.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (stratified), stop on
        their loss, and end with the weights of the best epoch.
    validation_fraction : float, default 0.1
    lr_schedule : None, str or Schedule, default None
        See :mod:`fastbackprop.schedules` (copied, so fitting never changes it).
    clip_norm : float or None, default None
        Clip the global gradient norm, as ``torch.nn.utils.clip_grad_norm_``.
    dropout : float or list of float, default 0.0
        Inverted dropout after each hidden layer, while training only.
    dtype : {None, "float32", "float64"}, default None
        Precision of the network; ``None`` is float32 for float32 ``X`` and
        float64 otherwise.
    class_weight : None, "balanced" or dict, default None
        Per-class weights keyed by the labels of ``y``.
    random_state : int, RandomState or None, default None
        Seeds initialisation, shuffling, dropout and the validation split.
        An int gives the same network as ``Network(seed=random_state)``.
    warm_start : bool, default False
        ``fit`` continues from the current network and optimizer state.
    verbose : int, default 0
        Print a line every ``verbose`` epochs (see :meth:`Network.fit`).

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
        Epochs trained in all (``warm_start`` adds up).
    loss_ : float
        Mean training loss of the last epoch.
    loss_curve_ : list of float
        Every epoch's mean training loss.
    validation_loss_curve_ : list of float
        Every epoch's validation loss (with ``early_stopping``).

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

    _loss_kind = "classification"

    # ------------------------------------------------------------ targets
    def _encode_targets(self, y, reuse: bool, classes) -> _Targets:
        """Labels become class indices (softmax cross-entropy), a multilabel
        indicator stays 0/1 (sigmoid, binary cross-entropy). With ``reuse``
        the labels must be among ``classes_``."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        multilabel = type_of_target(y) == "multilabel-indicator"
        if reuse:
            if multilabel != (self.network_.loss == "binary_cross_entropy"):
                raise ValueError(
                    "y must be of the kind the estimator was first fitted on "
                    f"({'multilabel' if not multilabel else 'single-label'} targets); "
                    "set warm_start=False to start afresh"
                )
            known = self.classes_
        elif classes is not None:
            known = np.unique(np.asarray(classes))
        else:
            known = np.arange(y.shape[1]) if multilabel else np.unique(y)
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
                attributes={"classes_": known},
            )
        if len(known) < 2:
            raise ValueError(
                f"y has 1 class ({known[0]!r}); MLPClassifier needs at least 2 classes"
                if len(known)
                else "classes is empty; MLPClassifier needs at least 2 classes"
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
            attributes={"classes_": known},
        )

    def _row_weights(self, sample_weight, encoding, partial: bool):
        """``sample_weight`` times ``class_weight``'s weight of each row's
        class (keys are labels of ``y``)."""
        if self.class_weight is None:
            return sample_weight
        if encoding.loss != "cross_entropy":
            raise ValueError("class_weight needs single-label y, not a multilabel indicator")
        classes = encoding.attributes["classes_"]
        labels = encoding.targets
        if isinstance(self.class_weight, str):
            if self.class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be None, 'balanced' or a dict; got {self.class_weight!r}"
                )
            if partial:
                # balanced weights of one block of a stream would differ from
                # block to block (scikit-learn's SGDClassifier refuses it too)
                raise ValueError(
                    "class_weight='balanced' is not supported by partial_fit; "
                    "give a dict of weights computed over the whole data"
                )
            counts = np.bincount(labels, minlength=len(classes)).astype(np.float64)
            present = counts > 0
            per_class = np.zeros(len(classes))
            per_class[present] = len(labels) / (present.sum() * counts[present])
        elif isinstance(self.class_weight, dict):
            per_class = np.ones(len(classes))
            for label, weight in self.class_weight.items():
                where = np.flatnonzero(classes == label)
                if where.size != 1:
                    raise ValueError(
                        f"class_weight has a key {label!r} that is not a class of y; "
                        f"the classes are {classes.tolist()}"
                    )
                per_class[where[0]] = v.check_non_negative_float(weight, f"class_weight[{label!r}]")
        else:
            raise TypeError(
                "class_weight must be None, 'balanced' or a dict; "
                f"got {type(self.class_weight).__name__}"
            )
        weights = per_class[labels]
        if sample_weight is not None:
            weights = weights * v.check_sample_weight(sample_weight, len(labels), np.float64)[:, 0]
        return weights

    # ------------------------------------------------------------ methods
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass over ``(X, y)`` with the current optimizer state.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,) or multilabel indicator
        classes : array-like, optional
            Every label ``y`` may ever hold; needed on the first call (a batch
            need not show every class). Not needed for a multilabel ``y``.
        sample_weight : array-like (n_samples,), optional

        Returns
        -------
        self
        """
        if not hasattr(self, "network_") and classes is None:
            if y is not None and type_of_target(y) != "multilabel-indicator":
                raise ValueError("classes must be given on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``: softmax rows, or each
        label's sigmoid for a multilabel fit."""
        return self._outputs(X)

    def predict_log_proba(self, X) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Labels ``(n,)`` (of ``classes_``), or a 0/1 indicator ``(n,
        n_labels)`` for a multilabel fit."""
        proba = self._outputs(X)
        if self.network_.loss == "binary_cross_entropy":
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor, trained by fastbackprop.

    Mean squared error (as torch's ``MSELoss``) with identity outputs, one
    per column of ``y``.

    The parameters are :class:`MLPClassifier`'s, without ``class_weight``.

    Attributes
    ----------
    network_ : Network
        The trained network.
    n_features_in_, feature_names_in_, n_outputs_, n_iter_ : int
        As :class:`MLPClassifier`'s.
    loss_, loss_curve_, validation_loss_curve_
        As :class:`MLPClassifier`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbackprop.estimators import MLPRegressor
    >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
    >>> reg = MLPRegressor((16,), activation="tanh", learning_rate_init=0.03,
    ...                    max_iter=500, random_state=0).fit(X, X[:, 0] ** 2)
    >>> bool(reg.score(X, X[:, 0] ** 2) > 0.9)
    True
    """

    def _encode_targets(self, y, reuse: bool, classes) -> _Targets:
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if reuse and targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} outputs but the estimator was fitted with "
                f"{self.n_outputs_}"
            )
        return _Targets(targets=targets, n_outputs=targets.shape[1], loss="mse", output="identity")

    def partial_fit(self, X, y, sample_weight=None):
        """One pass over ``(X, y)`` with the current optimizer state.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predictions ``(n,)`` for one output, else ``(n, n_outputs)``."""
        out = self._outputs(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
