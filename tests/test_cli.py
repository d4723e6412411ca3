"""The command line, run as ``python -m fastbackprop`` in a subprocess."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from fastbackprop.cli import main
from fastbackprop.datasets import moons

ACCURACY_LINE = re.compile(r"^Epoch (\d+)/(\d+) - Loss: (\d+\.\d{4}) - Accuracy: (\d\.\d{4})$")


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """Environment for the subprocesses: a private Numba cache, so a cache
    left stale by edits to the kernels cannot affect (or crash) these runs."""
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(tmp_path_factory.mktemp("numba_cache"))
    return env


def run(env, *args, cwd=None, module="fastbackprop"):
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def test_spiral_demo_reaches_99_percent(cli_env, tmp_path):
    result = run(cli_env, "demo", "spiral", "--plot", tmp_path / "spiral.png")
    assert result.returncode == 0, result.stderr
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("Epoch")]
    # the seed log format, every 100 epochs up to 1000
    assert [ACCURACY_LINE.match(line).group(1) for line in epoch_lines] == [
        str(e) for e in range(100, 1001, 100)
    ]
    assert float(ACCURACY_LINE.match(epoch_lines[-1]).group(4)) >= 0.99
    final = re.search(r"Final train accuracy: (\d\.\d+)", result.stdout)
    assert float(final.group(1)) >= 0.99
    assert (tmp_path / "spiral.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_module_runs_the_spiral(cli_env):
    result = run(cli_env, "--epochs", "3", module="fastbackprop.demo")
    assert result.returncode == 0, result.stderr
    assert "Epoch 3/3 - Loss:" in result.stdout and "Final train accuracy" in result.stdout


@pytest.mark.parametrize(
    ("name", "epochs", "final"),
    [
        ("xor", 2000, r"Final accuracy: 1\.0000"),
        ("softmax-xor", 1000, r"Final accuracy: 1\.0000"),
        ("regression", 20, r"Final MSE: \d\.\d{6} - R\^2: -?\d"),
        ("digits", 2, r"Test accuracy: 0\.\d{4}"),
    ],
)
def test_other_demos(cli_env, name, epochs, final):
    if name == "digits":
        pytest.importorskip("sklearn")
    result = run(cli_env, "demo", name, "--epochs", epochs)
    assert result.returncode == 0, result.stderr
    assert f"Epoch {epochs}/{epochs} - Loss:" in result.stdout
    assert re.search(final, result.stdout), result.stdout


def _write_csv(path, X, labels):
    rows = [f"{float(a)!r},{float(b)!r},{label}" for (a, b), label in zip(X, labels, strict=True)]
    path.write_text("x0,x1,label\n" + "\n".join(rows) + "\n")


def test_train_save_predict_round_trip(cli_env, tmp_path):
    X, y = moons(n_samples=60, noise=0.05, seed=0)
    labels = np.where(y == 1, 7, 3)  # arbitrary class values must come back as given
    _write_csv(tmp_path / "train.csv", X, labels)
    model = tmp_path / "model.npz"
    result = run(
        cli_env,
        "train",
        "train.csv",
        "--target",
        "label",
        "--layers",
        "16",
        "--epochs",
        300,
        "--batch-size",
        60,
        "--learning-rate",
        0.5,
        "--seed",
        0,
        "--save",
        model,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    train_accuracy = float(re.search(r"train accuracy: (\d\.\d+)", result.stdout).group(1))
    assert model.exists()

    result = run(cli_env, "predict", model, "train.csv", "--out", "preds.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "preds.csv").read_text().splitlines()
    assert lines[0] == "prediction"
    predictions = np.array([int(float(v)) for v in lines[1:]])
    assert set(predictions) <= {3, 7}
    # the saved model predicts exactly as well as the trained one scored
    assert np.mean(predictions == labels) == pytest.approx(train_accuracy, abs=1e-4)
    assert train_accuracy >= 0.95


def test_train_npy_with_mse_and_predict_prints(cli_env, tmp_path):
    X, y = moons(n_samples=20, seed=0)
    np.save(tmp_path / "data.npy", np.column_stack([X, y]))
    model = tmp_path / "reg.npz"
    result = run(
        cli_env,
        "train",
        tmp_path / "data.npy",
        "--loss",
        "mse",
        "--layers",
        "4",
        "--epochs",
        5,
        "--save",
        model,
    )
    assert result.returncode == 0, result.stderr
    result = run(cli_env, "predict", model, tmp_path / "data.npy")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 20
    assert all(np.isfinite(float(v)) for v in result.stdout.split())


def test_info(cli_env):
    result = run(cli_env, "info")
    assert result.returncode == 0, result.stderr
    for key in (
        "fastbackprop:",
        "numpy:",
        "numba:",
        "scipy:",
        "numba threads:",
        "numba threading layer:",
        "BLAS",
        "numba cache:",
    ):
        assert key in result.stdout


def _assert_one_line_error(result, fragment):
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastbackprop: error: ")
    assert fragment in lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["demo", "nope"], "invalid choice"),
        (["train", "missing.csv", "--target", "label"], "no such file"),
        (["predict", "missing.npz", "data.csv"], "no such model file"),
    ],
)
def test_bad_arguments_in_a_subprocess(cli_env, tmp_path, args, fragment):
    _assert_one_line_error(run(cli_env, *args, cwd=tmp_path), fragment)


@pytest.fixture
def csv_file(tmp_path):
    X, y = moons(n_samples=10, seed=0)
    _write_csv(tmp_path / "d.csv", X, y)
    return tmp_path / "d.csv"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--target", "nope"], "'nope' is not a column"),
        (["--target", "9"], "out of range"),
        ([], "--target is required"),
        (["--target", "label", "--layers", "8,x"], "--layers '8,x'"),
        (["--target", "label", "--layers", "8,0"], ">= 1"),
        (["--target", "label", "--activation", "swish"], "activation='swish'"),
        (["--target", "label", "--learning-rate", "-1"], "learning_rate"),
        (["--target", "label", "--epochs", "0"], "--epochs"),
        (["--target", "label", "--optimizer", "nadam"], "nadam"),
        (["--target", "label", "--loss", "hinge"], "loss='hinge'"),
    ],
)
def test_bad_train_arguments(csv_file, capsys, extra, fragment):
    # every case fails before any training, so this runs in-process and fast
    epochs = [] if "--epochs" in extra else ["--epochs", "1"]
    assert main(["train", str(csv_file), *epochs, *extra]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastbackprop: error: ")
    assert fragment in lines[0]


def test_bad_files(tmp_path, capsys):
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    (tmp_path / "text.csv").write_text("a,b\n1,x\n")
    (tmp_path / "data.txt").write_text("1,2\n")
    cases = [
        (["train", str(tmp_path / "ragged.csv"), "--target", "b"], "line 3 has 1 fields"),
        (["train", str(tmp_path / "text.csv"), "--target", "b"], "must be a number"),
        (["train", str(tmp_path / "data.txt")], "unsupported format"),
        (["predict", str(tmp_path / "text.csv"), str(tmp_path / "text.csv")], "not a model"),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], (argv, err)
