"""``fastbackprop train``, ``predict`` and ``score`` on real tables: scikit-
learn's bundled data sets exported to CSV, the task inferred from the
target, and every bad input a one-line error that leaves no file behind."""

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn import datasets  # noqa: E402

from fastbackprop import _tables  # noqa: E402
from fastbackprop.cli import main  # noqa: E402


def _export(path, X, y, names, target):
    """A table as a user would export it: a header, then one row a line."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, target])
        for row, label in zip(X, y):
            writer.writerow([repr(float(v)) for v in row] + [label])
    return path


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    cancer = datasets.load_breast_cancer()
    iris = datasets.load_iris()
    diabetes = datasets.load_diabetes()
    return {
        "cancer": _export(
            folder / "cancer.csv", cancer.data, cancer.target, cancer.feature_names, "target"
        ),
        "iris": _export(
            folder / "iris.csv",
            iris.data,
            iris.target_names[iris.target],
            iris.feature_names,
            "species",
        ),
        "diabetes": _export(
            folder / "diabetes.csv", diabetes.data, diabetes.target, diabetes.feature_names, "y"
        ),
    }


def _run(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "fastbackprop", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=900,
    )


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(tmp_path_factory.mktemp("numba_cache"))
    return env


def _scikit_learn_score(load, classify):
    """scikit-learn's StandardScaler + MLP with its defaults (and
    random_state 0), on the split ``train`` makes by default (test_size 0.2,
    random_state 0, stratified)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load(return_X_y=True)
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.2, random_state=0, stratify=y if classify else None
    )
    # random_state fixed: scikit-learn's default draws from NumPy's global
    # generator, and its score then changes from run to run
    estimator = (MLPClassifier if classify else MLPRegressor)(random_state=0)
    model = make_pipeline(StandardScaler(), estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[train], y[train])
    return model.score(X[test], y[test])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "load", "target", "task"),
    [
        ("cancer", datasets.load_breast_cancer, "target", "classification"),
        ("iris", datasets.load_iris, "species", "classification"),
        ("diabetes", datasets.load_diabetes, "y", "regression"),
    ],
)
def test_a_table_trains_a_sound_model_with_the_defaults(
    tables, cli_env, tmp_path, name, load, target, task
):
    model = tmp_path / "model.npz"
    result = _run("train", tables[name], "--target", target, "--save", model, env=cli_env)
    assert result.returncode == 0, result.stderr
    # the task line on stderr, the held-out score alone on stdout
    assert f"task: {task} for the target {target!r}" in result.stderr
    metric = "accuracy" if task == "classification" else r"R\^2"
    found = re.fullmatch(rf"held-out {metric}: (-?\d\.\d+) \((\d+) rows\)\n", result.stdout)
    score, n_test = float(found[1]), int(found[2])
    if task == "classification":
        # within 3 points, or one row where a row is worth more (iris: 30
        # rows, 3.3 points each)
        assert score >= _scikit_learn_score(load, True) - max(0.03, 1.0 / n_test + 1e-9)
    else:
        assert score > 0.2  # predicting the mean scores 0; unscaled, scikit-learn's is < 0
    # predict: one line a row, in the table's own labels, nothing else
    result = _run("predict", model, tables[name], env=cli_env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    X, y = load(return_X_y=True)
    assert len(lines) == len(y)
    if name == "iris":
        assert set(lines) <= {"setosa", "versicolor", "virginica"}
    result = _run("score", model, tables[name], env=cli_env)
    assert result.returncode == 0, result.stderr
    whole = float(re.fullmatch(rf"{metric}: (-?\d\.\d+) \(\d+ rows\)\n", result.stdout)[1])
    if task == "classification":
        names = datasets.load_iris().target_names if name == "iris" else None
        truth = names[y] if names is not None else y.astype(str)
        assert whole == pytest.approx(np.mean(np.array(lines) == truth.astype(str)), abs=1e-4)


def test_predict_finds_features_by_name_and_gives_probabilities(tables, tmp_path, capsys):
    model = tmp_path / "iris.npz"
    assert main(["train", str(tables["iris"]), "--target", "species", "--save", str(model)]) == 0
    capsys.readouterr()
    # the features in another order, and no target column
    with open(tables["iris"]) as handle:
        rows = list(csv.reader(handle))
    shuffled = tmp_path / "shuffled.csv"
    with open(shuffled, "w", newline="") as handle:
        csv.writer(handle).writerows([[row[3], row[1], row[0], row[2]] for row in rows])
    assert main(["predict", str(model), str(tables["iris"])]) == 0
    expected = capsys.readouterr().out
    assert main(["predict", str(model), str(shuffled)]) == 0
    assert capsys.readouterr().out == expected
    out = tmp_path / "proba.csv"
    assert main(["predict", str(model), str(shuffled), "--proba", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "setosa,versicolor,virginica" and len(lines) == 151
    proba = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    labels = np.array(["setosa", "versicolor", "virginica"])[proba.argmax(axis=1)]
    assert "\n".join(labels) + "\n" == expected


def test_a_regression_target_is_scaled_for_training_and_unscaled_in_predictions(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = 1000.0 + 250.0 * X[:, 0] - 100.0 * X[:, 1]  # far from 0 and 1
    table = _export(tmp_path / "t.csv", X, y, ["a", "b", "c"], "price")
    model = tmp_path / "m.npz"
    argv = ["train", str(table), "--target", "price", "--save", str(model), "--solver", "lbfgs"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "task: regression" in out.err and "fractional numbers" in out.err
    assert float(re.search(r"held-out R\^2: (\d\.\d+)", out.out)[1]) > 0.99
    assert main(["predict", str(model), str(table)]) == 0
    predictions = np.array(capsys.readouterr().out.split(), dtype=float)
    assert np.abs(predictions - y).max() < 20.0  # in the target's own units


@pytest.mark.parametrize(
    ("values", "task", "reason"),
    [
        (np.array(["a", "b", "a"]), "classification", "strings, 2 distinct values"),
        (np.array(["True", "false", "TRUE"]), "classification", "booleans, 2 distinct values"),
        (np.array([True, False]), "classification", "booleans"),
        (np.array(["0", "1", "1.0"]), "classification", "2 distinct whole numbers"),
        (np.array(["3"] * 9 + ["4", "5"]), "classification", "3 distinct whole numbers"),
        # one value a row: prices, not classes, even when few
        (np.array([str(v) for v in range(100, 118)]), "regression", "18 distinct whole numbers"),
        # 25 distinct of 30 rows: more than 20, and more than 5% of the rows
        (np.arange(30) % 25, "regression", "25 distinct whole numbers in 30 rows"),
        (np.arange(1000) % 40, "classification", "40 distinct whole numbers"),  # 4% of rows
        (np.arange(100), "regression", "100 distinct whole numbers in 100 rows"),
        (np.array(["1.5", "2", "3"]), "regression", "fractional"),
    ],
)
def test_the_task_is_inferred_from_the_target(values, task, reason):
    table = _tables.Table("t.csv", ["y"], {"y": values}, np.arange(2, len(values) + 2))
    inferred, said = _tables.infer_task(_tables.target_column(table, "y"))
    assert inferred == task and reason in said


def _error(capsys, *fragments):
    """The one error line on stderr holds every fragment; no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("fastbackprop: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_tables_are_one_line_errors_and_write_no_model(tmp_path, capsys):
    good = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n"
    cases = {
        "empty.csv": ("a,b,label\n1,2,x\n3,,y\n", "line 3, column 'b' is empty"),
        "text.csv": ("a,b,label\n1,2,x\n3,four,y\n", "line 3, column 'b': 'four' is not a number"),
        "inf.csv": ("a,b,label\n1,inf,x\n3,4,y\n", "line 2, column 'b' is not finite"),
        "ragged.csv": ("a,b,label\n1,2,x\n3,4\n", "line 3 has 2 fields but the header has 3"),
        "header.csv": ("a,a,label\n1,2,x\n", "the header names 'a' twice"),
        "trailing.csv": ("a,b,label,\n1,2,x,\n", "the header's column 4 has no name"),
        "nan.csv": ("a,label\n1,1.5\n2,nan\n3,2\n", "line 3: the target 'label' is not finite"),
        "blank.csv": ("a,label\n1,x\n2,\n3,y\n", "line 3: the target 'label' is empty"),
        "one.csv": ("a,label\n1,x\n2,x\n3,x\n", "the target 'label' has one class"),
    }
    model = tmp_path / "m.npz"
    for name, (text, fragment) in cases.items():
        (tmp_path / name).write_text(text)
        argv = ["train", str(tmp_path / name), "--target", "label", "--save", str(model)]
        assert main(argv) == 2, name
        _error(capsys, fragment)
        assert not model.exists()
    (tmp_path / "good.csv").write_text(good)
    assert main(["train", str(tmp_path / "good.csv"), "--target", "nope"]) == 2
    _error(capsys, "--target 'nope' is not a column of", "its columns: a, b, label")
    argv = ["train", str(tmp_path / "good.csv"), "--target", "label", "--task", "regression"]
    assert main(argv) == 2
    _error(capsys, "--task regression needs a numeric target")


def test_predict_refuses_a_table_without_a_feature_and_writes_nothing(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    table = _export(tmp_path / "t.csv", X, np.where(X[:, 0] > 0, "up", "down"), "abc", "move")
    model = tmp_path / "m.npz"
    assert (
        main(["train", str(table), "--target", "move", "--epochs", "3", "--save", str(model)]) == 0
    )
    capsys.readouterr()
    (tmp_path / "two.csv").write_text("a,c\n1,2\n")
    out = tmp_path / "preds.csv"
    assert main(["predict", str(model), str(tmp_path / "two.csv"), "--out", str(out)]) == 2
    _error(capsys, "has no column 'b', which the model was trained on; its columns: a, c")
    assert not out.exists()
    assert main(["score", str(model), str(tmp_path / "two.csv")]) == 2
    _error(capsys, "no column 'b'")
    (tmp_path / "unlabelled.csv").write_text("a,b,c\n1,2,3\n")
    assert main(["score", str(model), str(tmp_path / "unlabelled.csv")]) == 2
    _error(capsys, "has no target column 'move' to score against")
    reg = tmp_path / "reg.npz"
    assert main(["train", str(table), "--target", "a", "--epochs", "3", "--save", str(reg)]) == 2
    _error(capsys, "line 2, column 'move'")  # a string feature, named by line and column


def test_help_shows_every_choice_and_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in (
        "{auto,classification,regression}",
        "(default: auto)",
        "{relu,tanh,logistic,identity",
        "(default: relu)",
        "{adam,sgd,lbfgs}",
        "(default: adam)",
        "(default: 0.001)",
        "(default: 100)",
        "(default: 200)",
        "(default: 0.1)",
        "(default: 0.2)",
    ):
        assert fragment in text, fragment


def test_labels_are_the_tables_own_words_and_numbers_one_class_each(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((80, 2))
    words = np.where(X[:, 0] > 0, "1", "1.0")  # written two ways, one class
    words[X[:, 1] > 0.5] = "2"
    table = _export(tmp_path / "n.csv", X, words, ["a", "b"], "k")
    model = tmp_path / "m.npz"
    argv = ["train", str(table), "--target", "k", "--solver", "lbfgs", "--save", str(model)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "2 distinct whole numbers" in err and "lbfgs iterations, full batch" in err
    assert main(["predict", str(model), str(table)]) == 0
    assert set(capsys.readouterr().out.split()) <= {"1", "2"}
    flags = np.where(X[:, 0] > 0, "TRUE", "false")
    table = _export(tmp_path / "b.csv", X, flags, ["a", "b"], "ok")
    argv = ["train", str(table), "--target", "ok", "--solver", "lbfgs", "--save", str(model)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(table), "--proba"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "False,True"


def test_small_tables_train_or_say_why_not(tmp_path, capsys):
    X = np.arange(30.0).reshape(10, 3)
    table = _export(
        tmp_path / "ten.csv",
        X,
        ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a"],
        ["x", "y", "z"],
        "k",
    )
    assert main(["train", str(table), "--target", "k", "--epochs", "3"]) == 0  # unstratified
    capsys.readouterr()
    two = _export(tmp_path / "two.csv", X[:2], ["a", "b"], ["x", "y", "z"], "k")
    assert main(["train", str(two), "--target", "k"]) == 2
    _error(capsys, "--test-fraction 0.2 leaves 1 of 2 rows for training")


def test_arrays_must_have_the_models_width(tmp_path, capsys):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0).astype(int))
    model = tmp_path / "m.npz"
    argv = ["train", str(tmp_path / "d.npz"), "--solver", "lbfgs", "--save", str(model)]
    assert main(argv) == 0
    capsys.readouterr()
    np.savez(tmp_path / "wide.npz", X=np.hstack([X, X]))
    assert main(["predict", str(model), str(tmp_path / "wide.npz")]) == 2
    _error(capsys, "has 6 feature columns; the model takes 3")
    np.save(tmp_path / "x.npy", X)
    assert main(["predict", str(model), str(tmp_path / "x.npy")]) == 0
    assert len(capsys.readouterr().out.split()) == 40
    assert (
        main(["predict", str(model), str(tmp_path / "x.npy"), "--out", str(tmp_path / "x.npy")])
        == 2
    )
    _error(capsys, "is the input table")


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--seed", "-1"], "--seed: must lie in [0, 2**32); got -1"),
        (["--learning-rate", "0"], "--learning-rate: must be a finite number > 0"),
        (["--alpha", "nan"], "--alpha: must be a finite number >= 0"),
    ],
)
def test_options_are_refused_in_their_own_names(tmp_path, capsys, option, fragment):
    (tmp_path / "t.csv").write_text("a,label\n1,x\n2,y\n")
    assert main(["train", str(tmp_path / "t.csv"), "--target", "label", *option]) == 2
    _error(capsys, fragment)
