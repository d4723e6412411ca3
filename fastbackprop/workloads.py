"""One table of cases for tests, pytest-benchmark, asv and ``bench``.

``WORKLOADS`` are the standard training workloads (synthetic Gaussian data,
seed 0, plain SGD, softmax cross-entropy unless stated). ``PARITY_SHAPES``
are the small shapes the tests run every kernel on. A benchmark never
measures a shape the tests do not check: the tests run each workload's
architecture at reduced sample counts (``make_data(..., n_samples=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .datasets import spiral


@dataclass(frozen=True)
class Workload:
    name: str
    layer_sizes: tuple
    activation: str
    loss: str
    batch_size: int
    n_samples: int
    dtype: str
    learning_rate: float = 0.01
    epochs: int = 1
    init: str | None = None
    description: str = ""
    optimizer: str = "sgd"  # every engine runs this optimizer, at learning_rate

    def flops_per_sample(self) -> int:
        """Forward + backward multiply-adds x 2: 6 x sum(fan_in x fan_out)."""
        sizes = self.layer_sizes
        return 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    def flops_per_epoch(self) -> int:
        return self.flops_per_sample() * self.n_samples

    def fit_kwargs(self) -> dict:
        """The optimizer and learning rate of ``Network.fit``."""
        return {"optimizer": self.optimizer, "learning_rate": self.learning_rate}

    def network_kwargs(self, backend="numba", dtype=None) -> dict:
        return {
            "layer_sizes": list(self.layer_sizes),
            "activation": self.activation,
            "loss": self.loss,
            "init": self.init,
            "dtype": dtype or self.dtype,
            "seed": 0,
            "backend": backend,
        }


WORKLOADS = {
    "tiny": Workload(
        "tiny",
        (2, 16, 8, 1),
        "tanh",
        "binary_cross_entropy",
        400,
        400,
        "float64",
        learning_rate=0.5,
        epochs=1000,
        init="lecun",
        description="the notebook's spiral: 2-16-8-1 tanh, BCE, 1000 full-batch epochs",
    ),
    "mnist": Workload(
        "mnist",
        (784, 128, 64, 10),
        "relu",
        "cross_entropy",
        64,
        60_000,
        "float32",
        description="MNIST-sized MLP, one epoch of 60k samples",
    ),
    "wide": Workload(
        "wide",
        (784, 1024, 1024, 10),
        "relu",
        "cross_entropy",
        256,
        20_000,
        "float32",
        description="two 1024-wide hidden layers",
    ),
    "deep": Workload(
        "deep",
        (64,) + (256,) * 8 + (10,),
        "relu",
        "cross_entropy",
        128,
        50_000,
        "float32",
        description="8 hidden layers of 256",
    ),
    "large": Workload(
        "large",
        (784, 4096, 4096, 4096, 10),
        "relu",
        "cross_entropy",
        512,
        4096,
        "float32",
        description="three 4096-wide hidden layers: the products dominate",
    ),
}

WORKLOADS["mnist_adam"] = replace(
    WORKLOADS["mnist"],
    name="mnist_adam",
    learning_rate=1e-3,
    optimizer="adam",
    description="the mnist network with Adam (lr 1e-3) in every engine",
)


def make_data(workload: Workload, n_samples: int | None = None, dtype=None):
    """Synthetic data for a workload: Gaussian inputs, seed 0.

    Classification targets come from a fixed random linear teacher, so the
    task is learnable; the ``tiny`` workload uses the notebook's spiral.
    """
    n = workload.n_samples if n_samples is None else n_samples
    dtype = np.dtype(dtype or workload.dtype)
    rng = np.random.default_rng(0)
    n_in, n_out = workload.layer_sizes[0], workload.layer_sizes[-1]
    if workload.name == "tiny":
        X, y = spiral(n_samples=n, noise=0.3, seed=0)
        return X.astype(dtype), y.reshape(-1, 1).astype(dtype)
    X = rng.standard_normal((n, n_in)).astype(dtype)
    teacher = rng.standard_normal((n_in, n_out))
    scores = X @ teacher
    if workload.loss == "cross_entropy":
        return X, scores.argmax(axis=1).astype(np.int64)
    if workload.loss == "binary_cross_entropy":
        return X, (scores > 0).astype(dtype)
    return X, scores.astype(dtype)


#: small architectures for kernel-level parity tests and benchmarks
PARITY_SHAPES = [
    {"layer_sizes": (5, 7, 3), "batch": 6},
    {"layer_sizes": (4, 9, 6, 2), "batch": 11},
]
