"""``DaskMLPClassifier`` and ``DaskMLPRegressor``: the scikit-learn
estimators of :mod:`fastbackprop.estimators`, trained across a Dask cluster
by local SGD with periodic model averaging (``_local_sgd``).

The training itself runs in ``_run`` (the rounds, chained as Dask tasks of
``_tasks``); this module holds the estimators' parameters, checks, fitted
attributes and blockwise prediction.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import warnings

import dask
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _sklearn_settings
from .. import _validation as v
from ..estimators import MLPClassifier, MLPRegressor
from . import _inputs
from ._local_sgd import DEFAULT_SYNC_EVERY
from ._run import Run, current_client, dask_failures
from ._tasks import predict_block, score_block

#: what a fit copies from its final model onto the Dask estimator
_FITTED_FROM_MODEL = (
    "network_",
    "classes_",
    "n_outputs_",
    "n_layers_",
    "out_activation_",
    "n_features_in_",
    "_rule_state",
)
_REFUSED = {
    "solver": ("lbfgs", "lbfgs is a full-batch method: use fastbackprop.estimators on one machine"),
    "early_stopping": (True, "early stopping holds out rows of one machine's data"),
    "learning_rate": ("adaptive", "'adaptive' watches a single process's epochs"),
}


class _DaskMLP:
    """What the two Dask estimators share (mixed in before the plain one)."""

    _local_class: type

    # ------------------------------------------------------------ parameters
    def _local_parameters(self) -> dict:
        """The plain estimator's parameters."""
        params = self.get_params(deep=False)
        return {name: params[name] for name in self._local_class._get_param_names()}

    def _check_dask_parameters(self) -> tuple:
        """``(settings, sync_every, n_ranks)``: the plain parameters checked
        once for the call, and the Dask ones."""
        local = self._local_class(**self._local_parameters())
        settings = _sklearn_settings.read(local)  # every plain parameter, checked
        for name, (value, why) in _REFUSED.items():
            if getattr(settings, name, getattr(self, name)) == value:
                raise ValueError(f"{type(self).__name__} does not support {name}={value!r}: {why}")
        if self.lr_schedule is not None:
            raise ValueError(
                f"{type(self).__name__} does not support lr_schedule: schedules step once per "
                "epoch of one process; use learning_rate='constant' or 'invscaling'"
            )
        sync_every = v.check_count(self.sync_every, "sync_every", 1)
        n_ranks = None if self.n_ranks is None else v.check_count(self.n_ranks, "n_ranks", 1)
        return settings, sync_every, n_ranks

    def __getstate__(self):
        # a copy: object.__getstate__ returns the live __dict__ itself
        state = dict(super().__getstate__())
        state.pop("client", None)  # a connection is not pickled; the current one is used
        return state

    def __setstate__(self, state):
        state.setdefault("client", None)
        super().__setstate__(state)

    # ------------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None):
        """Train on dask data: up to ``max_iter`` epochs of local SGD.

        With ``warm_start`` and a fitted estimator, training continues from
        the current model and every rank's optimizer state.

        Parameters
        ----------
        X : dask array (n_samples, n_features) or dask dataframe
            Chunked by rows only.
        y : dask array or dask series/dataframe
            With the same row chunks as ``X``.
        sample_weight : None
            Not supported by the Dask estimators yet.

        Returns
        -------
        self
            A call that raises leaves the estimator as it was.
        """
        warm_start = v.check_bool(self.warm_start, "warm_start")
        continuing = warm_start and hasattr(self, "_ranks_")
        return self._train(X, y, sample_weight, None, continuing=continuing, single_epoch=False)

    def _train(self, X, y, sample_weight, classes, *, continuing, single_epoch):
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample_weight yet")
        settings, sync_every, n_ranks = self._check_dask_parameters()
        client = current_client(self.client)
        x_blocks, y_blocks = _inputs.paired_blocks(X, y)
        if continuing:
            if n_ranks is not None and n_ranks != len(self._ranks_):
                raise ValueError(
                    f"n_ranks is {n_ranks} but the fitted model has {len(self._ranks_)} ranks; "
                    "continuing keeps them: fit with warm_start=False to start afresh"
                )
            n_ranks = len(self._ranks_)
        elif n_ranks is None:
            n_ranks = min(len(client.scheduler_info()["workers"]), len(x_blocks)) or 1
        seed = self._seed_ if continuing else self._draw_seed()
        with dask_failures(f"{type(self).__name__}.fit"):
            run = Run(self, client, x_blocks, y_blocks, n_ranks, sync_every, seed)
            try:
                result = run.train(settings, classes, continuing, single_epoch)
            finally:
                run.release()
        self._adopt(result, seed, continuing)
        return self

    def _draw_seed(self) -> int:
        """The fit's seed: an int ``random_state`` itself, else one draw."""
        if isinstance(self.random_state, numbers.Integral) and not isinstance(
            self.random_state, bool
        ):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _adopt(self, result, seed, continuing) -> None:
        """Training succeeded: only now does the estimator change."""
        model = result["model"]
        before = list(self.loss_curve_) if continuing else []
        for name in _FITTED_FROM_MODEL:
            if hasattr(model, name):
                setattr(self, name, getattr(model, name))
        self._ranks_ = result["ranks"]
        self._seed_ = seed
        self.loss_curve_ = before + result["losses"]
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_ = min(self.loss_curve_)
        self.n_iter_ = (self.n_iter_ if continuing else 0) + len(result["losses"])
        self.t_ = (self.t_ if continuing else 0) + result["rows"]
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.rounds_ = (self.rounds_ if continuing else 0) + result["rounds"]
        if result["warning"]:
            warnings.warn(result["warning"], ConvergenceWarning, stacklevel=4)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # fit takes dask collections of dense rows
        return tags

    def to_local(self):
        """The fitted model as a plain :mod:`fastbackprop.estimators`
        estimator (a copy), for use without Dask.

        Returns
        -------
        MLPClassifier or MLPRegressor
        """
        check_is_fitted(self, "network_")
        local = self._local_class(**self._local_parameters())
        for name in (*_FITTED_FROM_MODEL, "loss_curve_", "loss_", "best_loss_", "n_iter_", "t_"):
            if hasattr(self, name):
                setattr(local, name, copy.deepcopy(getattr(self, name)))
        local.validation_scores_ = None
        local.best_validation_score_ = None
        return local

    # --------------------------------------------------------------- predict
    def _output_dtype(self, X):
        """The dtype values come back in, as the plain estimator's: the
        input's promoted with the network's (float64 for other inputs)."""
        check_is_fitted(self, "network_")
        dtype = getattr(X, "dtype", None)
        if dtype is None or not isinstance(dtype, np.dtype) or dtype.kind != "f":
            dtype = np.dtype(np.float64)
        return np.result_type(dtype, self.network_.dtype)

    def _blockwise(self, X, method: str, n_columns: int | None, dtype):
        """``method`` over the row blocks of dask ``X``: a dask array. The
        model is scattered to the cluster once for the call."""
        check_is_fitted(self, "network_")
        if hasattr(X, "to_dask_array"):
            X = X.to_dask_array()
        _inputs.row_blocks(X, "X", two_d=True)  # checks the chunking
        model = current_client(self.client).scatter(self.to_local(), hash=False)
        if n_columns is None:
            return X.map_blocks(predict_block, model, method, dtype=dtype, drop_axis=1)
        return X.map_blocks(
            predict_block, model, method, dtype=dtype, chunks=(X.chunks[0], (n_columns,))
        )

    def score(self, X, y, sample_weight=None):
        """The mean accuracy (classifier) or R² (regressor) on dask data,
        computed block by block on the cluster (the blocks of ``X`` and
        ``y`` paired as in ``fit``); NumPy data are scored locally.

        Parameters
        ----------
        X : dask array or dataframe, or array-like
        y : dask array, series or dataframe, or array-like
        sample_weight : array-like, optional
            For NumPy data only.

        Returns
        -------
        float
        """
        if not _inputs.is_dask_collection(X):
            return super().score(X, y, sample_weight=sample_weight)
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with dask data in score")
        check_is_fitted(self, "network_")
        x_blocks, y_blocks = _inputs.paired_blocks(X, y)
        client = current_client(self.client)
        with dask_failures(f"{type(self).__name__}.score"):
            model = client.scatter(self.to_local(), hash=False)
            parts = [dask.delayed(score_block)(xb, yb, model) for xb, yb in zip(x_blocks, y_blocks)]
            stats = client.gather(client.compute(parts))
        return self._combine_scores([part for part in stats if part is not None])


def _signature(local_class):
    """The plain estimator's ``__init__`` signature plus the Dask
    parameters: scikit-learn reads an estimator's parameters from it."""
    base = inspect.signature(local_class.__init__)
    extra = [
        inspect.Parameter("sync_every", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_SYNC_EVERY),
        inspect.Parameter("n_ranks", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("client", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
    return base.replace(parameters=[*base.parameters.values(), *extra])


class DaskMLPClassifier(_DaskMLP, MLPClassifier):
    """:class:`fastbackprop.estimators.MLPClassifier` trained on a Dask
    cluster by local SGD with periodic model averaging.

    Takes every parameter of ``MLPClassifier`` (``solver`` ``"sgd"`` or
    ``"adam"``; not ``early_stopping``, ``learning_rate="adaptive"`` or
    ``lr_schedule``) and:

    Parameters
    ----------
    sync_every : int, default 256
        Batches each rank trains between two averagings of the ranks'
        models. Each rank's batch is ``batch_size`` rows.
    n_ranks : int, optional
        Copies of the model trained side by side. Default: the number of
        workers at the first fit (at most one per row chunk). The fitted
        model depends on it, not on which worker holds which chunk.
    client : distributed.Client, optional
        Default: the current client.

    Notes
    -----
    The partitions of ``X`` are dealt to the ranks by index, in contiguous
    runs. In each epoch every rank visits its rows once in an order drawn
    from ``random_state``, the epoch and the rank; every ``sync_every``
    batches the models are averaged, weighted by rows, and every rank
    continues from the average with its own optimizer state. ``loss_curve_``
    holds the epochs' training losses, ``rounds_`` the averagings.
    """

    _local_class = MLPClassifier

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        sync_every=DEFAULT_SYNC_EVERY,
        n_ranks=None,
        client=None,
        **params,
    ):
        super().__init__(hidden_layer_sizes, activation, **params)
        self.sync_every = sync_every
        self.n_ranks = n_ranks
        self.client = client

    __init__.__signature__ = _signature(MLPClassifier)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of local SGD over dask ``(X, y)``, continuing the
        model and every rank's optimizer state.

        Parameters
        ----------
        X : dask array or dataframe
        y : dask array or series
        sample_weight : None
        classes : array-like, optional
            Every label ``y`` may hold (default: those in ``y`` on the first call).

        Returns
        -------
        self
        """
        continuing = hasattr(self, "_ranks_")
        return self._train(X, y, sample_weight, classes, continuing=continuing, single_epoch=True)

    def predict(self, X):
        """Labels, as a dask array for dask ``X`` (a NumPy array for NumPy ``X``)."""
        if not _inputs.is_dask_collection(X):
            return super().predict(X)
        multilabel = self.n_outputs_ > 1 and self.out_activation_ == "logistic"
        n_columns = self.n_outputs_ if multilabel else None
        return self._blockwise(X, "predict", n_columns, self.classes_.dtype)

    def predict_proba(self, X):
        """Class probabilities, as a dask array for dask ``X``."""
        if not _inputs.is_dask_collection(X):
            return super().predict_proba(X)
        n_columns = max(self.n_outputs_, 2) if self.n_outputs_ == 1 else self.n_outputs_
        return self._blockwise(X, "predict_proba", n_columns, self._output_dtype(X))

    @staticmethod
    def _combine_scores(parts) -> float:
        """The accuracy over every block's ``(right, rows)``."""
        return sum(right for right, _ in parts) / sum(rows for _, rows in parts)


class DaskMLPRegressor(_DaskMLP, MLPRegressor):
    """:class:`fastbackprop.estimators.MLPRegressor` trained on a Dask
    cluster by local SGD with periodic model averaging.

    Takes every parameter of ``MLPRegressor`` (``solver`` ``"sgd"`` or
    ``"adam"``; not ``early_stopping``, ``learning_rate="adaptive"`` or
    ``lr_schedule``) plus ``sync_every``, ``n_ranks`` and ``client``, as
    :class:`DaskMLPClassifier`.
    """

    _local_class = MLPRegressor

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        sync_every=DEFAULT_SYNC_EVERY,
        n_ranks=None,
        client=None,
        **params,
    ):
        super().__init__(loss, hidden_layer_sizes, activation, **params)
        self.sync_every = sync_every
        self.n_ranks = n_ranks
        self.client = client

    __init__.__signature__ = _signature(MLPRegressor)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of local SGD over dask ``(X, y)`` (as
        :meth:`DaskMLPClassifier.partial_fit`, without ``classes``)."""
        continuing = hasattr(self, "_ranks_")
        return self._train(X, y, sample_weight, None, continuing=continuing, single_epoch=True)

    def predict(self, X):
        """Predictions, as a dask array for dask ``X``."""
        if not _inputs.is_dask_collection(X):
            return super().predict(X)
        n_columns = None if self.n_outputs_ == 1 else self.n_outputs_
        return self._blockwise(X, "predict", n_columns, self._output_dtype(X))

    @staticmethod
    def _combine_scores(parts) -> float:
        """R² from every block's ``(rows, mean, M2, squared residuals)``:
        the total sum of squares combined by Chan et al.'s pairwise update
        (no second pass, no cancellation), averaged uniformly over the
        outputs, with scikit-learn's rule for a constant target (1 if
        predicted exactly, else 0)."""
        n, mean, total, residual = parts[0]
        for m, mean_b, total_b, residual_b in parts[1:]:
            delta = mean_b - mean
            total = total + total_b + delta**2 * n * m / (n + m)
            mean = mean + delta * m / (n + m)
            residual = residual + residual_b
            n += m
        constant = total == 0
        r2 = np.where(constant, (residual == 0).astype(float), 0.0)
        r2 = np.where(constant, r2, 1 - residual / np.where(constant, 1, total))
        return float(np.mean(r2))
