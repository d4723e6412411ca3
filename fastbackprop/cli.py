"""The ``fastbackprop`` command line: ``demo``, ``train``, ``predict``, ``info``.

Every user mistake (a bad argument, a missing file, a bad column, a value
the library rejects) ends as one line ``fastbackprop: error: ...`` on stderr
and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import os
import sys
import zipfile
from dataclasses import dataclass

import numpy as np

from . import __version__, _persistence, datasets
from ._atomic import atomic_write, check_writable
from ._blas_provider import provider as blas_provider
from ._codes import ACTIVATION_CODES, LOSS_CODES
from .network import Network
from .optim import OPTIMIZERS

PROG = "fastbackprop"
USAGE_ERROR = 2
#: every exception that means "the input was bad", reported in one line
USER_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    OSError,
    EOFError,  # np.load of an empty file
    ImportError,
    FloatingPointError,
    zipfile.BadZipFile,
    csv.Error,  # a malformed CSV, e.g. a field past the csv module's size limit
)
#: keys the CLI adds to a saved model, next to the network's own
META_PREFIX = "cli_"


class CLIError(Exception):
    """A user mistake found by the CLI itself."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line through ``main``'s handler
    instead of a usage block plus ``sys.exit``."""

    def error(self, message):
        raise CLIError(message)


# ====================================================================== demos
@dataclass
class DemoRun:
    """What a demo hands back: the trained network, its data and its history."""

    net: Network
    X: np.ndarray
    y: np.ndarray
    history: object


def _demo_spiral(epochs):
    # The notebook seed: 2-16-8-1 tanh with LeCun init, full batch, lr 0.5.
    X, y = datasets.spiral(n_samples=400, noise=0.3, seed=0)
    net = Network(
        [2, 16, 8, 1], activation="tanh", loss="binary_cross_entropy", init="lecun", seed=0
    )
    history = net.fit(X, y, epochs=epochs or 1000, learning_rate=0.5, verbose=100)
    print(f"Final train accuracy: {net.score(X, y):.4f}")
    return DemoRun(net, X, y, history)


def _demo_xor(epochs):
    # The first seed (NeuralNetworkWithBackprop): 2-4-1, sigmoid everywhere.
    X, y = datasets.xor()
    net = Network([2, 4, 1], activation="sigmoid", loss="binary_cross_entropy", seed=0)
    history = net.fit(X, y, epochs=epochs or 10000, learning_rate=0.5, verbose=1000)
    print(f"Predictions: {net.predict(X).tolist()} (targets {y.tolist()})")
    print(f"Final accuracy: {net.score(X, y):.4f}")
    return DemoRun(net, X, y, history)


def _demo_regression(epochs):
    # The 3-4-1 seed: sigmoid hidden and output units, mean squared error.
    X, y = datasets.regression_341(n_samples=64, seed=0)
    net = Network([3, 4, 1], activation="sigmoid", loss="mse", output="sigmoid", seed=0)
    history = net.fit(X, y, epochs=epochs or 5000, learning_rate=0.5, verbose=500)
    print(f"Final MSE: {net.compute_loss(X, y):.6f} - R^2: {net.score(X, y):.4f}")
    return DemoRun(net, X, y, history)


def _demo_softmax_xor(epochs):
    # XOR as two classes: 2-4-2 relu with a softmax output.
    X, y = datasets.xor()
    net = Network([2, 4, 2], activation="relu", loss="cross_entropy", seed=0)
    history = net.fit(X, y, epochs=epochs or 1000, learning_rate=0.1, verbose=100)
    print(f"Predictions: {net.predict(X).tolist()} (targets {y.tolist()})")
    print(f"Final accuracy: {net.score(X, y):.4f}")
    return DemoRun(net, X, y, history)


def _demo_digits(epochs):
    # 8x8 digits: 64-128-10 relu, minibatch SGD, judged on a held-out 20%.
    # Plain SGD lands at 96-98% depending on the split; these settings give
    # about 98% on this one in a second or two.
    X, y = datasets.load_digits()
    X_train, y_train, X_test, y_test = _train_test_split(X, y, test_fraction=0.2, seed=0)
    net = Network([64, 128, 10], activation="relu", loss="cross_entropy", seed=0)
    history = net.fit(
        X_train, y_train, epochs=epochs or 60, batch_size=16, learning_rate=0.05, verbose=10
    )
    print(f"Test accuracy: {net.score(X_test, y_test):.4f} ({len(y_test)} held-out images)")
    return DemoRun(net, X_test, y_test, history)


DEMOS = {
    "spiral": _demo_spiral,
    "xor": _demo_xor,
    "regression": _demo_regression,
    "softmax-xor": _demo_softmax_xor,
    "digits": _demo_digits,
}


def _train_test_split(X, y, test_fraction, seed):
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


#: the figure formats ``--plot`` writes, chosen by the file's suffix
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _check_output(path, option, suffixes=None):
    """Refuse, before any work, an output path that cannot be written: a
    missing or read-only directory, a directory, or (with ``suffixes``) a
    wrong suffix."""
    if path is None:
        return
    try:
        check_writable(path)
    except (OSError, ValueError) as error:
        raise CLIError(f"{option} {path!r}: {getattr(error, 'strerror', None) or error}") from None
    suffix = os.path.splitext(path)[1].lower()
    if suffixes is not None and suffix not in suffixes:
        raise CLIError(f"{option} {path}: the file must end in {', '.join(suffixes)}")


def _check_plot_output(path):
    """``--plot``'s path, and matplotlib, before any training."""
    if path is None:
        return
    _check_output(path, "--plot", PLOT_SUFFIXES)
    if importlib.util.find_spec("matplotlib") is None:
        raise CLIError("--plot needs matplotlib: pip install fastbackprop[plot]")


def _save_plot(run: DemoRun, path):
    """The 2x2 report for 2-feature classification data; the training
    curves otherwise. The format follows the suffix (``PLOT_SUFFIXES``)."""
    from . import plotting

    if run.X.shape[1] == 2 and run.net.loss != "mse":
        plotting.training_report(run.net, run.X, run.y, run.history, path)
        return
    import matplotlib.pyplot as plt  # plot_history has already checked it is there

    axes = plotting.plot_history(run.history)
    figure = axes[0].figure
    try:
        figure.suptitle(f"{list(run.net.layer_sizes)} network, {run.net.loss}: training curves")
        plotting._save_figure(figure, path)
    finally:
        plt.close(figure)


def _cmd_demo(args) -> int:
    _check_plot_output(args.plot)
    run = DEMOS[args.name](args.epochs)
    if args.plot:
        _save_plot(run, args.plot)
        print(f"Saved plot to {args.plot}")
    return 0


# ======================================================================= data
def _read_csv(path):
    # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first name
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    rows = [row for row in rows if row]  # tolerate blank lines, e.g. at the end
    if len(rows) < 2:
        raise CLIError(f"{path}: a CSV needs a header row and at least one data row")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise CLIError(
                f"{path}: line {number} has {len(row)} fields but the header has {len(header)}"
            )
    try:
        values = np.array([[float(cell) for cell in row] for row in body])
    except ValueError as error:
        raise CLIError(f"{path}: every field must be a number ({error})") from None
    return header, values


def _column_index(header, target) -> int:
    if target in header:
        return header.index(target)
    try:
        index = int(target)
    except ValueError:
        raise CLIError(
            f"--target {target!r} is not a column; columns: {', '.join(header)}"
        ) from None
    if not -len(header) <= index < len(header):
        raise CLIError(f"--target {index} is out of range for {len(header)} columns")
    return index % len(header)


def _np_load(path, kind):
    """``np.load`` whose failures name the file and say what it is not."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (EOFError, ValueError, OSError, zipfile.BadZipFile) as error:
        reason = _persistence.describe_load_error(error, "not in NumPy's format")
        raise CLIError(f"{path}: not a readable {kind} file ({reason})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile) != (kind == ".npz"):
        if isinstance(loaded, np.lib.npyio.NpzFile):
            loaded.close()
        raise CLIError(f"{path}: not a readable {kind} file (it holds {type(loaded).__name__})")
    return loaded


def _load_npz(path):
    with _np_load(path, ".npz") as archive:
        missing = [key for key in ("X", "y") if key not in archive.files]
        if "X" in missing:
            raise CLIError(f"{path}: an .npz needs an array named X (found {archive.files})")
        return np.asarray(archive["X"]), (None if missing else np.asarray(archive["y"]))


def _load_npy(path):
    array = _np_load(path, ".npy")
    if array.ndim != 2 or array.shape[1] < 2:
        raise CLIError(
            f"{path}: an .npy must be 2-D with the target as the last column; "
            f"got shape {array.shape}"
        )
    return array


def _check_file(path):
    if not os.path.isfile(path):
        raise CLIError(f"{path}: no such file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".csv", ".npz", ".npy"):
        raise CLIError(f"{path}: unsupported format {suffix or '(none)'}; use .csv, .npz or .npy")
    return suffix


def load_training_data(path, target=None):
    """``(X, y, target_name)`` from a CSV (``target`` names or numbers the
    column), an .npz (arrays ``X`` and ``y``) or an .npy (last column is y).
    ``target_name`` is the CSV column's name, None for the other formats:
    their target has no name for ``predict`` to drop from a CSV."""
    suffix = _check_file(path)
    if suffix == ".npz":
        X, y = _load_npz(path)
        if y is None:
            raise CLIError(f"{path}: an .npz for training needs arrays X and y")
        return X, y, None
    if suffix == ".npy":
        array = _load_npy(path)
        return array[:, :-1], array[:, -1], None
    if target is None:
        raise CLIError("--target is required for a CSV file (a column name or index)")
    header, values = _read_csv(path)
    column = _column_index(header, target)
    return np.delete(values, column, axis=1), values[:, column], header[column]


def load_features(path, n_features, target=None):
    """The feature matrix of ``path`` for prediction; a target column is
    dropped when named, or when the file has exactly one column too many."""
    suffix = _check_file(path)
    if suffix == ".npz":
        return _load_npz(path)[0]
    if suffix == ".npy":
        array = _np_load(path, ".npy")
        return (
            array[:, :n_features] if array.ndim == 2 and array.shape[1] == n_features + 1 else array
        )
    header, values = _read_csv(path)
    if target is not None and target in header:
        return np.delete(values, header.index(target), axis=1)
    return values


# ===================================================================== models
def _parse_layers(spec) -> list[int]:
    if spec.strip() == "":
        return []
    try:
        sizes = [int(part) for part in spec.split(",")]
    except ValueError:
        raise CLIError(
            f"--layers {spec!r} must be comma-separated positive ints, e.g. 64,32"
        ) from None
    if any(size < 1 for size in sizes):
        raise CLIError(f"--layers {spec!r}: every hidden size must be >= 1")
    return sizes


def _encode_labels(y, loss):
    """``(targets, classes)``: labels become 0..k-1 for the classification
    losses, and ``classes`` maps them back; mse keeps the values.

    Class labels are whole numbers (a CSV's ``1.0`` is class ``1``),
    booleans or strings; a NaN or fractional label is refused rather than
    made a class of its own."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector, as .npz files often hold
        y = y[:, 0]
    if y.ndim != 1:
        raise CLIError(f"the target must be one column; got shape {y.shape}")
    if loss == "mse":
        if y.dtype.kind not in "biuf":
            raise CLIError(f"loss mse needs a numeric target; got {y.dtype} values")
        return y.astype(np.float64), None
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise CLIError("the target has NaN or infinite labels")
        if not (y == np.round(y)).all():
            raise CLIError(
                f"loss {loss} needs whole-number class labels; the target has fractional "
                "values (for a continuous target use --loss mse)"
            )
        if not (np.abs(y) < 2**53).all():
            raise CLIError(f"class labels must be below 2**53 in magnitude for loss {loss}")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "biuU":
        raise CLIError(f"class labels must be numbers or strings; got {y.dtype} values")
    classes, codes = np.unique(y, return_inverse=True)
    if loss == "binary_cross_entropy" and len(classes) > 2:
        raise CLIError(f"loss binary_cross_entropy needs 2 classes; the target has {len(classes)}")
    if len(classes) < 2:
        only = classes[0] if len(classes) else "none"
        raise CLIError(f"the target has only one class ({only}); nothing to learn")
    return codes.astype(np.int64), classes


def _n_outputs(loss, classes) -> int:
    return len(classes) if loss == "cross_entropy" else 1


def save_model(net, path, meta):
    """Write ``net`` and the CLI's ``meta`` (label classes, target name) to
    ``path``: one ``Network.save`` file with the meta arrays beside the
    model's, written once and atomically, so a failed save leaves any
    earlier model at ``path`` whole."""
    extra = {META_PREFIX + key: np.asarray(value) for key, value in meta.items()}
    _persistence.save(net, path, extra)


def load_model(path):
    """``(net, meta)`` as written by :func:`save_model`."""
    if not os.path.isfile(path):
        raise CLIError(f"{path}: no such model file")
    try:
        net = Network.load(path)
    except ValueError as error:
        raise CLIError(f"not a model file from train --save: {error}") from None
    with np.load(path, allow_pickle=False) as archive:
        meta = {
            key[len(META_PREFIX) :]: archive[key]
            for key in archive.files
            if key.startswith(META_PREFIX)
        }
    classes = meta.get("classes")
    if classes is not None:
        expected = net.n_outputs if net.loss == "cross_entropy" else 2
        if classes.ndim != 1 or len(classes) != expected:
            raise CLIError(
                f"{path}: the stored classes do not fit the network "
                f"({classes.size} classes for {expected})"
            )
    return net, meta


def _fit_kwargs(net, args):
    """``fit`` keywords from the command line."""
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "verbose": args.verbose if args.verbose is not None else max(1, args.epochs // 10),
        "optimizer": args.optimizer,
    }


def _cmd_train(args) -> int:
    _check_output(args.save, "--save")
    _check_plot_output(args.plot)
    X, y, target_name = load_training_data(args.data, args.target)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise CLIError(
            f"{args.data}: the features must be a 2-D table with at least one row and one "
            f"column besides the target; got shape {X.shape}"
        )
    targets, classes = _encode_labels(y, args.loss)
    hidden = _parse_layers(args.layers)
    net = Network(
        [X.shape[1], *hidden, _n_outputs(args.loss, classes)],
        activation=args.activation,
        loss=args.loss,
        seed=args.seed,
    )
    history = net.fit(X, targets, **_fit_kwargs(net, args))
    metric = "accuracy" if args.loss != "mse" else "R^2"
    print(
        f"Final loss: {net.compute_loss(X, targets):.4f} - "
        f"train {metric}: {net.score(X, targets):.4f}"
    )
    if args.save:
        meta = {} if target_name is None else {"target": target_name}
        if classes is not None:
            meta["classes"] = classes
        save_model(net, args.save, meta)
        print(f"Saved model to {args.save}")
    if args.plot:
        _save_plot(DemoRun(net, X, targets, history), args.plot)
        print(f"Saved plot to {args.plot}")
    return 0


def _cmd_predict(args) -> int:
    _check_output(args.out, "--out")
    net, meta = load_model(args.model)
    target = args.target if args.target is not None else meta.get("target")
    X = load_features(args.data, net.n_features, None if target is None else str(target))
    predictions = net.predict(X)
    if "classes" in meta:
        classes = meta["classes"]
        # older versions stored a CSV's classes as floats: print 3.0 as 3
        if classes.dtype.kind == "f" and np.isfinite(classes).all():
            if (classes == np.round(classes)).all() and (np.abs(classes) < 2**53).all():
                classes = classes.astype(np.int64)
        predictions = classes[predictions]
    rows = np.asarray(predictions).reshape(len(X), -1)  # mse with several outputs: a row each
    # str() of a NumPy scalar is exact: a label as stored, an output's
    # shortest round-trip digits (not "%g"'s six, which turned 1234567 into
    # 1.23457e+06); csv quotes a string label that holds a comma
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if args.out:  # one column per output (an mse network may have several)
        width = rows.shape[1]
        writer.writerow(["prediction"] if width == 1 else [f"prediction_{j}" for j in range(width)])
    writer.writerows([str(value) for value in row] for row in rows)
    if args.out:
        with atomic_write(args.out, "w", encoding="utf-8", durable=False) as handle:
            handle.write(text.getvalue())
        print(f"Wrote {len(rows)} predictions to {args.out}")
    else:
        print(text.getvalue(), end="")
    return 0


# ======================================================================= info
def _threading_layer() -> str:
    """Numba's threading layer, known only after a parallel function has run."""
    try:
        import numba

        from ._config import jit_parallel

        @jit_parallel
        def _tiny(values):
            total = 0.0
            for i in numba.prange(values.shape[0]):
                total += values[i]
            return total

        _tiny(np.ones(8))
        return numba.threading_layer()
    except Exception as error:  # any failure is itself the information wanted
        return f"unavailable ({type(error).__name__}: {error})"


def _blas_lines() -> list[str]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["BLAS: threadpoolctl not installed"]
    pools = threadpool_info()
    if not pools:
        return ["BLAS: no thread pools found"]
    return [
        f"BLAS: {pool.get('internal_api')} {pool.get('version')} "
        f"({pool.get('user_api')}, {pool.get('num_threads')} threads, "
        f"{pool.get('filepath')})"
        for pool in pools
    ]


def _cmd_info(args) -> int:
    import numba
    import scipy

    from . import _config

    cache_dir = numba.config.CACHE_DIR or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "kernels", "__pycache__"
    )
    lines = [
        f"fastbackprop: {__version__}",
        f"python: {sys.version.split()[0]}",
        f"numpy: {np.__version__}",
        f"numba: {numba.__version__}",
        f"scipy: {scipy.__version__}",
        f"numba threads: {numba.get_num_threads()} (of {numba.config.NUMBA_NUM_THREADS})",
        f"numba threading layer: {_threading_layer()}",
        f"kernels' BLAS: {blas_provider()} (FASTBACKPROP_BLAS: auto, mkl or scipy)",
        _plan_line(),
        *_blas_lines(),
        f"numba cache: {'on' if getattr(_config, 'CACHE', True) else 'off'}, dir {cache_dir}",
    ]
    print("\n".join(lines))
    return 0


def _plan_line() -> str:
    from . import _blas_plan

    plan = _blas_plan.load_plan()
    if plan is None:
        return (
            "BLAS plan: none for this machine (auto takes MKL on an Intel CPU, else "
            "OpenBLAS; `fastbackprop tune` measures)"
        )
    ratios = ", ".join(f"{name} {r:.2f}" for name, r in plan["mean_ratio"].items())
    return (
        f"BLAS plan: {plan['provider']} (time over the fastest, geometric mean: {ratios}), "
        f"{_blas_plan.plan_path()}"
    )


# ======================================================================= tune
def _cmd_tune(args) -> int:
    from . import _blas_plan

    plan = _blas_plan.tune()
    for name, seconds in plan["seconds"].items():
        print(f"{name}:")
        for shape, best in seconds.items():
            print(f"  {shape:>24}: {best * 1e6:9.1f} us")
    ratios = ", ".join(f"{name} {r:.2f}" for name, r in plan["mean_ratio"].items())
    print(f"chosen: {plan['provider']} (time over the fastest, geometric mean: {ratios})")
    print(f"plan: {plan['path'] or 'not written (no writable cache directory)'}")
    print("in force from the next process on; FASTBACKPROP_BLAS=mkl or scipy overrides it")
    return 0


# ==================================================================== compile
def _cmd_compile(args) -> int:
    from ._warmup import compile as compile_kernels

    dtypes = args.dtype or ["float64", "float32"]
    report = compile_kernels(
        dtypes,
        activations=args.activation,
        losses=args.loss,
        optimizers=args.optimizer,
        prediction=True,
        gradients=args.gradients,
    )
    for dtype, seconds in report["seconds"].items():
        print(f"{dtype}: ready in {seconds:.1f} s")
    print(f"cache: {report['cache_dir']}")
    return 0


# ===================================================================== parser
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive int; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int; got {value}")
    return value


def _add_demo(commands):
    demo = commands.add_parser("demo", help="run one of the seed examples")
    demo.add_argument("name", choices=list(DEMOS), help="which example")
    demo.add_argument("--plot", metavar="OUT.png", help="save a figure of the run")
    demo.add_argument("--epochs", type=_positive_int, help="override the number of epochs")
    demo.set_defaults(handler=_cmd_demo)


def _add_train(commands):
    train = commands.add_parser("train", help="train a network on a CSV/.npz/.npy file")
    train.add_argument("data", help="CSV with a header, .npz (X, y) or .npy (last column y)")
    train.add_argument("--target", help="CSV target column: a name or a 0-based index")
    train.add_argument("--layers", default="64,32", help="hidden sizes, e.g. 64,32")
    train.add_argument("--activation", default="relu")
    train.add_argument("--loss", default="cross_entropy")
    train.add_argument("--epochs", type=_positive_int, default=100)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--learning-rate", type=float, default=0.01)
    train.add_argument("--optimizer", default="sgd")
    train.add_argument("--seed", type=int)
    train.add_argument("--verbose", type=int, help="print every N epochs (default epochs/10)")
    train.add_argument("--save", metavar="MODEL.npz")
    train.add_argument("--plot", metavar="REPORT.png")
    train.set_defaults(handler=_cmd_train)


def _add_predict(commands):
    predict = commands.add_parser("predict", help="predict with a saved model")
    predict.add_argument("model", help="a .npz written by train --save")
    predict.add_argument("data", help="CSV, .npz or .npy of features")
    predict.add_argument("--target", help="CSV column to drop (default: the trained target)")
    predict.add_argument("--out", metavar="PREDS.csv", help="write here instead of printing")
    predict.set_defaults(handler=_cmd_predict)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastbackprop`` command."""
    parser = _Parser(prog=PROG, description="Train multilayer perceptrons with fastbackprop.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    _add_demo(commands)
    _add_train(commands)
    _add_predict(commands)
    commands.add_parser("info", help="versions, threads, BLAS and cache").set_defaults(
        handler=_cmd_info
    )
    compile_ = commands.add_parser(
        "compile",
        help="compile the kernels ahead of time (or load them from the cache) and say where "
        "the cache is",
    )
    compile_.add_argument(
        "--dtype",
        action="append",
        choices=["float64", "float32"],
        help="a dtype to compile for (repeatable; default: both)",
    )
    for option, names in (
        ("--activation", list(ACTIVATION_CODES)),
        ("--loss", list(LOSS_CODES)),
        ("--optimizer", list(OPTIMIZERS)),
    ):
        compile_.add_argument(
            option,
            action="append",
            choices=names,
            help=f"one to compile (repeatable; default: all of {', '.join(names)})",
        )
    compile_.add_argument(
        "--gradients",
        action="store_true",
        help="also the kernel of Network.gradients, train_step and check_gradients",
    )
    compile_.set_defaults(handler=_cmd_compile)
    commands.add_parser(
        "tune",
        help="measure which BLAS (MKL or OpenBLAS) runs the training step's products "
        "fastest here, and keep that plan for later processes",
    ).set_defaults(handler=_cmd_tune)
    return parser


def _one_line(error) -> str:
    text = (
        str(error)
        if not isinstance(error, KeyError)
        else str(error.args[0] if error.args else error)
    )
    return " ".join(text.split()) or type(error).__name__


def main(argv=None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; ``sys.argv[1:]`` if omitted.

    Returns
    -------
    int
        The exit code: 0 on success, 2 on a usage or input error.
    """
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except (CLIError, *USER_ERRORS) as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return USAGE_ERROR


__all__ = ["main", "build_parser", "save_model", "load_model"]
