"""``DaskMLPClassifier`` and ``DaskMLPRegressor``: the scikit-learn
estimators of :mod:`fastbackprop.estimators`, trained across a Dask cluster
by local SGD with periodic model averaging (``_local_sgd``).

Every round is an ordinary Dask task per rank. Its inputs are the rank's
rows, kept on a worker as a future, and the rank's model, held by the client
between rounds: so a task whose worker dies is rerun elsewhere from the same
inputs, and gives the same bits.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
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
from . import _inputs, _local_sgd
from ._local_sgd import DEFAULT_SYNC_EVERY

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
_DASK_PARAMETERS = ("sync_every", "n_ranks", "client")
_REFUSED = {
    "solver": ("lbfgs", "lbfgs is a full-batch method: use fastbackprop.estimators on one machine"),
    "early_stopping": (True, "early stopping holds out rows of one machine's data"),
    "learning_rate": ("adaptive", "'adaptive' watches a single process's epochs"),
}


def _client(client):
    """``client``, or the current ``distributed`` client."""
    if client is not None:
        return client
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        raise ValueError(
            "no Dask client: create one (distributed.Client(...)) or pass client= to the estimator"
        ) from None


@contextlib.contextmanager
def _dask_failures(action: str):
    """Dask's failure exceptions, as errors that say what happened."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    try:
        yield
    except KilledWorker as error:
        raise RuntimeError(
            f"{action} failed: a task's worker died as often as Dask allows "
            f"(distributed.scheduler.allowed-failures), so Dask gave up ({error}). "
            "The estimator is unchanged."
        ) from error
    except CancelledError as error:  # distributed's Future(s)CancelledError
        raise RuntimeError(
            f"{action} failed: input data were lost with a worker and cannot be "
            "recomputed (data the client scattered lives only on the worker that held "
            f"it; build the dask collection from a source Dask can reload) ({error}). "
            "The estimator is unchanged."
        ) from error


def _rank_workers(client, blocks_per_rank) -> list:
    """The worker each rank's tasks prefer: the one holding most of its
    blocks' bytes, a different worker for each rank while there are enough."""
    keys = [block.key for blocks in blocks_per_rank for block in blocks]
    holders = client.who_has(keys)
    sizes = client.nbytes(keys)
    workers = sorted(client.scheduler_info()["workers"])
    taken: dict = {}
    chosen = [None] * len(blocks_per_rank)
    by_size = sorted(
        range(len(blocks_per_rank)),
        key=lambda k: -sum(sizes.get(b.key, 0) for b in blocks_per_rank[k]),
    )
    for k in by_size:
        held = dict.fromkeys(workers, 0)
        for block in blocks_per_rank[k]:
            for worker in holders.get(block.key, ()):
                if worker in held:
                    held[worker] += sizes.get(block.key, 0)
        # fewest ranks first, then most bytes held, then the name (fixed)
        chosen[k] = min(workers, key=lambda w: (taken.get(w, 0), -held[w], w))
        taken[chosen[k]] = taken.get(chosen[k], 0) + 1
    return chosen


def _round_task(previous, average, staged, pieces, classes):
    """One rank's round, as a Dask task: ``previous`` is the rank's model,
    or the result of its last round; ``average`` the last round's average
    (None before the first)."""
    model = previous[0] if isinstance(previous, tuple) else previous
    X, y = staged
    averaged = None if average is None else average[0]
    return _local_sgd.train_round(model, averaged, X, y, pieces, classes)


def _average_task(*results):
    """The round's average of the ranks' results ``(model, loss, rows)``,
    and its ``(loss sum, rows)``. (Averaging the models directly, rather
    than a small task's copy of their parameters, saves a scheduler hop a
    round for one model transfer.)"""
    flat = [_local_sgd.parameters(model) for model, _, _ in results]
    rows = [n for _, _, n in results]
    average = _local_sgd.average(flat, rows)
    return average, sum(loss * n for _, loss, n in results), sum(rows)


def _round_totals(average):
    """``(loss sum, rows)`` of a round, without its parameters."""
    return average[1], average[2]


def _predict_block(block, model, method):
    """``model.method`` on one block (a task; ``model`` was scattered once).
    An empty block (a filtered partition) gives an empty result."""
    X = _inputs.as_numpy(block)
    if X.shape[0] == 0:
        one = getattr(model, method)(np.zeros((1, model.n_features_in_), dtype=X.dtype))
        return one[:0]
    return getattr(model, method)(X)


def _score_block(x_block, y_block, model):
    """A block's share of the score (a task): ``(right, rows)`` for a
    classifier; ``(rows, mean, M2, squared residuals)`` per output for a
    regressor; None for an empty block."""
    X, y = _inputs.as_numpy(x_block), _inputs.as_numpy(y_block)
    if X.shape[0] == 0:
        return None
    predicted = model.predict(X)
    if getattr(model, "_is_classifier", False):
        if predicted.ndim == 1:
            right = predicted == (y[:, 0] if y.ndim == 2 else y)
        else:  # multilabel: every label of a row right
            right = (predicted == y).all(axis=1)
        return int(right.sum()), int(X.shape[0])
    y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(X.shape[0], -1)
    mean = y.mean(axis=0)
    return X.shape[0], mean, ((y - mean) ** 2).sum(axis=0), ((y - predicted) ** 2).sum(axis=0)


class _DaskMLP:
    """What the two Dask estimators share (mixed in before the plain one)."""

    _local_class: type

    # ------------------------------------------------------------ parameters
    def _local_parameters(self) -> dict:
        """The plain estimator's parameters."""
        params = self.get_params(deep=False)
        return {name: params[name] for name in self._local_class._get_param_names()}

    def _check_dask_parameters(self) -> tuple[int, int | None]:
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
        return sync_every, n_ranks

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
        sync_every, n_ranks = self._check_dask_parameters()
        client = _client(self.client)
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
        with _dask_failures(f"{type(self).__name__}.fit"):
            run = _Run(self, client, x_blocks, y_blocks, n_ranks, sync_every, seed)
            try:
                result = run.train(classes, continuing, single_epoch)
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
        model = _client(self.client).scatter(self.to_local(), hash=False)
        if n_columns is None:
            return X.map_blocks(_predict_block, model, method, dtype=dtype, drop_axis=1)
        return X.map_blocks(
            _predict_block, model, method, dtype=dtype, chunks=(X.chunks[0], (n_columns,))
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
        client = _client(self.client)
        with _dask_failures(f"{type(self).__name__}.score"):
            model = client.scatter(self.to_local(), hash=False)
            parts = [
                dask.delayed(_score_block)(xb, yb, model) for xb, yb in zip(x_blocks, y_blocks)
            ]
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


class _Run:
    """One call's training: the ranks' data on the cluster, and the loop."""

    def __init__(self, estimator, client, x_blocks, y_blocks, n_ranks, sync_every, seed):
        self.estimator = estimator
        self.client = client
        self.sync_every = sync_every
        self.seed = seed
        self.n_ranks = n_ranks
        self.futures = []
        x_futures = client.compute(x_blocks)
        y_futures = client.compute(y_blocks)
        self.futures += x_futures + y_futures
        parts = _local_sgd.rank_partitions(len(x_futures), n_ranks)
        x_per_rank = [[x_futures[i] for i in part] for part in parts]
        y_per_rank = [[y_futures[i] for i in part] for part in parts]
        from distributed import wait

        wait(self.futures)
        for future in self.futures:
            if future.status != "finished":
                future.result()  # raises what stopped it (a lost worker, lost data)
        self.workers = _rank_workers(client, x_per_rank)
        self.staged = [
            client.submit(
                _inputs.stage,
                xs,
                ys,
                workers=[worker],
                allow_other_workers=True,
                pure=False,
            )
            for xs, ys, worker in zip(x_per_rank, y_per_rank, self.workers)
        ]
        self.futures += self.staged
        summaries = client.gather(
            [client.submit(_inputs.summary, staged, pure=False) for staged in self.staged]
        )
        self.rows = [rows for rows, _, _ in summaries]
        self.labels = [labels for _, labels, _ in summaries]
        self.label_columns = next((c for n, _, c in summaries if n), None)
        if sum(self.rows) == 0:
            raise ValueError("X holds no rows")

    def submit(self, function, *args, rank: int):
        """``function(*args)`` as a task on rank ``rank``'s worker (elsewhere
        if that one is gone)."""
        return self.client.submit(
            function,
            *args,
            workers=[self.workers[rank]],
            allow_other_workers=True,
            pure=False,
        )

    def release(self) -> None:
        for future in self.futures:
            future.release()

    def classes(self, given):
        """The classifier's labels: ``given``, or every label in ``y``."""
        if not self.estimator._is_classifier:
            return None
        if given is not None:
            return np.asarray(given)
        if self.label_columns is not None:  # a multilabel indicator: its columns
            return np.arange(self.label_columns)
        return np.unique(np.concatenate([part for part in self.labels if part is not None]))

    def train(self, given_classes, continuing, single_epoch):
        est = self.estimator
        settings = _sklearn_settings.read(est._local_class(**est._local_parameters()))
        classes = self.classes(given_classes)
        if continuing and classes is not None:
            unseen = np.setdiff1d(classes, est.classes_)
            if unseen.size:
                where = "classes" if given_classes is not None else "y"
                raise ValueError(
                    f"{where} holds labels the model was not fitted on: {unseen.tolist()}; "
                    f"fitted classes: {est.classes_.tolist()}"
                )
            classes = est.classes_
        params = {**est._local_parameters(), "random_state": self.seed}
        batches = [_local_sgd.local_batch(settings.batch_size, n) for n in self.rows]
        if continuing:
            # copies: a call that fails leaves the estimator's ranks as they were
            ranks = copy.deepcopy(list(est._ranks_))
            averaged = _local_sgd.parameters(est)
            template = next(model for model in ranks if model is not None)
            ranks = [
                model if model is not None or n == 0 else copy.deepcopy(template)
                for model, n in zip(ranks, self.rows)
            ]
            # this call's parameters and batches, checked by the ranks'
            # partial_fit as one process's would be (a changed solver is refused)
            for model, batch in zip(ranks, batches):
                if model is not None:
                    model.set_params(**{**params, "batch_size": batch})
        else:
            ranks = [
                _local_sgd.new_rank_model(est._local_class, params, batch) if n else None
                for n, batch in zip(self.rows, batches)
            ]
            averaged = None
        epochs = 1 if single_epoch else settings.epochs
        first_epoch = est.n_iter_ if continuing else 0
        losses, rows_seen, rounds = [], 0, 0
        best, stale = (min(est.loss_curve_) if continuing else math.inf), 0
        warning = None
        state = (ranks, None if averaged is None else (averaged, 0.0, 0))
        # One epoch is submitted ahead: the cluster trains epoch e + 1 while
        # the client reads epoch e's loss (a stop discards it).
        pending = self._submit_epoch(first_epoch, *state, settings, batches, classes)
        for e in range(first_epoch, first_epoch + epochs):
            state, totals = pending
            if e + 1 < first_epoch + epochs:
                pending = self._submit_epoch(e + 1, *state, settings, batches, classes)
            epoch_totals = self.client.gather(totals)
            rounds += len(epoch_totals)
            rows_seen += sum(n for _, n in epoch_totals)
            losses.append(sum(loss for loss, _ in epoch_totals) / sum(self.rows))
            if settings.verbose:
                print(f"Iteration {e + 1}, loss = {losses[-1]:.8f}")
            # scikit-learn's rule on the training loss
            stale = stale + 1 if losses[-1] > best - settings.tol else 0
            best = min(best, losses[-1])
            if not single_epoch and stale > settings.patience:
                break
        else:
            if not single_epoch:
                warning = (
                    f"Stochastic Optimizer: Maximum iterations ({settings.epochs}) reached and "
                    "the optimization hasn't converged yet."
                )
        del pending  # an epoch submitted ahead of a stop is released
        ranks, average = state
        averaged = self.client.gather(average)[0]
        ranks = [
            result[0] if isinstance(result, tuple) else result
            for result in self.client.gather(ranks)
        ]
        model = copy.deepcopy(ranks[next(k for k, n in enumerate(self.rows) if n)])
        model.network_._params[...] = averaged
        return {
            "model": model,
            "ranks": ranks,
            "losses": losses,
            "rows": rows_seen,
            "rounds": rounds,
            "warning": warning,
        }

    def _submit_epoch(self, epoch, ranks, average, settings, batches, classes):
        """Epoch ``epoch``'s rounds as tasks, from the ranks' models (or
        their last rounds' futures) and the last average: returns the state
        it ends with and the futures of its rounds' ``(loss sum, rows)``.

        The rounds chain on the cluster: a rank's round takes its last
        round's result and the last average, both futures, so the client
        waits once an epoch, not once a round. Futures of earlier rounds are
        dropped as they are replaced: Dask keeps what a later task needs, and
        the chain of task specs to recompute what a dead worker held.
        """
        ranks = list(ranks)
        windows = [
            _local_sgd.epoch_windows(self.seed, epoch, k, n, batch, settings.shuffle)
            for k, (n, batch) in enumerate(zip(self.rows, batches))
        ]
        totals = []
        n_rounds = _local_sgd.rounds_per_epoch(self.rows, settings.batch_size, self.sync_every)
        for j in range(n_rounds):
            bounds = [
                _local_sgd.round_bounds(n, settings.batch_size, self.sync_every, j)
                for n in self.rows
            ]
            active = [k for k, (lo, hi) in enumerate(bounds) if hi > lo]
            for k in active:
                pieces = _local_sgd.round_pieces(windows[k], *bounds[k])
                ranks[k] = self.submit(
                    _round_task, ranks[k], average, self.staged[k], pieces, classes, rank=k
                )
            average = self.submit(_average_task, *(ranks[k] for k in active), rank=active[0])
            totals.append(self.submit(_round_totals, average, rank=active[0]))
        return (ranks, average), totals


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
