"""Which BLAS the kernels should call on this machine: measured, kept on disk.

MKL and OpenBLAS do not rank the same on every CPU. On this project's 2-core
Intel Xeon, MKL's sgemm ran a training step's small products at 150-170
GFLOP/s on one core against OpenBLAS's 85-120 (docs/performance.md); on a
2-core AMD EPYC (Zen 5), MKL was 1.3-1.9x slower than OpenBLAS on the same
products (issue 19). So the choice is measured on the machine, as FFTW keeps
its wisdom: :func:`tune` times the kernels' own ``gemm`` on the products of
the benchmark workloads' steps, once with each BLAS installed (each in a
process of its own, since a process binds one), and writes the winner to a
plan file keyed by the CPU model and the versions of fastbackprop, NumPy,
SciPy and MKL. ``_blas_provider`` reads it; with no plan for this machine it
takes MKL on an Intel CPU and OpenBLAS otherwise, MKL's known weak spot.

``fastbackprop tune`` (and ``fastbackprop compile``) measure and write the
plan; ``fastbackprop info`` shows it; ``FASTBACKPROP_BLAS=mkl`` or ``scipy``
overrides it; ``FASTBACKPROP_BLAS_PLAN`` names another plan file.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

from ._machine import cpu_model, is_intel, version

#: Products timed, as (m, k, n, transpose_a, transpose_b, dtype), each the
#: size one core computes in a step of a workload (shards of a batch's rows,
#: blocks of a weight gradient): mnist, deep, wide and large.
SHAPES = (
    (32, 784, 128, False, False, "float32"),  # mnist: a shard's x W0
    (32, 128, 784, False, True, "float32"),  # mnist: dX-like, d W^T
    (392, 64, 128, True, False, "float32"),  # mnist: a block of dW0 = x^T d
    (64, 256, 256, False, False, "float32"),  # deep: a shard's layer
    (128, 256, 128, True, False, "float32"),  # deep: a block of dW
    (128, 1024, 1024, False, False, "float32"),  # wide: a shard's layer
    (512, 256, 1024, True, False, "float32"),  # wide: a block of dW
    (256, 4096, 4096, False, False, "float32"),  # large: a shard's layer
    (200, 16, 8, False, False, "float64"),  # tiny: a shard's layer, float64
    (32, 784, 128, False, False, "float64"),  # mnist in float64
)

#: the BLAS libraries a plan can name (``_blas_provider``'s names)
PROVIDERS = ("mkl", "scipy")


def machine_key() -> dict:
    """What a plan holds for: the CPU model and the libraries' versions."""
    from . import __version__

    return {
        "cpu": cpu_model(),
        "fastbackprop": __version__,
        "numpy": version("numpy"),
        "scipy": version("scipy"),
        "mkl": version("mkl"),
    }


def plan_path(key: dict | None = None) -> pathlib.Path:
    """The plan file of this machine: ``FASTBACKPROP_BLAS_PLAN`` if set, else
    one named by a hash of ``key`` (default :func:`machine_key`) in the
    user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``, under
    ``fastbackprop``)."""
    named = os.environ.get("FASTBACKPROP_BLAS_PLAN")
    if named:
        return pathlib.Path(named)
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    key = machine_key() if key is None else key
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return base / "fastbackprop" / f"blas-plan-{digest[:16]}.json"


def load_plan() -> dict | None:
    """This machine's plan, or None when there is none (or it is unreadable,
    or made for another machine or other library versions)."""
    key = machine_key()  # package metadata: a few ms, read once
    try:
        plan = json.loads(plan_path(key).read_text())
    except (OSError, ValueError, RuntimeError):  # RuntimeError: no home directory
        return None
    if not isinstance(plan, dict) or plan.get("machine") != key:
        return None
    if plan.get("provider") not in PROVIDERS:
        return None
    return plan


def default_provider(mkl_installed: bool) -> str:
    """The choice without a plan: MKL on an Intel CPU, else OpenBLAS."""
    return "mkl" if mkl_installed and is_intel() else "scipy"


_gemm = None  # the kernels' gemm, imported when measuring (it binds the BLAS)


def _run_products(out, a, b, transpose_a, transpose_b, calls):
    for _ in range(calls):
        _gemm(out, a, b, transpose_a, transpose_b)


def _time_shapes(repeats: int = 5) -> dict:
    """Best seconds of each of ``SHAPES`` through the kernels' ``gemm``, on
    one core (as each core runs its own products in a training step)."""
    import numpy as np

    from ._config import jit_uncached
    from .kernels.blas import gemm

    global _gemm
    _gemm = gemm
    run = jit_uncached(_run_products)

    rng = np.random.default_rng(0)
    timings = {}
    for m, k, n, ta, tb, dtype in SHAPES:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
        out = np.empty((m, n), dtype)
        calls = max(1, int(2e8 / (2.0 * m * n * k)))  # about 1 ms or more a round
        run(out, a, b, ta, tb, 1)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run(out, a, b, ta, tb, calls)
            best = min(best, (time.perf_counter() - start) / calls)
        timings[f"{m}x{k}x{n}{'T' if ta else ''}{'T' if tb else ''} {dtype}"] = best
    return timings


def _measure(provider: str) -> dict | None:
    """:func:`_time_shapes` in a process bound to ``provider``; None when
    that BLAS is not available there."""
    # one thread, as in training (where each core runs its own products)
    env = {**os.environ, "FASTBACKPROP_BLAS": provider}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "fastbackprop._blas_plan", "--measure"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return json.loads(result.stdout.strip().splitlines()[-1]) if not result.returncode else None
    except (subprocess.TimeoutExpired, IndexError, ValueError):
        return None


def mean_ratio(seconds: dict) -> dict:
    """Each provider's geometric mean, over the shapes, of its time over the
    fastest provider's: 1.0 for a provider fastest on every shape. (Every
    workload's products count alike; a sum of times would be the large
    workload's alone.)"""
    import math

    shapes = set.intersection(*(set(t) for t in seconds.values()))
    best = {shape: min(t[shape] for t in seconds.values()) for shape in shapes}
    return {
        provider: math.exp(sum(math.log(t[s] / best[s]) for s in shapes) / len(shapes))
        for provider, t in seconds.items()
    }


def tune(write: bool = True) -> dict:
    """Time the step's products with each installed BLAS and pick the one
    with the lowest :func:`mean_ratio`; with ``write``, keep the plan on
    disk.

    Returns
    -------
    dict
        ``{"machine": machine_key(), "provider": name, "seconds": {provider:
        {shape: s}}, "mean_ratio": {provider: r}, "path": str}``; ``path`` is
        where it was written, or ``""``.
    """
    seconds = {}
    for provider in PROVIDERS:
        timings = _measure(provider)
        if timings is not None:
            seconds[provider] = timings
    if not seconds:
        raise RuntimeError("no BLAS could be timed (see FASTBACKPROP_BLAS)")
    ratios = mean_ratio(seconds)
    plan = {
        "machine": machine_key(),
        "provider": min(ratios, key=ratios.get),
        "seconds": seconds,
        "mean_ratio": ratios,
        "path": "",
    }
    if write:
        from ._atomic import atomic_write

        try:
            path = plan_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, "w", encoding="utf-8") as stream:
                json.dump(plan, stream, indent=1)
            plan["path"] = str(path)
        except (OSError, RuntimeError):
            pass  # a read-only home, or none: the plan holds for this call only
    return plan


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    print(json.dumps(_time_shapes()))
