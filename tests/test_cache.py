"""The kernel cache is dropped when any kernel source changes.

Every check runs on a copy of the sources in ``tmp_path``: the copied
``kernels/__init__.py`` is executed as its own module, so the cache it
keys, stamps and clears is the copy's ``__pycache__``, never the installed
package's (which other test runs, and other processes, are using).
"""

import importlib.util
import pathlib
import shutil
import sys

import numba
import pytest

import fastbackprop
from fastbackprop import kernels

STAMP = "fastbackprop-kernel-sources.sha256"


@pytest.fixture
def kernels_copy(tmp_path, monkeypatch):
    """A copy of the package's modules (the kernels and the shared modules
    the cache is keyed on), laid out as in the package, without any cache."""
    # a user-chosen cache directory turns the check off: run it as by default
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    package = pathlib.Path(fastbackprop.__file__).parent
    copy = tmp_path / "fastbackprop"
    (copy / "kernels").mkdir(parents=True)
    for path in (package / "kernels").glob("*.py"):
        shutil.copy2(path, copy / "kernels" / path.name)
    for path in package.glob("*.py"):
        shutil.copy2(path, copy / path.name)
    return copy / "kernels"


def _import_copy(kernels_dir):
    """Execute the copied ``kernels/__init__.py`` (which checks its cache on
    import) as a module of its own, outside ``sys.modules``."""
    spec = importlib.util.spec_from_file_location(
        "fastbackprop.kernels",
        kernels_dir / "__init__.py",
        submodule_search_locations=[str(kernels_dir)],
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sys.modules["fastbackprop.kernels"] is kernels  # the installed one stays
    assert pathlib.Path(module.__file__).parent == kernels_dir
    return module


def _fake_entries(cache):
    entries = [cache / "train.fake-1.py311.nbi", cache / "train.fake-1.py311.1.nbc"]
    for entry in entries:
        entry.write_bytes(b"stale")
    return entries


def test_a_fresh_cache_is_stamped_on_import(kernels_copy):
    cache = kernels_copy / "__pycache__"
    assert not cache.exists()
    _import_copy(kernels_copy)
    assert cache.is_dir()
    assert len((cache / STAMP).read_text()) > 0


@pytest.mark.parametrize(
    "changed",
    [
        "kernels/train.py",
        "kernels/activations.py",
        "_config.py",
        "_codes.py",
        "_layout.py",
        "stamp",
    ],
)
def test_stale_cache_entries_are_removed_when_the_sources_change(kernels_copy, changed):
    copy = _import_copy(kernels_copy)
    cache = kernels_copy / "__pycache__"
    stamp = cache / STAMP
    current = stamp.read_text()
    entries = _fake_entries(cache)
    other = cache / "__init__.cpython-311.pyc"  # not Numba's: never removed
    other.write_bytes(b"bytecode")

    copy._drop_stale_cache()  # sources unchanged: entries are kept
    assert all(entry.exists() for entry in entries)
    assert stamp.read_text() == current

    if changed == "stamp":  # a cache built from an older version's sources
        stamp.write_text("sources of an older version")
    else:
        source = kernels_copy.parent / changed
        source.write_text(source.read_text() + "\n# edited\n")
    copy._drop_stale_cache()
    assert not any(entry.exists() for entry in entries)
    assert other.exists()
    if changed == "stamp":
        assert stamp.read_text() == current  # back in step with the same sources
    else:
        assert stamp.read_text() not in ("", current)  # in step with the edited sources

    # the new stamp matches: entries compiled from now on are kept
    entries = _fake_entries(cache)
    copy._drop_stale_cache()
    assert all(entry.exists() for entry in entries)


def test_a_user_chosen_cache_directory_is_left_alone(kernels_copy, tmp_path, monkeypatch):
    copy = _import_copy(kernels_copy)
    cache = kernels_copy / "__pycache__"
    (cache / STAMP).write_text("sources of an older version")
    entries = _fake_entries(cache)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba-cache"))
    copy._drop_stale_cache()
    assert all(entry.exists() for entry in entries)
    assert (cache / STAMP).read_text() == "sources of an older version"
