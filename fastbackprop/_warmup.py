"""Compiling ahead of time, and saying so when a call must compile first.

Numba compiles a kernel the first time it meets a new combination of
argument types and keeps the machine code in its on-disk cache. The first
fit of a dtype on a new machine (container, CI job, cluster worker) pays
that compile; every later process loads it. Two things make that visible
and controllable:

- a one-line notice on the ``fastbackprop.compile`` logger (stderr by
  default) before a compile that takes more than about 2 s, saying what is
  compiled and about how long it takes; ``logging.getLogger(
  "fastbackprop.compile").setLevel(logging.WARNING)`` silences it;
- :func:`compile`, and ``fastbackprop compile`` on the command line, which
  fill the cache ahead of time and say where it is.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import warnings

import numpy as np
from numba.core import event
from numba.core.errors import NumbaExperimentalFeatureWarning

from . import _validation as v

logger = logging.getLogger("fastbackprop.compile")
if not logger.handlers:  # the notice is meant to be seen: stderr unless configured
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("fastbackprop: %(message)s"))
    logger.addHandler(_handler)
    logger.propagate = False
if logger.level == logging.NOTSET:  # a level the user set, even before import, stays
    logger.setLevel(logging.INFO)

#: About how long each task's kernels take to compile from an empty cache,
#: per dtype, in seconds, measured on this project's 2-core Xeon
#: (docs/performance.md, "Cold start"); a slower machine takes longer.
COMPILE_SECONDS = {"training": 22, "prediction": 8, "gradients": 10}
#: the same once the training kernels of the dtype have been compiled in
#: this process, which share much of their code
AFTER_TRAINING_SECONDS = {"prediction": 2, "gradients": 8}
#: tasks expected to compile in this or less are not announced
ANNOUNCE_FROM_SECONDS = 2.0

_current = threading.local()
#: (task, dtype) pairs whose kernels this process has run: nothing to announce
WARM = set()


class _Task:
    def __init__(self, name: str, dtype: np.dtype):
        self.name, self.dtype, self.announced = name, dtype, False


class _CompileNotice(event.Listener):
    """Logs the current task's notice when its first kernel starts compiling
    (Numba sends no event when it loads a kernel from its cache)."""

    def on_start(self, event_):
        task = getattr(_current, "task", None)
        if task is None or task.announced:
            return
        dispatcher = event_.data.get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "")
        if not module.startswith("fastbackprop."):
            return
        task.announced = True
        seconds = expected_seconds(task.name, task.dtype)
        if seconds > ANNOUNCE_FROM_SECONDS:
            logger.info(
                "compiling the %s kernels for %s, once per machine (about %d s; "
                "cached in %s; `fastbackprop compile` does this ahead of time)",
                task.name,
                task.dtype.name,
                seconds,
                cache_directory(),
            )

    def on_end(self, event_):
        pass


event.register("numba:compile", _CompileNotice())


def expected_seconds(task: str, dtype) -> float:
    """About how long ``task``'s first compile for ``dtype`` takes here."""
    if ("training", np.dtype(dtype)) in WARM and task in AFTER_TRAINING_SECONDS:
        return AFTER_TRAINING_SECONDS[task]
    return COMPILE_SECONDS.get(task, 0)


@contextlib.contextmanager
def announcing(task: str, dtype):
    """Within this block, the first compile of a fastbackprop kernel is
    announced as ``task`` for ``dtype`` (see the module docstring); after
    the block ran once without error, the pair is in ``WARM``."""
    key = (task, np.dtype(dtype))
    if key in WARM or getattr(_current, "task", None) is not None:
        yield  # already run in this process, or part of an outer task
        return
    _current.task = _Task(*key)
    try:
        with warnings.catch_warnings():
            # the epoch calls its phases through first-class function
            # pointers, which Numba marks experimental while it compiles
            warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
            yield
    finally:
        _current.task = None
    WARM.add(key)


def cache_directory() -> str:
    """Where Numba keeps the kernels' compiled code: ``NUMBA_CACHE_DIR`` if
    set, else ``__pycache__`` beside the kernels' sources, or, when the
    installation is read-only, a directory in the user's cache (Numba's own
    fallback)."""
    from .kernels import train

    try:
        return str(train.train_epochs._cache._cache_path)
    except AttributeError:  # caching disabled (FASTBACKPROP_CACHE=0)
        return "nowhere (FASTBACKPROP_CACHE=0: compiled in memory only)"


def compile(dtypes=("float64", "float32"), *, prediction=True, gradients=False) -> dict:
    """Compile the kernels for ``dtypes``, or load them from the cache, so
    that later fits and predictions start at once (for container images,
    CI and cluster workers).

    The kernels of one dtype serve every architecture, activation, loss and
    optimizer, so the dtype is the only choice.

    Parameters
    ----------
    dtypes : str or sequence of str, default ("float64", "float32")
    prediction : bool, default True
        Also the prediction kernel (``predict``, ``score``, validation).
    gradients : bool, default False
        Also the kernel of ``Network.gradients``, ``train_step`` and
        ``check_gradients``.

    Returns
    -------
    dict
        ``{"cache_dir": str, "seconds": {dtype: float}}``: where the
        compiled code is kept, and how long each dtype took (a fraction of
        a second when it was already cached).
    """
    from .network import Network

    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    try:
        dtypes = [v.check_dtype(dtype) for dtype in dtypes]
    except TypeError:
        raise TypeError(
            f"dtypes must be a dtype name or a sequence of them; got {dtypes!r}"
        ) from None
    if not dtypes:
        raise ValueError("dtypes must name at least one dtype: 'float64', 'float32'")
    prediction = v.check_bool(prediction, "prediction")
    gradients = v.check_bool(gradients, "gradients")
    seconds = {}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 2, 40)
    for dtype in dtypes:
        start = time.perf_counter()
        net = Network([3, 4, 2], dtype=dtype, seed=0)
        net.fit(X, y, epochs=1, batch_size=40)
        if prediction:
            net.predict(X)
        if gradients:
            net.gradients(X[:4], y[:4])
        seconds[dtype.name] = time.perf_counter() - start
    return {"cache_dir": cache_directory(), "seconds": seconds}
