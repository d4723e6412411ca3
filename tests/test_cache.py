"""The kernel cache is dropped when any kernel source changes."""

import pathlib

import pytest

from fastbackprop import kernels


def test_stale_cache_entries_are_removed_when_the_sources_change():
    cache = pathlib.Path(kernels.__file__).parent / "__pycache__"
    stamp = cache / "fastbackprop-kernel-sources.sha256"
    if not stamp.exists():
        pytest.skip("no writable kernel cache here")
    current = stamp.read_text()
    fake = cache / "fastbackprop-test-stale-entry.nbi"
    try:
        fake.write_bytes(b"stale")
        kernels._drop_stale_cache()  # sources unchanged: entries are kept
        assert fake.exists()
        stamp.write_text("sources of an older version")
        kernels._drop_stale_cache()
        assert not fake.exists()
        assert stamp.read_text() == current  # the stamp is back in step with the sources
    finally:
        fake.unlink(missing_ok=True)
        stamp.write_text(current)
