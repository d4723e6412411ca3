"""Train one network across a Dask cluster (``pip install
"fastbackprop[dask]"``).

:class:`DaskMLPClassifier` and :class:`DaskMLPRegressor` take the
parameters of :mod:`fastbackprop.estimators` plus ``sync_every``: they train
by local SGD with periodic model averaging on dask arrays or dataframes
chunked by rows, and predict on them blockwise. :func:`warm_up` fills or
loads the kernel cache on every worker and checks their versions.
"""

from __future__ import annotations

try:
    import distributed  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        'fastbackprop.dask needs Dask\'s distributed scheduler: pip install "fastbackprop[dask]"'
    ) from error

from ._estimators import DaskMLPClassifier, DaskMLPRegressor
from ._local_sgd import DEFAULT_SYNC_EVERY
from ._workers import warm_up

__all__ = ["DEFAULT_SYNC_EVERY", "DaskMLPClassifier", "DaskMLPRegressor", "warm_up"]
