"""Bad input gets a clear error naming the argument, and changes nothing."""

import numpy as np
import pytest

from fastbackprop import Network


@pytest.fixture
def net():
    return Network([3, 4, 2], seed=0)


@pytest.fixture
def data(rng):
    return rng.standard_normal((6, 3)), np.array([0, 1, 1, 0, 1, 0])


def assert_untouched(net, call, error, match):
    before = net.get_training_state().parameters
    with pytest.raises(error, match=match):
        call()
    np.testing.assert_array_equal(net.get_training_state().parameters, before)  # bit for bit
    assert net.get_training_state().parameters.tobytes() == before.tobytes()


METHODS = ["fit", "train_step", "gradients", "compute_loss", "score"]


def call(net, method, X, y, **kwargs):
    if method == "train_step":
        return net.train_step(X, y, kwargs.pop("learning_rate", 0.1))
    return getattr(net, method)(X, y, **kwargs)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "bad_X, match",
    [
        ([[0.0, np.nan, 1.0]] * 6, "NaN or inf"),
        ([[0.0, np.inf, 1.0]] * 6, "NaN or inf"),
        (np.zeros((6, 4)), "4 features .* expects 3"),
        (np.zeros(6), "2-D"),
        (np.zeros((6, 3, 1)), "2-D"),
        (np.zeros((0, 3)), "empty"),
    ],
)
def test_bad_X(net, method, bad_X, match):
    y = np.array([0, 1, 1, 0, 1, 0])
    assert_untouched(net, lambda: call(net, method, bad_X, y), ValueError, match)


def test_non_numeric_X_is_a_type_error(net):
    assert_untouched(net, lambda: net.fit([["a", "b", "c"]], [0]), TypeError, "X must hold real")
    assert_untouched(net, lambda: net.forward("abc"), TypeError, "X must hold real")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "bad_y, match",
    [
        ([0, 1, 2, 0, 1, 0], r"labels must lie in \[0, 2\)"),
        ([0, -1, 1, 0, 1, 0], r"labels must lie in \[0, 2\)"),
        ([0, 0.5, 1, 0, 1, 0], "whole numbers"),
        ([0, 1, 1, 0, 1], "5 rows but X has 6"),
        ([0, 1, 1, 0, 1, 0, 1], "7 rows but X has 6"),
        ([0, 1, np.nan, 0, 1, 0], "NaN or inf"),
        (np.full((6, 2), 0.7), "sum to 1"),
        (np.zeros((6, 3)), "3 columns"),
    ],
)
def test_bad_labels(net, data, method, bad_y, match):
    X, _ = data
    assert_untouched(net, lambda: call(net, method, X, bad_y), ValueError, match)


def test_bad_targets_for_other_losses(rng):
    X = rng.standard_normal((4, 3))
    bce = Network([3, 2], loss="binary_cross_entropy")
    assert_untouched(bce, lambda: bce.fit(X, np.full((4, 2), 2.0)), ValueError, r"\[0, 1\]")
    assert_untouched(bce, lambda: bce.fit(X, [0, 1, 0, 1]), ValueError, "1-D but the network has 2")
    mse = Network([3, 1], loss="mse")
    assert_untouched(mse, lambda: mse.fit(X, np.zeros((4, 2))), ValueError, "2 columns")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"learning_rate": 0}, ValueError, "learning_rate must be > 0"),
        ({"learning_rate": -0.1}, ValueError, "learning_rate must be > 0"),
        ({"learning_rate": np.inf}, ValueError, "learning_rate must be > 0 and finite"),
        ({"learning_rate": np.nan}, ValueError, "learning_rate"),
        ({"learning_rate": "fast"}, TypeError, "learning_rate"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"epochs": -1}, ValueError, "epochs must be >= 0"),
        ({"epochs": 1.5}, TypeError, "epochs must be an int"),
        ({"shuffle": "yes"}, TypeError, "shuffle"),
        ({"verbose": -1}, ValueError, "verbose"),
    ],
)
def test_bad_fit_arguments(net, data, kwargs, error, match):
    X, y = data
    assert_untouched(net, lambda: net.fit(X, y, **kwargs), error, match)


@pytest.mark.parametrize("lr", [0, -1, np.nan, np.inf])
def test_bad_train_step_learning_rate(net, data, lr):
    X, y = data
    assert_untouched(net, lambda: net.train_step(X, y, lr), ValueError, "learning_rate")


def test_epochs_zero_is_a_no_op(net, data):
    before = net.get_training_state().parameters
    history = net.fit(*data, epochs=0)
    assert history.loss == [] and history.accuracy == []
    np.testing.assert_array_equal(net.get_training_state().parameters, before)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"layer_sizes": [3]}, ValueError, "at least 2 entries"),
        ({"layer_sizes": [3, 0, 2]}, ValueError, "positive"),
        ({"layer_sizes": [3, -4, 2]}, ValueError, "positive"),
        ({"layer_sizes": [3, 4.0, 2]}, TypeError, "ints"),
        ({"layer_sizes": 3}, TypeError, "list of at least 2"),
        ({"layer_sizes": "32"}, TypeError, "list of at least 2"),
        ({"activation": "swish"}, ValueError, "allowed: identity, sigmoid, tanh, relu"),
        ({"activation": ["relu"]}, ValueError, "one name per hidden layer"),
        ({"activation": 3}, TypeError, "activation"),
        ({"loss": "hinge"}, ValueError, "allowed: cross_entropy, binary_cross_entropy, mse"),
        ({"output": "softplus"}, ValueError, "allowed: identity, sigmoid, softmax"),
        ({"output": "sigmoid"}, ValueError, "contradicts loss='cross_entropy'"),
        ({"loss": "binary_cross_entropy", "output": "softmax"}, ValueError, "contradicts"),
        ({"init": "orthogonal"}, ValueError, "allowed: he, xavier, glorot_uniform, lecun"),
        ({"dtype": "float16"}, ValueError, "allowed: float32, float64"),
        ({"dtype": "int"}, ValueError, "dtype"),
        ({"backend": "torch"}, ValueError, "allowed: numba, numpy"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "a"}, TypeError, "seed"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    args = {"layer_sizes": [3, 4, 4, 2]} | kwargs
    with pytest.raises(error, match=match):
        Network(**args)


def test_cross_entropy_needs_two_outputs():
    with pytest.raises(ValueError, match="at least 2 outputs"):
        Network([3, 1], loss="cross_entropy")


def test_predict_proba_needs_classification():
    with pytest.raises(ValueError, match="classification loss"):
        Network([3, 1], loss="mse").predict_proba([[1, 2, 3]])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_array_likes_match_contiguous_floats(backend, rng):
    net = Network([3, 4, 2], seed=5, backend=backend)
    base = rng.integers(-3, 4, (12, 6))
    X = np.ascontiguousarray(base[:, ::2], dtype=float)
    expected = net.forward(X)
    variants = {
        "list": X.tolist(),
        "int array": base[:, ::2].copy(),
        "fortran": np.asfortranarray(X),
        "strided view": base[:, ::2],
        "float32 input": X.astype(np.float32),
    }
    for name, variant in variants.items():
        np.testing.assert_array_equal(net.forward(variant), expected, err_msg=name)
    y = [0, 1] * 6
    assert net.compute_loss(variants["list"], y) == net.compute_loss(X, np.array(y))
    assert net.compute_loss(X, np.array(y, dtype=float)) == net.compute_loss(X, y)


def test_weights_and_biases_are_live_views(rng):
    net = Network([3, 4, 2], seed=0)
    X = rng.standard_normal((5, 3))
    before = net.forward(X)
    net.weights[1][...] = 0
    net.biases[1][...] = [1.0, 2.0]
    after = net.forward(X)
    assert not np.allclose(before, after)
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(after, np.tile(e / e.sum(), (5, 1)))
    assert net.count_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    assert [w.shape for w in net.weights] == [(3, 4), (4, 2)]
    assert [b.shape for b in net.biases] == [(4,), (2,)]


def test_read_only_inputs_run_the_kernels_already_compiled(rng):
    # a read-only array is another Numba type: passed as is, it would compile
    # every kernel again (about 35 s), so the checks hand over a copy
    from fastbackprop.kernels import train as kernels

    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 2, 40)
    first = Network([3, 4, 2], seed=0)
    first.fit(X, y, epochs=2, batch_size=8)
    first.predict(X[:1])
    first.predict(X)
    dispatchers = (kernels.train_epochs, kernels.evaluate)
    compiled = [len(d.signatures) for d in dispatchers]
    X_read_only, y_read_only = X.copy(), y.copy()
    X_read_only.flags.writeable = False
    y_read_only.flags.writeable = False
    second = Network([3, 4, 2], seed=0)
    second.fit(X_read_only, y_read_only, epochs=2, batch_size=8)
    np.testing.assert_array_equal(second.predict(X_read_only[:1]), first.predict(X[:1]))
    np.testing.assert_array_equal(second.predict_proba(X_read_only), first.predict_proba(X))
    assert [len(d.signatures) for d in dispatchers] == compiled
    np.testing.assert_array_equal(
        second.get_training_state().parameters, first.get_training_state().parameters
    )


def test_unaligned_inputs_run_the_kernels_already_compiled(rng):
    from fastbackprop.kernels import train as kernels

    X = rng.standard_normal((40, 3))
    y = rng.integers(0, 2, 40)
    net = Network([3, 4, 2], seed=0)
    net.fit(X, y, epochs=1, batch_size=8)
    expected = net.predict_proba(X)
    compiled = len(kernels.evaluate.signatures)
    raw = np.zeros(X.nbytes + 1, dtype=np.uint8)
    unaligned = np.frombuffer(raw.data, dtype=np.float64, count=X.size, offset=1).reshape(X.shape)
    unaligned[...] = X
    assert not unaligned.flags.aligned
    np.testing.assert_array_equal(net.predict_proba(unaligned), expected)
    # one row alone against one row (BLAS picks its kernel by the row count,
    # so a row inside 40 may round differently: that is only close)
    np.testing.assert_array_equal(net.predict_proba(unaligned[:1]), net.predict_proba(X[:1]))
    np.testing.assert_allclose(net.predict_proba(unaligned[:1]), expected[:1], rtol=1e-12)
    assert len(kernels.evaluate.signatures) == compiled
