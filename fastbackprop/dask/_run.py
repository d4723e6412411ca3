"""One call's training on the cluster: the ranks' rows staged where they
live, and the epochs' rounds chained as Dask tasks (``_tasks``), with
Dask's failures turned into errors that say what happened."""

from __future__ import annotations

import contextlib
import copy
import math

import numpy as np

from . import _inputs, _local_sgd
from ._tasks import average_task, round_task, round_totals


def current_client(client):
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
def dask_failures(action: str):
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


def rank_workers(client, blocks_per_rank) -> list:
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


class Run:
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
        self.workers = rank_workers(client, x_per_rank)
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

    def train(self, settings, given_classes, continuing, single_epoch):
        """Train the call's epochs from the checked ``settings``."""
        est = self.estimator
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
                    round_task, ranks[k], average, self.staged[k], pieces, classes, rank=k
                )
            average = self.submit(average_task, *(ranks[k] for k in active), rank=active[0])
            totals.append(self.submit(round_totals, average, rank=active[0]))
        return (ranks, average), totals
