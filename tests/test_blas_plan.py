"""The BLAS plan: measured per machine, kept on disk, read by ``auto``."""

import json

import pytest

from fastbackprop import _blas_plan, _blas_provider


@pytest.fixture
def plan_file(tmp_path, monkeypatch):
    path = tmp_path / "plan.json"
    monkeypatch.setenv("FASTBACKPROP_BLAS_PLAN", str(path))
    return path


def _write(path, **changes):
    plan = {
        "machine": _blas_plan.machine_key(),
        "provider": "scipy",
        "seconds": {"scipy": {"s": 1.0}},
        "mean_ratio": {"scipy": 1.0},
        "path": "",
    }
    plan.update(changes)
    path.write_text(json.dumps(plan))
    return plan


def test_a_plan_for_this_machine_is_read_and_decides_auto(plan_file):
    assert _blas_plan.plan_path() == plan_file
    assert _blas_plan.load_plan() is None  # none yet
    written = _write(plan_file, provider="scipy")
    assert _blas_plan.load_plan() == written
    assert _blas_provider._auto_choice() == "scipy"
    _write(plan_file, provider="mkl")
    assert _blas_provider._auto_choice() == "mkl"


@pytest.mark.parametrize(
    "changes",
    [
        {"machine": {**_blas_plan.machine_key(), "cpu": "another CPU"}},
        {"machine": {**_blas_plan.machine_key(), "numpy": "0.0"}},
        {"provider": "accelerate"},
    ],
    ids=["other-cpu", "other-versions", "unknown-provider"],
)
def test_a_plan_for_another_machine_or_library_is_not_used(plan_file, changes):
    _write(plan_file, **changes)
    assert _blas_plan.load_plan() is None
    mkl = _blas_provider._find_mkl() is not None
    assert _blas_provider._auto_choice() == _blas_plan.default_provider(mkl)


def test_an_unreadable_plan_is_no_plan(plan_file):
    plan_file.write_text("{not json")
    assert _blas_plan.load_plan() is None
    plan_file.write_text("[1, 2]")
    assert _blas_plan.load_plan() is None


def test_without_a_plan_only_an_intel_cpu_takes_mkl():
    assert _blas_plan.default_provider(mkl_installed=False) == "scipy"
    vendor = open("/proc/cpuinfo").read().split("vendor_id", 1)[1].split(":", 1)[1].split()[0]
    expected = "mkl" if vendor == "GenuineIntel" else "scipy"
    assert _blas_plan.default_provider(mkl_installed=True) == expected


def test_mean_ratio_weighs_every_shape_alike():
    # a is fastest on both shapes; b is 2x and 8x slower: geometric mean 4
    ratios = _blas_plan.mean_ratio({"a": {"s": 1.0, "t": 1.0}, "b": {"s": 2.0, "t": 8.0}})
    assert ratios == pytest.approx({"a": 1.0, "b": 4.0})
    # each fastest on one shape: a sum of times would pick b (103 s against 201)
    mixed = _blas_plan.mean_ratio({"a": {"s": 1.0, "t": 200.0}, "b": {"s": 3.0, "t": 100.0}})
    assert mixed["a"] == pytest.approx(2**0.5) and mixed["b"] == pytest.approx(3**0.5)


@pytest.mark.slow
def test_tune_measures_each_blas_and_keeps_the_faster(plan_file, capsys):
    from fastbackprop.cli import main

    assert main(["tune"]) == 0
    out = capsys.readouterr().out
    plan = _blas_plan.load_plan()
    assert plan is not None and set(plan["seconds"]) <= set(_blas_plan.PROVIDERS)
    assert "scipy" in plan["seconds"]  # SciPy's BLAS is always there
    for timings in plan["seconds"].values():
        assert len(timings) == len(_blas_plan.SHAPES) and min(timings.values()) > 0
    assert plan["provider"] == min(plan["mean_ratio"], key=plan["mean_ratio"].get)
    assert f"chosen: {plan['provider']}" in out and str(plan_file) in out


def test_no_home_directory_means_no_plan_not_a_failed_import(monkeypatch):
    # a container's user without a home: Path.home() raises RuntimeError
    import pathlib

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("FASTBACKPROP_BLAS_PLAN", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(pathlib.Path, "home", staticmethod(no_home))
    assert _blas_plan.load_plan() is None
    mkl = _blas_provider._find_mkl() is not None
    assert _blas_provider._auto_choice() == _blas_plan.default_provider(mkl)
