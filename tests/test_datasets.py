"""The toy data sets: shapes, dtypes, determinism, and argument checks."""

import math

import numpy as np
import pytest

from fastbackprop import datasets

SEEDED = {
    "spiral": datasets.spiral,
    "moons": datasets.moons,
    "circles": datasets.circles,
}


def test_xor_is_the_truth_table():
    X, y = datasets.xor()
    assert X.shape == (4, 2) and X.dtype == np.float64
    assert y.dtype.kind == "i"
    # the label is exactly the XOR of the two inputs
    assert y.tolist() == [int(a) ^ int(b) for a, b in X]


@pytest.mark.parametrize("name", list(SEEDED))
@pytest.mark.parametrize("n_samples", [2, 7, 50])
def test_shapes_dtypes_and_balanced_labels(name, n_samples):
    X, y = SEEDED[name](n_samples=n_samples, seed=0)
    assert X.shape == (n_samples, 2) and X.dtype == np.float64
    assert y.shape == (n_samples,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    # classes differ in size by at most one (the first gets the odd sample)
    assert np.sum(y == 0) - np.sum(y == 1) == n_samples % 2


@pytest.mark.parametrize("name", list(SEEDED))
def test_same_seed_same_data_different_seed_different_data(name):
    make = SEEDED[name]
    X1, y1 = make(n_samples=30, seed=3)
    X2, y2 = make(n_samples=30, seed=3)
    X3, _ = make(n_samples=30, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


def test_spiral_is_standardised():
    X, _ = datasets.spiral(n_samples=101, noise=0.3, seed=1)
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0, rtol=1e-12)


def test_spiral_arms_are_apart_without_noise():
    # with no noise the two arms never touch: every point of one arm is far
    # from every point of the other (raw gap about pi, >= 0.3 standardised)
    X, y = datasets.spiral(n_samples=300, noise=0.0, seed=5)
    gaps = np.linalg.norm(X[y == 0][:, None, :] - X[y == 1][None, :, :], axis=2)
    assert gaps.min() > 0.3


def test_circles_radii_without_noise():
    X, y = datasets.circles(n_samples=20, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


def test_regression_341_ranges_and_determinism():
    X, y = datasets.regression_341(n_samples=25, noise=0.1, seed=2)
    assert X.shape == (25, 3) and y.shape == (25,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert X.min() >= 0 and X.max() <= 1 and y.min() >= 0 and y.max() <= 1
    np.testing.assert_array_equal(y, datasets.regression_341(n_samples=25, noise=0.1, seed=2)[1])
    assert np.std(y) > 0.05  # a target worth fitting, not a constant


def test_load_digits_scaled():
    pytest.importorskip("sklearn")
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))


def test_load_digits_without_sklearn_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install fastbackprop\[datasets\]"):
        datasets.load_digits()


@pytest.mark.parametrize("name", [*SEEDED, "regression_341"])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 1}, ValueError, "n_samples"),
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 10.0}, TypeError, "n_samples"),
        ({"n_samples": True}, TypeError, "n_samples"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"noise": math.inf}, ValueError, "noise"),
        ({"noise": math.nan}, ValueError, "noise"),
        ({"noise": "0.1"}, TypeError, "noise"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
    ],
)
def test_bad_arguments_name_the_argument(name, kwargs, error, match):
    make = getattr(datasets, name)
    with pytest.raises(error, match=match):
        make(**kwargs)


@pytest.mark.parametrize("factor", [0, 1, 1.5, -0.2])
def test_circles_factor_must_be_a_fraction(factor):
    with pytest.raises(ValueError, match="factor"):
        datasets.circles(factor=factor)
