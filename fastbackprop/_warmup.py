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
COMPILE_SECONDS = {"training": 10, "prediction": 5, "gradients": 9}
#: (task, a task of the same dtype already run in this process): the
#: seconds left, as the tasks share much of their kernels
AFTER_SECONDS = {
    ("training", "prediction"): 7,
    ("training", "gradients"): 3,
    ("prediction", "training"): 1,
    ("prediction", "gradients"): 1,
    ("gradients", "training"): 1,
    ("gradients", "prediction"): 5,
}
#: tasks expected to compile in this or less are not announced
ANNOUNCE_FROM_SECONDS = 2.0
#: The kernels whose compile is announced: those each task compiles once
#: per dtype. A network's own activations, loss and optimizer (``kernels.
#: ops``) take a fraction of a second each and go unannounced, so a new
#: network in a dtype already compiled says nothing.
ANNOUNCED_KERNELS = frozenset(
    {"train_epochs", "_shard_forward_backward", "evaluate", "batch_gradients"}
)

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
        function = getattr(dispatcher, "py_func", None)
        module = getattr(function, "__module__", "")
        if not module.startswith("fastbackprop."):
            return
        if getattr(function, "__name__", "") not in ANNOUNCED_KERNELS:
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
    dtype = np.dtype(dtype)
    seconds = COMPILE_SECONDS.get(task, 0)
    for done, done_dtype in WARM:
        if done_dtype == dtype:
            seconds = min(seconds, AFTER_SECONDS.get((task, done), seconds))
    return seconds


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


def _names(values, allowed, argument: str) -> list:
    """``values`` (None: every allowed name; or one name, or a sequence of
    them) as a list of names, each checked against ``allowed``."""
    if values is None:
        return list(allowed)
    if isinstance(values, str):
        values = [values]
    try:
        names = [v.check_name(value, tuple(allowed), argument) for value in values]
    except TypeError:
        raise TypeError(
            f"{argument} must be a name or a sequence of names from {', '.join(allowed)}; "
            f"got {values!r}"
        ) from None
    if not names:
        raise ValueError(f"{argument} must name at least one of {', '.join(allowed)}")
    return names


def compile(
    dtypes=("float64", "float32"),
    *,
    activations=None,
    losses=None,
    optimizers=None,
    prediction=True,
    gradients=False,
) -> dict:
    """Compile the kernels for ``dtypes``, or load them from the cache, so
    that later fits and predictions start at once (for container images,
    CI and cluster workers).

    The training loop's kernels are compiled once per dtype and serve every
    network; each activation, loss and optimizer is a small kernel of its
    own, compiled for the ones named here (by default every one).

    Parameters
    ----------
    dtypes : str or sequence of str, default ("float64", "float32")
    activations : str or sequence of str, optional
        Hidden activations to compile (default: all of them).
    losses : str or sequence of str, optional
        Losses to compile, mse with both its outputs (default: all).
    optimizers : str or sequence of str, optional
        Optimizers to compile (default: all).
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
    from ._codes import ACTIVATION_CODES, LOSS_CODES
    from .optim import OPTIMIZERS

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
    act_codes = [ACTIVATION_CODES[a] for a in _names(activations, ACTIVATION_CODES, "activations")]
    loss_codes = [LOSS_CODES[loss] for loss in _names(losses, LOSS_CODES, "losses")]
    opt_codes = [OPTIMIZERS[o].code for o in _names(optimizers, OPTIMIZERS, "optimizers")]
    prediction = v.check_bool(prediction, "prediction")
    gradients = v.check_bool(gradients, "gradients")
    seconds = {}
    for dtype in dtypes:
        start = time.perf_counter()
        with warnings.catch_warnings():  # Numba calls first-class functions experimental
            warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
            _compile_dtype(dtype, act_codes, loss_codes, opt_codes, prediction, gradients)
        seconds[dtype.name] = time.perf_counter() - start
    return {"cache_dir": cache_directory(), "seconds": seconds}


def _compile_dtype(dtype, act_codes, loss_codes, opt_codes, prediction, gradients):
    from ._codes import MSE, SIGMOID
    from .kernels.ops import op_table
    from .kernels.train import phase_kernels
    from .network import Network

    phase_kernels(dtype)  # every phase, for every split of a batch
    # the chosen activations, losses (mse with both outputs) and
    # optimizers, with and without dropout, and the stubs of unused slots
    outputs = [(code, 0) for code in loss_codes] + [(MSE, SIGMOID)] * (MSE in loss_codes)
    for loss_code, output_code in outputs:
        for opt_code in [None, *opt_codes]:
            op_table(dtype, act_codes, loss_code, output_code, opt_code, dropout_on=True)
        op_table(dtype, act_codes[:1], loss_code, output_code, None, dropout_on=False)
    # the epoch loop itself, and prediction and gradients, through a small fit
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 2, 40)
    net = Network([3, 4, 2], dtype=dtype, seed=0)
    net.fit(X, y, epochs=1, batch_size=40)
    if prediction:
        net.predict(X)
    if gradients:
        net.gradients(X[:4], y[:4])
