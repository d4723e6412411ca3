"""The ``fastbackprop`` command line: ``demo``, ``train``, ``predict``,
``score``, ``info``, ``compile`` and ``tune``.

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
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np

from . import __version__, _persistence, _tables, datasets
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
    _save_curves(run.net, run.history, path)


def _cmd_demo(args) -> int:
    _check_plot_output(args.plot)
    run = DEMOS[args.name](args.epochs)
    if args.plot:
        _save_plot(run, args.plot)
        print(f"Saved plot to {args.plot}")
    return 0


# ======================================================================= data
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


def _check_file(path):
    if not os.path.isfile(path):
        raise CLIError(f"{path}: no such file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".csv", ".npz", ".npy"):
        raise CLIError(f"{path}: unsupported format {suffix or '(none)'}; use .csv, .npz or .npy")
    return suffix


def load_table(path, n_features=None) -> _tables.Table:
    """A CSV (with a header), an .npz (arrays ``X`` and, optionally, ``y``)
    or an .npy (2-D; its last column is ``y``, unless it has exactly a
    model's ``n_features`` columns) as a :class:`~fastbackprop._tables.Table`."""
    suffix = _check_file(path)
    if suffix == ".csv":
        return _tables.read_csv(path)
    if suffix == ".npz":
        with _np_load(path, ".npz") as archive:
            if "X" not in archive.files:
                raise CLIError(f"{path}: an .npz needs an array named X (found {archive.files})")
            X = np.asarray(archive["X"])
            y = np.asarray(archive["y"]) if "y" in archive.files else None
    else:
        array = _np_load(path, ".npy")
        if array.ndim == 2 and array.shape[1] == n_features:
            return _tables.from_arrays(path, array)  # features only
        if array.ndim != 2 or array.shape[1] < 2:
            raise CLIError(
                f"{path}: an .npy must be 2-D with the target as the last column; "
                f"got shape {array.shape}"
            )
        X, y = array[:, :-1], array[:, -1]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise CLIError(
            f"{path}: the features must be a 2-D table with at least one row and one "
            f"column besides the target; got shape {X.shape}"
        )
    if X.dtype.kind not in "biuf":
        raise CLIError(f"{path}: the features must be numbers; got {X.dtype} values")
    return _tables.from_arrays(path, X, y)


def _table_rows(table: _tables.Table, model: _tables.TableModel) -> np.ndarray:
    """The model's feature columns of ``table``, by name. Arrays have no
    names: theirs (``x0 ...``) must be exactly as many as the model's."""
    if table.unnamed:
        width = len([name for name in table.names if name != "y"])
        if width != len(model.features):
            raise CLIError(
                f"{table.path} has {width} feature columns; the model takes {len(model.features)}"
            )
    return table.features(list(model.features))


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


def _batch_size(text):
    """``--batch-size``: "auto" (min(200, rows)) or a positive int."""
    if text == "auto":
        return text
    return _positive_int(text)


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must lie in [0, 1)")
    return value


def save_model(net, path, meta):
    """Write ``net`` and the CLI's ``meta`` (the table's description) to
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
    return net, meta


def _table_model(net, meta, path) -> _tables.TableModel:
    if "task" not in meta:
        raise CLIError(
            f"{path}: a model from an older fastbackprop train (before tables); train it "
            "again with this version"
        )
    model = _tables.TableModel.from_meta(meta, net.n_features, path)
    if model.task == "classification":
        classes = model.classes
        if classes is None or classes.ndim != 1 or len(classes) < 2:
            raise CLIError(f"{path}: the stored classes do not fit the network")
        if net.n_outputs != (1 if len(classes) == 2 else len(classes)):
            raise CLIError(f"{path}: the stored classes do not fit the network")
    return model


def _say(message):
    """A message for the user: stderr, so stdout holds only results."""
    print(f"{PROG}: {message}", file=sys.stderr)


def _need_sklearn():
    if importlib.util.find_spec("sklearn") is None:
        raise CLIError("train needs scikit-learn: pip install 'fastbackprop[sklearn]'")


def _estimator(task, args):
    """The scikit-learn-style estimator ``train`` fits."""
    from .estimators import MLPClassifier, MLPRegressor

    params = dict(
        hidden_layer_sizes=tuple(_parse_layers(args.layers)),
        activation=args.activation,
        solver=args.solver,
        alpha=args.alpha,
        batch_size=args.batch_size,
        learning_rate_init=args.learning_rate,
        max_iter=args.epochs,
        early_stopping=not args.no_early_stopping,
        # the held-out loss, not scikit-learn's score: on a few dozen rows the
        # accuracy plateaus within a few epochs and stops training far too soon
        validation_metric="loss",
        validation_fraction=args.validation_fraction,
        n_iter_no_change=args.patience,
        random_state=args.seed,
        verbose=args.verbose,
    )
    return (MLPClassifier if task == "classification" else MLPRegressor)(**params)


def _held_out(task, y, fraction, seed):
    """``(train_rows, test_rows)``: scikit-learn's ``train_test_split``,
    stratified where it can be (every class twice, a row of each on both
    sides); no test rows for ``fraction`` 0."""
    rows = np.arange(len(y))
    if fraction == 0:
        return rows, rows[:0]
    from sklearn.model_selection import train_test_split

    n_test = int(np.ceil(fraction * len(y)))
    if len(y) - n_test < 2:
        raise CLIError(
            f"--test-fraction {fraction} leaves {len(y) - n_test} of {len(y)} rows for "
            "training; give more rows, or --test-fraction 0 to train on all of them"
        )
    stratify = None
    if task == "classification":
        _, counts = np.unique(y, return_counts=True)
        fits = counts.min() >= 2 and min(n_test, len(y) - n_test) >= len(counts)
        stratify = y if fits else None
    return train_test_split(rows, test_size=n_test, random_state=seed, stratify=stratify)


def _cmd_train(args) -> int:
    _check_output(args.save, "--save")
    _check_plot_output(args.plot)
    _need_sklearn()
    table = load_table(args.data)
    if args.target is None and os.path.splitext(args.data)[1].lower() == ".csv":
        raise CLIError(
            f"--target is required for a CSV file (a column name or index); the columns of "
            f"{args.data}: {', '.join(table.names)}"
        )
    if args.target is None and "y" not in table.names:
        raise CLIError(f"{args.data}: an .npz for training needs arrays X and y")
    target = table.target_name("y" if args.target is None else args.target)
    column = _tables.target_column(table, target)
    task, reason = _tables.infer_task(column)
    if args.task != "auto":
        task, reason = args.task, "as --task says"
    else:
        reason += "; --task overrides"
    _say(f"task: {task} for the target {target!r}: {reason}")
    features = [name for name in table.names if name != target]
    if not features:
        raise CLIError(f"{args.data}: the table has no feature columns besides {target!r}")
    X = table.features(features)
    y = _tables.target_values(column, task, target, table.path)
    if task == "classification" and len(np.unique(y)) < 2:
        raise CLIError(f"{args.data}: the target {target!r} has one class; nothing to learn")
    train, test = _held_out(task, y, args.test_fraction, args.seed)
    if task == "classification" and len(np.unique(y[train])) < 2:
        raise CLIError(
            f"{args.data}: the {len(train)} training rows left by --test-fraction "
            f"{args.test_fraction} hold one class; give more rows or a smaller fraction"
        )
    model = _tables.TableModel.fit_scaling(task, target, features, X[train], y[train])
    estimator = _estimator(task, args)
    held = int(np.ceil(args.validation_fraction * len(train)))
    if args.solver == "lbfgs":
        estimator.set_params(early_stopping=False)  # full batch: no epochs to stop
    elif estimator.early_stopping and held < 2:
        # scikit-learn needs two validation rows; a tiny table trains without
        estimator.set_params(early_stopping=False)
        _say(
            f"early stopping is off: --validation-fraction {args.validation_fraction} of "
            f"{len(train)} training rows leaves {held} for validation, fewer than 2"
        )
    fit_target = y[train] if task == "classification" else model.scaled_target(y[train])
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(model.inputs(X[train]), fit_target)
    ran_out = False
    for warning in caught:  # said on stderr in one line each, never a traceback
        if issubclass(warning.category, ConvergenceWarning):
            ran_out = True
        else:
            _say(f"warning: {_one_line(warning.message)}")
    if task == "classification":
        model.classes = estimator.classes_
    net = estimator.network_
    if args.solver == "lbfgs":
        how = "lbfgs iterations, full batch"
    elif estimator.early_stopping:
        how = "epochs, early stopping on the validation rows' loss"
    else:
        how = "epochs, stopping when the training loss stopped improving"
    if ran_out:
        how += f"; stopped at --epochs {args.epochs} before converging"
    _say(f"trained {estimator.n_iter_} {how}, on {len(train)} rows")
    metric = "accuracy" if task == "classification" else "R^2"
    if len(test):
        score = model.score(net, X[test], y[test])
        print(f"held-out {metric}: {score:.4f} ({len(test)} rows)")
    else:
        print(f"training {metric}: {model.score(net, X[train], y[train]):.4f} (no held-out rows)")
    if args.save:
        save_model(net, args.save, model.meta())
        _say(f"saved the model to {args.save}")
    if args.plot:
        _save_curves(net, net.history, args.plot)
        _say(f"saved the training curves to {args.plot}")
    return 0


def _save_curves(net, history, path):
    """The training curves of ``history``, titled by ``net``."""
    import matplotlib.pyplot as plt  # plot_history checks that it is there

    from . import plotting

    axes = plotting.plot_history(history)
    figure = axes[0].figure
    try:
        figure.suptitle(f"{list(net.layer_sizes)} network, {net.loss}: training curves")
        plotting._save_figure(figure, path)
    finally:
        plt.close(figure)


def _write_rows(header, rows, out):
    """CSV rows to stdout, or atomically to ``out`` (with ``header``)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if out or header[0] != "prediction":
        writer.writerow(header)
    writer.writerows(rows)
    if out:
        with atomic_write(out, "w", encoding="utf-8", durable=False) as handle:
            handle.write(text.getvalue())
        _say(f"wrote {len(rows)} rows to {out}")
    else:
        sys.stdout.write(text.getvalue())


def _cmd_predict(args) -> int:
    _check_output(args.out, "--out")
    if args.out and os.path.exists(args.out) and os.path.samefile(args.out, args.data):
        raise CLIError(f"--out {args.out!r} is the input table; write the predictions elsewhere")
    net, meta = load_model(args.model)
    model = _table_model(net, meta, args.model)
    X = _table_rows(load_table(args.data, net.n_features), model)
    if args.proba:
        if model.task != "classification":
            raise CLIError("--proba needs a classification model; this one is a regression")
        proba = model.probabilities(net, X)
        # str() of a NumPy scalar is exact: the shortest round-trip digits
        rows = [[str(value) for value in row] for row in proba]
        _write_rows([str(label) for label in model.classes], rows, args.out)
        return 0
    # a label as the table wrote it; a number's shortest round-trip digits;
    # csv quotes a label that holds a comma
    rows = [[str(value)] for value in model.predict(net, X)]
    _write_rows(["prediction"], rows, args.out)
    return 0


def _cmd_score(args) -> int:
    net, meta = load_model(args.model)
    model = _table_model(net, meta, args.model)
    table = load_table(args.data)  # an .npy: the features, then the target
    X = _table_rows(table, model)
    target = model.target if args.target is None else table.target_name(args.target)
    if target not in table.names:
        raise CLIError(
            f"{args.data} has no target column {target!r} to score against; its columns: "
            f"{', '.join(table.names)}"
        )
    y = _tables.target_values(_tables.target_column(table, target), model.task, target, table.path)
    metric = "accuracy" if model.task == "classification" else "R^2"
    print(f"{metric}: {model.score(net, X, y):.4f} ({table.n_rows} rows)")
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


def _number(text, *, positive):
    """A finite float, > 0 (``positive``) or >= 0: checked here, so the
    error names the option, not the estimator's parameter."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise argparse.ArgumentTypeError(f"must be a finite number {bound}; got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int; got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2**32); got {value}")
    return value


def _add_demo(commands):
    demo = commands.add_parser("demo", help="run one of the seed examples")
    demo.add_argument("name", choices=list(DEMOS), help="which example")
    demo.add_argument("--plot", metavar="OUT.png", help="save a figure of the run")
    demo.add_argument("--epochs", type=_positive_int, help="override the number of epochs")
    demo.set_defaults(handler=_cmd_demo)


#: the hidden activations ``train`` offers (scikit-learn's, and the network's others)
TRAIN_ACTIVATIONS = (
    "relu",
    "tanh",
    "logistic",
    "identity",
    *(name for name in ACTIVATION_CODES if name not in ("relu", "tanh", "sigmoid", "identity")),
)


def _add_train(commands):
    train = commands.add_parser(
        "train",
        help="train a model on a table (CSV, .npz, .npy) and report its held-out score",
        description="Train scikit-learn's MLP (fastbackprop's estimators) on a table: "
        "features standardised, the task inferred from the target, early stopping on a "
        "validation fraction, and the score on held-out rows.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument("data", help="CSV with a header, .npz (X, y) or .npy (last column y)")
    train.add_argument("--target", help="the target column of a CSV: a name or a 0-based index")
    train.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: strings, booleans and few whole numbers are classes, other numbers a "
        "regression",
    )
    train.add_argument("--layers", default="100", help="hidden layer sizes, e.g. 64,32")
    train.add_argument(
        "--activation", choices=TRAIN_ACTIVATIONS, default="relu", help="of the hidden layers"
    )
    train.add_argument(
        "--solver",
        choices=("adam", "sgd", "lbfgs"),
        default="adam",
        help="lbfgs: full-batch L-BFGS, often best on small tables",
    )
    train.add_argument(
        "--learning-rate",
        type=lambda text: _number(text, positive=True),
        default=0.001,
        help="the initial rate",
    )
    train.add_argument(
        "--batch-size", type=_batch_size, default="auto", help="rows per step; auto: min(200, rows)"
    )
    train.add_argument("--epochs", type=_positive_int, default=200, help="at most this many")
    train.add_argument(
        "--alpha",
        type=lambda text: _number(text, positive=False),
        default=0.0001,
        help="L2 penalty on the weights",
    )
    train.add_argument(
        "--no-early-stopping",
        action="store_true",
        help="train every epoch instead of stopping on the validation rows' loss",
    )
    train.add_argument(
        "--validation-fraction",
        type=_fraction,
        default=0.1,
        help="of the training rows, held out for early stopping",
    )
    train.add_argument(
        "--patience",
        type=_positive_int,
        default=10,
        help="epochs without improvement before stopping",
    )
    train.add_argument(
        "--test-fraction",
        type=_fraction,
        default=0.2,
        help="rows held out to score the model (0: train on every row)",
    )
    train.add_argument("--seed", type=_seed, default=0, help="the split, weights and shuffling")
    train.add_argument("--verbose", action="store_true", help="print every epoch's loss")
    train.add_argument("--save", metavar="MODEL.npz", help="write the model here")
    train.add_argument("--plot", metavar="CURVES.png", help="save the training curves")
    train.set_defaults(handler=_cmd_train)


def _add_predict(commands):
    predict = commands.add_parser(
        "predict",
        help="predict each row of a table with a saved model (stdout: predictions only)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    predict.add_argument("model", help="a .npz written by train --save")
    predict.add_argument(
        "data", help="CSV, .npz or .npy; the features are found by name, a target is ignored"
    )
    predict.add_argument(
        "--proba", action="store_true", help="class probabilities, with the classes as header"
    )
    predict.add_argument("--out", metavar="PREDS.csv", help="write here instead of printing")
    predict.set_defaults(handler=_cmd_predict)
    score = commands.add_parser(
        "score",
        help="a saved model's accuracy or R^2 on a labelled table",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    score.add_argument("model", help="a .npz written by train --save")
    score.add_argument("data", help="CSV, .npz or .npy holding the target column")
    score.add_argument(
        "--target", help="the target column; by default the one the model was trained on"
    )
    score.set_defaults(handler=_cmd_score)


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
