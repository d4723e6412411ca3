"""What fit does around the compiled epochs: epochs that need no Python in
between are recorded in bulk, exactly as the per-epoch path records them,
and a full-batch fit draws no permutation (the order of the rows cannot
change a step that sees all of them)."""

import numpy as np
import pytest
from conftest import make_targets

from fastbackprop import Network
from fastbackprop.callbacks import Callback


class _Nothing(Callback):
    """Defines a hook, so fit goes back to Python after every epoch."""

    def on_epoch_end(self, epoch, logs):
        return False


def _data(loss, n_out, rows=48):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((rows, 5))
    return X, make_targets(loss, rows, n_out, np.random.default_rng(4))


@pytest.mark.parametrize("loss, n_out", [("cross_entropy", 3), ("mse", 2)])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_bulk_history_equals_per_epoch_history(loss, n_out, batch_size, capsys):
    X, y = _data(loss, n_out)
    runs = {}
    for name, callbacks in (("bulk", None), ("per_epoch", [_Nothing()])):
        net = Network([5, 8, n_out], loss=loss, seed=1)
        history = net.fit(
            X,
            y,
            epochs=7,
            batch_size=batch_size,
            verbose=3,
            learning_rate=0.05,
            callbacks=callbacks,
        )
        runs[name] = (net, history, capsys.readouterr().out)
    (bulk, bulk_history, bulk_out), (each, each_history, each_out) = runs["bulk"], runs["per_epoch"]
    np.testing.assert_array_equal(
        bulk.get_training_state().parameters, each.get_training_state().parameters
    )
    assert bulk_history.as_dict() == each_history.as_dict()
    assert bulk.history.as_dict() == each.history.as_dict()
    assert bulk_history.epochs == 7
    assert (bulk_history.accuracy is None) == (loss == "mse")
    # verbose=3 prints epochs 3, 6 and the last, 7, on both paths
    assert bulk_out == each_out
    assert [line.split(" - ")[0] for line in bulk_out.splitlines()] == [
        "Epoch 3/7",
        "Epoch 6/7",
        "Epoch 7/7",
    ]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_full_batch_fit_draws_no_permutation(backend):
    X, y = _data("cross_entropy", 3)
    shuffled = Network([5, 8, 3], seed=2, backend=backend)
    ordered = Network([5, 8, 3], seed=2, backend=backend)
    state = shuffled.rng.bit_generator.state
    shuffled.fit(X, y, epochs=4, batch_size=None, shuffle=True)
    assert shuffled.rng.bit_generator.state == state
    ordered.fit(X, y, epochs=4, batch_size=None, shuffle=False)
    np.testing.assert_array_equal(
        shuffled.get_training_state().parameters, ordered.get_training_state().parameters
    )
    # with several batches the rows are still shuffled, from the same stream
    shuffled.fit(X, y, epochs=1, batch_size=16, shuffle=True)
    assert shuffled.rng.bit_generator.state != state
