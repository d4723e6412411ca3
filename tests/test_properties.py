"""Properties over random architectures, data and settings, through the
public API only: the Numba backend agrees with the NumPy reference, training
gives the same bits on 1 and 2 threads, and save/load round-trips exactly.

Batches of ``SHARDED_BATCH`` rows or more are split into row shards on the
Numba backend (``fastbackprop._parallel.shard_count``), so the strategies
draw batch sizes on both sides of it.
"""

import dataclasses
import pathlib
import tempfile
from dataclasses import dataclass

import numba
import numpy as np
import pytest
from conftest import ACTIVATIONS, TOLERANCE, make_targets
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import fastbackprop
from fastbackprop import Network

LOSSES = ["cross_entropy", "binary_cross_entropy", "mse"]
DTYPES = ["float32", "float64"]
#: the smallest batch the Numba backend splits into two shards (two rows
#: of ``_parallel.MIN_SHARD_ROWS`` each)
SHARDED_BATCH = 32
EPOCHS = 3
LEARNING_RATES = {"sgd": 0.05, "adam": 0.01, "rmsprop": 0.002}

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Problem:
    sizes: tuple
    activation: object  # one name, or one per hidden layer
    loss: str
    dtype: str
    dropout: tuple
    n_rows: int
    batch_size: int | None  # None: full batch
    weighted: bool
    seed: int

    def network(self, backend):
        return Network(
            list(self.sizes),
            activation=self.activation,
            loss=self.loss,
            dtype=self.dtype,
            dropout=list(self.dropout),
            seed=self.seed,
            backend=backend,
        )

    def data(self):
        """X, y and sample weights (None unless ``weighted``): some rows weigh
        0, so whole batches of them may take no step, but never all rows."""
        rng = np.random.default_rng(self.seed)
        X = rng.standard_normal((self.n_rows, self.sizes[0]))
        y = make_targets(self.loss, self.n_rows, self.sizes[-1], rng)
        if not self.weighted:
            return X, y, None
        w = rng.choice([0.0, 0.0, 0.5, 1.0, 3.0], size=self.n_rows)
        w[0] = 1.0
        return X, y, w

    def fit(self, net, epochs=EPOCHS, **kwargs):
        X, y, w = self.data()
        return net.fit(X, y, epochs=epochs, batch_size=self.batch_size, sample_weight=w, **kwargs)


@st.composite
def problems(draw):
    n_layers = draw(st.integers(2, 4))
    n_hidden = n_layers - 2
    loss = draw(st.sampled_from(LOSSES))
    sizes = draw(st.lists(st.integers(1, 40), min_size=n_layers, max_size=n_layers))
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)  # softmax needs two classes
    names = st.sampled_from(ACTIVATIONS)
    per_layer = st.lists(names, min_size=n_hidden, max_size=n_hidden).map(tuple)
    activation = draw(st.one_of(names, per_layer) if n_hidden else names)
    rates = st.sampled_from([0.0, 0.0, 0.2, 0.5])
    dropout = draw(st.lists(rates, min_size=n_hidden, max_size=n_hidden).map(tuple))
    # below SHARDED_BATCH one shard, from it two (on two or more cores); a
    # last batch of fewer rows when batch_size does not divide n_rows
    batch = draw(st.one_of(st.integers(1, SHARDED_BATCH - 1), st.integers(SHARDED_BATCH, 80)))
    if draw(st.booleans()):
        n_rows, batch_size = batch, None  # full batch
    else:
        n_rows, batch_size = draw(st.integers(batch, min(3 * batch, 160))), batch
    return Problem(
        sizes=tuple(sizes),
        activation=activation,
        loss=loss,
        dtype=draw(st.sampled_from(DTYPES)),
        dropout=dropout,
        n_rows=n_rows,
        batch_size=batch_size,
        weighted=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def _parameters(net):
    return [a.copy() for a in net.weights + net.biases]


def _assert_same_bits(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def _assert_moved(before, after):
    # training changed something, so the comparisons next to it can fail
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


# A wide network: over MIN_CHUNK_PARAMS parameters, so a sharded batch also
# splits its gradients and update into chunks, and a first weight matrix of
# MIN_SPLIT_INPUT_WEIGHTS weights, which the chunks multiply by input column.
WIDE = Problem(
    sizes=(512, 128, 3),
    activation="tanh",
    loss="cross_entropy",
    dtype="float32",
    dropout=(0.2,),
    n_rows=150,
    batch_size=64,
    weighted=True,
    seed=11,
)


def test_the_strategies_reach_sharded_batches():
    from fastbackprop import _parallel

    cores = numba.config.NUMBA_NUM_THREADS
    assert _parallel.shard_count(SHARDED_BATCH - 1) == 1
    assert _parallel.shard_count(SHARDED_BATCH) == min(cores, 2)
    n_params = Network(list(WIDE.sizes)).count_parameters()
    chunks = _parallel.update_chunks(n_params, _parallel.shard_count(WIDE.batch_size))
    if cores >= 2:
        assert chunks >= 2 and _parallel.input_chunks(WIDE.sizes, chunks) == chunks


# ---------------------------------------------------------- backend parity
@PROPERTY
@given(problems())
def test_numba_gradients_match_the_numpy_reference(problem):
    fast, reference = problem.network("numba"), problem.network("numpy")
    # the same seed draws the same initial parameters on both backends
    _assert_same_bits(_parameters(fast), _parameters(reference))
    X, y, w = problem.data()
    rtol, atol = TOLERANCE[problem.dtype]
    out = fast.forward(X)
    assert out.dtype == np.dtype(problem.dtype)
    np.testing.assert_allclose(out, reference.forward(X), rtol=rtol, atol=atol)
    np.testing.assert_allclose(
        fast.compute_loss(X, y, sample_weight=w),
        reference.compute_loss(X, y, sample_weight=w),
        rtol=rtol,
        atol=atol,
    )
    gw_fast, gb_fast = fast.gradients(X, y, sample_weight=w)
    gw_ref, gb_ref = reference.gradients(X, y, sample_weight=w)
    assert [g.shape for g in gw_fast] == [W.shape for W in fast.weights]
    assert [g.shape for g in gb_fast] == [b.shape for b in fast.biases]
    for a, b in zip(gw_fast + gb_fast, gw_ref + gb_ref, strict=True):
        assert a.dtype == np.dtype(problem.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    # gradients() leaves the parameters alone
    _assert_same_bits(_parameters(fast), _parameters(reference))


@PROPERTY
@given(problems())
def test_numba_training_matches_the_numpy_reference(problem):
    fast, reference = problem.network("numba"), problem.network("numpy")
    before = _parameters(fast)
    rate = LEARNING_RATES["sgd"]
    for net in (fast, reference):
        problem.fit(net, learning_rate=rate)
        # a new optimizer starts its own step count from 0; the dropout
        # masks go on from the network's global step
        problem.fit(net, epochs=1, optimizer="sgd", learning_rate=rate / 2)
    # a few SGD steps: the rounding of each step adds up, as in test_core_parity
    rtol, atol = (10 * tol for tol in TOLERANCE[problem.dtype])
    after = _parameters(fast)
    for a, b in zip(after, _parameters(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    losses = fast.history.loss
    np.testing.assert_allclose(losses, reference.history.loss, rtol=rtol, atol=atol)
    assert len(losses) == EPOCHS + 1
    _assert_moved(before, after)


@PROPERTY
@given(problems(), st.sampled_from(sorted(LEARNING_RATES)), st.sampled_from([None, 0.5]))
def test_numba_training_with_each_optimizer_and_clipping_matches_the_reference(
    problem, optimizer, clip_norm
):
    # float64: Adam's and RMSprop's g / sqrt(v) turn float32 rounding of a
    # near-zero gradient into a visible step, so their parity is checked
    # where rounding stays small
    problem = dataclasses.replace(problem, dtype="float64")
    fast, reference = problem.network("numba"), problem.network("numpy")
    before = _parameters(fast)
    for net in (fast, reference):
        problem.fit(
            net, optimizer=optimizer, learning_rate=LEARNING_RATES[optimizer], clip_norm=clip_norm
        )
    rtol, atol = (100 * tol for tol in TOLERANCE["float64"])
    after = _parameters(fast)
    for a, b in zip(after, _parameters(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(fast.history.loss, reference.history.loss, rtol=rtol, atol=atol)
    _assert_moved(before, after)


# ------------------------------------------------------------ thread count
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
@PROPERTY
@given(
    problems(),
    st.sampled_from(sorted(LEARNING_RATES)),
    st.sampled_from([None, 0.5]),
)
@example(WIDE, "adam", 0.5)
@example(WIDE, "sgd", None)
def test_training_gives_the_same_bits_on_one_and_two_threads(problem, optimizer, clip_norm):
    X, _, _ = problem.data()
    original = fastbackprop.get_num_threads()
    runs = []
    try:
        for n_threads in (1, 2):
            fastbackprop.set_num_threads(n_threads)
            assert fastbackprop.get_num_threads() == n_threads
            net = problem.network("numba")
            before = _parameters(net)
            history = problem.fit(
                net,
                optimizer=optimizer,
                learning_rate=LEARNING_RATES[optimizer],
                clip_norm=clip_norm,
            )
            runs.append((_parameters(net), history.as_dict(), net.forward(X)))
    finally:
        fastbackprop.set_num_threads(original)
    (params_1, history_1, out_1), (params_2, history_2, out_2) = runs
    assert all(np.isfinite(p).all() for p in params_1)
    _assert_moved(before, params_1)
    _assert_same_bits(params_1, params_2)
    assert history_1 == history_2
    np.testing.assert_array_equal(out_1, out_2)


# ---------------------------------------------------------------- save/load
@PROPERTY
@given(problems(), st.sampled_from(sorted(LEARNING_RATES)), st.sampled_from(["numba", "numpy"]))
def test_save_and_load_round_trip_exactly(problem, optimizer, backend):
    net = problem.network(backend)
    problem.fit(net, epochs=2, optimizer=optimizer, learning_rate=LEARNING_RATES[optimizer])
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "net.npz"
        net.save(path)
        copy = Network.load(path)
    assert copy.layer_sizes == net.layer_sizes
    assert (copy.activations, copy.loss, copy.output) == (net.activations, net.loss, net.output)
    assert (copy.dtype, copy.backend, copy.dropout) == (net.dtype, net.backend, net.dropout)
    _assert_same_bits(_parameters(copy), _parameters(net))
    assert copy.history.as_dict() == net.history.as_dict()
    X, _, _ = problem.data()
    np.testing.assert_array_equal(copy.forward(X), net.forward(X))
    # training goes on alike: the optimizer and its state, the step counters,
    # the shuffling generator and the dropout seed came back too
    before = _parameters(net)
    h_net = problem.fit(net, epochs=2)
    h_copy = problem.fit(copy, epochs=2)
    _assert_moved(before, _parameters(net))
    _assert_same_bits(_parameters(copy), _parameters(net))
    assert h_copy.as_dict() == h_net.as_dict()
    assert copy.history.as_dict() == net.history.as_dict()
    assert copy.history.epochs == 4
