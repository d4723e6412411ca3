"""Plots write real PNGs; the module imports without matplotlib."""

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastbackprop import History, Network
from fastbackprop.datasets import moons, regression_341

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fastbackprop import plotting  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained():
    X, y = moons(n_samples=40, seed=0)
    net = Network(
        [2, 6, 1], activation="tanh", loss="binary_cross_entropy", seed=0, backend="numpy"
    )
    history = net.fit(X, y, epochs=5, learning_rate=0.5)
    return net, X, y, history


def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000  # a drawn figure, not an empty file


def _save(artist, path):
    figure = artist.figure if hasattr(artist, "figure") else artist[0].figure
    figure.savefig(path)
    plt.close(figure)
    _assert_png(path)


def test_decision_boundary(trained, tmp_path):
    net, X, y, _ = trained
    ax = plotting.plot_decision_boundary(net, X, y)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_legend() is not None
    _save(ax, tmp_path / "boundary.png")


def test_decision_boundary_softmax_uses_predicted_classes(tmp_path):
    X, y = moons(n_samples=30, seed=1)
    net = Network([2, 4, 2], seed=0, backend="numpy")
    ax = plotting.plot_decision_boundary(net, X, y)
    _save(ax, tmp_path / "softmax.png")


def test_decision_boundary_rejects_non_2d_features():
    X, y = regression_341(n_samples=10, seed=0)
    net = Network([3, 4, 1], loss="mse", backend="numpy")
    with pytest.raises(ValueError, match="2 input features"):
        plotting.plot_decision_boundary(net, X, y)
    two_features = Network([2, 4, 1], loss="mse", backend="numpy")
    with pytest.raises(ValueError, match=r"\(n_samples, 2\)"):
        plotting.plot_decision_boundary(two_features, X, y)


def test_failed_plots_leave_no_figure_open(trained, tmp_path):
    net, X, y, history = trained
    bad_X = X.copy()
    bad_X[0, 0] = np.nan
    before = plt.get_fignums()
    cases = [
        (TypeError, "net must be", lambda: plotting.plot_decision_boundary("x", X, y)),
        (ValueError, "one label per row", lambda: plotting.plot_decision_boundary(net, X, y[:5])),
        (ValueError, "finite", lambda: plotting.plot_decision_boundary(net, bad_X, y)),
        (TypeError, "history must be", lambda: plotting.plot_history(None)),
        (TypeError, "history must be", lambda: plotting.plot_history([1, 2, 3])),
        (
            TypeError,
            "history must be",
            lambda: plotting.training_report(net, X, y, None, tmp_path / "r.png"),
        ),
        (TypeError, "path must be", lambda: plotting.training_report(net, X, y, history, None)),
        (
            FileNotFoundError,
            "No such directory for the file",
            lambda: plotting.training_report(net, X, y, history, tmp_path / "no" / "r.png"),
        ),
    ]
    for error, fragment, call in cases:
        with pytest.raises(error, match=fragment):
            call()
        assert plt.get_fignums() == before, fragment
    assert not (tmp_path / "r.png").exists()


def test_training_report_format_follows_the_suffix(trained, tmp_path):
    net, X, y, history = trained
    plotting.training_report(net, X, y, history, tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in plotting.training_report(net, X, y, history, tmp_path / "r.svg").read_bytes()
    # any other name, or none, is PNG under exactly that name
    for name in ("report.png", "report", "report.v2"):
        assert plotting.training_report(net, X, y, history, tmp_path / name) == tmp_path / name
        _assert_png(tmp_path / name)
    stream = io.BytesIO()
    plotting.training_report(net, X, y, history, stream)
    assert stream.getvalue()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["report.pdf", "r.svg", "report.png", "report", "report.v2"]
    )


def test_history_loss_is_log_scale(trained, tmp_path):
    _, _, _, history = trained
    axes = plotting.plot_history(history)
    assert axes[0].get_yscale() == "log"
    assert len(axes[0].lines) == 1 and len(axes[1].lines) == 1
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), history.loss)
    _save(axes, tmp_path / "history.png")


def test_history_draws_validation_curves_when_present(tmp_path):
    history = History(
        loss=[1.0, 0.5, 0.2],
        accuracy=[0.5, 0.7, 0.9],
        val_loss=[1.1, 0.6, 0.4],
        val_accuracy=[0.4, 0.6, 0.8],
    )
    axes = plotting.plot_history(history)
    labels = [line.get_label() for line in axes[0].lines]
    assert labels == ["train", "validation"]
    np.testing.assert_allclose(axes[1].lines[1].get_ydata(), history.val_accuracy)
    _save(axes, tmp_path / "validation.png")


def test_history_without_accuracy(tmp_path):
    history = History(loss=[0.3, 0.2], accuracy=None)  # an mse fit
    axes = plotting.plot_history(history)
    assert len(axes[1].lines) == 0
    _save(axes, tmp_path / "mse.png")


def test_gradient_flow(trained, tmp_path):
    net, X, y, _ = trained
    ax = plotting.plot_gradient_flow(net, X, y)
    # three bars (weight norm, grad norm, ratio) per layer, two layers
    assert len(ax.patches) == 3 * 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "weight norm",
        "gradient norm",
        "gradient / weight",
    ]
    _save(ax, tmp_path / "flow.png")


def test_training_report(trained, tmp_path):
    net, X, y, history = trained
    path = tmp_path / "report.png"
    assert plotting.training_report(net, X, y, history, path) == path
    _assert_png(path)


@pytest.mark.slow
def test_imports_without_matplotlib_and_names_the_extra():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["matplotlib"] = None
        sys.modules["matplotlib.pyplot"] = None
        import numpy as np
        from fastbackprop import Network, plotting
        net = Network([2, 2, 1], loss="binary_cross_entropy", backend="numpy")
        try:
            plotting.plot_decision_boundary(net, np.zeros((2, 2)), [0, 1])
        except ImportError as error:
            print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "pip install fastbackprop[plot]" in result.stdout
