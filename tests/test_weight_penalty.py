"""``weight_penalty``, scikit-learn's ``alpha``: each batch's gradient gains
``alpha * W / sum(w)`` on the weight matrices only, in every training path
(whole batches, shards, update chunks, clipping) and in both backends."""

import copy
from dataclasses import replace

import numpy as np
import pytest

from fastbackprop import Network, _parallel
from fastbackprop.optim import SGD, Adam

SIZES = [4, 6, 5, 3]
BACKENDS = ["numba", "numpy"]


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, SIZES[0])), rng.integers(0, SIZES[-1], n)


def _weight_mask(net):
    """1 for every weight in the flat parameters, 0 for every bias."""
    mask = np.zeros(net.count_parameters())
    probe = copy.deepcopy(net)
    state = probe.get_training_state()
    probe.set_training_state(replace(state, parameters=np.zeros_like(state.parameters)))
    for w in probe.weights:
        w[...] = 1.0
    mask[:] = probe.get_training_state().parameters
    return mask


def _flat_gradients(net, X, y, sample_weight=None):
    gw, gb = net.gradients(X, y, sample_weight=sample_weight)
    return np.concatenate([a.ravel() for pair in zip(gw, gb) for a in pair])


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_batch_sgd_steps_add_alpha_times_weights_over_the_rows(backend):
    X, y = _data()
    alpha, lr, steps = 0.3, 0.1, 4
    net = Network(SIZES, activation="tanh", seed=3, backend=backend)
    mask = _weight_mask(net)
    work = copy.deepcopy(net)
    p = work.get_training_state().parameters
    for _ in range(steps):  # by hand: p -= lr * (dL/dp + alpha / n * W)
        work.set_training_state(replace(work.get_training_state(), parameters=p))
        p = p - lr * (_flat_gradients(work, X, y) + alpha / len(X) * mask * p)
    start = copy.deepcopy(net)
    net.fit(X, y, epochs=steps, shuffle=False, optimizer=SGD(lr), weight_penalty=alpha)
    np.testing.assert_allclose(net.get_training_state().parameters, p, rtol=1e-10, atol=1e-13)
    # the first epoch's loss includes alpha / 2 * sum(W**2) / n at its start
    squares = sum(float(np.sum(w**2)) for w in start.weights)
    expected = start.compute_loss(X, y) + 0.5 * alpha * squares / len(X)
    assert net.history.loss[0] == pytest.approx(expected, rel=1e-12)
    # the biases took no penalty: without it they would move otherwise
    plain = Network(SIZES, activation="tanh", seed=3, backend=backend)
    plain.fit(X, y, epochs=steps, shuffle=False, optimizer=SGD(lr))
    assert not np.allclose(plain.get_training_state().parameters, p, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_weighted_rows_scale_the_penalty_by_their_sum(backend):
    X, y = _data()
    w = np.linspace(0.5, 2.0, len(X))
    alpha, lr = 0.2, 0.05
    net = Network(SIZES, activation="tanh", seed=4, backend=backend)
    p = net.get_training_state().parameters
    expected = p - lr * (
        _flat_gradients(net, X, y, sample_weight=w) + alpha / w.sum() * _weight_mask(net) * p
    )
    net.fit(X, y, epochs=1, shuffle=False, optimizer=SGD(lr), weight_penalty=alpha, sample_weight=w)
    np.testing.assert_allclose(
        net.get_training_state().parameters, expected, rtol=1e-10, atol=1e-13
    )


@pytest.mark.parametrize("optimizer", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.01)])
def test_minibatches_match_the_reference_backend(optimizer):
    # batches of 7 over 24 rows: the last batch's coefficient is alpha / 3
    X, y = _data()
    runs = []
    for backend in BACKENDS:
        net = Network(SIZES, activation="relu", seed=5, backend=backend)
        net.fit(X, y, epochs=3, batch_size=7, optimizer=optimizer(), weight_penalty=0.5)
        runs.append(net.get_training_state().parameters)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "n_shards, n_chunks, split_input, clip_norm",
    [(2, 1, False, None), (2, 2, False, None), (2, 2, True, None), (2, 2, False, 0.05)],
    ids=["shards", "chunks", "split-input", "chunks-clipped"],
)
@pytest.mark.parametrize("optimizer", [lambda: SGD(0.1), lambda: Adam(1e-2)], ids=["sgd", "adam"])
def test_every_parallel_split_adds_the_same_penalty(
    monkeypatch, optimizer, n_shards, n_chunks, split_input, clip_norm
):
    # plain SGD's step inside the weight gradient's BLAS call cannot add the
    # penalty: it must fall back to the separate step
    X, y = _data(n=2 * 64 + 1, seed=2)
    X = np.hstack([X, X[:, :2]])

    def fit(shards, chunks, split):
        monkeypatch.setattr(_parallel, "shard_count", lambda batch_size: shards)
        monkeypatch.setattr(_parallel, "update_chunks", lambda n_params, s: chunks)
        monkeypatch.setattr(_parallel, "input_chunks", lambda sizes, c: chunks if split else 0)
        net = Network([6, 16, 12, 3], activation="tanh", seed=5)
        net.fit(
            X,
            y,
            epochs=3,
            batch_size=64,
            optimizer=optimizer(),
            clip_norm=clip_norm,
            weight_penalty=0.4,
        )
        return net.get_training_state().parameters

    whole = fit(1, 1, False)
    np.testing.assert_allclose(fit(n_shards, n_chunks, split_input), whole, rtol=1e-11, atol=1e-13)
    monkeypatch.undo()
    net = Network([6, 16, 12, 3], activation="tanh", seed=5)
    net.fit(X, y, epochs=3, batch_size=64, optimizer=optimizer(), clip_norm=clip_norm)
    assert not np.allclose(net.get_training_state().parameters, whole, rtol=1e-6)


def test_partial_fit_takes_the_same_penalty_as_fit():
    X, y = _data()
    a = Network(SIZES, activation="tanh", seed=6)
    b = copy.deepcopy(a)
    a.fit(X, y, epochs=1, batch_size=8, shuffle=False, optimizer=SGD(0.1), weight_penalty=0.3)
    b.optimizer = SGD(0.1)
    b.partial_fit(X, y, batch_size=8, weight_penalty=0.3)
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )


@pytest.mark.parametrize(
    "bad, error", [(-0.1, ValueError), (float("nan"), ValueError), ("1", TypeError)]
)
def test_a_bad_penalty_is_refused_by_name_and_changes_nothing(bad, error):
    X, y = _data()
    net = Network(SIZES, activation="tanh", seed=7)
    before = net.get_training_state().parameters
    with pytest.raises(error, match="weight_penalty"):
        net.fit(X, y, epochs=1, weight_penalty=bad)
    with pytest.raises(error, match="weight_penalty"):
        net.partial_fit(X, y, weight_penalty=bad)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
