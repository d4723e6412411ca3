"""The public ``Network``: validates input, owns buffers, dispatches to a
backend. The math lives in ``kernels/`` (Numba) and ``reference/`` (NumPy)."""

from __future__ import annotations

import copy
import functools
import threading
import weakref
from typing import NamedTuple

import numpy as np

from . import _parallel, _persistence, _warmup
from . import _validation as v
from ._codes import ACTIVATION_CODES, HYPER_PENALTY, LOSS_CODES, REGRESSION_LOSSES, SIGMOID
from ._data import class_weight_per_row, validation_split_indices
from ._init import default_init, draw_weights
from ._layout import (
    PAGE_OFFSETS,
    Counter,
    EvaluationArena,
    Layout,
    TrainingWorkspace,
    aligned_copy,
    aligned_zeros,
)
from .history import History, NonFiniteLossError
from .optim import SGD, Optimizer, make_optimizer
from .state import TrainingState

#: rows per chunk when evaluating a whole data set (bounds workspace memory)
EVAL_CHUNK = 2048
#: evaluations of at most this many rows reuse a per-thread workspace
SMALL_EVAL_ROWS = 256
#: rows per block that partial_fit converts and validates at a time
STREAM_BLOCK = 8192
#: most permutation entries generated ahead for one compiled call of epochs
MAX_PERMUTATION_ENTRIES = 1 << 22
DEFAULT_LEARNING_RATE = 0.01


def stream_blocks(n: int, batch_size: int | None) -> list:
    """The row blocks ``partial_fit`` trains one after another: about
    ``STREAM_BLOCK`` rows, in whole batches, as slices of ``range(n)``."""
    block = (
        STREAM_BLOCK
        if batch_size is None
        else max(batch_size, STREAM_BLOCK // batch_size * batch_size)
    )
    return [slice(start, min(start + block, n)) for start in range(0, n, block)]


class _FitPlan(NamedTuple):
    """One checked ``fit`` call: what it trains on and how. Making one
    changes nothing (``Network._plan_fit``); ``Network._execute_fit`` runs it."""

    X: np.ndarray  # (n, n_features) the training rows, after any validation split
    Y: np.ndarray  # (n, n_outputs) their targets
    W: np.ndarray  # (n, 1) their weights
    epochs: int
    batch_size: int  # at most n
    shuffle: bool
    verbose: int
    clip: float  # 0.0: no clipping
    penalty: float  # scikit-learn's alpha on the weights; 0.0: none
    schedule: object
    validation: tuple | None  # checked (X, Y, W) of the validation rows
    callbacks: object  # a CallbackList
    optimizer: object | None  # the optimizer to train with, if fit sets one
    learning_rate: float | None  # else a new rate for the current one, if any
    rng_state: dict | None  # the generator's state after the validation split


class _StreamPlan(NamedTuple):
    """One checked ``partial_fit`` call (``Network._plan_stream``)."""

    X: object  # (n, n_features) as given (a memmap stays one): read block by block
    y: object  # (n, ...) as given
    weights: np.ndarray | None  # (n,) checked, in the network's dtype
    blocks: list  # slices of range(n), trained one after another (stream_blocks)
    batch_size: int | None  # None: each block is one batch
    shuffle: bool
    clip: float  # 0.0: no clipping
    penalty: float  # as _FitPlan's
    batch_rows: int  # the largest batch of any block: the workspace's rows


class _StepSplit(NamedTuple):
    """How each training step runs on the cores (see ``_parallel``)."""

    n_shards: int  # row shards of a batch
    n_chunks: int  # parameter chunks of the gradients and the update
    input_chunks: int  # chunks that compute the input layer's product, or 0


class PassReport(NamedTuple):
    """What one :meth:`Network.partial_fit` call trained
    (:attr:`Network.last_pass`).

    Attributes
    ----------
    loss : float
        The mean of the blocks' losses, weighted by their rows.
    rows : int
        The rows of the blocks that trained (a block whose rows all weigh 0
        is skipped).
    block_losses : tuple of float
        Each trained block's loss, the mean of its batches' losses, as
        ``history.loss`` records it.
    block_rows : tuple of int
        Each trained block's rows.
    """

    loss: float
    rows: int
    block_losses: tuple
    block_rows: tuple


def _backend_module(backend: str):
    if backend == "numba":
        from .kernels import train
    else:
        from .reference import train
    return train


#: every name fit may log for an epoch
_FIT_METRICS = ("loss", "learning_rate", "accuracy", "val_loss", "val_accuracy")


def _one_fit_at_a_time(fit):
    """Refuse a ``fit``, ``partial_fit`` or ``train_step`` of one network
    while another runs in another thread. The kernels release the GIL, so two fits would
    interleave their steps on one set of parameters. The lock is
    re-entrant."""

    @functools.wraps(fit)
    def exclusive_fit(self, *args, **kwargs):
        if not self._fit_lock.acquire(blocking=False):
            raise RuntimeError(
                "this network is already training in another thread; one network "
                "trains one fit at a time (train a copy.deepcopy of it in parallel)"
            )
        try:
            with _parallel.caller_threads():  # a Dask worker's own thread count
                return fit(self, *args, **kwargs)
        finally:
            self._fit_lock.release()

    return exclusive_fit


class Network:
    """A multilayer perceptron trained by backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden..., n_outputs]``, at least 2 positive ints.
    activation : str or list of str, default "relu"
        Hidden-layer activation, one name for all or one per hidden layer:
        ``identity``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu`` (slope
        0.01), ``elu`` (alpha 1), ``gelu`` (exact erf form), ``silu``.
    output : {None, "softmax", "sigmoid", "identity", "exp"}, default None
        Output activation; ``None`` picks the loss's natural one. ``mse``
        also accepts ``"sigmoid"``; ``poisson``'s is ``"exp"``.
    loss : {"cross_entropy", "binary_cross_entropy", "mse", "poisson"}
        PyTorch's definitions: mean over samples of -log softmax; mean over
        all elements of BCE (from logits); mean over all elements of the
        squared error; mean over all elements of ``exp(z) - y z``
        (``PoissonNLLLoss(log_input=True)``, counts ``y >= 0``).
    init : {None, "he", "xavier", "glorot_uniform", "lecun", "small"}
        Weight initialisation; ``None`` means ``he`` before relu-family
        activations and ``xavier`` otherwise. Biases start at zero.
    dtype : {"float64", "float32"}
        Precision of parameters and computation, end to end.
    seed : int or None
        Seeds initialisation, shuffling and dropout masks.
    backend : {"numba", "numpy"}
        ``numba`` runs the compiled kernels; ``numpy`` the reference.
    dropout : float or list of float, default 0.0
        Inverted-dropout rate of each hidden layer's output, active only
        while training.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbackprop import Network
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> net = Network([2, 4, 2], activation="relu", seed=0)
    >>> history = net.fit(X, [0, 1, 1, 0], epochs=1000, learning_rate=0.1)
    >>> net.predict(X).tolist()
    [0, 1, 1, 0]
    """

    def __init__(
        self,
        layer_sizes,
        activation="relu",
        output=None,
        loss="cross_entropy",
        init=None,
        dtype="float64",
        seed=None,
        backend="numba",
        dropout=0.0,
    ):
        sizes = v.check_layer_sizes(layer_sizes)
        activations = v.check_activation(activation, len(sizes) - 2)
        loss, output = v.check_loss_and_output(loss, output, sizes[-1])
        init = v.check_init(init)
        dtype = v.check_dtype(dtype)
        seed = v.check_seed(seed)
        backend = v.check_name(backend, v.BACKENDS, "backend")
        dropout = v.check_dropout(dropout, len(sizes) - 2)

        self.layer_sizes = sizes
        self.activations = activations
        self.loss = loss
        self.output = output
        self.init = init
        self.dtype = dtype
        self.backend = backend
        self._dropout = dropout
        self._layout = Layout(sizes)
        self._act_codes = np.array([ACTIVATION_CODES[a] for a in activations], dtype=np.int64)
        self._loss_code = LOSS_CODES[loss]
        self._output_code = SIGMOID if output == "sigmoid" else 0
        self._train = _backend_module(backend)
        self._rng = np.random.default_rng(seed)
        self._params = aligned_zeros(self._layout.n_params, dtype, PAGE_OFFSETS["params"])
        self._initialise()
        # drawn once, so masks depend only on (seed, step, layer): a resumed
        # run sees the same masks as an uninterrupted one
        self._dropout_seed = int(self._rng.integers(2**63))
        self.optimizer = SGD(DEFAULT_LEARNING_RATE)
        self._opt_state = aligned_zeros(
            (2, self._layout.n_params), dtype, PAGE_OFFSETS["opt_state"]
        )
        self._counters = np.zeros(2, dtype=np.int64)  # [optimizer step, global step]
        self.history = History(accuracy=self._empty_accuracy(), val_accuracy=self._empty_accuracy())
        self._fit_lock = threading.RLock()  # see _one_fit_at_a_time
        self._last_pass = None  # see last_pass

    # ------------------------------------------------------------------ state
    def _initialise(self):
        after = list(self.activations) + [self.output]
        for layer, W in enumerate(self.weights):
            scheme = self.init or default_init(after[layer])
            W[...] = draw_weights(self._rng, scheme, *W.shape)

    def _empty_accuracy(self):
        return None if self._regression else []

    @property
    def _regression(self) -> bool:
        """A regression loss (mse, poisson): no accuracy; scored by R^2."""
        return self.loss in REGRESSION_LOSSES

    @property
    def weights(self) -> list:
        """Per-layer ``(n_in, n_out)`` weight arrays, live views of the parameters."""
        return self._layout.weight_views(self._params)

    @property
    def biases(self) -> list:
        """Per-layer ``(n_out,)`` bias arrays, live views of the parameters."""
        return self._layout.bias_views(self._params)

    @property
    def dropout(self) -> list:
        """Dropout rate of each hidden layer."""
        return self._dropout.tolist()

    @property
    def n_features(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    def count_parameters(self) -> int:
        """Number of trainable parameters (weights and biases)."""
        return int(self._layout.n_params)

    def __repr__(self):
        return (
            f"Network({list(self.layer_sizes)}, activation={list(self.activations)}, "
            f"output={self.output!r}, loss={self.loss!r}, dtype={self.dtype.name!r}, "
            f"backend={self.backend!r})"
        )

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_train"]  # a module: re-resolved from the backend name
        state.pop("_eval_cache", None)  # per-thread scratch buffers
        state.pop("_workspace", None)  # training's scratch buffers
        del state["_fit_lock"]  # a lock cannot be pickled; a copy gets its own
        return state

    def __setstate__(self, state):
        self.__dict__.pop("_eval_cache", None)  # its arguments name the old arrays
        self.__dict__.pop("_workspace", None)
        self.__dict__.update(state)
        self._train = _backend_module(self.backend)
        self._fit_lock = threading.RLock()
        # unpickled arrays come back with NumPy's 16-byte alignment
        self._params = aligned_copy(self._params, PAGE_OFFSETS["params"])
        self._opt_state = aligned_copy(self._opt_state, PAGE_OFFSETS["opt_state"])

    def save(self, path) -> None:
        """Write the network, optimizer state, RNG state and history to one
        ``.npz`` file, atomically (temporary file, then rename)."""
        _persistence.save(self, path)

    @classmethod
    def load(cls, path) -> Network:
        """Read a network written by :meth:`save` (``allow_pickle=False``).

        Raises
        ------
        ValueError
            For a foreign, truncated or inconsistent file.
        """
        return _persistence.load(path, cls)

    # ---------------------------------------------------------- training state
    @property
    def rng(self) -> np.random.Generator:
        """The network's random generator.

        It drew the initial weights and the dropout seed; ``fit`` draws each
        epoch's shuffle and its ``validation_split`` from it, and the
        estimators their validation split and ``partial_fit``'s order.
        Drawing from it changes what later fits draw;
        :meth:`get_training_state` records its state.
        """
        return self._rng

    @property
    def dropout_seed(self) -> int:
        """The seed of the dropout masks, drawn once when the network was
        made: a mask depends only on it, the step and the layer, so a resumed
        run sees the masks of an uninterrupted one."""
        return self._dropout_seed

    def get_training_state(self) -> TrainingState:
        """Take everything training changes, to put it back later.

        Returns
        -------
        TrainingState
            Read-only copies of the parameters, the optimizer state and the
            step counters; the optimizer object and its learning rate; the
            state of :attr:`rng`; :attr:`dropout_seed`; and the position of
            ``history`` (its length per metric).

        See Also
        --------
        set_training_state

        Examples
        --------
        >>> import numpy as np
        >>> from fastbackprop import Network
        >>> X, y = np.eye(4), [0, 1, 1, 0]
        >>> net = Network([4, 3, 2], seed=0)
        >>> state = net.get_training_state()
        >>> _ = net.fit(X, y, epochs=5)
        >>> net.set_training_state(state)
        >>> net.history.epochs, bool((net.weights[0] == state.parameters[:12].reshape(4, 3)).all())
        (0, True)
        """
        state = TrainingState(
            layer_sizes=self.layer_sizes,
            parameters=self._params,
            optimizer=self.optimizer,
            learning_rate=getattr(self.optimizer, "learning_rate", None),
            optimizer_state=self._opt_state,
            counters=self._counters,
            rng_state=self._rng.bit_generator.state,
            dropout_seed=self._dropout_seed,
            history=self.history,
            history_lengths=self.history.lengths(),
        )
        object.__setattr__(state, "_source", weakref.ref(self))  # see set_training_state
        return state

    @_one_fit_at_a_time
    def set_training_state(self, state: TrainingState, *, parameters_only: bool = False) -> None:
        """Put back a state taken by :meth:`get_training_state`.

        The state may come from this network or from another with the same
        ``layer_sizes`` and ``dtype``; after it, this network trains on as
        that one would have from where the state was taken. Values are
        written into the network's own buffers, in place.

        Parameters
        ----------
        state : TrainingState
        parameters_only : bool, default False
            Put back only the weights and biases, as
            ``EarlyStopping(restore_best_weights=True)`` does: the optimizer,
            its state, the counters, the generator and the history stay.

        Notes
        -----
        ``history`` is put back by dropping what was recorded after the
        state was taken; if the network's ``history`` is another object than
        the state's, it becomes a copy of the state's, cut at the state's
        position. The optimizer is the state's object itself, with its
        learning rate as it was.

        Raises
        ------
        TypeError
            If ``state`` is not a TrainingState, or holds values of the
            wrong types.
        ValueError
            If ``state`` comes from a network of other ``layer_sizes`` or
            ``dtype``, or holds values this network cannot take. Nothing
            changes then.
        RuntimeError
            If this network is training in another thread (a callback of
            the running fit may put a state back).
        """
        self._check_training_state(state)
        parameters_only = v.check_bool(parameters_only, "parameters_only")
        if parameters_only:
            self._params[:] = state.parameters  # in place: the buffer keeps its alignment
            return
        # the only write that can still refuse a value, so it goes first
        try:
            self._rng.bit_generator.state = state.rng_state
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"state.rng_state is not a state of this generator: {error}") from None
        self._params[:] = state.parameters
        self._opt_state[:] = state.optimizer_state
        self._counters[:] = state.counters
        self._dropout_seed = int(state.dropout_seed)
        # the same optimizer object for a state of this network (a later
        # fit(optimizer=that_object) continues it); a copy for another
        # network's, so two networks never share one. Either way with every
        # hyperparameter as it was when the state was taken.
        source = getattr(state, "_source", None)
        optimizer = state.optimizer if source is not None and source() is self else None
        if optimizer is None:
            optimizer = copy.copy(state.optimizer)
        for key, value in state.optimizer_config.items():
            setattr(optimizer, key, value)
        optimizer.learning_rate = state.learning_rate
        self.optimizer = optimizer
        # the history's values as they were, in this network's own History
        # object (which fit's callers may hold)
        for key, values in state.history.as_dict().items():
            length = state.history_lengths.get(key)
            setattr(self.history, key, None if values is None else list(values[:length]))

    def _check_training_state(self, state) -> None:
        """Refuse, before anything changes, a state this network cannot take."""
        if not isinstance(state, TrainingState):
            raise TypeError(
                "state must be a TrainingState from Network.get_training_state; "
                f"got {type(state).__name__}"
            )
        if state.layer_sizes != tuple(self.layer_sizes) or state.dtype != self.dtype:
            raise ValueError(
                f"state was taken from a network of layer_sizes {list(state.layer_sizes)} and "
                f"dtype {state.dtype.name}; this one has {list(self.layer_sizes)} and "
                f"{self.dtype.name}"
            )
        expected = (
            ("parameters", self._params),
            ("optimizer_state", self._opt_state),
            ("counters", self._counters),
        )
        for name, mine in expected:
            theirs = getattr(state, name)
            if theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                raise ValueError(
                    f"state.{name} is {theirs.dtype}{list(theirs.shape)}; this network needs "
                    f"{mine.dtype}{list(mine.shape)}"
                )
        if (state.counters < 0).any():
            raise ValueError(f"state.counters must be >= 0; got {state.counters.tolist()}")
        if not isinstance(state.optimizer, Optimizer):
            raise TypeError(
                "state.optimizer must be a fastbackprop.optim.Optimizer; "
                f"got {type(state.optimizer).__name__}"
            )
        v.check_positive_float(state.learning_rate, "state.learning_rate")
        # the hyperparameters as the optimizer's own checks see them
        trial = copy.copy(state.optimizer)
        config = state.optimizer_config
        if not isinstance(config, dict) or set(config) - set(trial.get_config()):
            raise ValueError(
                f"state.optimizer_config must hold {type(trial).__name__}'s hyperparameters "
                f"({', '.join(trial.get_config())}); got {config!r}"
            )
        for key, value in config.items():
            setattr(trial, key, value)
        trial.check(learning_rate=state.learning_rate)
        seed = state.dropout_seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"state.dropout_seed must be an int; got {type(seed).__name__}")
        if not 0 <= seed < 2**63:
            raise ValueError(f"state.dropout_seed must lie in [0, 2**63); got {seed}")
        if not isinstance(state.history, History):
            raise TypeError(f"state.history must be a History; got {type(state.history).__name__}")
        if not isinstance(state.rng_state, dict):
            raise TypeError(f"state.rng_state must be a dict; got {type(state.rng_state).__name__}")
        lengths = state.history_lengths
        if set(lengths) - set(History().lengths()) or not all(
            length is None or (isinstance(length, int) and length >= 0)
            for length in lengths.values()
        ):
            raise ValueError(
                f"state.history_lengths must map History's metrics to lengths >= 0; got {lengths!r}"
            )
        kind = self._rng.bit_generator.state["bit_generator"]
        if state.rng_state.get("bit_generator") != kind:
            raise ValueError(
                f"state.rng_state is a state of {state.rng_state.get('bit_generator')!r}; "
                f"this network's generator is {kind!r}"
            )

    # ---------------------------------------------------------------- helpers
    def _check_Xy(self, X, y, sample_weight=None, weight_name="sample_weight"):
        X = v.check_X(X, self.n_features, self.dtype)
        Y = v.check_targets(y, X.shape[0], self.loss, self.n_outputs, self.dtype)
        W = v.check_sample_weight(sample_weight, X.shape[0], self.dtype, weight_name)
        return X, Y, W

    def _model(self, dropout=True):
        """The kernels' ``_layout.Model``; ``dropout=False`` for one with
        every rate 0 (gradients and train_step run without dropout)."""
        rates = self._dropout if dropout else np.zeros_like(self._dropout)
        return self._layout.model(self._act_codes, rates, self._loss_code, self._output_code)

    def _ops(self, dropout_on=False, opt_code=None):
        """The compiled backend's function pointers to this network's
        kernels (``kernels.ops.op_table``, as the array of addresses the
        kernels read it from), with dropout if ``dropout_on`` and the
        optimizer ``opt_code`` (None: none); None for the NumPy backend."""
        if self.backend != "numba":
            return None
        from .kernels.ops import op_table

        table = op_table(
            self.dtype, self._act_codes, self._loss_code, self._output_code, opt_code, dropout_on
        )
        return table.addresses

    def _evaluate(self, X, Y=None, W=None):
        """Outputs of a checked ``X``; with ``Y``, also the weighted mean loss
        and the number of correct rows. A large ``X`` is split into one part
        per core."""
        n = X.shape[0]
        out = np.empty((n, self.n_outputs), dtype=self.dtype)
        with_loss = Y is not None
        targets = Y if with_loss else out  # unread without a loss
        if W is None:
            W = np.ones((n, 1), dtype=self.dtype) if with_loss else out
        if n <= EVAL_CHUNK or self.backend != "numba":
            # one call on the whole arrays: no slicing, no closure
            loss_sum, weight_sum, correct = self._evaluate_rows(out, X, targets, W, with_loss)
        else:

            def evaluate_part(lo, hi):
                return self._evaluate_rows(
                    out[lo:hi], X[lo:hi], targets[lo:hi], W[lo:hi], with_loss
                )

            with _parallel.caller_threads():
                parts = _parallel.run_parts(evaluate_part, _parallel.row_parts(n, EVAL_CHUNK))
            loss_sum = sum(part[0] for part in parts)  # in row order: fixed bits
            weight_sum = sum(part[1] for part in parts)
            correct = sum(part[2] for part in parts)
        per_row = 1 if self.loss == "cross_entropy" else self.n_outputs
        mean = loss_sum / (weight_sum * per_row) if with_loss else None
        return out, mean, int(correct)

    def _evaluate_rows(self, out, X, targets, W, with_loss):
        """One kernel call over rows that share one arena, chunk by chunk."""
        rows = min(X.shape[0], EVAL_CHUNK)
        with _warmup.announcing("prediction", self.dtype):  # the kernels may compile
            if rows <= SMALL_EVAL_ROWS:
                model = self._small_eval_args()
            else:
                model = self._eval_args(EvaluationArena(self._layout, rows, self.dtype))
            return self._train.evaluate(out, X, targets, W, *model, with_loss, False)

    def _eval_args(self, arena):
        """``evaluate``'s arguments between the data and the flags."""
        return (
            arena.arena,
            arena.bounds,
            self._params,
            self._layout.table,
            self._act_codes,
            self._dropout,
            self._loss_code,
            self._output_code,
            self._ops(),
        )

    def _small_eval_args(self):
        """``_eval_args`` of an arena of SMALL_EVAL_ROWS rows that the calling
        Python thread reuses across calls, so concurrent predicts never share
        buffers and big ones are not kept alive. The tuple is built once: an
        online predict's Python overhead is a fair part of its time. (Every
        array in it is created in ``__init__``/``__setstate__`` and only
        changed in place afterwards.)"""
        try:
            return self._eval_cache.args
        except AttributeError:  # a new network or a new thread
            per_thread = self.__dict__.setdefault("_eval_cache", threading.local())
            arena = EvaluationArena(self._layout, SMALL_EVAL_ROWS, self.dtype)
            per_thread.args = self._eval_args(arena)
            return per_thread.args

    def _forward_small(self, X):
        """``forward`` of an ``X`` that ``is_ready_small_X`` accepted: the
        online-predict path, kept short. The kernel checks the values on the
        way (cheaper than a separate pass)."""
        out = np.empty((X.shape[0], self.n_outputs), dtype=self.dtype)
        if ("prediction", self.dtype) in _warmup.WARM:  # no notice to prepare: kept short
            count = self._train.evaluate(out, X, out, out, *self._small_eval_args(), False, True)[2]
        else:  # the first call may compile
            with _warmup.announcing("prediction", self.dtype):
                args = self._small_eval_args()
                count = self._train.evaluate(out, X, out, out, *args, False, True)[2]
        if count < 0:
            raise v.non_finite_X_error(self.dtype)
        return out

    def _phases(self, split=(1, 1, 0), clip=0.0):
        """``train_epochs``' last argument: the compiled phases of a step
        for the Numba backend (``kernels.train.phase_kernels``, as the array
        of addresses the kernels read it from), those that a fit split as
        ``split`` (shards, chunks, input chunks) calls."""
        if self.backend != "numba":
            return None
        n_shards, n_chunks, input_chunks = split
        table = self._train.phase_kernels(
            self.dtype,
            shards=n_shards > 1,
            chunks=n_chunks > 1,
            input_split=input_chunks > 0,
            clip=clip > 0,
        )
        return table.addresses

    def _batch_gradients(self, X, Y, W):
        """Loss and flat gradients of one batch, through the training
        loop's own forward and backward code (one shard, no dropout)."""
        ws = TrainingWorkspace(self._layout, X.shape[0], self.dtype)
        return self._gradient_pass(ws, X, Y, W), ws.grads

    def _gradient_pass(self, ws, X, Y, W) -> float:
        """The loss of checked ``(X, Y, W)``, its gradients left in ``ws.grads``."""
        with _warmup.announcing("gradients", self.dtype):
            loss = self._train.batch_gradients(
                ws.arena,
                ws.bounds,
                ws.grads,
                self._params,
                X,
                Y,
                W,
                self._model(dropout=False),
                self._ops(),
                self._phases(),
            )
        return float(loss)

    # ------------------------------------------------------------- inference
    def forward(self, X) -> np.ndarray:
        """Output activations ``(n, n_outputs)`` for ``X`` ``(n, n_features)``."""
        if v.is_ready_small_X(X, self.n_features, self.dtype, SMALL_EVAL_ROWS):
            return self._forward_small(X)
        X = v.check_X(X, self.n_features, self.dtype)
        return self._evaluate(X)[0]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax rows for ``cross_entropy``, the sigmoid
        outputs for ``binary_cross_entropy``."""
        if self._regression:
            raise ValueError("predict_proba needs a classification loss; this network uses mse")
        return self.forward(X)

    def predict(self, X) -> np.ndarray:
        """Class indices ``(n,)`` for cross_entropy; 0/1 for
        binary_cross_entropy (``(n,)`` with one output); the outputs for mse
        (``(n,)`` with one output)."""
        out = self.forward(X)
        if self.loss == "cross_entropy":
            return out.argmax(axis=1)
        if self.loss == "binary_cross_entropy":
            out = (out > 0.5).astype(np.int64)
        return out[:, 0] if self.n_outputs == 1 else out

    def compute_loss(self, X, y, sample_weight=None) -> float:
        """Mean loss over the rows of ``X`` against targets ``y``; with
        ``sample_weight``, ``sum(w * l) / sum(w)``."""
        X, Y, W = self._check_Xy(X, y, sample_weight)
        return float(self._evaluate(X, Y, W)[1])

    def score(self, X, y) -> float:
        """Accuracy for the classification losses; R^2 (averaged over
        outputs) for mse."""
        X, Y, _ = self._check_Xy(X, y)
        out, _, correct = self._evaluate(X, Y)
        if not self._regression:
            return correct / X.shape[0]
        residual = ((Y - out) ** 2).sum(axis=0, dtype=np.float64)
        total = ((Y - Y.mean(axis=0, dtype=np.float64)) ** 2).sum(axis=0, dtype=np.float64)
        safe = total > 0
        r2 = np.where(
            safe, 1 - residual / np.where(safe, total, 1), np.where(residual == 0, 1.0, 0.0)
        )
        return float(r2.mean())

    # -------------------------------------------------------------- training
    def gradients(self, X, y, sample_weight=None):
        """Gradients of the mean loss, shaped like the parameters.

        Returns
        -------
        grad_weights, grad_biases : list of ndarray
            New arrays; the parameters are left unchanged.
        """
        X, Y, W = self._check_Xy(X, y, sample_weight)
        _, grads = self._batch_gradients(X, Y, W)
        return self._layout.weight_views(grads), self._layout.bias_views(grads)

    def weight_mask(self) -> np.ndarray:
        """True for each weight and False for each bias, in the layout of
        ``get_training_state().parameters``."""
        mask = np.zeros(self._layout.n_params, dtype=bool)
        for view in self._layout.weight_views(mask):
            view[...] = True
        return mask

    def flat_objective(self, X, y, sample_weight=None):
        """The full-batch loss as a function of the flat parameters, for
        optimisers such as SciPy's ``minimize`` (the estimators' lbfgs).

        ``X``, ``y`` and ``sample_weight`` are checked once, here.

        Returns
        -------
        objective : callable
            ``objective(theta)`` sets the parameters to ``theta`` (shaped
            ``(count_parameters(),)``, in the layout of
            ``get_training_state().parameters``, rounded to the network's
            dtype) and returns ``(loss, gradient)``: the weighted mean loss
            and its gradient as float64, in the same layout. One compiled
            pass (the training loop's forward and backward, no dropout).
        """
        X, Y, W = self._check_Xy(X, y, sample_weight)
        ws = TrainingWorkspace(self._layout, X.shape[0], self.dtype)

        def objective(theta):
            theta = np.asarray(theta)
            if theta.shape != self._params.shape:
                raise ValueError(
                    f"theta must have shape {self._params.shape} (the flat parameters); "
                    f"got {theta.shape}"
                )
            self._params[...] = theta
            return self._gradient_pass(ws, X, Y, W), ws.grads.astype(np.float64)

        return objective

    def gradient_stats(self, X, y) -> list:
        """Per-layer weight norm, gradient norm and their ratio (one dict per
        layer), as plotted by :func:`fastbackprop.plotting.plot_gradient_flow`."""
        from .diagnostics import gradient_stats

        return gradient_stats(self, X, y)

    @_one_fit_at_a_time
    def train_step(self, X, y, learning_rate) -> float:
        """One plain gradient-descent step on ``(X, y)``; returns the loss before it."""
        X, Y, W = self._check_Xy(X, y)
        lr = v.check_positive_float(learning_rate, "learning_rate")
        loss, grads = self._batch_gradients(X, Y, W)
        if not np.isfinite(loss):
            raise NonFiniteLossError(
                f"loss is {loss} before the step; no step taken. The parameters or "
                "data have diverged; try a lower learning_rate.",
                epoch=0,
            )
        with np.errstate(over="ignore", invalid="ignore"):
            stepped = self._params - self.dtype.type(lr) * grads
        if not self._train.all_in_range(stepped):
            # the fit's rule: a step beyond the dtype's safe range is divergence
            raise NonFiniteLossError(
                "the step would take parameters beyond the dtype's safe range (their "
                "squares would overflow); no step taken. Try a lower learning_rate "
                f"(it was {lr:g}).",
                epoch=0,
            )
        self._params[...] = stepped
        return loss

    @_one_fit_at_a_time
    def fit(
        self,
        X,
        y,
        epochs=100,
        batch_size=None,
        learning_rate=None,
        shuffle=True,
        verbose=0,
        *,
        optimizer=None,
        clip_norm=None,
        weight_penalty=0.0,
        lr_schedule=None,
        sample_weight=None,
        class_weight=None,
        validation_data=None,
        validation_split=None,
        callbacks=None,
        progress=False,
    ) -> History:
        """Train by minibatch gradient descent with the network's optimizer.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like
            Int labels ``(n,)`` or class probabilities ``(n, n_outputs)`` for
            cross_entropy; 0/1 or [0, 1] values ``(n, n_outputs)`` (``(n,)``
            for one output) for binary_cross_entropy; values for mse.
        epochs : int, default 100
            Passes over the data; 0 does nothing.
        batch_size : int or None
            Rows per step; ``None`` (or more than ``n_samples``) is full batch.
        learning_rate : float or None
            With ``optimizer=None``, sets the current optimizer's rate; with a
            name, that optimizer's rate. Not allowed with an optimizer object.
        shuffle : bool, default True
            Visit the rows in a fresh random order every epoch.
        verbose : int, default 0
            Print a line every ``verbose`` epochs and at the last, in the form
            ``Epoch 100/1000 - Loss: 0.0972 - Accuracy: 0.9900``.
        optimizer : None, str or Optimizer
            ``None`` keeps the current optimizer and its state (a new network
            has ``SGD(0.01)``); ``"sgd"``, ``"adam"``, ``"adamw"``,
            ``"rmsprop"`` or an instance from :mod:`fastbackprop.optim` sets
            a new one with fresh state (the same instance keeps its state).
        clip_norm : float or None
            Clip the global gradient norm, as ``torch.nn.utils.clip_grad_norm_``.
        weight_penalty : float, default 0.0
            scikit-learn's ``alpha``: each batch's gradient gains
            ``weight_penalty * W / sum(w)`` on every weight matrix ``W`` (not
            the biases), ``sum(w)`` being the batch's rows or their weights:
            the gradient of ``weight_penalty / 2 * sum(W**2) / sum(w)``,
            which the batch's logged loss includes (at its starting weights).
            Any optimizer; before clipping. It costs a pass over the weights
            a step.
        lr_schedule : None, str or Schedule
            See :mod:`fastbackprop.schedules`.
        sample_weight : array-like (n,), optional
            Per-row weights >= 0: the loss becomes ``sum(w * l) / sum(w)``.
            A minibatch whose rows all weigh 0 takes no step (its rows still
            count in the epoch's accuracy).
        class_weight : "balanced" or dict, optional
            Per-class weights, multiplied into ``sample_weight``.
            ``"balanced"`` is scikit-learn's ``n / (n_classes * count)``,
            with ``n`` and the counts summing ``sample_weight`` when given.
        validation_data : (X_val, y_val) or (X_val, y_val, w_val), optional
            With ``w_val``, ``val_loss`` is their weighted mean loss
            (``class_weight`` does not apply to them).
        validation_split : float, optional
            Hold out this fraction (stratified for classification); the
            held-out rows keep their ``sample_weight`` and ``class_weight``
            in ``val_loss``. (``val_accuracy`` counts every row alike, as
            ``accuracy`` does.)
        callbacks : list of Callback, optional
            See :mod:`fastbackprop.callbacks`.
        progress : bool, default False
            A progress bar over epochs (tqdm on a terminal, plain lines otherwise).

        Returns
        -------
        History
            This call's epochs; ``net.history`` accumulates every fit.

        Raises
        ------
        NonFiniteLossError
            (a ``FloatingPointError``) if the loss becomes NaN or inf; the
            parameters are restored to the start of the failing epoch.
        RuntimeError
            If this network is training in another thread at the same time.
        ValueError, TypeError
            For bad arguments; the network is then unchanged.
        """
        return self._execute_fit(
            self._plan_fit(
                X,
                y,
                epochs,
                batch_size,
                learning_rate,
                shuffle,
                verbose,
                optimizer=optimizer,
                clip_norm=clip_norm,
                weight_penalty=weight_penalty,
                lr_schedule=lr_schedule,
                sample_weight=sample_weight,
                class_weight=class_weight,
                validation_data=validation_data,
                validation_split=validation_split,
                callbacks=callbacks,
                progress=progress,
            )
        )

    def _plan_fit(
        self,
        X,
        y,
        epochs,
        batch_size,
        learning_rate,
        shuffle,
        verbose,
        *,
        optimizer,
        clip_norm,
        weight_penalty,
        lr_schedule,
        sample_weight,
        class_weight,
        validation_data,
        validation_split,
        callbacks,
        progress,
    ) -> _FitPlan:
        """Every check of a ``fit`` call and what the call will do, changing
        nothing: the validation split is drawn from a copy of the generator,
        which ``_adopt`` then moves on to where the copy ended."""
        from .callbacks import CallbackList, ProgressBar
        from .schedules import get_schedule

        X, Y, W = self._check_Xy(X, y, sample_weight)
        epochs = v.check_count(epochs, "epochs", 0)
        shuffle = v.check_bool(shuffle, "shuffle")
        verbose = v.check_count(verbose, "verbose", 0)
        progress = v.check_bool(progress, "progress")
        clip = 0.0 if clip_norm is None else v.check_positive_float(clip_norm, "clip_norm")
        penalty = v.check_non_negative_float(weight_penalty, "weight_penalty")
        if learning_rate is not None:
            learning_rate = v.check_positive_float(learning_rate, "learning_rate")
        new_optimizer = None if optimizer is None else make_optimizer(optimizer, learning_rate)
        if new_optimizer is not None:
            new_optimizer.check()
        else:  # a learning_rate given here replaces the current one
            self.optimizer.check(learning_rate)
        schedule = get_schedule(lr_schedule, epochs=max(epochs, 1))
        if class_weight is not None:
            with np.errstate(over="ignore"):
                per_row = class_weight_per_row(class_weight, Y, self.loss, W[:, 0])
                W = W * per_row[:, None].astype(self.dtype)
            if not np.isfinite(W).all():
                raise ValueError(
                    f"class_weight times sample_weight overflows the network's dtype "
                    f"{self.dtype.name}"
                )
            if not W.sum(dtype=np.float64) > 0:
                raise ValueError("class_weight leaves every row with weight 0")
        if validation_data is not None and validation_split is not None:
            raise ValueError("give validation_data or validation_split, not both")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise TypeError(
                    "validation_data must be a pair (X_val, y_val) or a triple "
                    "(X_val, y_val, sample_weight_val)"
                )
            validation = self._check_Xy(*validation_data, weight_name="validation_data's weights")
        elif validation_split is not None:
            fraction = v.check_fraction(validation_split, "validation_split")
        if batch_size is not None:
            batch_size = v.check_count(batch_size, "batch_size", 1)
        callback_list = CallbackList(callbacks)
        if progress:
            callback_list = CallbackList([*callback_list.callbacks, ProgressBar(epochs)])
        self._check_monitors(
            [*callback_list.monitored_metrics(), *schedule.monitored_metrics()],
            validated=validation is not None or validation_split is not None,
            builtin_only=not callback_list.has_foreign_callbacks(),
        )
        rng_state = None
        if validation_split is not None:
            rng = copy.deepcopy(self._rng)  # the network's own moves on only when fit runs
            train_rows, val_rows = validation_split_indices(Y, self.loss, fraction, rng)
            train_weights = np.ascontiguousarray(W[train_rows])
            if not train_weights.sum(dtype=np.float64) > 0:
                raise ValueError(
                    "validation_split holds out every row with a weight > 0: "
                    "nothing is left to train on"
                )
            val_weights = np.ascontiguousarray(W[val_rows])
            if not val_weights.sum(dtype=np.float64) > 0:
                raise ValueError(
                    "validation_split holds out only rows of weight 0: their weighted "
                    "loss is undefined"
                )
            validation = (X[val_rows], Y[val_rows], val_weights)
            X, Y, W = X[train_rows], Y[train_rows], train_weights
            rng_state = rng.bit_generator.state
        n = X.shape[0]
        return _FitPlan(
            X,
            Y,
            W,
            epochs,
            n if batch_size is None else min(batch_size, n),
            shuffle,
            verbose,
            clip,
            penalty,
            schedule,
            validation,
            callback_list,
            new_optimizer,
            learning_rate,
            rng_state,
        )

    def _adopt(self, plan: _FitPlan) -> None:
        """Make the changes a planned ``fit`` makes before its first epoch:
        the generator past the validation split, and the optimizer."""
        if plan.rng_state is not None:
            self._rng.bit_generator.state = plan.rng_state
        if plan.optimizer is not None:
            if plan.optimizer is not self.optimizer:  # a new one starts from zero
                self._opt_state[:] = 0
                self._counters[Counter.OPTIMIZER_STEP] = 0
            self.optimizer = plan.optimizer
        elif plan.learning_rate is not None:
            self.optimizer.learning_rate = plan.learning_rate

    def _undo_adopt(self, plan: _FitPlan):
        """A function that puts back what ``_adopt(plan)`` is about to
        change: the generator, the optimizer with its rate, and, when a new
        optimizer zeroes them, its state and step count. (Copying the whole
        training state instead took 0.12 s, and 0.45 GB of fresh memory, on
        every fit of the large workload.)"""
        rng_state = self._rng.bit_generator.state
        optimizer = self.optimizer
        rate = getattr(optimizer, "learning_rate", None)
        zeroes = plan.optimizer is not None and plan.optimizer is not optimizer
        opt_state = self._opt_state.copy() if zeroes else None
        counters = self._counters.copy()

        def undo():
            self._rng.bit_generator.state = rng_state
            self.optimizer = optimizer
            if rate is not None:
                optimizer.learning_rate = rate
            if opt_state is not None:
                self._opt_state[:] = opt_state
            self._counters[:] = counters

        return undo

    def _execute_fit(self, plan: _FitPlan) -> History:
        """Run a planned ``fit``. A failure before training starts (a
        callback that cannot begin) puts the whole training state back.
        Without callbacks only ``_adopt`` runs before training, so only what
        it changes is saved; a callback's ``on_train_begin`` may change
        anything, so then the whole state is."""
        if len(plan.callbacks):
            saved = self.get_training_state()

            def undo():
                self.set_training_state(saved)

        else:
            undo = self._undo_adopt(plan)
        try:
            self._adopt(plan)
            history = History(accuracy=self._empty_accuracy(), val_accuracy=self._empty_accuracy())
            plan.callbacks.on_train_begin(self)
        except BaseException:
            undo()
            raise
        # a user's plateau schedule starts afresh, but not for a fit that
        # failed before it began
        plan.schedule.reset()
        try:
            self._run_epochs(plan, history)
        finally:
            # closes log files and restores best weights, however training ended
            plan.callbacks.on_train_end()
        return history

    def _check_monitors(self, metrics, validated, builtin_only):
        """Refuse, before any training, a metric that no epoch's logs will
        hold: ``val_loss`` or ``val_accuracy`` without validation data, an
        accuracy of a regression, and, when every callback is one of the
        library's (``builtin_only``), any name fit does not log (a typo such
        as ``"los"``). A user's own callback may add names to the logs, so
        with one present other names are checked as the logs arrive."""
        logged = ["loss", "learning_rate"]
        if not self._regression:
            logged.append("accuracy")
        if validated:
            logged += ["val_loss", "val_accuracy"] if not self._regression else ["val_loss"]
        for metric in metrics:
            # fit's own names that it does not log here get their own words below
            if builtin_only and metric not in _FIT_METRICS:
                raise ValueError(
                    f"monitor={metric!r} is not a metric fit logs; it logs: {', '.join(logged)}"
                )
            if metric in ("val_loss", "val_accuracy") and not validated:
                raise ValueError(
                    f"monitor={metric!r} needs validation data: pass validation_data "
                    "or validation_split to fit"
                )
            if metric in ("accuracy", "val_accuracy") and self._regression:
                raise ValueError(f"monitor={metric!r}: a {self.loss} network logs no accuracy")

    def _run_epochs(self, plan: _FitPlan, history: History) -> None:
        X, Y, W = plan.X, plan.Y, plan.W
        epochs, batch_size, shuffle, verbose = (
            plan.epochs,
            plan.batch_size,
            plan.shuffle,
            plan.verbose,
        )
        schedule, validation, callback_list = plan.schedule, plan.validation, plan.callbacks
        # validation, callbacks and a plateau schedule need Python after every epoch
        per_epoch_python = bool(validation or len(callback_list) or not schedule.is_static)
        n = X.shape[0]
        split = self._step_split(batch_size)
        ws = self._training_workspace(batch_size, split)
        base_lr = self.optimizer.learning_rate
        done = 0
        stop = False
        while done < epochs and not stop:
            chunk = 1 if per_epoch_python else self._epochs_in_next_call(done, epochs, n, verbose)
            perms = self._permutations(chunk, n, batch_size, shuffle)
            rates = np.array([schedule.learning_rate(done + e, base_lr) for e in range(chunk)])
            epoch_loss, epoch_correct, failed = self._train_call(
                plan, ws, split, X, Y, W, perms, rates, batch_size
            )
            completed = chunk if failed < 0 else failed
            if per_epoch_python:
                for e in range(completed):
                    logs = self._epoch_logs(e, epoch_loss, epoch_correct, rates, n)
                    if validation:
                        _, logs["val_loss"], correct = self._evaluate(*validation)
                        if not self._regression:
                            logs["val_accuracy"] = correct / validation[0].shape[0]
                    history.append(logs)
                    self.history.append(logs)
                    self._report(verbose, done + e + 1, epochs, logs)
                    stop = bool(callback_list.on_epoch_end(done + e + 1, logs)) or stop
                    if not schedule.is_static:
                        base_lr = schedule.update(logs)
            else:
                # nothing runs between these epochs: record them in one go
                # (a dict per epoch took about 15 us, 1000 of them a fifth
                # of the tiny workload's fit)
                self._record_epochs(history, epoch_loss, epoch_correct, rates, completed, n)
                for e in range(completed):
                    if self._is_report_epoch(verbose, done + e + 1, epochs):
                        logs = self._epoch_logs(e, epoch_loss, epoch_correct, rates, n)
                        self._report(verbose, done + e + 1, epochs, logs)
            if failed >= 0:
                bad_epoch = done + completed + 1
                raise NonFiniteLossError(
                    f"loss became non-finite, or parameters left the dtype's safe range (their "
                    f"squares would overflow), in epoch {bad_epoch}/{epochs}; parameters "
                    f"were restored to the start of that epoch. Try a lower learning_rate "
                    f"(it was {float(rates[completed]):g}).",
                    epoch=bad_epoch,
                    history=history,
                )
            done += chunk

    @_one_fit_at_a_time
    def partial_fit(
        self,
        X,
        y,
        batch_size=None,
        sample_weight=None,
        shuffle=False,
        clip_norm=None,
        weight_penalty=0.0,
    ):
        """One pass over the given rows with the current optimizer and its state.

        For streaming and out-of-core data: rows are converted and checked
        in blocks of ``STREAM_BLOCK``, so a ``numpy.memmap`` is never loaded
        whole. Every block trains one epoch in one workspace, and
        ``history`` records one epoch per block. ``batch_size=None`` takes
        each block as one batch. A block whose rows all weigh 0 is skipped.
        ``shuffle``, ``clip_norm`` and ``weight_penalty`` act as in :meth:`fit`, within each
        block. :attr:`last_pass` then reports the pass's loss.

        Returns
        -------
        Network
            ``self``.

        Raises
        ------
        ValueError, TypeError
            For bad input, found in any block: the network is then as it was
            before the call, also when earlier blocks had trained.
        NonFiniteLossError
            If the loss of a block becomes NaN or inf; that block's start is
            restored, and the blocks before it stay trained.
        RuntimeError
            If this network is training in another thread at the same time.
        """
        plan = self._plan_stream(
            X, y, batch_size, sample_weight, shuffle, clip_norm, weight_penalty
        )
        saved = self.get_training_state()
        try:
            report = self._run_stream(plan)
        except (ValueError, TypeError):
            # bad input in a later block: as if the call had not happened. An
            # interrupt or a divergence keeps the blocks done before it, as
            # fit keeps the epochs done before one.
            self.set_training_state(saved)
            raise
        self._last_pass = report
        return self

    @property
    def last_pass(self) -> PassReport | None:
        """What the last :meth:`partial_fit` call trained: its loss (the mean
        of its blocks' losses weighted by their rows) and each block's loss
        and rows, as a :class:`PassReport`; ``None`` before any call."""
        return getattr(self, "_last_pass", None)  # a network pickled before it has none

    def _plan_stream(
        self, X, y, batch_size, sample_weight, shuffle, clip_norm, weight_penalty
    ) -> _StreamPlan:
        """Every check of a ``partial_fit`` call that needs no block of
        ``X`` (the blocks are checked as they are read), changing nothing."""
        if not hasattr(X, "shape") or len(X.shape) != 2:
            X = np.asarray(X)
        n = X.shape[0] if X.ndim == 2 else 0
        if n == 0:
            v.check_X(X, self.n_features, self.dtype)  # raises the usual message
        if not hasattr(y, "shape"):  # a list; a memmap stays a memmap
            y = np.asarray(y)
        if y.ndim == 0:
            raise ValueError(f"y must hold one label or target row per row of X; got {y!r}")
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} rows but X has {n}; they must match")
        if batch_size is not None:
            batch_size = v.check_count(batch_size, "batch_size", 1)
        shuffle = v.check_bool(shuffle, "shuffle")
        clip = 0.0 if clip_norm is None else v.check_positive_float(clip_norm, "clip_norm")
        penalty = v.check_non_negative_float(weight_penalty, "weight_penalty")
        self.optimizer.check()
        # the weights are one per row, small beside X: checked whole, up front
        weights = (
            None
            if sample_weight is None
            else v.check_sample_weight(sample_weight, n, self.dtype)[:, 0]
        )
        blocks = stream_blocks(n, batch_size)
        largest = blocks[0].stop - blocks[0].start  # every block but the last is as large
        batch_rows = largest if batch_size is None else min(batch_size, largest)
        return _StreamPlan(X, y, weights, blocks, batch_size, shuffle, clip, penalty, batch_rows)

    def _run_stream(self, plan: _StreamPlan) -> PassReport:
        """Train one epoch on each block of a planned ``partial_fit``, all
        in one workspace, and report the pass."""
        history = History(accuracy=self._empty_accuracy(), val_accuracy=self._empty_accuracy())
        rate = self.optimizer.learning_rate
        ws = None
        losses, sizes = [], []
        for rows in plan.blocks:
            weights = None if plan.weights is None else plan.weights[rows]
            if weights is not None and not weights.any():
                continue  # nothing to learn from these rows
            X, Y, W = self._check_Xy(plan.X[rows], plan.y[rows], weights)
            n = X.shape[0]
            batch_size = n if plan.batch_size is None else min(plan.batch_size, n)
            if ws is None:  # sized for the largest batch: every block's fits
                ws = self._training_workspace(plan.batch_rows, self._step_split(plan.batch_rows))
            # a smaller last block splits as it would on its own
            split = self._step_split(batch_size)
            perms = self._permutations(1, n, batch_size, plan.shuffle)
            rates = np.array([float(rate)])
            epoch_loss, epoch_correct, failed = self._train_call(
                plan, ws, split, X, Y, W, perms, rates, batch_size
            )
            if failed >= 0:
                block = len(losses) + 1
                raise NonFiniteLossError(
                    f"loss became non-finite, or parameters left the dtype's safe range (their "
                    f"squares would overflow), in block {block} of this partial_fit; parameters "
                    f"were restored to the start of that block and the blocks before it stay "
                    f"trained. Try a lower learning_rate (it was {float(rate):g}).",
                    epoch=block,
                    history=history,
                )
            self._record_epochs(history, epoch_loss, epoch_correct, rates, 1, n)
            losses.append(float(epoch_loss[0]))
            sizes.append(n)
        loss = float(np.average(losses, weights=sizes)) if losses else float("nan")
        return PassReport(loss, int(sum(sizes)), tuple(losses), tuple(sizes))

    def _step_split(self, batch_rows: int) -> _StepSplit:
        """How a step over batches of up to ``batch_rows`` rows splits across cores."""
        # the NumPy reference stays plain NumPy: whole batches, BLAS's own threads
        n_shards = _parallel.shard_count(batch_rows) if self.backend == "numba" else 1
        n_chunks = _parallel.update_chunks(self._layout.n_params, n_shards)
        input_chunks = _parallel.input_chunks(self._layout.layer_sizes, n_chunks)
        return _StepSplit(n_shards, n_chunks, input_chunks)

    def _training_workspace(self, batch_rows: int, split: _StepSplit) -> TrainingWorkspace:
        """The buffers of steps over batches of up to ``batch_rows`` rows split
        as ``split`` (or as any split of fewer rows): the last fit's, when it
        had the same shape. Fresh buffers cost their page faults on every
        fit (the large workload's are 0.6 GB: an epoch of 3.2 s took 5.3 s
        when another process had just freed its memory, measured)."""
        slots = max(split.n_shards, split.n_chunks)  # threads that sum biases at once
        key = (int(batch_rows), slots, split.input_chunks)
        cached = self.__dict__.get("_workspace")
        if cached is None or cached[0] != key:
            cached = (key, TrainingWorkspace(self._layout, batch_rows, self.dtype, *key[1:]))
            self._workspace = cached  # fits of one network never overlap (_fit_lock)
        return cached[1]

    def _permutations(self, n_epochs: int, n: int, batch_size: int, shuffle: bool) -> np.ndarray:
        """Each epoch's row order, ``(n_epochs, n)``: drawn from the generator
        with ``shuffle``, else the rows in order."""
        perms = np.empty((n_epochs, n), dtype=np.int64)
        if shuffle and n > batch_size:
            for e in range(n_epochs):
                perms[e] = self._rng.permutation(n)
        else:
            # one batch holds every row, so the order cannot change the
            # step: no permutation is drawn (1000 of 400 rows took 8.5
            # ms, a tenth of the tiny workload's whole fit)
            perms[:] = np.arange(n)
        return perms

    def _train_call(self, plan, ws, split, X, Y, W, perms, rates, batch_size) -> tuple:
        """One compiled call: an epoch per row of ``perms`` over ``(X, Y, W)``
        at ``rates``, in the workspace ``ws``, with ``plan.clip``. Returns each
        epoch's loss (batch losses weighted by rows) and correct rows, and -1 or the index of the
        epoch whose loss became non-finite (whose start the kernel restored)."""
        n_shards, n_chunks, input_chunks = split
        epoch_loss = np.zeros(perms.shape[0], dtype=np.float64)
        epoch_correct = np.zeros(perms.shape[0], dtype=np.int64)
        hold_blas = n_shards > 1
        with (
            _warmup.announcing("training", self.dtype),
            _parallel.blas_single_threaded(hold_blas),
        ):
            # the loop's kernels first: on an empty cache the notice then
            # comes before anything compiles
            phases = self._phases(split, plan.clip)
            failed = self._train.train_epochs(
                self._params,
                self._opt_state,
                self._counters,
                ws.arena,
                ws.bounds,
                ws.grads,
                ws.backup,
                X,
                Y,
                W,
                perms,
                rates.astype(self.dtype),
                epoch_loss,
                epoch_correct,
                batch_size,
                n_shards,
                n_chunks,
                input_chunks,
                self._model(),
                self._ops(bool((self._dropout > 0).any()), self.optimizer.code),
                self.optimizer.code,
                self._hyperparameters(plan.penalty),
                plan.clip,
                self._dropout_seed,
                phases,
            )
        return epoch_loss, epoch_correct, int(failed)

    def _hyperparameters(self, penalty: float) -> np.ndarray:
        """The optimizer's hyperparameter vector, with the weight penalty."""
        hyper = self.optimizer.hyperparameters()
        hyper[HYPER_PENALTY] = penalty
        return hyper

    @staticmethod
    def _epochs_in_next_call(done, epochs, n, verbose):
        """How many epochs the next compiled call runs: up to the next line to
        print, and few enough that the permutations stay small."""
        chunk = epochs - done
        if verbose:
            next_report = min(epochs, (done // verbose + 1) * verbose)
            chunk = next_report - done
        return max(1, min(chunk, MAX_PERMUTATION_ENTRIES // n))

    def _epoch_logs(self, e, epoch_loss, epoch_correct, rates, n):
        """Epoch ``e`` of a compiled call's results, as callbacks see it."""
        logs = {"loss": float(epoch_loss[e]), "learning_rate": float(rates[e])}
        if not self._regression:
            logs["accuracy"] = float(epoch_correct[e]) / n
        return logs

    def _record_epochs(self, history, epoch_loss, epoch_correct, rates, completed, n):
        """Append the first ``completed`` epochs of a compiled call to both
        histories; the same values ``_epoch_logs`` gives one at a time."""
        accuracy = None if self._regression else (epoch_correct[:completed] / n).tolist()
        chunk = History(
            loss=epoch_loss[:completed].tolist(),
            accuracy=accuracy,
            learning_rate=rates[:completed].tolist(),
        )
        history.extend(chunk)
        self.history.extend(chunk)

    @staticmethod
    def _is_report_epoch(verbose, epoch, epochs):
        return bool(verbose) and (epoch % verbose == 0 or epoch == epochs)

    @classmethod
    def _report(cls, verbose, epoch, epochs, logs):
        if not cls._is_report_epoch(verbose, epoch, epochs):
            return
        line = f"Epoch {epoch}/{epochs} - Loss: {logs['loss']:.4f}"
        labels = (
            ("accuracy", "Accuracy"),
            ("val_loss", "Val Loss"),
            ("val_accuracy", "Val Accuracy"),
        )
        for key, label in labels:
            if key in logs:
                line += f" - {label}: {logs[key]:.4f}"
        print(line, flush=True)
