"""Numba kernels: the compiled backend.

Every module here has a pure-NumPy twin of the same name in
:mod:`fastbackprop.reference` with the same functions and signatures.
Conventions (after llm.c): outputs first, then inputs, then parameters, then
sizes; gradient buffers carry a ``d`` prefix; every buffer is preallocated by
the caller.
"""

import hashlib
import pathlib

import numba


def _drop_stale_cache() -> None:
    """Key Numba's on-disk cache on the source of every kernel file.

    Numba invalidates a cached function when its own file changes, but not
    when a kernel it calls, and compiled into itself, changes in another
    file; such a stale entry crashes the process. So when any kernel source
    differs from the one the cache was built from, the whole cache goes.
    """
    if numba.config.CACHE_DIR:  # a user-chosen cache directory is theirs to manage
        return
    here = pathlib.Path(__file__).parent
    # the kernels bake in the flags, the codes and the layout's named segments
    shared = ("_config.py", "_codes.py", "_layout.py")
    sources = sorted(here.glob("*.py")) + [here.parent / name for name in shared]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    cache_dir = here / "__pycache__"
    stamp = cache_dir / "fastbackprop-kernel-sources.sha256"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        cache_dir.mkdir(exist_ok=True)
        for entry in list(cache_dir.glob("*.nbi")) + list(cache_dir.glob("*.nbc")):
            entry.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: Numba then compiles in memory
        pass


_drop_stale_cache()
