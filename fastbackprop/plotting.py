"""Plots of a network, its training history and its gradients.

matplotlib is optional: this module imports without it, and each plotting
function raises ``ImportError`` (``pip install fastbackprop[plot]``) when it
is called without it.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ._atomic import atomic_write
from .diagnostics import gradient_stats

__all__ = ["plot_decision_boundary", "plot_history", "plot_gradient_flow", "training_report"]

#: grid points per axis of a decision-boundary plot
GRID_POINTS = 200
#: fraction of the data range added on every side of a decision-boundary plot
MARGIN = 0.1
CLASS_COLOURS = "RdBu"


def _pyplot():
    """``matplotlib.pyplot``, imported on first use so the module loads without it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install fastbackprop[plot]") from error
    return plt


def _new_axes(ax):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=(5, 4), layout="constrained")
    return ax


def _check_2d_features(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n_samples, 2) with n_samples >= 1; got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite (no NaN or inf)")
    return X


def _check_plot_data(X, y, net=None):
    """``(X, y)`` checked before any figure exists, so a bad call leaves no
    half-drawn figure open."""
    from .network import Network

    if net is not None:
        if not isinstance(net, Network):
            raise TypeError(f"net must be a fastbackprop.Network; got {type(net).__name__}")
        if net.n_features != 2:
            raise ValueError(
                f"net must take 2 input features to be drawn; it takes {net.n_features}"
            )
    X = _check_2d_features(X)
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one label per row of X ({X.shape[0]}); got {y.shape[0]}")
    return X, y


def _check_history(history):
    if not hasattr(history, "loss"):
        raise TypeError(
            f"history must be the History that Network.fit returns; got {type(history).__name__}"
        )


@contextlib.contextmanager
def _closed_on_error(figure):
    """Close ``figure`` if the block fails: pyplot keeps every open figure
    alive, and a failed call should not leave one behind."""
    try:
        yield
    except BaseException:
        if figure is not None:
            _pyplot().close(figure)
        raise


def _grid(X: np.ndarray):
    """A ``GRID_POINTS`` square grid covering ``X`` plus a margin."""
    low, high = X.min(axis=0), X.max(axis=0)
    pad = MARGIN * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], GRID_POINTS)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], GRID_POINTS)
    return np.meshgrid(xs, ys)


def _surface(net, points: np.ndarray):
    """What to colour the plane by, and its colour-bar label.

    A one-output classifier is shaded by P(class 1), which shows the margin;
    a softmax network by its predicted class; an mse network by its output.
    """
    if net.loss == "binary_cross_entropy" and net.n_outputs == 1:
        return net.predict_proba(points)[:, 0], "P(class 1)"
    if net.loss == "cross_entropy":
        return net.predict(points).astype(np.float64), "predicted class"
    return net.forward(points)[:, 0], "network output"


def _scatter_classes(ax, X, y):
    """The data points, one colour and legend entry per class."""
    y = np.asarray(y).reshape(-1)
    classes = np.unique(y)
    cmap = _pyplot().get_cmap(CLASS_COLOURS)
    for i, label in enumerate(classes):
        colour = cmap(i / max(len(classes) - 1, 1))
        rows = y == label
        ax.scatter(
            X[rows, 0],
            X[rows, 1],
            color=colour,
            edgecolors="k",
            linewidths=0.5,
            s=18,
            label=f"class {label:g}" if np.issubdtype(classes.dtype, np.number) else str(label),
        )


def plot_decision_boundary(net, X, y, ax=None):
    """Shade the plane by the network's output and draw the points over it.

    Parameters
    ----------
    net : Network
        A network with 2 input features.
    X : array-like, shape (n_samples, 2)
    y : array-like, shape (n_samples,)
        Labels, used to colour the points.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    X, y = _check_plot_data(X, y, net)
    own = ax is None
    ax = _new_axes(ax)
    with _closed_on_error(ax.figure if own else None):
        gx, gy = _grid(X)
        values, label = _surface(net, np.column_stack([gx.ravel(), gy.ravel()]))
        shape = gx.shape
        filled = ax.contourf(
            gx, gy, values.reshape(shape), levels=20, cmap=CLASS_COLOURS, alpha=0.6
        )
        if label == "P(class 1)":
            # the 0.5 contour is the decision boundary itself
            ax.contour(gx, gy, values.reshape(shape), levels=[0.5], colors="k", linewidths=1)
        plt.colorbar(filled, ax=ax, label=label)
        _scatter_classes(ax, X, y)
        ax.set(title="Decision boundary", xlabel="feature 0", ylabel="feature 1")
        ax.legend(loc="upper right", fontsize="small")
    return ax


def _series(history, name):
    """A metric list from ``history``, or None when absent or empty."""
    values = getattr(history, name, None)
    return list(values) if values else None


def _plot_curves(ax, history, train_name, val_name, ylabel, log=False):
    train = _series(history, train_name)
    val = _series(history, val_name)
    for values, label in ((train, "train"), (val, "validation")):
        if values:
            ax.plot(np.arange(1, len(values) + 1), values, label=label)
    if log and (train or val):
        ax.set_yscale("log")
    ax.set(title=ylabel.capitalize(), xlabel="epoch", ylabel=ylabel)
    if train or val:
        ax.legend()
    else:
        ax.text(
            0.5, 0.5, f"no {train_name} recorded", ha="center", va="center", transform=ax.transAxes
        )
    ax.grid(True, alpha=0.3)


def plot_history(history, axes=None):
    """Loss (log scale) and accuracy per epoch, with validation curves if any.

    Parameters
    ----------
    history : History
        As returned by ``Network.fit``. ``val_loss`` and ``val_accuracy``
        are drawn when the object has them and they are non-empty.
    axes : sequence of 2 matplotlib Axes, optional
        Where to draw the loss and the accuracy; a new figure if omitted.

    Returns
    -------
    ndarray of 2 matplotlib Axes
        The loss axes and the accuracy axes.
    """
    plt = _pyplot()
    _check_history(history)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 2:
        raise ValueError(f"axes must hold 2 Axes (loss, accuracy); got {axes.size}")
    _plot_curves(axes[0], history, "loss", "val_loss", "loss", log=True)
    _plot_curves(axes[1], history, "accuracy", "val_accuracy", "accuracy")
    return axes


def plot_gradient_flow(net, X, y, ax=None):
    """Bars of each layer's weight norm, gradient norm and their ratio.

    Parameters
    ----------
    net : Network
    X, y : array-like
        Data on which the gradients are computed (see ``gradient_stats``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure if omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _pyplot()
    stats = gradient_stats(net, X, y)
    ax = _new_axes(ax)
    layers = np.arange(len(stats))
    width = 0.27
    for shift, key, label in (
        (-width, "weight_norm", "weight norm"),
        (0.0, "grad_norm", "gradient norm"),
        (width, "ratio", "gradient / weight"),
    ):
        # a bar of height 0 or inf cannot sit on a log axis; clip it to show as tiny / huge
        heights = np.clip([row[key] for row in stats], 1e-12, 1e12)
        ax.bar(layers + shift, heights, width=width, label=label)
    ax.set_yscale("log")
    ax.set_xticks(layers, [f"layer {i}" for i in layers])
    ax.set(title="Gradient flow", xlabel="layer (from the input)", ylabel="Frobenius norm")
    ax.legend()
    return ax


def _plot_data(ax, X, y):
    _scatter_classes(ax, _check_2d_features(X), y)
    ax.set(title="Data", xlabel="feature 0", ylabel="feature 1")
    ax.legend(loc="upper right", fontsize="small")


def training_report(net, X, y, history, path):
    """A 2x2 summary figure: data, decision boundary, loss, accuracy.

    Parameters
    ----------
    net : Network
        A trained network with 2 input features.
    X : array-like, shape (n_samples, 2)
    y : array-like, shape (n_samples,)
    history : History
        As returned by ``Network.fit``.
    path : str, path-like or binary file object
        Where to write the figure: PDF or SVG for a path ending in ``.pdf``
        or ``.svg``, PNG otherwise. A path is written atomically (temporary
        file, then rename), so a failure leaves any earlier file whole.

    Returns
    -------
    path
        ``path``, as given.
    """
    plt = _pyplot()
    X, y = _check_plot_data(X, y, net)
    _check_history(history)
    if not isinstance(path, (str, os.PathLike)) and not hasattr(path, "write"):
        raise TypeError(
            f"path must be a str, path-like or binary file object; got {type(path).__name__}"
        )
    fig, axes = plt.subplots(2, 2, figsize=(11, 9), layout="constrained")
    try:
        _plot_data(axes[0, 0], X, y)
        plot_decision_boundary(net, X, y, ax=axes[0, 1])
        plot_history(history, axes=[axes[1, 0], axes[1, 1]])
        final = f"final loss {history.loss[-1]:.4f}" if history.loss else "untrained"
        fig.suptitle(
            f"{list(net.layer_sizes)} {net.activations[0] if net.activations else ''} "
            f"network, {net.loss} ({final})"
        )
        _save_figure(fig, path)
    finally:
        plt.close(fig)
    return path


def _save_figure(figure, path, dpi=100):
    """Write ``figure`` as :func:`training_report` does: PDF or SVG for a
    path ending in ``.pdf``/``.svg``, PNG otherwise (a file object gets
    PNG); a path is written atomically."""
    if hasattr(path, "write"):
        figure.savefig(path, format="png", dpi=dpi)
        return
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    image_format = {".pdf": "pdf", ".svg": "svg"}.get(suffix, "png")
    with atomic_write(path, "wb", durable=False) as stream:
        figure.savefig(stream, format=image_format, dpi=dpi)
