"""The command line, run as ``python -m fastbackprop`` in a subprocess."""

import importlib.util
import os
import re
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest

from fastbackprop import Network
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


@pytest.mark.slow
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


@pytest.mark.slow
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
@pytest.mark.slow
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


@pytest.mark.slow
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
@pytest.mark.slow
def test_bad_arguments_in_a_subprocess(cli_env, tmp_path, args, fragment):
    _assert_one_line_error(run(cli_env, *args, cwd=tmp_path), fragment)


@pytest.fixture
def csv_file(tmp_path):
    X, y = moons(n_samples=10, seed=0)
    _write_csv(tmp_path / "d.csv", X, y)
    return tmp_path / "d.csv"


def _one_error_line(capsys, fragment):
    """One error line on stderr (besides train's own messages), no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("fastbackprop: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert fragment in lines[0], lines[0]


def _table_model(tmp_path, name="m.npz"):
    """A small model saved by ``train`` (two moons features x0, x1), and
    its feature table ``x.npy``."""
    X, y = moons(n_samples=40, seed=0)
    _write_csv(tmp_path / "t.csv", X, y)
    argv = ["train", str(tmp_path / "t.csv"), "--target", "label", "--epochs", "2"]
    assert main([*argv, "--save", str(tmp_path / name)]) == 0
    np.save(tmp_path / "x.npy", X[:4])
    return tmp_path / name


def test_output_paths_are_checked_before_training(csv_file, tmp_path, capsys, monkeypatch):
    model = tmp_path / "m.npz"
    save = ["--save", str(model)]
    cases = [
        ([*save, "--plot", str(tmp_path / "no" / "r.png")], "No such directory"),
        ([*save, "--plot", str(tmp_path / "r.jpg")], ".png, .pdf, .svg"),
        (["--save", str(tmp_path / "no" / "m.npz")], "No such directory"),
        (["--save", str(tmp_path)], "Is a directory"),
        (["--save", str(tmp_path / "new") + os.sep], "Not a file path"),
    ]
    for extra, fragment in cases:
        assert main(["train", str(csv_file), "--target", "label", "--epochs", "1", *extra]) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (extra, lines)
        assert "Epoch" not in captured.out and not model.exists()
    assert main(["demo", "xor", "--plot", str(tmp_path / "no" / "x.png")]) == 2
    _one_error_line(capsys, "No such directory")
    # without matplotlib, --plot is refused before training, not after
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a),
    )
    argv = ["train", str(csv_file), "--target", "label", "--epochs", "1", *save]
    assert main([*argv, "--plot", str(tmp_path / "r.png")]) == 2
    captured = capsys.readouterr()
    assert "needs matplotlib" in captured.err and "Epoch" not in captured.out
    assert not model.exists()


def test_a_failed_save_keeps_the_earlier_model(csv_file, tmp_path, capsys, monkeypatch):
    model = tmp_path / "m.npz"
    argv = ["train", str(csv_file), "--target", "label", "--epochs", "1", "--save", str(model)]
    assert main(argv) == 0
    before = model.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    assert main([*argv[:-2], "--epochs", "2", "--save", str(model)]) == 2
    _one_error_line(capsys, "No space left")
    assert model.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "m.npz"]  # no temp file left


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names open files through /proc")
def test_train_save_never_writes_the_model_file_in_place(csv_file, tmp_path, monkeypatch):
    # every write goes to a temporary file that is then renamed: the model
    # file itself is never opened for writing (a failed in-place rewrite
    # once left an earlier model as 11 bytes)
    real_savez, targets = np.savez, []

    def recording_savez(file, *args, **kwargs):
        name = getattr(file, "name", file)
        if isinstance(name, int):  # a stream opened from a descriptor (Linux)
            name = os.readlink(f"/proc/self/fd/{name}")
        targets.append(os.path.abspath(name))
        return real_savez(file, *args, **kwargs)

    monkeypatch.setattr(np, "savez", recording_savez)
    model = tmp_path / "m.npz"
    argv = ["train", str(csv_file), "--target", "label", "--epochs", "1", "--save", str(model)]
    assert main(argv) == 0
    assert targets and str(model) not in targets
    assert Network.load(model).n_features == 2


def test_csv_with_a_byte_order_mark(tmp_path, capsys):
    # the target is the first column, whose name follows the mark
    X, y = moons(n_samples=10, seed=0)
    rows = "".join(
        f"{label},{float(a)!r},{float(b)!r}\n" for label, (a, b) in zip(y, X, strict=True)
    )
    (tmp_path / "bom.csv").write_text("\ufefflabel,x0,x1\n" + rows, encoding="utf-8")
    assert main(["train", str(tmp_path / "bom.csv"), "--target", "label", "--epochs", "1"]) == 0


def test_a_malformed_csv_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "big.csv").write_text("a,b\n" + "1," + "9" * 200_000 + "\n")
    assert main(["train", str(tmp_path / "big.csv"), "--target", "b"]) == 2
    _one_error_line(capsys, "field larger than field limit")


def test_predict_writes_through_a_symbolic_link(tmp_path, capsys):
    _table_model(tmp_path)
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    argv = ["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy")]
    assert main([*argv, "--out", str(tmp_path / "link.csv")]) == 0
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "real.csv").read_text().splitlines()[0] == "prediction"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_predict_writes_into_a_fifo_without_replacing_it(tmp_path, capsys):
    _table_model(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    argv = ["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), "--out", str(fifo)]
    assert main(argv) == 0
    reader.join(timeout=60)
    assert received and received[0].splitlines()[0] == "prediction"
    assert len(received[0].splitlines()) == 5 and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_predict_to_a_link_into_proc_appends_like_dev_stdout(tmp_path, capsys):
    # /dev/stdout is such a link; here the descriptor is a file opened for
    # appending, as with "fastbackprop predict ... --out /dev/stdout >> log"
    _table_model(tmp_path)
    log = tmp_path / "log.csv"
    log.write_text("earlier line\n")
    with open(log, "a") as handle:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{handle.fileno()}")
        argv = ["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), "--out", str(link)]
        assert main(argv) == 0
    lines = log.read_text().splitlines()
    assert lines[:2] == ["earlier line", "prediction"] and len(lines) == 6
