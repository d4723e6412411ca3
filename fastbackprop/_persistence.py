"""Saving and loading networks as one ``.npz`` file (no pickle inside).

The file holds the architecture, dtype, parameters, optimizer and its
state, the step counters, the RNG state, the dropout seed and the history,
so that training resumes exactly. It is written to a temporary file in the
same directory and renamed into place, so a crash mid-save never leaves a
broken model behind.
"""

from __future__ import annotations

import json
import math
import os
import zipfile

import numpy as np

from ._atomic import atomic_write
from .state import TrainingState

FORMAT = "fastbackprop-model"
FORMAT_VERSION = 1
_REQUIRED = (
    "format",
    "format_version",
    "layer_sizes",
    "activations",
    "loss",
    "output",
    "init",
    "dtype",
    "backend",
    "dropout",
    "params",
    "opt_state",
    "counters",
    "optimizer",
    "rng_state",
    "dropout_seed",
    "history",
)


def save(net, path, extra=None) -> None:
    """Write ``net`` to ``path`` (see the module docstring). ``extra`` maps
    more array names to arrays stored beside the model's (the command
    line's label classes, say); ``load`` ignores them."""
    from . import __version__

    state = net.get_training_state()
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "library_version": np.array(__version__),
        "layer_sizes": np.array(net.layer_sizes, dtype=np.int64),
        "activations": np.array(list(net.activations), dtype=str),
        "loss": np.array(net.loss),
        "output": np.array(net.output),
        "init": np.array(net.init or ""),
        "dtype": np.array(net.dtype.name),
        "backend": np.array(net.backend),
        "dropout": np.array(net.dropout, dtype=np.float64),
        "params": state.parameters,
        "opt_state": state.optimizer_state,
        "counters": state.counters,
        "optimizer": np.array(
            json.dumps({"name": net.optimizer.name, "config": net.optimizer.get_config()})
        ),
        "rng_state": np.array(json.dumps(state.rng_state)),
        "dropout_seed": np.array(state.dropout_seed, dtype=np.uint64),
        "history": np.array(json.dumps(net.history.as_dict())),
    }
    for key in extra or {}:
        if key in arrays:
            raise ValueError(f"extra array name {key!r} is one of the model's own")
    with atomic_write(path) as stream:
        np.savez(stream, **arrays, **(extra or {}))


def load(path, network_class):
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a .npy array
            raise ValueError("not an .npz archive")
    except FileNotFoundError:
        raise
    except _UNREADABLE as error:
        reason = describe_load_error(error, "not an .npz archive")
        raise ValueError(f"{path} is not a readable fastbackprop model file ({reason})") from None
    try:
        with archive:
            # every member's declared size is checked against what the file
            # holds, and the model's arrays against its architecture, before
            # any array is read: a crafted header allocates nothing
            headers = _member_headers(archive, path)
            _check_declared_architecture(archive, headers, path)
            # only the model's own members are read (a caller's extras, such
            # as the command line's, are read by the caller, checked above)
            data = {key: archive[key] for key in _REQUIRED if key in headers}
    except _UNREADABLE as error:
        if isinstance(error, _RefusedFile):
            raise ValueError(str(error)) from None
        pickled = "it holds object arrays, which load only with pickle, never used here"
        reason = describe_load_error(error, pickled)
        raise ValueError(f"{path} is not a readable fastbackprop model file ({reason})") from None
    try:
        return _build(data, path, network_class)
    except (
        TypeError,
        KeyError,
        IndexError,
        OverflowError,
        AttributeError,
        RecursionError,
    ) as error:
        # a member of the wrong kind where a scalar, string or list belongs
        raise ValueError(f"{path} holds an inconsistent model: {error!r}") from None


def _build(data: dict, path, network_class):
    """The network that the checked arrays of a model file describe."""
    missing = [key for key in _REQUIRED if key not in data]
    if missing or str(data.get("format", "")) != FORMAT:
        what = ", ".join(missing) or "format tag"
        raise ValueError(f"{path} is not a fastbackprop model file (missing {what})")
    version = data["format_version"]
    if version.shape != () or version.dtype.kind not in "iu" or int(version) < 1:
        raise ValueError(f"{path} holds an inconsistent model: format_version {version!r}")
    if int(version) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer fastbackprop (format {int(version)})")
    if data["dropout"].dtype != np.float64 or data["dropout"].ndim != 1:
        # written as float64 rates: another dtype would round them to other rates
        raise ValueError(
            f"{path} holds an inconsistent model: dropout is "
            f"{data['dropout'].dtype}{list(data['dropout'].shape)}, not float64 rates"
        )
    try:
        net = network_class(
            [int(s) for s in data["layer_sizes"]],
            activation=[str(a) for a in data["activations"]],
            output=str(data["output"]),
            loss=str(data["loss"]),
            init=str(data["init"]) or None,
            dtype=str(data["dtype"]),
            backend=str(data["backend"]),
            dropout=[float(r) for r in data["dropout"]],
        )
        optimizer = json.loads(str(data["optimizer"]))
        rng_state = json.loads(str(data["rng_state"]))
        history = json.loads(str(data["history"]))
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path} holds an inconsistent model: {error}") from None
    expected = net.get_training_state()  # a new network's: the shapes the file must have
    _check_shape(path, "params", data["params"], expected.parameters)
    _check_shape(path, "opt_state", data["opt_state"], expected.optimizer_state)
    _check_shape(path, "counters", data["counters"], expected.counters)
    if (data["counters"] < 0).any():
        raise ValueError(f"{path} holds an inconsistent model: negative step counters")
    seed = data["dropout_seed"]
    if seed.shape != () or seed.dtype.kind not in "iu" or not 0 <= int(seed) < 2**63:
        raise ValueError(
            f"{path} holds an inconsistent model: dropout_seed must be one integer in [0, 2**63)"
        )
    from .optim import optimizer_from_config

    try:
        optimizer = optimizer_from_config(optimizer["name"], optimizer["config"])
        history = type(net.history).from_dict(history)
        state = TrainingState(
            layer_sizes=net.layer_sizes,
            parameters=data["params"],
            optimizer=optimizer,
            learning_rate=optimizer.learning_rate,
            optimizer_state=data["opt_state"],
            counters=data["counters"],
            rng_state=rng_state,
            dropout_seed=int(seed),
            history=history,
            history_lengths=history.lengths(),
        )
        net.set_training_state(state)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path} holds an inconsistent model: {error}") from None
    return net


#: what reading a broken or crafted archive raises: zipfile's own errors, an
#: unknown compression method (NotImplementedError), an encrypted member or
#: a missing codec (RuntimeError)
_UNREADABLE = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    EOFError,
    NotImplementedError,
    RuntimeError,
)
#: no array dimension (nor element count) of a model goes beyond this
_MAX_ELEMENTS = 2**62
#: ``layer_sizes`` longer than this is not a model this library writes
_MAX_LAYERS = 1024
#: a member may decompress to at most this many times its stored bytes (plus
#: 1 MiB): ``save`` stores members uncompressed, so only a crafted file
#: (a zip bomb) goes beyond
_MAX_EXPANSION = 64


class _RefusedFile(ValueError):
    """A file refused before reading its arrays; the message names it."""


def _member_headers(archive, path) -> dict:
    """``{name: (shape, dtype)}`` of every ``.npy`` member, read from the
    headers alone, each checked against the bytes the member holds."""
    headers = {}
    total = 0
    allowed = _MAX_EXPANSION * os.path.getsize(path) + (1 << 20)
    for info in archive.zip.infolist():
        # NumPy reads a member without the suffix too, and prefers it: every
        # member must be a named .npy, once
        name = info.filename[:-4]
        if not info.filename.endswith(".npy") or name in headers or not name:
            raise _RefusedFile(
                f"{path} is not a readable fastbackprop model file (member "
                f"{info.filename!r}: every member is a .npy array, named once)"
            )
        total += info.file_size
        if info.file_size > _MAX_EXPANSION * info.compress_size + (1 << 20) or total > allowed:
            raise _RefusedFile(
                f"{path} is not a readable fastbackprop model file (member {name!r} "
                f"expands to {info.file_size} bytes from {info.compress_size})"
            )
        with archive.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise _RefusedFile(
                    f"{path} is not a readable fastbackprop model file (member {name!r} "
                    f"has .npy format {version})"
                )
            header_bytes = member.tell()
        if any(not 0 <= size <= _MAX_ELEMENTS for size in shape) or (
            math.prod(shape) > _MAX_ELEMENTS
        ):
            raise _RefusedFile(
                f"{path} is not a readable fastbackprop model file (member {name!r} declares "
                f"shape {list(shape)})"
            )
        if dtype.hasobject:
            raise _RefusedFile(
                f"{path} is not a readable fastbackprop model file (member {name!r} holds "
                "object arrays, which load only with pickle, never used here)"
            )
        declared = math.prod(shape) * dtype.itemsize
        if declared != info.file_size - header_bytes:
            raise _RefusedFile(
                f"{path} is not a readable fastbackprop model file (member {name!r} declares "
                f"{dtype}{list(shape)}, {declared} bytes, but holds "
                f"{info.file_size - header_bytes})"
            )
        headers[name] = (tuple(shape), dtype)
    return headers


def _check_declared_architecture(archive, headers, path) -> None:
    """The parameter arrays' declared shapes against the architecture's
    ``layer_sizes``, before either is allocated."""
    missing = [name for name in ("layer_sizes", "params", "opt_state") if name not in headers]
    if missing:
        raise _RefusedFile(
            f"{path} is not a fastbackprop model file (missing {', '.join(missing)})"
        )
    shape, dtype = headers["layer_sizes"]
    if len(shape) != 1 or not 2 <= shape[0] <= _MAX_LAYERS or dtype.kind not in "iu":
        raise _RefusedFile(
            f"{path} holds an inconsistent model: layer_sizes is {dtype}{list(shape)}, not 2 "
            f"to {_MAX_LAYERS} integers"
        )
    sizes = [int(size) for size in archive["layer_sizes"]]
    if min(sizes) < 1:
        raise _RefusedFile(
            f"{path} holds an inconsistent model: layer_sizes {sizes} must all be >= 1"
        )
    n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    for name, wanted in (("params", (n_params,)), ("opt_state", (2, n_params))):
        if headers[name][0] != wanted:
            raise _RefusedFile(
                f"{path} holds an inconsistent model: {name} is {list(headers[name][0])}, "
                f"layer_sizes {sizes} need {list(wanted)}"
            )


def describe_load_error(error: BaseException, pickled: str) -> str:
    """``np.load``'s failure in words a user can act on. Its own can mislead:
    for an empty file it says nothing useful, and for any file it cannot
    parse (or an object array) it suggests ``allow_pickle=True``, which is
    never the fix here; ``pickled`` says what such a file is instead."""
    if isinstance(error, EOFError):
        return "the file is empty"
    if isinstance(error, ValueError) and "pickle" in str(error):
        return pickled
    return str(error)


def _check_shape(path, name, stored, expected):
    if stored.shape != expected.shape or stored.dtype != expected.dtype:
        raise ValueError(
            f"{path} holds an inconsistent model: {name} is {stored.dtype}{list(stored.shape)}, "
            f"the architecture needs {expected.dtype}{list(expected.shape)}"
        )
