"""Dask arrays and dataframes chunked by rows, as the per-rank NumPy data
that local SGD trains on."""

from __future__ import annotations

import numpy as np


def is_dask_collection(value) -> bool:
    """Whether ``value`` is a dask array, dataframe or series."""
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "to_delayed")


def _is_array(value) -> bool:
    return hasattr(value, "numblocks") and hasattr(value, "chunks")


def row_blocks(value, name: str, *, two_d: bool) -> list:
    """``value``'s row blocks as a list of ``dask.delayed`` objects, in
    order. A dask array must not be split by columns."""
    if not is_dask_collection(value):
        raise TypeError(
            f"{name} must be a dask array or a dask dataframe/series chunked by rows; got "
            f"{type(value).__name__} (for NumPy data, use fastbackprop.estimators)"
        )
    if _is_array(value):
        if value.ndim not in ((2,) if two_d else (1, 2)):
            wanted = "2-D (n_samples, n_features)" if two_d else "1-D or 2-D"
            raise ValueError(f"{name} must be {wanted}; got a {value.ndim}-D dask array")
        if value.ndim == 2 and value.numblocks[1] != 1:
            raise ValueError(
                f"{name} is chunked by columns ({value.numblocks[1]} column chunks); local SGD "
                f"needs whole rows in each chunk: use {name}.rechunk({{1: -1}})"
            )
        return list(value.to_delayed().ravel())
    return list(value.to_delayed())


def aligned_targets(X, y):
    """``y`` with the row chunks of ``X`` when both sizes are known (a dask
    array rechunks for free at the graph level); else as it is, checked
    block by block when the data arrive."""
    if (
        _is_array(X)
        and _is_array(y)
        and not any(np.isnan(X.chunks[0]))
        and not any(np.isnan(y.chunks[0]))
    ):
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
        if y.chunks[0] != X.chunks[0]:
            return y.rechunk({0: X.chunks[0]})
    return y


def paired_blocks(X, y) -> tuple[list, list]:
    """The row blocks of ``X`` and of ``y``, paired by index."""
    x_blocks = row_blocks(X, "X", two_d=True)
    y_blocks = row_blocks(aligned_targets(X, y), "y", two_d=False)
    if len(x_blocks) != len(y_blocks):
        raise ValueError(f"X has {len(x_blocks)} row chunks but y has {len(y_blocks)}")
    return x_blocks, y_blocks


def as_numpy(block, dtype=None):
    """A block of a dask array or dataframe as a NumPy array."""
    values = block.to_numpy() if hasattr(block, "to_numpy") else np.asarray(block)
    return values if dtype is None else values.astype(dtype, copy=False)


def stage(x_blocks, y_blocks):
    """One rank's rows: its blocks of ``X`` and ``y`` concatenated (a Dask
    task, run where most of them live)."""
    if len(x_blocks) != len(y_blocks):
        raise ValueError(f"X has {len(x_blocks)} row chunks but y has {len(y_blocks)}")
    xs = [as_numpy(block) for block in x_blocks]
    ys = [as_numpy(block) for block in y_blocks]
    for k, (xb, yb) in enumerate(zip(xs, ys)):
        if xb.shape[0] != yb.shape[0]:
            raise ValueError(
                f"row chunk {k} of this rank holds {xb.shape[0]} rows of X but {yb.shape[0]} "
                "of y: X and y must be chunked alike"
            )
    if not xs:
        return None
    X = np.concatenate(xs) if len(xs) > 1 else xs[0]
    y = np.concatenate(ys) if len(ys) > 1 else ys[0]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return np.ascontiguousarray(X), y


def summary(staged) -> tuple:
    """A rank's rows, the distinct values of its ``y`` (its labels, for a
    classifier) and, for a 2-D ``y``, its columns, in one task."""
    if staged is None:
        return 0, None, None
    y = staged[1]
    return int(staged[0].shape[0]), np.unique(y), (y.shape[1] if y.ndim == 2 else None)
