"""Small toy data sets for the examples, demos and tests.

Everything here is NumPy only, except :func:`load_digits`, which borrows
scikit-learn's copy of the UCI digits (install ``fastbackprop[datasets]``).
Samples are rows; class labels are int64 (``regression_341``'s targets are
float64).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _validation as v

__all__ = ["xor", "spiral", "moons", "circles", "regression_341", "load_digits"]

#: how far each spiral arm winds: one full turn
SPIRAL_TURN = 2 * np.pi


# ------------------------------------------------------------------ checks
def _check_n_samples(n_samples, minimum: int = 2) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"n_samples must be an int >= {minimum}; got {n_samples!r}")
    if n_samples < minimum:
        raise ValueError(f"n_samples must be >= {minimum}; got {n_samples}")
    return int(n_samples)


def _check_fraction(value, argument: str) -> float:
    """A number strictly between 0 and 1."""
    value = v.check_non_negative_float(value, argument)
    if not 0 < value < 1:
        raise ValueError(f"{argument} must lie strictly between 0 and 1; got {value!r}")
    return value


def _rng(seed) -> np.random.Generator:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be None or a non-negative int; got {seed!r}")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed}")
    return np.random.default_rng(seed)


def _split(n_samples: int) -> tuple[int, int]:
    """Sizes of the two classes; the first gets the extra sample when odd."""
    return n_samples - n_samples // 2, n_samples // 2


def _labels(n0: int, n1: int) -> np.ndarray:
    return np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])


def _standardise(X: np.ndarray) -> np.ndarray:
    # guard a constant column (possible with noise=0 and tiny n) against 0/0
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


# --------------------------------------------------------------- data sets
def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points.

    Returns
    -------
    X : ndarray of float64, shape (4, 2)
        ``[[0, 0], [0, 1], [1, 0], [1, 1]]``.
    y : ndarray of int64, shape (4,)
        ``[0, 1, 1, 0]``.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def spiral(n_samples=200, noise=0.2, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """The classic two-arm spiral.

    Each arm makes one turn, angle ``t`` in [0, 2 pi] at radius
    ``2 t + pi``; the second arm is the first rotated by 180 degrees.
    Gaussian noise of standard deviation ``noise`` is added in those raw
    units (neighbouring arms lie 2 pi apart), then every column is
    standardised.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points, split evenly between the two arms.
    noise : float, default 0.2
        Standard deviation of the Gaussian noise, >= 0.
    seed : int or None
        Seed for the random angles and noise; the same seed gives the same data.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
        Zero mean and unit standard deviation per column.
    y : ndarray of int64, shape (n_samples,)
        The arm, 0 or 1.
    """
    n_samples = _check_n_samples(n_samples)
    noise = v.check_non_negative_float(noise, "noise")
    rng = _rng(seed)
    n0, n1 = _split(n_samples)
    # sqrt spreads the points more evenly along the arm's length than its angle
    theta = np.sqrt(rng.random(n_samples)) * SPIRAL_TURN
    radius = 2 * theta + np.pi
    arm = np.stack([np.cos(theta) * radius, np.sin(theta) * radius], axis=1)
    arm[n0:] *= -1  # second arm: the first rotated by 180 degrees
    X = arm + noise * rng.standard_normal((n_samples, 2))
    return _standardise(X), _labels(n0, n1)


def moons(n_samples=200, noise=0.1, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, as in scikit-learn's ``make_moons``.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points, split evenly between the moons.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise, >= 0.
    seed : int or None
        Seed for the noise. The rows come in a fixed order: the first
        moon's points, then the second's.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
        Which moon, 0 (upper) or 1 (lower).
    """
    n_samples = _check_n_samples(n_samples)
    noise = v.check_non_negative_float(noise, "noise")
    rng = _rng(seed)
    n0, n1 = _split(n_samples)
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n_samples, 2))
    return X, _labels(n0, n1)


def circles(n_samples=200, noise=0.05, factor=0.5, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one, as in scikit-learn's ``make_circles``.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points, split evenly between the circles.
    noise : float, default 0.05
        Standard deviation of the Gaussian noise, >= 0.
    factor : float, default 0.5
        Radius of the inner circle relative to the outer one (radius 1),
        strictly between 0 and 1.
    seed : int or None
        Seed for the noise.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
        0 for the outer circle, 1 for the inner one.
    """
    n_samples = _check_n_samples(n_samples)
    noise = v.check_non_negative_float(noise, "noise")
    factor = _check_fraction(factor, "factor")
    rng = _rng(seed)
    n0, n1 = _split(n_samples)
    # endpoint=False so that no point is drawn twice at angle 0 and 2 pi
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = factor * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    return X, _labels(n0, n1)


def regression_341(n_samples=64, noise=0.0, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Three inputs in [0, 1] and one smooth target in [0, 1].

    Made for the "3-4-1 sigmoid network with MSE" seed: the target is a
    sigmoid of a mildly non-linear mix of the inputs, so a sigmoid output
    unit can fit it.

    ``y = sigmoid(4 * (x0 - x1) + 3 * x0 * x2 - 1.5) (+ noise, clipped to [0, 1])``

    Parameters
    ----------
    n_samples : int, default 64
        Number of rows.
    noise : float, default 0.0
        Standard deviation of Gaussian noise added to the target, >= 0.
    seed : int or None
        Seed for the inputs and the noise.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 3)
        Uniform in [0, 1].
    y : ndarray of float64, shape (n_samples,)
        In [0, 1].
    """
    n_samples = _check_n_samples(n_samples)
    noise = v.check_non_negative_float(noise, "noise")
    rng = _rng(seed)
    X = rng.random((n_samples, 3))
    z = 4 * (X[:, 0] - X[:, 1]) + 3 * X[:, 0] * X[:, 2] - 1.5
    y = 1 / (1 + np.exp(-z)) + noise * rng.standard_normal(n_samples)
    return X, np.clip(y, 0.0, 1.0)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits (1797 images), via scikit-learn.

    Returns
    -------
    X : ndarray of float64, shape (1797, 64)
        Pixel intensities scaled from 0..16 to [0, 1].
    y : ndarray of int64, shape (1797,)
        The digit, 0 to 9.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as error:
        raise ImportError(
            "load_digits needs scikit-learn: pip install fastbackprop[datasets]"
        ) from error
    bunch = sklearn_load_digits()
    X = np.asarray(bunch.data, dtype=np.float64) / 16.0
    return X, np.asarray(bunch.target, dtype=np.int64)
