"""Which BLAS the compiled kernels call for their matrix products.

The kernels call two symbols, ``fastbackprop_sgemm`` and
``fastbackprop_dgemm`` (Fortran ``?gemm`` calling convention, 32-bit
integers). This module points them, once per process and before any kernel
is linked, at one of:

``mkl``
    Intel MKL's, when the optional ``mkl`` package is installed
    (``pip install fastbackprop[mkl]``). On the products of a training step
    (a 32-64 row block times a weight matrix) it measured 1.2-1.5x faster
    than OpenBLAS on one core of this Xeon, and PyTorch uses it too.
``scipy``
    SciPy's BLAS (OpenBLAS in SciPy's wheels), always present.

Binding by name at run time keeps the compiled kernels cacheable: the
cache holds a call to the symbol, not an address, so one cache serves
either library.

``FASTBACKPROP_BLAS`` chooses: ``auto`` (the default: the one this
machine's plan measured as faster, see :mod:`._blas_plan`; without a plan,
MKL on an Intel CPU when installed, else SciPy), ``mkl`` (an error without
it) or ``scipy``. The kernels call MKL sequential (see
``_MKL_THREADING_SEQUENTIAL``); if something else in the process already
started MKL with threads, ``auto`` takes SciPy's.
"""

from __future__ import annotations

import ctypes
import os
import pathlib

from llvmlite import binding

#: symbol the kernels call -> the BLAS routine name it stands for
SYMBOLS = {"fastbackprop_sgemm": "sgemm", "fastbackprop_dgemm": "dgemm"}
CHOICES = ("auto", "mkl", "scipy")

# MKL's threading layers (mkl_service.h). Sequential: MKL never starts
# threads of its own. The training loop runs one BLAS call per core anyway,
# and a threaded MKL changed results with global state outside our control:
# after torch.set_num_threads(2) (which turns MKL's dynamic threading off),
# the same fit gave different bits on 1 and 2 Numba threads.
_MKL_THREADING_SEQUENTIAL = 1

_provider: str | None = None
_mkl_library = None  # kept alive: the symbols point into it


def _scipy_routine(name: str) -> int:
    """Address of ``scipy.linalg.cython_blas``'s ``name``."""
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return get_pointer(capsule, get_name(capsule))


def _find_mkl() -> pathlib.Path | None:
    """``libmkl_rt`` of the installed ``mkl`` package, or None."""
    from importlib import metadata

    try:
        files = metadata.files("mkl") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in files:
        name = entry.name
        if name.startswith("libmkl_rt.so") or (name.startswith("mkl_rt") and name.endswith(".dll")):
            path = pathlib.Path(entry.locate()).resolve()
            if path.exists():
                return path
    return None


def _load_mkl(path: pathlib.Path):
    """The MKL library, sequential; None if this process already started
    MKL with threads (another package's MKL-linked NumPy, say): its
    threading layer can no longer change."""
    library = ctypes.CDLL(str(path))
    # before MKL's first call; afterwards it only returns the layer in force
    library.MKL_Set_Threading_Layer.restype = ctypes.c_int
    in_force = library.MKL_Set_Threading_Layer(_MKL_THREADING_SEQUENTIAL)
    return library if in_force == _MKL_THREADING_SEQUENTIAL else None


def install() -> str:
    """Bind the kernels' BLAS symbols as ``FASTBACKPROP_BLAS`` asks; returns
    the provider's name.

    Only the first call binds: kernels already linked keep the routines
    they were linked against, so a process uses one BLAS throughout.
    """
    global _provider, _mkl_library
    if _provider is not None:
        return _provider
    choice = os.environ.get("FASTBACKPROP_BLAS", "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"FASTBACKPROP_BLAS must be one of {', '.join(CHOICES)}, got {choice!r}")
    path = _find_mkl() if choice in ("auto", "mkl") else None
    if choice == "auto" and path is not None and _auto_choice(mkl_installed=True) != "mkl":
        path = None  # the plan, or the CPU, says OpenBLAS
    if choice == "mkl" and path is None:
        raise ValueError(
            "FASTBACKPROP_BLAS=mkl, but the mkl package is not installed "
            "(pip install fastbackprop[mkl])"
        )
    library = _load_mkl(path) if path is not None else None
    if choice == "mkl" and library is None:
        raise ValueError(
            "FASTBACKPROP_BLAS=mkl, but MKL was already started with threads in "
            "this process; use FASTBACKPROP_BLAS=auto or scipy, or set "
            "MKL_THREADING_LAYER=SEQUENTIAL"
        )
    if library is not None:
        _mkl_library = library
        for symbol, routine in SYMBOLS.items():
            address = ctypes.cast(getattr(_mkl_library, routine), ctypes.c_void_p).value
            binding.add_symbol(symbol, address)
        _provider = "mkl"
    else:
        for symbol, routine in SYMBOLS.items():
            binding.add_symbol(symbol, _scipy_routine(routine))
        _provider = "scipy"
    return _provider


def _auto_choice(mkl_installed: bool | None = None) -> str:
    """What ``auto`` means here: the plan's measured choice, else the
    default by CPU vendor (``_blas_plan``). ``mkl_installed`` None: look."""
    from . import _blas_plan

    try:
        plan = _blas_plan.load_plan()
    except Exception:  # noqa: BLE001 - e.g. no home directory: no plan, never a failed import
        plan = None
    if plan is not None:
        return plan["provider"]
    if mkl_installed is None:
        mkl_installed = _find_mkl() is not None
    return _blas_plan.default_provider(mkl_installed)


def provider() -> str:
    """The BLAS library the compiled kernels call.

    Returns
    -------
    str
        ``"mkl"`` (the optional ``mkl`` package) or ``"scipy"`` (SciPy's
        BLAS). Chosen once per process; see ``FASTBACKPROP_BLAS``.
    """
    return install()
