"""The Numba backend agrees with the NumPy reference to rounding: forward,
loss, gradients and 20 SGD steps, for every activation x loss x dtype."""

import numpy as np
import pytest
from conftest import ACTIVATIONS, LOSSES, TOLERANCE, make_targets

from fastbackprop import Network

SIZES = [4, 6, 5, 3]


def twin_networks(activation, loss, dtype, seed=7):
    kwargs = dict(activation=activation, loss=loss, dtype=dtype, seed=seed)
    return Network(SIZES, backend="numba", **kwargs), Network(SIZES, backend="numpy", **kwargs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numba_matches_reference(activation, loss, dtype, rng):
    rtol, atol = TOLERANCE[dtype]
    fast, ref = twin_networks(activation, loss, dtype)
    np.testing.assert_array_equal(
        fast.get_training_state().parameters, ref.get_training_state().parameters
    )  # same seed, same init
    X = rng.standard_normal((13, SIZES[0]))
    y = make_targets(loss, 13, SIZES[-1], rng)

    out_fast, out_ref = fast.forward(X), ref.forward(X)
    assert out_fast.dtype == np.dtype(dtype) and out_ref.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out_fast, out_ref, rtol=rtol, atol=atol)
    np.testing.assert_allclose(fast.compute_loss(X, y), ref.compute_loss(X, y), rtol=rtol)

    gw_fast, gb_fast = fast.gradients(X, y)
    gw_ref, gb_ref = ref.gradients(X, y)
    for a, b in zip(gw_fast + gb_fast, gw_ref + gb_ref):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)

    # 13 rows in batches of 3 -> 5 steps per epoch; 4 epochs = 20 SGD steps
    h_fast = fast.fit(X, y, epochs=4, batch_size=3, learning_rate=0.05)
    h_ref = ref.fit(X, y, epochs=4, batch_size=3, learning_rate=0.05)
    np.testing.assert_allclose(
        fast.get_training_state().parameters,
        ref.get_training_state().parameters,
        rtol=rtol * 10,
        atol=atol * 10,
    )
    np.testing.assert_allclose(h_fast.loss, h_ref.loss, rtol=rtol * 10)
    assert h_fast.accuracy == h_ref.accuracy
    # training moved the parameters, so the comparison above is not vacuous
    assert not np.array_equal(
        fast.get_training_state().parameters,
        twin_networks(activation, loss, dtype)[0].get_training_state().parameters,
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_train_step_matches_reference(dtype, rng):
    rtol, atol = TOLERANCE[dtype]
    fast, ref = twin_networks("tanh", "mse", dtype)
    X = rng.standard_normal((9, SIZES[0]))
    y = rng.standard_normal((9, SIZES[-1]))
    for _ in range(20):
        loss_fast = fast.train_step(X, y, 0.1)
        loss_ref = ref.train_step(X, y, 0.1)
        np.testing.assert_allclose(loss_fast, loss_ref, rtol=rtol * 10)
    np.testing.assert_allclose(
        fast.get_training_state().parameters,
        ref.get_training_state().parameters,
        rtol=rtol * 10,
        atol=atol * 10,
    )


def test_mse_with_sigmoid_output_matches_reference(rng):
    kwargs = dict(activation="sigmoid", loss="mse", output="sigmoid", seed=3)
    fast = Network([3, 4, 1], backend="numba", **kwargs)
    ref = Network([3, 4, 1], backend="numpy", **kwargs)
    X = rng.uniform(size=(8, 3))
    y = rng.uniform(size=8)
    fast.fit(X, y, epochs=5, batch_size=3, learning_rate=0.5)
    ref.fit(X, y, epochs=5, batch_size=3, learning_rate=0.5)
    np.testing.assert_allclose(
        fast.get_training_state().parameters,
        ref.get_training_state().parameters,
        rtol=1e-10,
        atol=1e-12,
    )
    assert np.all((fast.forward(X) > 0) & (fast.forward(X) < 1))
