"""save/load and pickling round trips, resuming, atomic writes, corrupt
files, and partial_fit on streamed (memory-mapped) data."""

import os
import pickle
import zipfile

import numpy as np
import pytest
from conftest import assert_same_arrays

from fastbackprop import Network
from fastbackprop.optim import SGD, Adam, AdamW, RMSprop

BACKENDS = ["numba", "numpy"]
DTYPES = ["float32", "float64"]


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    y = rng.integers(0, 3, n)
    return X, y


def _net(backend="numba", dtype="float64", seed=7, dropout=0.2, **kwargs):
    return Network(
        [5, 8, 6, 3],
        activation=["tanh", "relu"],
        seed=seed,
        backend=backend,
        dtype=dtype,
        dropout=dropout,
        **kwargs,
    )


def _trained(backend="numba", dtype="float64", optimizer=None):
    X, y = _data()
    net = _net(backend, dtype)
    net.fit(
        X,
        y,
        epochs=3,
        batch_size=16,
        optimizer=optimizer or Adam(0.01),
        validation_data=_data(12, seed=1),
    )
    return net


def assert_same_network(a, b):
    assert type(a) is type(b)
    assert a.layer_sizes == b.layer_sizes
    assert tuple(a.activations) == tuple(b.activations)
    assert (a.loss, a.output, a.init, a.backend) == (b.loss, b.output, b.init, b.backend)
    assert a.dtype == b.dtype
    assert a.dropout == b.dropout
    for name in ("_params", "_opt_state", "_counters"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert type(a.optimizer) is type(b.optimizer)
    assert a.optimizer.get_config() == b.optimizer.get_config()
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.dropout_seed == b.dropout_seed
    assert a.history.as_dict() == b.history.as_dict()


# ------------------------------------------------------------ save / load
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_save_load_round_trip_is_exact(tmp_path, backend, dtype):
    net = _trained(backend, dtype)
    assert np.any(net.get_training_state().optimizer_state != 0) and net.history.epochs == 3
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = Network.load(path)
    assert_same_network(net, loaded)
    assert loaded.get_training_state().parameters.dtype == np.dtype(dtype)
    X, _ = _data(20, seed=3)
    np.testing.assert_array_equal(net.forward(X), loaded.forward(X))
    np.testing.assert_array_equal(net.predict(X), loaded.predict(X))


@pytest.mark.parametrize(
    "optimizer",
    [SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01), AdamW(0.02), RMSprop(0.01, 0.9)],
)
def test_every_optimizer_config_survives_save(tmp_path, optimizer):
    net = _trained(optimizer=optimizer)
    net.save(tmp_path / "m.npz")
    loaded = Network.load(tmp_path / "m.npz")
    assert loaded.optimizer == optimizer
    assert_same_network(net, loaded)


def test_save_accepts_str_path_and_loads_mse_network(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    net = Network([3, 4, 2], loss="mse", output="sigmoid", init="lecun", seed=1)
    net.fit(X, y, epochs=2)
    path = str(tmp_path / "mse.npz")
    net.save(path)
    loaded = Network.load(path)
    assert_same_network(net, loaded)
    assert loaded.history.accuracy is None
    np.testing.assert_array_equal(net.predict(X), loaded.predict(X))


@pytest.mark.parametrize("backend", BACKENDS)
def test_resume_from_file_equals_uninterrupted_training(tmp_path, backend):
    X, y = _data()
    whole = _net(backend, seed=13)
    whole.fit(X, y, epochs=4, batch_size=10, optimizer=Adam(0.01))

    first = _net(backend, seed=13)
    first.fit(X, y, epochs=2, batch_size=10, optimizer=Adam(0.01))
    first.save(tmp_path / "half.npz")
    resumed = Network.load(tmp_path / "half.npz")
    resumed.fit(X, y, epochs=2, batch_size=10)
    assert_same_arrays(resumed.get_training_state(), whole.get_training_state())
    assert resumed.history.loss == whole.history.loss
    assert resumed.rng.bit_generator.state == whole.rng.bit_generator.state


# ---------------------------------------------------------------- pickle
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pickle_round_trip_is_exact_and_trains_identically(backend, dtype):
    net = _trained(backend, dtype)
    clone = pickle.loads(pickle.dumps(net))
    assert_same_network(net, clone)
    assert clone.get_training_state().parameters is not net.get_training_state().parameters
    X, y = _data(seed=5)
    net.fit(X, y, epochs=2, batch_size=12)
    clone.fit(X, y, epochs=2, batch_size=12)
    assert_same_network(net, clone)
    np.testing.assert_array_equal(net.forward(X), clone.forward(X))


def test_pickle_of_fresh_network_fits_like_the_original():
    X, y = _data()
    net = _net()
    clone = pickle.loads(pickle.dumps(net, protocol=pickle.HIGHEST_PROTOCOL))
    net.fit(X, y, epochs=2, batch_size=8)
    clone.fit(X, y, epochs=2, batch_size=8)
    np.testing.assert_array_equal(
        net.get_training_state().parameters, clone.get_training_state().parameters
    )


# ---------------------------------------------------------- atomic writes
def test_saving_over_an_existing_file_leaves_no_temp_files(tmp_path):
    net = _trained()
    path = tmp_path / "model.npz"
    net.save(path)
    X, y = _data()
    net.fit(X, y, epochs=1)
    net.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    assert_same_network(net, Network.load(path))


def test_failed_save_keeps_the_old_file_and_removes_the_temp_file(tmp_path, monkeypatch):
    net = _trained()
    path = tmp_path / "model.npz"
    net.save(path)
    original = path.read_bytes()

    def failing_savez(stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    X, y = _data()
    net.fit(X, y, epochs=1)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    Network.load(path)  # still a valid model


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    def failing_savez(stream, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        _net().save(tmp_path / "new.npz")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------ bad files
def test_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Network.load(tmp_path / "nope.npz")


def test_load_non_zip_file_raises_value_error(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("this is not a model\n" * 20)
    with pytest.raises(ValueError, match="not a readable fastbackprop model"):
        Network.load(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"this is not a model\n" * 20, "not an .npz archive"),
    ],
)
def test_load_says_what_the_file_is_not(tmp_path, content, reason):
    # np.load's own message for these suggests allow_pickle=True
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=reason) as error:
        Network.load(path)
    assert "pickle" not in str(error.value)


def test_load_of_a_directory_says_so(tmp_path):
    # a path that merely contains "pickle" is not taken for np.load's hint
    (tmp_path / "pickles" / "m.npz").mkdir(parents=True)
    with pytest.raises(ValueError, match="Is a directory"):
        Network.load(tmp_path / "pickles" / "m.npz")


def test_save_through_a_symbolic_link_keeps_the_link(tmp_path):
    net = Network([2, 3, 1], loss="mse", seed=0)
    (tmp_path / "real.npz").write_bytes(b"old")
    (tmp_path / "link.npz").symlink_to(tmp_path / "real.npz")
    net.save(tmp_path / "link.npz")
    assert (tmp_path / "link.npz").is_symlink()
    np.testing.assert_array_equal(
        Network.load(tmp_path / "real.npz").get_training_state().parameters,
        net.get_training_state().parameters,
    )


def test_load_refuses_object_arrays_without_unpickling(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, payload=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="object arrays"):
        Network.load(path)


def test_save_errors_name_the_path_not_a_temporary_file(tmp_path):
    net = Network([2, 3, 1], loss="mse", seed=0)
    cases = [
        (tmp_path, IsADirectoryError, "Is a directory"),
        (str(tmp_path / "new") + "/", IsADirectoryError, "Not a file path"),
        (tmp_path / "no" / "m.npz", FileNotFoundError, "No such directory"),
    ]
    for path, error, words in cases:
        with pytest.raises(error, match=words) as raised:
            net.save(path)
        assert raised.value.filename == os.fspath(path) and ".tmp" not in str(raised.value)
    with pytest.raises(ValueError, match="must not be empty"):
        net.save("")
    assert list(tmp_path.iterdir()) == []


def test_load_truncated_file_raises_value_error(tmp_path):
    path = tmp_path / "model.npz"
    _trained().save(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        Network.load(cut)


def test_load_npz_without_format_tag_raises_value_error(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, params=np.zeros(10), layer_sizes=np.array([2, 3]))
    with pytest.raises(ValueError, match="not a fastbackprop model file"):
        Network.load(path)


def _resave(path, out, **changes):
    with np.load(path, allow_pickle=False) as archive:
        data = {key: archive[key] for key in archive.files}
    data.update(changes)
    np.savez(out, **data)


def test_load_npy_array_raises_value_error(tmp_path):
    np.save(tmp_path / "array.npy", np.arange(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        Network.load(tmp_path / "array.npy")


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(history=np.array("[1, 2]")), "history must be a dict"),
        (dict(history=np.array('{"loss": [1.0], "accuracy": "x"}')), r"history\['accuracy'\]"),
        (dict(history=np.array('{"loss": [true]}')), r"history\['loss'\]"),
        (dict(history=np.array('{"loss": [1.0, 2.0], "learning_rate": [0.1]}')), "epochs"),
        (dict(counters=np.array([-3, -1])), "negative step counters"),
        (dict(dropout_seed=np.array([1, 2], dtype=np.uint64)), "dropout_seed"),
        (dict(dropout_seed=np.array(-5.5)), "dropout_seed"),
    ],
    ids=[
        "history-list",
        "history-str",
        "history-bool",
        "history-lengths",
        "counters",
        "seed-pair",
        "seed-float",
    ],
)
def test_load_inconsistent_contents_raise_value_error(tmp_path, changes, match):
    path = tmp_path / "model.npz"
    _trained().save(path)
    _resave(path, tmp_path / "bad.npz", **changes)
    with pytest.raises(ValueError, match=match):
        Network.load(tmp_path / "bad.npz")


@pytest.mark.skipif(os.name != "posix", reason="file modes and the umask are POSIX")
def test_saved_files_get_the_permissions_of_a_new_file(tmp_path):
    from fastbackprop.callbacks import JSONLogger

    old = os.umask(0o022)
    try:
        net = _trained()
        net.save(tmp_path / "model.npz")
        X, y = _data()
        net.fit(X, y, epochs=1, callbacks=[JSONLogger(tmp_path / "log.json")])
    finally:
        os.umask(old)
    # 0o666 less the umask, as a plain open() would give; not mkstemp's 0o600
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "log.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_saving_over_a_private_file_keeps_it_private(tmp_path):
    path = tmp_path / "model.npz"
    net = _trained()
    net.save(path)
    path.chmod(0o600)
    net.save(path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_name_near_the_length_limit_saves(tmp_path):
    path = tmp_path / ("m" * 240 + ".npz")  # 244 characters: most systems allow 255
    net = _trained()
    net.save(path)
    assert_same_network(net, Network.load(path))
    assert os.listdir(tmp_path) == [path.name]


def test_load_wrong_format_tag_raises_value_error(tmp_path):
    path = tmp_path / "model.npz"
    _trained().save(path)
    _resave(path, tmp_path / "other.npz", format=np.array("someone-else"))
    with pytest.raises(ValueError, match="not a fastbackprop model file"):
        Network.load(tmp_path / "other.npz")


def test_load_params_length_mismatch_raises_value_error(tmp_path):
    path = tmp_path / "model.npz"
    net = _trained()
    net.save(path)
    _resave(path, tmp_path / "short.npz", params=net.get_training_state().parameters[:-1].copy())
    with pytest.raises(ValueError, match="params"):
        Network.load(tmp_path / "short.npz")
    _resave(path, tmp_path / "sizes.npz", layer_sizes=np.array([5, 9, 6, 3]))
    with pytest.raises(ValueError, match="inconsistent"):
        Network.load(tmp_path / "sizes.npz")


def test_load_params_of_wrong_dtype_raises_value_error(tmp_path):
    path = tmp_path / "model.npz"
    net = _trained()
    net.save(path)
    _resave(
        path, tmp_path / "f32.npz", params=net.get_training_state().parameters.astype(np.float32)
    )
    with pytest.raises(ValueError, match="params"):
        Network.load(tmp_path / "f32.npz")


def test_load_newer_format_version_raises_value_error(tmp_path):
    path = tmp_path / "model.npz"
    _trained().save(path)
    _resave(path, tmp_path / "future.npz", format_version=np.array(999))
    with pytest.raises(ValueError, match="newer"):
        Network.load(tmp_path / "future.npz")


def test_saved_file_holds_no_pickled_objects(tmp_path):
    path = tmp_path / "model.npz"
    _trained().save(path)
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            assert archive[key].dtype != object


# ------------------------------------------------------------- partial_fit
def _memmap(tmp_path, X, dtype):
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=dtype, shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.load(tmp_path / "X.npy", mmap_mode="r")


def test_partial_fit_on_memmap_is_one_pass(tmp_path):
    X, y = _data(64)
    X = X.astype(np.float32)
    mm = _memmap(tmp_path, X, np.float32)
    assert isinstance(mm, np.memmap)
    streamed = _net(dtype="float32", dropout=0.0)
    in_memory = _net(dtype="float32", dropout=0.0)
    before = streamed.get_training_state().parameters
    assert streamed.partial_fit(mm, y, batch_size=16) is streamed
    assert not np.array_equal(streamed.get_training_state().parameters, before)
    assert int(streamed.get_training_state().counters[0]) == 4
    in_memory.fit(X, y, epochs=1, batch_size=16, shuffle=False)
    np.testing.assert_array_equal(
        streamed.get_training_state().parameters, in_memory.get_training_state().parameters
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch_size", [4, 8])
def test_two_partial_fits_over_halves_equal_one_epoch(backend, batch_size):
    X, y = _data(64)
    halves = _net(backend, seed=3)
    whole = _net(backend, seed=3)
    halves.fit(X[:1], y[:1], epochs=0, optimizer=Adam(0.01))  # choose the optimizer
    halves.partial_fit(X[:32], y[:32], batch_size=batch_size)
    halves.partial_fit(X[32:], y[32:], batch_size=batch_size)
    whole.fit(X, y, epochs=1, batch_size=batch_size, shuffle=False, optimizer=Adam(0.01))
    assert_same_arrays(halves.get_training_state(), whole.get_training_state())


def test_partial_fit_continues_optimizer_state():
    X, y = _data(64)
    a, b = _net(seed=3, dropout=0.0), _net(seed=3, dropout=0.0)
    a.fit(X, y, epochs=1, batch_size=16, shuffle=False, optimizer=Adam(0.01))
    a.partial_fit(X, y, batch_size=16)
    b.fit(X, y, epochs=2, batch_size=16, shuffle=False, optimizer=Adam(0.01))
    np.testing.assert_array_equal(
        a.get_training_state().parameters, b.get_training_state().parameters
    )


def test_partial_fit_rejects_mismatched_rows_and_changes_nothing():
    X, y = _data(20)
    net = _net()
    before = net.get_training_state().parameters
    with pytest.raises(ValueError, match="rows"):
        net.partial_fit(X, y[:-1])
    with pytest.raises(ValueError, match="features"):
        net.partial_fit(X[:, :4], y)
    np.testing.assert_array_equal(net.get_training_state().parameters, before)
