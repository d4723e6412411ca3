"""Peer engines for ``fastbackprop.bench``: the same training, other libraries.

Each builder takes a :class:`~fastbackprop.workloads.Workload` and its data
(from ``make_data``) and returns a zero-argument callable that runs ONE unit
of training and returns that unit's last-epoch mean batch loss (a Python
float, so every engine's result is fully computed when the call returns).

A unit is ``epochs`` epochs of minibatch training over all rows, each epoch
in a fresh random order: one epoch for the standard workloads, the whole fit
(``workload.epochs`` full-batch epochs) for ``tiny``. Every peer trains the
same network: same layer sizes and activation, the *same initial weights*
(copied from a fastbackprop ``Network`` with seed 0, so the init scheme
matches by construction), same dtype, same loss (mean softmax cross-entropy,
or mean sigmoid BCE from logits) and the workload's optimizer (plain SGD, or
Adam with torch's defaults) at ``workload.learning_rate``.

Each peer runs in its fastest honest form: a full-batch epoch draws no
permutation and gathers no rows in any engine (the order of the rows cannot
change a step over all of them), JAX compiles the whole unit (``jit`` of a
``lax.scan``), torch runs eager with its own thread count set to the cores.

The optional peers (torch, jax, scikit-learn) are imported lazily; their
builders return ``None`` when the library is not installed.
"""

from __future__ import annotations

import time

import numpy as np

from .network import Network
from .optim import make_optimizer
from .workloads import Workload

__all__ = [
    "numpy_peer",
    "fastbackprop_peer",
    "torch_peer",
    "jax_peer",
    "sklearn_peer",
    "sgemm_peak",
    "initial_parameters",
    "PEERS",
]


def _dtype(workload: Workload, X) -> str:
    return np.dtype(X.dtype).name if X.dtype.kind == "f" else workload.dtype


def _epochs(workload: Workload, epochs: int | None) -> int:
    return workload.epochs if epochs is None else int(epochs)


def _batch_size(workload: Workload, n: int) -> int:
    return min(workload.batch_size, n)


def initial_parameters(workload: Workload, dtype: str) -> list:
    """The seed-0 initial ``(W, b)`` pairs of the workload's network.

    Parameters
    ----------
    workload : Workload
    dtype : str
        ``"float32"`` or ``"float64"``.

    Returns
    -------
    list of (ndarray, ndarray)
        ``W`` is ``(n_in, n_out)``, ``b`` is ``(n_out,)``; fresh copies.
    """
    net = Network(**workload.network_kwargs(backend="numpy", dtype=dtype))
    return [(W.copy(), b.copy()) for W, b in zip(net.weights, net.biases)]


# ---------------------------------------------------------------- fastbackprop
def _network_unit(workload, X, y, backend, epochs, optimizer=None):
    net = Network(**workload.network_kwargs(backend=backend, dtype=_dtype(workload, X)))
    name = optimizer or workload.optimizer
    rate = workload.learning_rate if name == workload.optimizer else None  # the peers' rate
    fit_args = {
        "epochs": _epochs(workload, epochs),
        "batch_size": _batch_size(workload, X.shape[0]),
        "shuffle": True,
        # one instance for every unit: its state (Adam's moments and step)
        # carries on from unit to unit, as in the other engines
        "optimizer": make_optimizer(name, rate),
    }

    def unit():
        return net.fit(X, y, **fit_args).loss[-1]

    return unit


def numpy_peer(workload: Workload, X, y, epochs: int | None = None):
    """fastbackprop's NumPy reference backend (``backend="numpy"``).

    Parameters
    ----------
    workload : Workload
    X, y : ndarray
        Data from ``make_data``; ``X.dtype`` sets the network's dtype.
    epochs : int, optional
        Epochs per unit; default ``workload.epochs``.

    Returns
    -------
    callable
        Runs one unit, returns the last epoch's mean loss.
    """
    return _network_unit(workload, X, y, "numpy", epochs)


def fastbackprop_peer(workload: Workload, X, y, epochs: int | None = None, optimizer=None):
    """fastbackprop's Numba backend, compiled by one small fit first.

    Parameters and return value as :func:`numpy_peer`, plus

    optimizer : str, optional
        An optimizer name for ``fit`` (default: the workload's). Another
        than the workload's trains at that optimizer's default learning
        rate (the bench times, it does not tune).
    """
    # Warm on a separate network so compile time stays out of every timing
    # and the timed network starts from the seed-0 weights like the peers.
    n_warm = min(X.shape[0], 2 * workload.batch_size)
    _network_unit(workload, X[:n_warm], y[:n_warm], "numba", 1, optimizer)()
    return _network_unit(workload, X, y, "numba", epochs, optimizer)


# ----------------------------------------------------------------------- torch
def torch_peer(workload: Workload, X, y, epochs: int | None = None):
    """PyTorch eager: ``nn.Sequential`` of Linear + ReLU/Tanh, ``optim.SGD``.

    Parameters and return value as :func:`numpy_peer`; returns ``None`` when
    torch is not installed.
    """
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    dtype = _dtype(workload, X)
    model = _torch_model(torch, workload, dtype)
    rule = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[workload.optimizer]
    optimizer = rule(model.parameters(), lr=workload.learning_rate)
    if workload.loss == "cross_entropy":
        loss_fn = torch.nn.CrossEntropyLoss()
        targets = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
    else:
        loss_fn = torch.nn.BCEWithLogitsLoss()
        targets = torch.from_numpy(np.ascontiguousarray(y, dtype=dtype).reshape(len(y), -1))
    inputs = torch.from_numpy(np.ascontiguousarray(X))
    n, batch_size = X.shape[0], _batch_size(workload, X.shape[0])
    n_epochs = _epochs(workload, epochs)
    generator = torch.Generator().manual_seed(0)

    def epoch():
        full_batch = batch_size >= n  # no order to draw, no rows to gather
        perm = None if full_batch else torch.randperm(n, generator=generator)
        total = torch.zeros((), dtype=inputs.dtype)
        n_batches = 0
        for start in range(0, n, batch_size):
            optimizer.zero_grad(set_to_none=True)
            if full_batch:
                loss = loss_fn(model(inputs), targets)
            else:
                index = perm[start : start + batch_size]
                loss = loss_fn(model(inputs[index]), targets[index])
            loss.backward()
            optimizer.step()
            total += loss.detach()  # stays a tensor: no sync per batch
            n_batches += 1
        return float(total) / n_batches

    def unit():
        for _ in range(n_epochs):
            last = epoch()
        return last

    return unit


def _torch_model(torch, workload, dtype):
    layers = []
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[workload.activation]
    params = initial_parameters(workload, dtype)
    for i, (W, b) in enumerate(params):
        linear = torch.nn.Linear(*W.shape, dtype=getattr(torch, dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))  # torch stores (out, in)
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(params) - 1:
            layers.append(act())
    return torch.nn.Sequential(*layers)


# ------------------------------------------------------------------------- jax
def jax_peer(workload: Workload, X, y, epochs: int | None = None):
    """JAX: the whole unit is one ``jax.jit`` call, compiled here.

    Epochs are a ``lax.scan``; inside each, full minibatches are a
    ``lax.scan`` over index batches of a ``jax.random.permutation``, and the
    ragged last batch (``n % batch_size`` rows) is one more step with its own
    static shape, so every row is used exactly as fastbackprop does (no
    dropping, no padding that would change the mean loss). A full-batch
    epoch (``tiny``) is one step on the whole arrays. Adam is torch's
    algorithm, written out (JAX has no optimizer of its own).

    Parameters and return value as :func:`numpy_peer`; returns ``None`` when
    jax is not installed.
    """
    try:
        import jax
    except ImportError:
        return None
    # float64 needs x64 mode; arrays below carry explicit dtypes, so float32
    # runs stay float32 with it on.
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    dtype = _dtype(workload, X)
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in initial_parameters(workload, dtype)]
    inputs = jnp.asarray(X)
    if workload.loss == "cross_entropy":
        targets = jnp.asarray(y, dtype=jnp.int32)
    else:
        targets = jnp.asarray(np.asarray(y, dtype=dtype).reshape(len(y), -1))
    run = _jax_unit_fn(jax, jnp, workload, X.shape[0], _epochs(workload, epochs))
    key = jax.random.PRNGKey(0)
    if workload.optimizer == "adam":  # (step, first moments, second moments)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        params = (params, (jnp.zeros((), jnp.int32), zeros, zeros))
    compiled = jax.jit(run).lower(params, key, inputs, targets).compile()
    state = {"params": params, "key": key}

    def unit():
        state["key"], sub = jax.random.split(state["key"])
        state["params"], loss = compiled(state["params"], sub, inputs, targets)
        return float(loss.block_until_ready())

    return unit


def _jax_unit_fn(jax, jnp, workload, n, n_epochs):
    """Pure function ``(params, key, X, Y) -> (params, last epoch's mean loss)``."""
    batch_size = min(workload.batch_size, n)
    n_full, tail = divmod(n, batch_size)
    act = {"relu": jax.nn.relu, "tanh": jnp.tanh}[workload.activation]
    lr = workload.learning_rate

    def forward(params, x):
        for W, b in params[:-1]:
            x = act(x @ W + b)
        W, b = params[-1]
        return x @ W + b

    def loss_fn(params, x, t):
        z = forward(params, x)
        if workload.loss == "cross_entropy":
            logp = jax.nn.log_softmax(z)
            return -jnp.mean(jnp.take_along_axis(logp, t[:, None], axis=1))
        return jnp.mean(jax.nn.softplus(z) - z * t)  # BCE from logits

    grad_fn = jax.value_and_grad(loss_fn)
    tree_map = jax.tree_util.tree_map

    def sgd(params, grads):
        return tree_map(lambda p, g: p - lr * g, params, grads)

    def adam(state, grads):
        # torch.optim.Adam: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
        params, (t, m, v) = state
        t = t + 1
        m = tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        bc1, bc2 = 1 - 0.9**t, 1 - 0.999**t  # float64 scalars, as torch's

        def update(p, m, v):
            step_size = (lr / bc1).astype(p.dtype)  # then applied in p's dtype
            root = jnp.sqrt(bc2).astype(p.dtype)
            return p - step_size * m / (jnp.sqrt(v) / root + 1e-8)

        return tree_map(update, params, m, v), (t, m, v)

    def step_on(state, x, t):
        if workload.optimizer == "adam":
            loss, grads = grad_fn(state[0], x, t)
            return adam(state, grads), loss
        loss, grads = grad_fn(state, x, t)
        return sgd(state, grads), loss

    def step(params, X, Y, index):
        return step_on(params, X[index], Y[index])

    def epoch(params, key, X, Y):
        if batch_size >= n:  # full batch: no order to draw, no rows to gather
            return step_on(params, X, Y)
        perm = jax.random.permutation(key, n)
        batches = perm[: n_full * batch_size].reshape(n_full, batch_size)
        params, losses = jax.lax.scan(lambda p, idx: step(p, X, Y, idx), params, batches)
        total = losses.sum()
        if tail:
            params, loss = step(params, X, Y, perm[n_full * batch_size :])
            total = total + loss
        return params, total / (n_full + (1 if tail else 0))

    def run(params, key, X, Y):
        keys = jax.random.split(key, n_epochs)
        params, losses = jax.lax.scan(lambda p, k: epoch(p, k, X, Y), params, keys)
        return params, losses[-1]

    return run


# ------------------------------------------------------------------------ peak
# ---------------------------------------------------------------- scikit-learn
def sklearn_peer(workload: Workload, X, y, epochs: int | None = None):
    """scikit-learn's ``MLPClassifier``, solver ``"sgd"`` without momentum
    (or ``"adam"`` with its defaults, which are torch's), ``alpha=0``, at the
    workload's rate, with the same initial weights; one warm-started ``fit``
    per unit (SGD), or one ``partial_fit`` per epoch (Adam, whose state
    ``fit`` would restart); no shuffling of a full batch.

    Parameters and return value as :func:`numpy_peer`; returns ``None`` when
    scikit-learn is not installed.
    """
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    dtype = _dtype(workload, X)
    n_epochs = _epochs(workload, epochs)
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(workload.layer_sizes[1:-1]),
        activation=workload.activation,  # tanh or relu: the same names there
        solver=workload.optimizer,
        alpha=0.0,
        batch_size=_batch_size(workload, X.shape[0]),
        learning_rate="constant",
        learning_rate_init=workload.learning_rate,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=1,
        shuffle=workload.batch_size < X.shape[0],
        # never stop early: every unit runs all its epochs, like the others
        n_iter_no_change=10**9,
        random_state=0,
        warm_start=True,
    )
    inputs = np.ascontiguousarray(X, dtype=dtype)
    labels = np.asarray(y).reshape(len(y), -1)[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(inputs, labels)  # sets every fitted attribute (one epoch)
    for layer, (W, b) in enumerate(initial_parameters(workload, dtype)):
        clf.coefs_[layer][...] = W  # the peers' shared starting point
        clf.intercepts_[layer][...] = b
    # and a fresh optimizer from there: the next partial_fit makes one when
    # there is none (scikit-learn keeps it in a private attribute)
    del clf._optimizer

    clf.set_params(max_iter=n_epochs)
    stateless = workload.optimizer == "sgd"  # no momentum: nothing to carry over

    def unit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if stateless:  # one fit of every epoch: partial_fit's per-call
                clf.fit(inputs, labels)  # checks cost tiny 1.3 s instead of 0.17
            else:  # partial_fit, an epoch each: fit would start Adam afresh
                for _ in range(n_epochs):
                    clf.partial_fit(inputs, labels)
        return float(clf.loss_curve_[-1])

    return unit


def sgemm_peak(dtype="float32", n: int = 2048, repeats: int = 5) -> float:
    """Whole-machine GEMM throughput through NumPy's BLAS.

    Parameters
    ----------
    dtype : {"float32", "float64"}
    n : int, default 2048
        Side of the square matrices.
    repeats : int, default 5
        Best of this many products.

    Returns
    -------
    float
        GFLOP/s of the fastest ``(n, n) @ (n, n)`` product (``2 n^3`` flops).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=out)  # first call spins up the BLAS threads
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


#: name -> builder, in the order the bench prints them
PEERS = {
    "fastbackprop": fastbackprop_peer,
    "numpy": numpy_peer,
    "torch": torch_peer,
    "jax": jax_peer,
    "sklearn": sklearn_peer,
}
