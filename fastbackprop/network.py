"""The public ``Network``: validates input, owns buffers, dispatches to a
backend. The math lives in ``kernels/`` (Numba) and ``reference/`` (NumPy)."""

from __future__ import annotations

import numpy as np

from . import _validation as v
from ._codes import ACTIVATION_CODES, LOSS_CODES, SIGMOID
from ._init import default_init, draw_weights
from ._layout import Layout, Workspace
from .history import History, NonFiniteLossError

#: rows per chunk when evaluating a whole data set (bounds workspace memory)
EVAL_CHUNK = 2048
#: most permutation entries generated ahead for one compiled call of epochs
MAX_PERMUTATION_ENTRIES = 1 << 22
DEFAULT_LEARNING_RATE = 0.01


def _backend_modules(backend: str):
    if backend == "numba":
        from .kernels import optim, train
    else:
        from .reference import optim, train
    return train, optim


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
    output : {None, "softmax", "sigmoid", "identity"}, default None
        Output activation; ``None`` picks the loss's natural one. ``mse``
        also accepts ``"sigmoid"``.
    loss : {"cross_entropy", "binary_cross_entropy", "mse"}
        PyTorch's definitions: mean over samples of -log softmax; mean over
        all elements of BCE (from logits); mean over all elements of the
        squared error.
    init : {None, "he", "xavier", "glorot_uniform", "lecun", "small"}
        Weight initialisation; ``None`` means ``he`` before relu-family
        activations and ``xavier`` otherwise. Biases start at zero.
    dtype : {"float64", "float32"}
        Precision of parameters and computation, end to end.
    seed : int or None
        Seeds initialisation and shuffling.
    backend : {"numba", "numpy"}
        ``numba`` runs the compiled kernels; ``numpy`` the reference.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbackprop import Network
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> net = Network([2, 4, 2], activation="relu", seed=0)
    >>> history = net.fit(X, [0, 1, 1, 0], epochs=500, learning_rate=0.5)
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
    ):
        sizes = v.check_layer_sizes(layer_sizes)
        activations = v.check_activation(activation, len(sizes) - 2)
        loss, output = v.check_loss_and_output(loss, output, sizes[-1])
        init = v.check_init(init)
        dtype = v.check_dtype(dtype)
        seed = v.check_seed(seed)
        backend = v.check_name(backend, v.BACKENDS, "backend")

        self.layer_sizes = sizes
        self.activations = activations
        self.loss = loss
        self.output = output
        self.init = init
        self.dtype = dtype
        self.seed = seed
        self.backend = backend
        self._layout = Layout(sizes)
        self._act_codes = np.array([ACTIVATION_CODES[a] for a in activations], dtype=np.int64)
        self._loss_code = LOSS_CODES[loss]
        self._output_code = SIGMOID if output == "sigmoid" else 0
        self._train, self._optim = _backend_modules(backend)
        self._rng = np.random.default_rng(seed)
        self._params = np.zeros(self._layout.n_params, dtype=dtype)
        self._initialise()

    # ------------------------------------------------------------------ state
    def _initialise(self):
        after = list(self.activations) + [self.output]
        for layer, W in enumerate(self.weights):
            scheme = self.init or default_init(after[layer])
            W[...] = draw_weights(self._rng, scheme, *W.shape)

    @property
    def weights(self) -> list:
        """Per-layer ``(n_in, n_out)`` weight arrays, live views of the parameters."""
        return self._layout.weight_views(self._params)

    @property
    def biases(self) -> list:
        """Per-layer ``(n_out,)`` bias arrays, live views of the parameters."""
        return self._layout.bias_views(self._params)

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

    # ---------------------------------------------------------------- helpers
    def _check_Xy(self, X, y):
        X = v.check_X(X, self.n_features, self.dtype)
        Y = v.check_targets(y, X.shape[0], self.loss, self.n_outputs, self.dtype)
        return X, Y

    def _layout_args(self):
        lay = self._layout
        return (lay.layer_sizes, lay.w_offsets, lay.b_offsets, lay.col_offsets, self._act_codes)

    def _loss_denominator(self, n_rows: int) -> int:
        return n_rows if self.loss == "cross_entropy" else n_rows * self.n_outputs

    def _evaluate(self, X, Y=None):
        """Outputs of ``X``; with ``Y``, also the mean loss and correct count."""
        n = X.shape[0]
        ws = Workspace(self._layout, min(n, EVAL_CHUNK), self.dtype)
        out = np.empty((n, self.n_outputs), dtype=self.dtype)
        with_loss = Y is not None
        targets = Y if with_loss else out
        loss_sum, correct = self._train.evaluate(
            out,
            X,
            targets,
            ws.x_batch,
            ws.pre,
            ws.acts,
            ws.row_loss,
            self._params,
            *self._layout_args(),
            self._loss_code,
            self._output_code,
            with_loss,
        )
        return out, loss_sum / self._loss_denominator(n), int(correct)

    def _batch_gradients(self, X, Y):
        ws = Workspace(self._layout, X.shape[0], self.dtype)
        loss = self._train.batch_gradients(
            ws.x_batch,
            ws.y_batch,
            ws.pre,
            ws.acts,
            ws.delta_a,
            ws.delta_b,
            ws.row_loss,
            ws.grads,
            X,
            Y,
            self._params,
            *self._layout_args(),
            self._loss_code,
            self._output_code,
        )
        return float(loss), ws.grads

    # ------------------------------------------------------------- inference
    def forward(self, X) -> np.ndarray:
        """Output activations ``(n, n_outputs)`` for ``X`` ``(n, n_features)``."""
        X = v.check_X(X, self.n_features, self.dtype)
        return self._evaluate(X)[0]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax rows for ``cross_entropy``, the sigmoid
        outputs for ``binary_cross_entropy``."""
        if self.loss == "mse":
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

    def compute_loss(self, X, y) -> float:
        """Mean loss over the rows of ``X`` against targets ``y``."""
        X, Y = self._check_Xy(X, y)
        return float(self._evaluate(X, Y)[1])

    def score(self, X, y) -> float:
        """Accuracy for the classification losses; R^2 (averaged over
        outputs) for mse."""
        X, Y = self._check_Xy(X, y)
        out, _, correct = self._evaluate(X, Y)
        if self.loss != "mse":
            return correct / X.shape[0]
        residual = ((Y - out) ** 2).sum(axis=0, dtype=np.float64)
        total = ((Y - Y.mean(axis=0, dtype=np.float64)) ** 2).sum(axis=0, dtype=np.float64)
        safe = total > 0
        r2 = np.where(
            safe, 1 - residual / np.where(safe, total, 1), np.where(residual == 0, 1.0, 0.0)
        )
        return float(r2.mean())

    # -------------------------------------------------------------- training
    def gradients(self, X, y):
        """Gradients of the mean loss, shaped like the parameters.

        Returns
        -------
        grad_weights, grad_biases : list of ndarray
            New arrays; the parameters are left unchanged.
        """
        X, Y = self._check_Xy(X, y)
        _, grads = self._batch_gradients(X, Y)
        return self._layout.weight_views(grads), self._layout.bias_views(grads)

    def train_step(self, X, y, learning_rate) -> float:
        """One gradient-descent step on ``(X, y)``; returns the loss before it."""
        X, Y = self._check_Xy(X, y)
        lr = v.check_positive_float(learning_rate, "learning_rate")
        loss, grads = self._batch_gradients(X, Y)
        if not np.isfinite(loss):
            raise NonFiniteLossError(
                f"loss is {loss} before the step; no step taken. The parameters or "
                "data have diverged; try a lower learning_rate.",
                epoch=0,
            )
        self._optim.sgd_update(self._params, grads, self.dtype.type(lr))
        return loss

    def fit(self, X, y, epochs=100, batch_size=None, learning_rate=None, shuffle=True, verbose=0):
        """Train with minibatch SGD.

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
            Step size; ``None`` means 0.01.
        shuffle : bool, default True
            Visit the rows in a fresh random order every epoch.
        verbose : int, default 0
            Print a line every ``verbose`` epochs and at the last, in the form
            ``Epoch 100/1000 - Loss: 0.0972 - Accuracy: 0.9900``.

        Returns
        -------
        History

        Raises
        ------
        NonFiniteLossError
            (a ``FloatingPointError``) if the loss becomes NaN or inf; the
            parameters are restored to the start of the failing epoch.
        """
        X, Y = self._check_Xy(X, y)
        epochs = v.check_count(epochs, "epochs", 0)
        n = X.shape[0]
        batch_size = n if batch_size is None else v.check_count(batch_size, "batch_size", 1)
        batch_size = min(batch_size, n)
        lr = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
        lr = v.check_positive_float(lr, "learning_rate")
        shuffle = v.check_bool(shuffle, "shuffle")
        verbose = v.check_count(verbose, "verbose", 0)

        classification = self.loss != "mse"
        history = History(accuracy=[] if classification else None)
        ws = Workspace(self._layout, batch_size, self.dtype)
        lr_typed = self.dtype.type(lr)
        done = 0
        while done < epochs:
            chunk = self._epochs_in_next_call(done, epochs, n, verbose)
            perms = np.empty((chunk, n), dtype=np.int64)
            for e in range(chunk):
                perms[e] = self._rng.permutation(n) if shuffle else np.arange(n)
            epoch_loss = np.zeros(chunk, dtype=np.float64)
            epoch_correct = np.zeros(chunk, dtype=np.int64)
            failed = self._train.train_epochs(
                self._params,
                ws.x_batch,
                ws.y_batch,
                ws.pre,
                ws.acts,
                ws.delta_a,
                ws.delta_b,
                ws.row_loss,
                ws.grads,
                ws.backup,
                epoch_loss,
                epoch_correct,
                X,
                Y,
                perms,
                batch_size,
                lr_typed,
                *self._layout_args(),
                self._loss_code,
                self._output_code,
            )
            completed = chunk if failed < 0 else int(failed)
            for e in range(completed):
                history.loss.append(float(epoch_loss[e]))
                if classification:
                    history.accuracy.append(float(epoch_correct[e]) / n)
                self._report(verbose, done + e + 1, epochs, history)
            if failed >= 0:
                bad_epoch = done + completed + 1
                raise NonFiniteLossError(
                    f"loss became non-finite in epoch {bad_epoch}/{epochs}; parameters "
                    f"were restored to the start of that epoch. Try a lower learning_rate "
                    f"(it was {lr:g}).",
                    epoch=bad_epoch,
                    history=history,
                )
            done += chunk
        return history

    @staticmethod
    def _epochs_in_next_call(done, epochs, n, verbose):
        """How many epochs the next compiled call runs: up to the next line to
        print, and few enough that the permutations stay small."""
        chunk = epochs - done
        if verbose:
            next_report = min(epochs, (done // verbose + 1) * verbose)
            chunk = next_report - done
        return max(1, min(chunk, MAX_PERMUTATION_ENTRIES // n))

    def _report(self, verbose, epoch, epochs, history):
        if not verbose or (epoch % verbose and epoch != epochs):
            return
        line = f"Epoch {epoch}/{epochs} - Loss: {history.loss[-1]:.4f}"
        if history.accuracy is not None:
            line += f" - Accuracy: {history.accuracy[-1]:.4f}"
        print(line, flush=True)
