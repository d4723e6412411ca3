"""Extreme values stay finite; divergence is caught and undone; dtypes and
seeds behave."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastbackprop
from fastbackprop import Network, NonFiniteLossError


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "loss, output, y",
    [
        ("cross_entropy", None, [0, 1]),
        ("binary_cross_entropy", None, [[1, 0], [0, 1]]),
        ("mse", "sigmoid", [[1, 0], [0, 1]]),
    ],
)
def test_logits_of_1e4_stay_finite_without_warnings(backend, dtype, loss, output, y):
    net = Network([2, 2], loss=loss, output=output, dtype=dtype, backend=backend)
    net.weights[0][...] = [[1e4, -1e4], [-1e4, 1e4]]
    X = [[1.0, 0.0], [0.0, 1.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = net.forward(X)
        loss_value = net.compute_loss(X, y)
        grads_w, grads_b = net.gradients(X, y)
        wrong = net.compute_loss(X, [[0, 1], [1, 0]] if loss != "cross_entropy" else [1, 0])
    assert np.isfinite(out).all() and np.isfinite(loss_value) and np.isfinite(wrong)
    assert all(np.isfinite(g).all() for g in grads_w + grads_b)
    if loss != "mse":
        assert wrong > 1e3  # confidently wrong costs about the logit, not inf


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "elu", "gelu", "silu"])
def test_hidden_activations_survive_huge_inputs(activation):
    net = Network([1, 3, 2], activation=activation, backend="numpy")
    net.weights[0][...] = [[1e4, -1e4, 0.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = net.forward([[1.0], [-1.0]])
    assert np.isfinite(out).all()


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_divergence_raises_and_restores_last_finite_parameters(backend):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3)) * 10
    y = rng.standard_normal(32) * 10
    kwargs = dict(activation="relu", loss="mse", seed=0, backend=backend)
    net = Network([3, 8, 1], **kwargs)
    with pytest.raises(NonFiniteLossError) as info:
        net.fit(X, y, epochs=200, learning_rate=5.0, shuffle=False)
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert re.search(rf"epoch {error.epoch}/200", str(error))
    assert "lower learning_rate" in str(error)
    assert np.isfinite(net.get_training_state().parameters).all()
    assert len(error.history.loss) == error.epoch - 1
    # the parameters are exactly those after the last finite epoch
    twin = Network([3, 8, 1], **kwargs)
    if error.epoch > 1:
        twin.fit(X, y, epochs=error.epoch - 1, learning_rate=5.0, shuffle=False)
    np.testing.assert_array_equal(
        net.get_training_state().parameters, twin.get_training_state().parameters
    )


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_float32_stays_float32(backend, rng):
    net = Network([3, 5, 2], dtype="float32", seed=0, backend=backend)
    assert net.get_training_state().parameters.dtype == np.float32
    X = rng.standard_normal((6, 3))  # float64 input is cast, not the network upcast
    y = [0, 1, 0, 1, 1, 0]
    net.fit(X, y, epochs=2, batch_size=4)
    assert net.get_training_state().parameters.dtype == np.float32
    assert net.forward(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in sum(net.gradients(X, y), []))
    assert all(w.dtype == np.float32 for w in net.weights + net.biases)


def test_same_seed_same_initial_parameters_in_both_backends():
    for init in ["he", "xavier", "glorot_uniform", "lecun", "small", None]:
        a = Network([5, 7, 3], init=init, seed=42, backend="numba")
        b = Network([5, 7, 3], init=init, seed=42, backend="numpy")
        np.testing.assert_array_equal(
            a.get_training_state().parameters, b.get_training_state().parameters
        )
        assert all((bias == 0).all() for bias in a.biases)
    c = Network([5, 7, 3], seed=43)
    assert not np.array_equal(c.get_training_state().parameters, a.get_training_state().parameters)


@pytest.mark.parametrize(
    "init, std",
    [
        ("he", np.sqrt(2 / 400)),
        ("xavier", np.sqrt(2 / 600)),
        ("lecun", np.sqrt(1 / 400)),
        ("small", 0.01),
        ("glorot_uniform", np.sqrt(6 / 600) / np.sqrt(3)),
    ],
)
def test_init_scales(init, std):
    W = Network([400, 200, 2], init=init, seed=0).weights[0]
    assert W.std() == pytest.approx(std, rel=0.02)
    assert abs(W.mean()) < 0.05 * std + 1e-4
    if init == "glorot_uniform":
        assert np.abs(W).max() <= np.sqrt(6 / 600)


def test_default_init_is_he_for_relu_and_xavier_otherwise():
    relu = Network([400, 200, 2], activation="relu", seed=0).weights[0]
    tanh = Network([400, 200, 2], activation="tanh", seed=0).weights[0]
    assert relu.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert tanh.std() == pytest.approx(np.sqrt(2 / 600), rel=0.02)


def test_predict_shapes_and_meaning(rng):
    X = rng.standard_normal((5, 3))
    ce = Network([3, 4, 3], seed=0)
    np.testing.assert_array_equal(ce.predict(X), ce.predict_proba(X).argmax(axis=1))
    np.testing.assert_allclose(ce.predict_proba(X).sum(axis=1), 1.0)
    bce1 = Network([3, 4, 1], loss="binary_cross_entropy", seed=0)
    assert bce1.predict(X).shape == (5,)
    np.testing.assert_array_equal(bce1.predict(X), (bce1.forward(X)[:, 0] > 0.5).astype(int))
    bce2 = Network([3, 4, 2], loss="binary_cross_entropy", seed=0)
    assert bce2.predict(X).shape == (5, 2)
    mse1 = Network([3, 4, 1], loss="mse", seed=0)
    np.testing.assert_array_equal(mse1.predict(X), mse1.forward(X)[:, 0])
    assert Network([3, 2], loss="mse").predict(X).shape == (5, 2)


def test_score_is_accuracy_and_r2(rng):
    X = rng.standard_normal((50, 3))
    ce = Network([3, 4, 3], seed=0)
    y = rng.integers(0, 3, 50)
    assert ce.score(X, y) == np.mean(ce.predict(X) == y)
    mse = Network([3, 2], loss="mse", seed=0)
    Y = rng.standard_normal((50, 2))
    pred = mse.predict(X)
    r2 = [
        1 - ((Y[:, k] - pred[:, k]) ** 2).sum() / ((Y[:, k] - Y[:, k].mean()) ** 2).sum()
        for k in range(2)
    ]
    assert mse.score(X, Y) == pytest.approx(np.mean(r2))
    mse.weights[0][...] = 0
    mse.biases[0][...] = Y.mean(axis=0)
    assert mse.score(X, Y) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_history_loss_is_the_row_weighted_mean_of_batch_losses(rng, backend):
    # batches of 4, 4 and 2 rows: the short last batch counts half, as in
    # scikit-learn's loss_curve_
    X = rng.standard_normal((10, 3))
    y = rng.integers(0, 2, 10)
    net = Network([3, 4, 2], seed=0, backend=backend)
    twin = Network([3, 4, 2], seed=0, backend=backend)
    history = net.fit(X, y, epochs=1, batch_size=4, shuffle=False, learning_rate=0.1)
    losses = [twin.train_step(X[s : s + 4], y[s : s + 4], 0.1) for s in (0, 4, 8)]
    assert history.loss[0] == pytest.approx(np.average(losses, weights=[4, 4, 2]), rel=1e-12)
    assert history.loss[0] != pytest.approx(np.mean(losses), rel=1e-6)
    np.testing.assert_allclose(
        net.get_training_state().parameters, twin.get_training_state().parameters
    )


def test_no_numba_flags_outside_config():
    root = Path(fastbackprop.__file__).parent
    pattern = re.compile(r"fastmath\s*=|parallel\s*=\s*True|cache\s*=|\bnjit\b|numba\.jit\b")
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "_config.py" and pattern.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(("dtype", "huge"), [("float64", 1e308), ("float32", 3e38)])
def test_inputs_that_blow_the_weights_up_are_caught_as_divergence(backend, dtype, huge):
    # finite inputs, accepted; once the weights' squares would overflow the
    # fit stops like a divergence, instead of "training" a model whose
    # ordinary outputs are NaN (issue 22)
    net = Network([3, 8, 2], seed=0, backend=backend, dtype=dtype)
    before = net.get_training_state()
    X = np.full((64, 3), huge, dtype=dtype)
    with pytest.raises(NonFiniteLossError, match="safe range") as raised:
        net.fit(X, np.arange(64) % 2, epochs=3, batch_size=16)
    assert raised.value.epoch == 1
    np.testing.assert_array_equal(net.get_training_state().parameters, before.parameters)
    assert np.isfinite(net.predict_proba(np.ones((4, 3), dtype=dtype))).all()


def test_parameters_at_the_range_bound_train_and_beyond_it_diverge():
    # the bound is sqrt(finfo.max): a network whose weights sit just above
    # it is refused at its first epoch; the same network just below trains
    X = np.zeros((8, 2))
    y = np.arange(8) % 2
    bound = np.sqrt(np.finfo(np.float64).max)
    for scale, diverges in ((0.5, False), (2.0, True)):
        net = Network([2, 3, 2], seed=0)
        net.weights[0][...] = scale * bound  # zero inputs: no gradient reaches W0
        if diverges:
            with pytest.raises(NonFiniteLossError):
                net.fit(X, y, epochs=1, batch_size=8)
        else:
            net.fit(X, y, epochs=1, batch_size=8)
            assert net.weights[0].max() == scale * bound


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_a_train_step_beyond_the_safe_range_is_refused_and_takes_no_step(backend):
    # found by tests/test_fuzz_inputs.py: learning_rate=1e308 wrote inf
    net = Network([3, 4, 2], seed=0, backend=backend)
    before = net.get_training_state().parameters.copy()
    X = np.full((2, 3), 3.0)
    with pytest.raises(NonFiniteLossError, match="safe range"):
        net.train_step(X, np.array([0, 0]), 1e308)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
    net.train_step(X, np.array([0, 0]), 0.1)  # an ordinary step still goes through
    assert not np.array_equal(net.get_training_state().parameters, before)
