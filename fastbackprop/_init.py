"""Weight initialisation schemes. Draws happen in float64 from the
network's generator and are then cast, so the same seed gives the same
initial parameters in both backends and (up to rounding) in both dtypes."""

import math

import numpy as np

from ._codes import ACTIVATION_TABLE

RELU_FAMILY = tuple(act.name for act in ACTIVATION_TABLE if act.relu_family)


def default_init(activation_after: str) -> str:
    """``he`` before a relu-family activation, ``xavier`` otherwise."""
    return "he" if activation_after in RELU_FAMILY else "xavier"


def draw_weights(rng: np.random.Generator, scheme: str, n_in: int, n_out: int) -> np.ndarray:
    shape = (n_in, n_out)
    if scheme == "he":
        return rng.normal(0.0, math.sqrt(2.0 / n_in), shape)
    if scheme == "xavier":
        return rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), shape)
    if scheme == "glorot_uniform":
        limit = math.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, shape)
    if scheme == "lecun":
        return rng.normal(0.0, math.sqrt(1.0 / n_in), shape)
    if scheme == "small":
        return rng.normal(0.0, 0.01, shape)
    raise ValueError(f"unknown init scheme {scheme!r}")
