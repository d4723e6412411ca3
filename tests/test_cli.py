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


@pytest.mark.slow
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


def _one_error_line(capsys, fragment):
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastbackprop: error: "), lines
    assert fragment in lines[0], lines[0]


def test_malformed_data_files_are_one_line_errors(tmp_path, capsys):
    X, y = moons(n_samples=10, seed=0)
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "flat.npz", X=X[:, 0], y=y)
    np.savez(tmp_path / "no_rows.npz", X=X[:0], y=y[:0])
    np.savez(tmp_path / "nan_label.npz", X=X, y=np.where(y == 1, np.nan, 0.0))
    np.savez(tmp_path / "fraction.npz", X=X, y=np.linspace(0, 1, 10))
    cases = [
        ("empty.npz", "empty.npz"),
        ("flat.npz", "2-D table"),
        ("no_rows.npz", "2-D table"),
        ("nan_label.npz", "NaN or infinite labels"),
        ("fraction.npz", "--loss mse"),
    ]
    for name, fragment in cases:
        assert main(["train", str(tmp_path / name), "--epochs", "1"]) == 2, name
        _one_error_line(capsys, fragment)
    (tmp_path / "empty.npz").write_bytes(b"")
    assert main(["predict", str(tmp_path / "empty.npz"), str(tmp_path / "flat.npz")]) == 2
    _one_error_line(capsys, "the file is empty")


def _train_and_predict(tmp_path, capsys, labels, loss="cross_entropy"):
    X, _ = moons(n_samples=len(labels), seed=0)
    np.savez(tmp_path / "data.npz", X=X, y=labels)
    model = str(tmp_path / "m.npz")
    argv = ["train", str(tmp_path / "data.npz"), "--epochs", "2", "--loss", loss, "--save", model]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["predict", model, str(tmp_path / "data.npz")]) == 0
    return capsys.readouterr().out.splitlines()


def test_predictions_print_labels_exactly(tmp_path, capsys):
    big = np.array([1234567, 7654321] * 5)
    lines = _train_and_predict(tmp_path, capsys, big)
    assert len(lines) == 10 and set(lines) <= {"1234567", "7654321"}
    words = np.array(["cat", "dog, big"] * 5)  # a comma: the CSV quotes it
    lines = _train_and_predict(tmp_path, capsys, words)
    assert len(lines) == 10 and set(lines) <= {"cat", '"dog, big"'}
    column = big[:, None]  # a target stored as a column vector
    lines = _train_and_predict(tmp_path, capsys, column)
    assert len(lines) == 10 and set(lines) <= {"1234567", "7654321"}
    outputs = _train_and_predict(tmp_path, capsys, np.linspace(0, 1, 10), loss="mse")
    # every digit of the outputs, not %g's six: they read back exactly
    X, _ = moons(n_samples=10, seed=0)
    expected = Network.load(tmp_path / "m.npz").predict(X)
    assert [float(line) for line in outputs] == expected.tolist()


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


def test_predictions_file_of_several_outputs_has_a_column_each(tmp_path, capsys):
    X, _ = moons(n_samples=8, seed=0)
    net = Network([2, 3, 2], loss="mse", seed=0)
    net.save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "p.csv"
    assert (
        main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), "--out", str(out)]) == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "prediction_0,prediction_1"
    values = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_array_equal(values, net.predict(X))


def test_csv_with_a_byte_order_mark(tmp_path, capsys):
    # the target is the first column, whose name follows the mark
    X, y = moons(n_samples=10, seed=0)
    rows = "".join(
        f"{label},{float(a)!r},{float(b)!r}\n" for label, (a, b) in zip(y, X, strict=True)
    )
    (tmp_path / "bom.csv").write_text("\ufefflabel,x0,x1\n" + rows, encoding="utf-8")
    assert main(["train", str(tmp_path / "bom.csv"), "--target", "label", "--epochs", "1"]) == 0


def test_a_model_from_npz_keeps_a_csv_column_named_y(tmp_path, capsys):
    X, y = moons(n_samples=10, seed=0)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = str(tmp_path / "m.npz")
    assert main(["train", str(tmp_path / "d.npz"), "--epochs", "1", "--save", model]) == 0
    (tmp_path / "x.csv").write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in X))
    capsys.readouterr()
    assert main(["predict", model, str(tmp_path / "x.csv")]) == 0  # both columns are features
    assert len(capsys.readouterr().out.splitlines()) == 10


def test_models_with_whole_float_classes_print_integers(tmp_path, capsys):
    # earlier versions stored a CSV's classes as floats, [3.0, 7.0]
    from fastbackprop.cli import save_model

    X, _ = moons(n_samples=6, seed=0)
    net = Network([2, 3, 2], seed=0)
    save_model(net, tmp_path / "m.npz", {"classes": np.array([3.0, 7.0])})
    np.save(tmp_path / "x.npy", X)
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and set(lines) <= {"3", "7"}
    # fractional classes (older versions accepted them) print as they are
    save_model(net, tmp_path / "f.npz", {"classes": np.array([0.5, 1.5])})
    assert main(["predict", str(tmp_path / "f.npz"), str(tmp_path / "x.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and set(lines) <= {"0.5", "1.5"}


def test_a_malformed_csv_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "big.csv").write_text("a,b\n" + "1," + "9" * 200_000 + "\n")
    assert main(["train", str(tmp_path / "big.csv"), "--target", "b"]) == 2
    _one_error_line(capsys, "field larger than field limit")


def test_predict_writes_through_a_symbolic_link(tmp_path, capsys):
    X, _ = moons(n_samples=4, seed=0)
    Network([2, 3, 2], seed=0).save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    argv = ["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy")]
    assert main([*argv, "--out", str(tmp_path / "link.csv")]) == 0
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "real.csv").read_text().splitlines()[0] == "prediction"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_predict_writes_into_a_fifo_without_replacing_it(tmp_path, capsys):
    X, _ = moons(n_samples=4, seed=0)
    Network([2, 3, 2], seed=0).save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
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
    X, _ = moons(n_samples=4, seed=0)
    Network([2, 3, 2], seed=0).save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    log = tmp_path / "log.csv"
    log.write_text("earlier line\n")
    with open(log, "a") as handle:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{handle.fileno()}")
        argv = ["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), "--out", str(link)]
        assert main(argv) == 0
    lines = log.read_text().splitlines()
    assert lines[:2] == ["earlier line", "prediction"] and len(lines) == 6
