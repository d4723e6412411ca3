"""Hostile model files: at least 1,000 mutations of a saved model, each
loading as the saved model, or refused with ValueError/OSError, and never
allocating much memory on the way (issue 22)."""

import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from fastbackprop import Network

#: more than any honest load of the small model below allocates (about 0.1 MB)
ALLOCATION_LIMIT = 16 << 20


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    net = Network([3, 5, 4, 2], activation="tanh", seed=0, dropout=0.1)
    X = np.random.default_rng(0).normal(size=(40, 3))
    net.fit(X, (X[:, 0] > 0).astype(int), epochs=2, batch_size=8, optimizer="adam")
    path = tmp_path_factory.mktemp("fuzz") / "model.npz"
    net.save(path)
    return net, path.read_bytes()


def members(blob: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(files: dict, compression=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def npy(array) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def npy_with_header(shape, dtype="<f8", payload=b"") -> bytes:
    """An .npy whose header declares ``shape`` whatever it holds."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


def mutations(blob: bytes, rng):
    """(kind, bytes) pairs: every way a file arrives broken or crafted."""
    files = members(blob)
    names = sorted(files)
    n = len(blob)
    for _ in range(300):
        yield "truncated", blob[: int(rng.integers(0, n))]
    for _ in range(300):
        data = bytearray(blob)
        for _ in range(int(rng.integers(1, 9))):
            position = int(rng.integers(0, n))
            data[position] ^= 1 << int(rng.integers(0, 8))
        yield "bit flips", bytes(data)
    for _ in range(150):
        data = bytearray(blob)
        start, length = int(rng.integers(0, n)), int(rng.integers(1, 65))
        data[start : start + length] = bytes(len(data[start : start + length]))
        yield "zeroed run", bytes(data)
    for a in names:
        for b in names:
            if a < b:
                swapped = dict(files)
                swapped[a], swapped[b] = files[b], files[a]
                yield "swapped members", rezip(swapped)
    for name in names:
        yield "missing member", rezip({k: v for k, v in files.items() if k != name})
    for name in names:
        array = np.load(io.BytesIO(files[name]), allow_pickle=False)
        variants = [
            array.astype(np.float32) if array.dtype.kind in "fiu" else np.array(1.5),
            array.reshape(-1)[:0] if array.size else np.zeros(3),
            np.stack([array, array]) if array.ndim < 3 else array[0],
            np.array(["x"] * max(1, array.size)),
            np.zeros((2, 2, 2)),
        ]
        for variant in variants:
            yield "wrong dtype or shape", rezip({**files, name: npy(variant)})
    for sizes in ([10**7, 10**7, 10**7], [10**4, 10**4, 2], [3, -5, 2], [3, 0, 2], [3],
                  [2**62, 2**62], list(range(1, 2000))):  # fmt: skip
        yield (
            "huge or negative sizes",
            rezip({**files, "layer_sizes.npy": npy(np.array(sizes, dtype=np.int64))}),
        )
    for shape in ((10**12,), (10**7, 10**7), (2, 10**11), (-1,)):
        for name in ("params.npy", "opt_state.npy", "counters.npy", "history.npy"):
            yield (
                "header declares more than it holds",
                rezip({**files, name: npy_with_header(shape, payload=b"\0" * 64)}),
            )
    bomb = {**files, "params.npy": npy_with_header((2**24,), payload=b"\0" * (8 * 2**24))}
    yield "zip bomb", rezip(bomb, zipfile.ZIP_DEFLATED)
    pads = {f"pad{k}.npy": npy(np.zeros(1 << 17)) for k in range(64)}  # 64 MiB of zeros
    yield "zip bomb", rezip({**files, **pads}, zipfile.ZIP_DEFLATED)
    for name in names:  # NumPy reads a member without its suffix, and prefers it
        yield "member names", rezip({**files, name[:-4]: files[name]})
        yield (
            "member names",
            rezip({**{k: v for k, v in files.items() if k != name}, name[:-4]: files[name]}),
        )
    yield (
        "member names",
        rezip({**files, "layer_sizes": npy(np.array([10**7] * 3, dtype=np.int64))}),
    )
    yield "member names", rezip({**files, "junk": npy_with_header((10**12,), payload=b"0")})
    yield "member names", rezip({**files, "junk.txt": b"hello"})
    # an extra member with another name is ignored, as the command line's are
    yield "extra member", rezip({**files, "nested/params.npy": files["params.npy"]})
    for _ in range(40):
        yield "random bytes", rng.bytes(int(rng.integers(0, 4096)))
    yield "empty", b""
    yield "an .npy", npy(np.arange(10.0))
    yield "text", b"layer_sizes = [3, 5, 2]\n"
    yield "a zip of text", rezip({"readme.txt": b"hello"})


def same_model(loaded, net) -> bool:
    a, b = loaded.get_training_state(), net.get_training_state()
    return (
        list(loaded.layer_sizes) == list(net.layer_sizes)
        and loaded.activations == net.activations
        and (loaded.loss, loaded.output, loaded.init, loaded.backend, loaded.dtype)
        == (net.loss, net.output, net.init, net.backend, net.dtype)
        and loaded.optimizer.get_config() == net.optimizer.get_config()
        and type(loaded.optimizer) is type(net.optimizer)
        and loaded.history.as_dict() == net.history.as_dict()
        and np.array_equal(a.parameters, b.parameters)
        and np.array_equal(a.optimizer_state, b.optimizer_state)
        and np.array_equal(a.counters, b.counters)
        and a.rng_state == b.rng_state
        and a.dropout_seed == b.dropout_seed
        and np.array_equal(loaded.dropout, net.dropout)
    )


def test_a_thousand_mutated_model_files(saved, tmp_path):
    net, blob = saved
    rng = np.random.default_rng(2026)
    outcomes = {}
    path = tmp_path / "mutated.npz"
    count = 0
    for kind, data in mutations(blob, rng):
        path.write_bytes(data)
        tracemalloc.start()
        try:
            loaded = Network.load(path)
            outcome = "same model" if same_model(loaded, net) else "A DIFFERENT MODEL"
        except (ValueError, OSError):
            outcome = "refused"
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert outcome != "A DIFFERENT MODEL", f"{kind}: loaded a model unlike the saved one"
        assert peak < ALLOCATION_LIMIT, f"{kind}: allocated {peak} bytes"
        outcomes.setdefault(kind, {}).setdefault(outcome, 0)
        outcomes[kind][outcome] += 1
        count += 1
    assert count >= 1000
    print(f"{count} mutated files:", outcomes)  # the figures of docs/reliability.md
    # the crafted kinds are all refused, never loaded
    for kind in (
        "huge or negative sizes",
        "header declares more than it holds",
        "zip bomb",
        "member names",
    ):
        assert set(outcomes[kind]) == {"refused"}, (kind, outcomes[kind])


def test_a_declared_architecture_that_does_not_fit_the_arrays_names_the_file(saved, tmp_path):
    _, blob = saved
    files = members(blob)
    path = tmp_path / "crafted.npz"
    path.write_bytes(
        rezip({**files, "layer_sizes.npy": npy(np.array([10**7] * 3, dtype=np.int64))})
    )
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"crafted\.npz holds an inconsistent model: params"):
            Network.load(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < ALLOCATION_LIMIT
