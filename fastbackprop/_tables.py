"""The command line's tables: reading one, inferring its task, and the
model that ``train`` saves and ``predict`` and ``score`` apply.

A table is a CSV with a header (or an .npz with ``X`` and ``y``, or an .npy
whose last column is the target). Its features must be numbers; its target
may hold strings, booleans or numbers. :func:`infer_task` decides between
classification and regression from the target alone, as AutoGluon's
problem-type inference does. :class:`TableModel` keeps what ``predict``
needs beside the trained network: the feature names, their training means
and scales, the classes in the table's own words, or the target's mean and
scale for a regression.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np

#: integers with at most this many distinct values are classes...
MAX_CLASSES_ALWAYS = 20
#: ...and so are integers with more, when they are this few for the rows
CLASS_FRACTION = 0.05
TASKS = ("classification", "regression")
_TRUE_FALSE = {"true", "false"}


class TableError(ValueError):
    """A table the command line cannot use, said in one line."""


@dataclass
class Table:
    """A table's columns by name: strings for a CSV, numbers otherwise.
    ``lines[i]`` is the file line of row ``i`` (for messages)."""

    path: str
    names: list
    columns: dict
    lines: np.ndarray
    unnamed: bool = False  # an array's columns, named x0, x1, ... and y by position

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> np.ndarray:
        return self.columns[name]

    def target_name(self, target) -> str:
        """``target`` as a column name: a name, or a 0-based index."""
        if target in self.names:
            return target
        try:
            index = int(target)
        except (TypeError, ValueError):
            raise TableError(
                f"--target {target!r} is not a column of {self.path}; its columns: "
                f"{', '.join(self.names)}"
            ) from None
        if not -len(self.names) <= index < len(self.names):
            raise TableError(
                f"--target {index} is out of range for the {len(self.names)} columns of "
                f"{self.path}: {', '.join(self.names)}"
            )
        return self.names[index % len(self.names)]

    def features(self, names) -> np.ndarray:
        """The columns ``names``, in that order, as a float64 matrix; an
        empty or non-numeric field is named by its line and column."""
        names = [str(name) for name in names]
        missing = [name for name in names if name not in self.columns]
        if missing:
            raise TableError(
                f"{self.path} has no column {', '.join(map(repr, missing))}, which the "
                f"model was trained on; its columns: {', '.join(self.names)}"
            )
        matrix = np.empty((self.n_rows, len(names)))
        for j, name in enumerate(names):
            matrix[:, j] = _numbers(self.columns[name], name, self)
        return matrix


def _numbers(values, name, table) -> np.ndarray:
    """A column as float64, or the first bad field named."""
    if values.dtype.kind in "biuf":
        numbers = values.astype(np.float64)
    else:
        numbers = np.empty(len(values))
        for i, text in enumerate(values):
            field = text.strip()
            if not field:
                raise TableError(
                    f"{table.path}: line {table.lines[i]}, column {name!r} is empty; every "
                    "feature field must be a number"
                )
            try:
                numbers[i] = float(field)
            except ValueError:
                raise TableError(
                    f"{table.path}: line {table.lines[i]}, column {name!r}: {field!r} is not a "
                    "number; every feature column must be numeric"
                ) from None
    bad = ~np.isfinite(numbers)
    if bad.any():
        i = int(np.argmax(bad))
        raise TableError(f"{table.path}: line {table.lines[i]}, column {name!r} is not finite")
    return numbers


def read_csv(path) -> Table:
    """A CSV with a header row; blank lines are skipped, a row with another
    number of fields than the header is refused by its line."""
    # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first name
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            # the line a record starts on (a quoted field may span lines)
            numbered, start = [], 1
            for row in reader:
                if row:
                    numbered.append((start, row))
                start = reader.line_num + 1
    except UnicodeDecodeError as error:
        raise TableError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    if len(numbered) < 2:
        raise TableError(f"{path}: a CSV needs a header row and at least one data row")
    names = [name.strip() for name in numbered[0][1]]
    if "" in names:
        raise TableError(
            f"{path}: the header's column {names.index('') + 1} has no name (a trailing comma?)"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TableError(f"{path}: the header names {', '.join(map(repr, repeated))} twice")
    body = numbered[1:]
    for line, row in body:
        if len(row) != len(names):
            raise TableError(
                f"{path}: line {line} has {len(row)} fields but the header has {len(names)}"
            )
    cells = np.array([row for _, row in body], dtype=str)
    columns = {name: cells[:, j] for j, name in enumerate(names)}
    return Table(str(path), names, columns, np.array([line for line, _ in body]))


def from_arrays(path, X, y=None) -> Table:
    """An .npz's or .npy's arrays as a table: features ``x0, x1, ...`` and
    the target ``y``."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise TableError(f"{path}: X must be 2-D; got shape {X.shape}")
    names = [f"x{j}" for j in range(X.shape[1])]
    columns = {name: X[:, j] for j, name in enumerate(names)}
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or len(y) != X.shape[0]:
            raise TableError(f"{path}: y must be one value per row of X; got shape {y.shape}")
        names.append("y")
        columns["y"] = y
    return Table(str(path), names, columns, np.arange(1, X.shape[0] + 1), unnamed=True)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def target_column(table: Table, name: str) -> np.ndarray:
    """The target as the table holds it, checked and normalised: stripped
    strings, booleans as ``True``/``False`` whatever their case, and
    numbers as float64 when every field is one. An empty or non-finite
    target is refused by its line."""
    values = table.column(name)
    if values.dtype.kind == "b":
        return np.where(values, "True", "False")
    if values.dtype.kind in "iuf":
        numbers = values.astype(np.float64)
    elif values.dtype.kind == "U":
        labels = np.char.strip(values)
        empty = labels == ""
        if empty.any():
            line = table.lines[int(np.argmax(empty))]
            raise TableError(f"{table.path}: line {line}: the target {name!r} is empty")
        lowered = np.char.lower(labels)
        if set(lowered.tolist()) <= _TRUE_FALSE:
            return np.where(lowered == "true", "True", "False")
        try:
            numbers = np.array([float(text) for text in labels])
        except ValueError:
            return labels
    else:
        raise TableError(
            f"{table.path}: the target {name!r} must hold numbers, booleans or strings; "
            f"got {values.dtype} values"
        )
    bad = ~np.isfinite(numbers)
    if bad.any():
        line = table.lines[int(np.argmax(bad))]
        raise TableError(f"{table.path}: line {line}: the target {name!r} is not finite")
    return numbers


def infer_task(values) -> tuple[str, str]:
    """``(task, reason)`` for a target from :func:`target_column`: strings
    and booleans are classes; numbers are classes when they are whole and
    few (at most ``MAX_CLASSES_ALWAYS`` distinct values, or at most
    ``CLASS_FRACTION`` of the rows) but not one a row or so (at most half
    the rows), and a regression target otherwise."""
    distinct = len(np.unique(values))
    if values.dtype.kind == "U":
        kind = "booleans" if set(values.tolist()) <= {"True", "False"} else "strings"
        return "classification", f"it holds {kind}, {_plural(distinct, 'distinct value')}"
    if not np.all(values == np.round(values)):
        return "regression", f"it holds fractional numbers, {_plural(distinct, 'distinct value')}"
    n = len(values)
    few = distinct <= MAX_CLASSES_ALWAYS or distinct <= CLASS_FRACTION * n
    if few and distinct <= max(2, n // 2):
        return "classification", f"it holds {_plural(distinct, 'distinct whole number')}"
    return "regression", f"it holds {distinct} distinct whole numbers in {_plural(n, 'row')}"


def target_values(values, task: str, name: str, path: str) -> np.ndarray:
    """A :func:`target_column` as the estimator takes it: for
    classification, labels in the table's words, whole numbers as int64 (a
    CSV's ``1`` and ``1.0`` are one class); float64 for regression."""
    if task == "classification":
        if values.dtype.kind == "f":
            if np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
                return values.astype(np.int64)
            return values.astype(str)  # fractional classes, as --task says
        return values
    if values.dtype.kind != "f":
        raise TableError(
            f"{path}: --task regression needs a numeric target, but {name!r} holds "
            "strings or booleans"
        )
    return values


@dataclass
class TableModel:
    """What ``predict`` applies around the network: standardised features
    by name, and the classes (or the target's scale) of the table."""

    task: str
    target: str
    features: np.ndarray  # names, in the network's input order
    mean: np.ndarray
    scale: np.ndarray
    classes: np.ndarray | None = None  # classification, in the table's own words
    target_mean: float = 0.0
    target_scale: float = 1.0

    @classmethod
    def fit_scaling(cls, task, target, features, X, y=None) -> TableModel:
        """Standardisation from the training rows (a constant column is
        only centred); for regression the target's too."""
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale == 0] = 1.0
        model = cls(task, target, np.asarray(features, dtype=str), mean, scale)
        if task == "regression":
            model.target_mean = float(y.mean())
            model.target_scale = float(y.std()) or 1.0
        return model

    def inputs(self, X) -> np.ndarray:
        return (X - self.mean) / self.scale

    def scaled_target(self, y) -> np.ndarray:
        return (y - self.target_mean) / self.target_scale

    def probabilities(self, network, X) -> np.ndarray:
        """``(n, n_classes)`` class probabilities, columns in ``classes`` order."""
        outputs = network.forward(self.inputs(X))
        if outputs.shape[1] == 1:  # one logistic output: the second class's
            positive = outputs[:, 0]
            outputs = np.column_stack([1 - positive, positive])
        return outputs[:, : len(self.classes)]

    def predict(self, network, X) -> np.ndarray:
        """Labels in the table's own words, or regression values."""
        if self.task == "regression":
            outputs = network.forward(self.inputs(X))[:, 0]
            return outputs * self.target_scale + self.target_mean
        return self.classes[self.probabilities(network, X).argmax(axis=1)]

    def score(self, network, X, y) -> float:
        """Accuracy, or R^2 (1 - residual / total sum of squares)."""
        predicted = self.predict(network, X)
        if self.task == "classification":
            return float(np.mean(predicted.astype(str) == np.asarray(y).astype(str)))
        residual = float(((y - predicted) ** 2).sum())
        total = float(((y - y.mean()) ** 2).sum())
        return 1.0 - residual / total if total > 0 else float(residual == 0)

    def meta(self) -> dict:
        """Arrays for the model file (no pickles: strings, numbers)."""
        meta = {
            "task": self.task,
            "target": self.target,
            "features": self.features,
            "mean": self.mean,
            "scale": self.scale,
            "target_mean": self.target_mean,
            "target_scale": self.target_scale,
        }
        if self.classes is not None:
            meta["classes"] = self.classes
        return meta

    @classmethod
    def from_meta(cls, meta, n_features: int, path) -> TableModel:
        """The model a file's meta arrays describe, checked against its
        network's inputs."""
        try:
            model = cls(
                task=str(meta["task"]),
                target=str(meta["target"]),
                features=np.asarray(meta["features"], dtype=str),
                mean=np.asarray(meta["mean"], dtype=np.float64),
                scale=np.asarray(meta["scale"], dtype=np.float64),
                classes=meta.get("classes"),
                target_mean=float(meta["target_mean"]),
                target_scale=float(meta["target_scale"]),
            )
        except KeyError as missing:
            raise TableError(f"{path}: the model file lacks its {missing.args[0]!r}") from None
        shapes_ok = model.features.shape == model.mean.shape == model.scale.shape == (n_features,)
        if model.task not in TASKS or not shapes_ok:
            raise TableError(f"{path}: the model file's table description does not fit its network")
        return model
