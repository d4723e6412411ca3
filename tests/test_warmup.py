"""First use: a compile is announced in one line before it starts, the cache
can be filled ahead of time, a read-only installation falls back to the
user's cache, and a cache made for another CPU is not used."""

import ast
import logging
import os
import pathlib
import shutil
import subprocess
import sys

import numba
import numpy as np
import pytest

import fastbackprop
from fastbackprop import _warmup

FIT = (
    "import numpy as np, fastbackprop\n"
    "from fastbackprop import Network\n"
    "from fastbackprop.kernels import train\n"
    "X = np.random.default_rng(0).standard_normal((40, 3))\n"
    "net = Network([3, 4, 2], seed=0)\n"
    "net.fit(X, (X[:, 0] > 0).astype(int), epochs=2, batch_size=40)\n"
    "print('hits', len(train.train_epochs.stats.cache_hits),"
    " 'misses', len(train.train_epochs.stats.cache_misses))\n"
    "print('cache', fastbackprop._warmup.cache_directory())\n"
)


def _run(code, env, cwd=None):
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )


def _env(**changes):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update({k: str(v) for k, v in changes.items() if v is not None})
    return env


def _notices(stderr):
    return [line for line in stderr.splitlines() if line.startswith("fastbackprop: compiling")]


@pytest.mark.slow
def test_a_cold_fit_says_what_it_compiles_once_and_a_warm_one_says_nothing(tmp_path):
    env = _env(NUMBA_CACHE_DIR=tmp_path / "cache")
    cold = _run(FIT, env)
    notices = _notices(cold.stderr)
    assert len(notices) == 1, cold.stderr
    assert "the training kernels for float64" in notices[0]
    assert "about" in notices[0] and str(tmp_path / "cache") in notices[0]
    assert "misses 1" in cold.stdout
    warm = _run(FIT, env)
    assert _notices(warm.stderr) == [] and "hits 1 misses 0" in warm.stdout
    # the line goes through the logger, so it can be silenced
    silenced = _run(
        "import logging; logging.getLogger('fastbackprop.compile').setLevel(logging.WARNING)\n"
        + FIT,
        _env(NUMBA_CACHE_DIR=tmp_path / "other"),
    )
    assert _notices(silenced.stderr) == [] and "misses 1" in silenced.stdout


def _fake_kernel(name):
    """A tiny jitted function that the notice takes for one of the library's."""

    def kernel(x):
        return x + 1

    kernel.__module__ = "fastbackprop.kernels.fake"
    kernel.__qualname__ = kernel.__name__ = name
    return numba.njit(cache=False)(kernel)


@pytest.fixture
def nothing_warm():
    """``_warmup.WARM`` empty for the test, as in a new process."""
    saved = set(_warmup.WARM)
    _warmup.WARM.clear()
    yield
    _warmup.WARM.clear()
    _warmup.WARM.update(saved)


@pytest.fixture
def notices(caplog):
    """A function giving the messages logged on ``fastbackprop.compile``
    during the test (the logger does not propagate to the root)."""
    logger = logging.getLogger("fastbackprop.compile")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="fastbackprop.compile")
    yield lambda: [record.getMessage() for record in caplog.records]
    logger.removeHandler(caplog.handler)


def test_the_notice_is_one_line_per_task_and_none_for_short_tasks(
    notices, nothing_warm, monkeypatch
):
    monkeypatch.setitem(_warmup.COMPILE_SECONDS, "prediction", 1)  # a short task
    with _warmup.announcing("training", "float32"):
        _fake_kernel("train_epochs")(1)
        _fake_kernel("_shard_forward_backward")(1)  # the same task: no second line
    with _warmup.announcing("training", "float32"):
        _fake_kernel("train_epochs")(1)  # the task ran once: nothing to say
    with _warmup.announcing("prediction", "float32"):
        _fake_kernel("evaluate")(1)  # under ANNOUNCE_FROM_SECONDS
    lines = notices()
    assert _warmup.COMPILE_SECONDS["prediction"] <= _warmup.ANNOUNCE_FROM_SECONDS
    assert len(lines) == 1 and lines[0].startswith("compiling the training kernels for float32")


def test_a_network_s_own_small_kernels_are_not_announced(nothing_warm, notices):
    # a new activation, loss or optimizer in a dtype whose loop kernels are
    # cached compiles in a fraction of a second: no notice of a long wait
    with _warmup.announcing("training", "float64"):
        _fake_kernel("gelu_forward")(1)
        _fake_kernel("adamw_slice")(1)
    assert notices() == []


def test_a_failed_task_is_announced_again_next_time(nothing_warm, notices):
    with pytest.raises(RuntimeError):
        with _warmup.announcing("gradients", "float64"):
            raise RuntimeError("compile failed")
    assert ("gradients", np.dtype("float64")) not in _warmup.WARM
    with _warmup.announcing("gradients", "float64"):
        _fake_kernel("batch_gradients")(1)  # the first compile, after the failure
    lines = notices()
    assert len(lines) == 1 and lines[0].startswith("compiling the gradients kernels for float64")
    assert ("gradients", np.dtype("float64")) in _warmup.WARM


def test_compile_fills_the_cache_and_says_where():
    report = fastbackprop.compile("float32", gradients=True)
    assert set(report) == {"cache_dir", "seconds"}
    assert list(report["seconds"]) == ["float32"] and report["seconds"]["float32"] > 0
    assert report["cache_dir"] == _warmup.cache_directory()
    assert pathlib.Path(report["cache_dir"]).is_dir()
    assert any(pathlib.Path(report["cache_dir"]).glob("train.train_epochs-*.nbi"))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dtypes": ["float16"]}, ValueError, "dtype"),
        ({"dtypes": []}, ValueError, "at least one dtype"),
        ({"dtypes": 3}, TypeError, "dtypes must be"),
        ({"prediction": "yes"}, TypeError, "prediction"),
        ({"gradients": 1.5}, TypeError, "gradients"),
        ({"activations": ["nope"]}, ValueError, "activations='nope' is not valid"),
        ({"losses": 3}, TypeError, "losses must be a name or a sequence"),
        ({"optimizers": []}, ValueError, "optimizers must name at least one"),
    ],
)
def test_compile_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastbackprop.compile(**kwargs)


# counts what a fit and a predict compile, by kernel (Numba sends no event
# for a kernel it loads from its cache)
COUNT_COMPILES = (
    "import numpy as np\n"
    "from numba.core import event\n"
    "from fastbackprop import Network\n"
    "compiled = []\n"
    "class Count(event.Listener):\n"
    "    def on_start(self, e):\n"
    "        compiled.append(e.data['dispatcher'].py_func.__qualname__)\n"
    "    def on_end(self, e):\n"
    "        pass\n"
    "event.register('numba:compile', Count())\n"
    "X = np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)\n"
    "net = Network([5, 32, 3], activation='relu', dtype='float32', seed=0)\n"
    "net.fit(X, (X[:, 0] > 0).astype(int), epochs=2, optimizer='adam', batch_size=64)\n"
    "net.predict(X)\n"
    "print('compiled', sorted(set(compiled)))\n"
)


@pytest.mark.slow
def test_compile_ahead_leaves_nothing_for_a_fit_of_its_choices(tmp_path):
    env = _env(NUMBA_CACHE_DIR=tmp_path / "cache")
    ahead = (
        "import fastbackprop\n"
        "fastbackprop.compile('float32', activations='relu', losses='cross_entropy',"
        " optimizers=['adam'])\n"
    )
    _run(ahead, env)
    after = _run(COUNT_COMPILES, env)
    assert "compiled []" in after.stdout, after.stdout
    # the choices matter: a fit with another optimizer compiles that one alone
    other = _run(COUNT_COMPILES.replace("optimizer='adam'", "optimizer='rmsprop'"), env)
    compiled = ast.literal_eval(other.stdout.split("compiled ", 1)[1])
    assert "rmsprop_slice" in compiled and all("rmsprop" in name for name in compiled)


def test_the_compile_command_reports_each_dtype_and_the_cache(capsys):
    from fastbackprop.cli import main

    assert main(["compile", "--dtype", "float64", "--activation", "tanh", "--loss", "mse"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("float64: ready in ") and out[0].endswith(" s")
    assert out[1] == f"cache: {_warmup.cache_directory()}"


def _installed_copy(tmp_path):
    """A copy of the package whose kernels directory cannot hold a cache:
    ``__pycache__`` there is a file, as good as read-only (the tests run as
    root, for whom permissions do not stop a write)."""
    copy = tmp_path / "site"
    shutil.copytree(
        pathlib.Path(fastbackprop.__file__).parent,
        copy / "fastbackprop",
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"),
    )
    (copy / "fastbackprop" / "kernels" / "__pycache__").write_text("not a directory")
    return copy


@pytest.mark.slow
def test_an_installation_that_cannot_hold_a_cache_uses_the_users_cache(tmp_path):
    copy = _installed_copy(tmp_path)
    user_cache = tmp_path / "user-cache"
    env = _env(PYTHONPATH=copy, XDG_CACHE_HOME=user_cache)
    first = _run(FIT, env, cwd=tmp_path)
    assert f"cache {user_cache}" in first.stdout, first.stdout
    assert "misses 1" in first.stdout and len(_notices(first.stderr)) == 1
    assert any(user_cache.rglob("train.train_epochs-*.nbi"))
    second = _run(FIT, env, cwd=tmp_path)
    assert "hits 1 misses 0" in second.stdout and _notices(second.stderr) == []


@pytest.mark.slow
def test_a_cache_made_for_another_cpu_is_not_used(tmp_path):
    env = _env(NUMBA_CACHE_DIR=tmp_path / "cache")
    other_cpu = _run(FIT, {**env, "NUMBA_CPU_NAME": "generic"})
    assert "misses 1" in other_cpu.stdout
    this_cpu = _run(FIT, env)
    assert "hits 0 misses 1" in this_cpu.stdout  # compiled again for this CPU
    again = _run(FIT, env)
    assert "hits 1 misses 0" in again.stdout


def test_prediction_after_training_expects_less_than_alone(nothing_warm):
    alone = _warmup.expected_seconds("prediction", "float64")
    training_alone = _warmup.expected_seconds("training", "float64")
    _warmup.WARM.add(("training", np.dtype("float64")))
    after = _warmup.expected_seconds("prediction", "float64")
    assert after < alone and after <= _warmup.ANNOUNCE_FROM_SECONDS  # no notice then
    assert _warmup.expected_seconds("gradients", "float64") <= _warmup.ANNOUNCE_FROM_SECONDS
    assert _warmup.expected_seconds("prediction", "float32") == alone  # per dtype
    _warmup.WARM.clear()
    _warmup.WARM.add(("prediction", np.dtype("float64")))
    assert _warmup.expected_seconds("training", "float64") < training_alone
