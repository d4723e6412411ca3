"""Local SGD with periodic model averaging, as plain functions on NumPy data.

Nothing here knows about Dask: the estimators in ``_estimators`` run these
functions as Dask tasks, and the tests run them in one process to check
that the distributed run computes exactly the same thing.

The schedule (Lin et al. 2018, "Don't use large mini-batches, use local
SGD"; Stich 2018; torch's ``PeriodicModelAverager``):

- The data's partitions are dealt to ``n_ranks`` ranks by their index, in
  contiguous runs (``rank_partitions``), never by where Dask keeps them.
- Each rank holds its own copy of the model: a plain
  :class:`fastbackprop.estimators.MLPClassifier` or ``MLPRegressor`` that
  trains with ``partial_fit`` and keeps its own optimizer state.
- In an epoch, each rank visits its rows once: its windows of about
  ``STREAM_BLOCK`` rows in the order ``epoch_windows`` draws (from the
  fit's seed, the epoch and the rank), each window's rows shuffled in place
  by the rank's ``partial_fit``, as one process's ``partial_fit`` does. So
  no rank copies its rows to shuffle them (a copy per epoch cost as much as
  a sixth of an mnist epoch). The epoch runs in rounds: in each, every rank
  takes its next ``sync_every`` batches (``round_bounds``, cut at window
  edges by ``round_pieces``, a ``partial_fit`` call per piece), then the
  copies are averaged, weighted by the rows each trained on in the round
  (``average``), and every rank continues from the average. A rank whose
  rows ran out sits the rest of the epoch's rounds out.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import sklearn

from ..network import STREAM_BLOCK

#: Batches each rank trains between two averagings, by default. A round
#: costs about three scheduler hops (train, average, train: 20-30 ms on a
#: 2-worker LocalCluster of this project's 2-core machine, docs/distributed.md)
#: against about 1 ms of computing per batch of 200 mnist rows on one core.
DEFAULT_SYNC_EVERY = 256

#: scikit-learn's batch_size="auto": min(200, rows)
_AUTO_BATCH = 200


def rank_partitions(n_partitions: int, n_ranks: int) -> list[list[int]]:
    """The partition indices of each rank: contiguous runs, as even as the
    counts allow; a rank may get none."""
    return [list(map(int, part)) for part in np.array_split(np.arange(n_partitions), n_ranks)]


def local_batch(batch_size, n_rows: int) -> int:
    """The batch a rank with ``n_rows`` rows trains on: scikit-learn's rule,
    ``"auto"`` is ``min(200, n)``, and a larger batch is clipped to ``n``."""
    wanted = _AUTO_BATCH if batch_size == "auto" else int(batch_size)
    return max(1, min(wanted, n_rows))


def window_rows(batch: int) -> int:
    """Rows of a rank's windows: whole batches, about ``STREAM_BLOCK`` rows,
    the most that ``partial_fit`` shuffles in place (more it copies)."""
    return max(batch, STREAM_BLOCK // batch * batch)


def epoch_windows(seed: int, epoch: int, rank: int, n_rows: int, batch: int, shuffle: bool):
    """The windows ``(lo, hi)`` of a rank's rows in the order it visits them
    in an epoch: with ``shuffle``, a permutation drawn from ``(seed, epoch,
    rank)`` alone (and each window's rows are shuffled in place by the
    rank's own ``partial_fit``); without, their own order."""
    size = window_rows(batch)
    windows = [(lo, min(lo + size, n_rows)) for lo in range(0, n_rows, size)]
    if not shuffle:
        return windows
    order = np.random.default_rng([seed, epoch, rank]).permutation(len(windows))
    return [windows[i] for i in order]


def round_pieces(windows, lo: int, hi: int) -> list[tuple[int, int]]:
    """The rows of positions ``[lo, hi)`` of an epoch's sequence of
    ``windows``, as slices ``(start, stop)`` of the rank's rows, one or more
    per window touched: each is one ``partial_fit`` call."""
    pieces, position = [], 0
    for start, stop in windows:
        size = stop - start
        first, last = max(lo, position), min(hi, position + size)
        if first < last:
            pieces.append((start + first - position, start + last - position))
        position += size
    return pieces


def rounds_per_epoch(rows_per_rank, batch_size, sync_every: int) -> int:
    """Rounds in an epoch: enough for the rank with the most batches."""
    steps = [math.ceil(n / local_batch(batch_size, n)) for n in rows_per_rank if n > 0]
    return math.ceil(max(steps, default=0) / sync_every)


def round_bounds(n_rows: int, batch_size, sync_every: int, round_index: int) -> tuple[int, int]:
    """The rows ``[lo, hi)`` of its epoch order a rank trains on in a round
    (empty once its rows ran out)."""
    span = sync_every * local_batch(batch_size, n_rows)
    return min(round_index * span, n_rows), min((round_index + 1) * span, n_rows)


def new_rank_model(local_class, params: dict, batch: int):
    """A rank's copy of the model: the plain estimator with the user's
    parameters and the rank's batch."""
    return local_class(**{**params, "batch_size": batch})


def train_round(model, averaged, X, y, pieces, classes):
    """One rank's round: continue ``model`` from the ``averaged``
    parameters (None: its own), one ``partial_fit`` per piece ``(lo, hi)``
    of ``(X, y)``.

    Returns the trained copy (``model`` itself is left as it was, so a rerun
    of the task gives the same bits), its loss over these rows and their
    count.
    """
    model = copy.deepcopy(model)
    if averaged is not None and hasattr(model, "network_"):
        model.network_._params[...] = averaged
    loss_sum, rows = 0.0, 0
    # the network checks every value of X itself: scikit-learn's own pass
    # over the window would be a second one
    with warnings.catch_warnings(), sklearn.config_context(assume_finite=True):
        # a last piece may hold fewer rows than the batch: clipped, as intended
        warnings.filterwarnings("ignore", message="Got `batch_size`")
        for lo, hi in pieces:
            if classes is not None:
                model.partial_fit(X[lo:hi], y[lo:hi], classes=classes)
            else:
                model.partial_fit(X[lo:hi], y[lo:hi])
            loss_sum += float(model.loss_curve_[-1]) * (hi - lo)
            rows += hi - lo
    return model, loss_sum / rows, rows


def parameters(model) -> np.ndarray:
    """The model's parameters, flat (a copy)."""
    return model.network_._params.copy()


def average(flat_parameters, rows) -> np.ndarray:
    """The parameters of the ranks that trained in a round, averaged with
    weights proportional to their rows, accumulated in float64 in rank order
    (fixed bits). One rank's are returned unchanged."""
    if len(flat_parameters) == 1:
        return flat_parameters[0].copy()
    total = float(sum(rows))
    accumulator = np.zeros(flat_parameters[0].shape, dtype=np.float64)
    for values, n in zip(flat_parameters, rows):
        accumulator += (n / total) * values
    return accumulator.astype(flat_parameters[0].dtype)
