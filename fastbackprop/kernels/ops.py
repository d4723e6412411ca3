"""The small kernels one network calls, compiled for it alone and handed to
the training loop and ``evaluate`` as function pointers.

Numba compiles a call to another jitted function by linking the callee's
code into the caller and optimising the whole module again, so every branch
of a kernel that dispatches on an activation, loss or optimizer code is
compiled into every kernel above it, used or not. Called through pointers
instead, the loop's kernels are compiled once per dtype whatever the
network, and a network compiles only its own activations, loss and
optimizer, each once (measured on the spiral demo's cold start:
docs/performance.md). ``op_table`` picks and compiles them; unused slots get
a stub of the same type that is never called (the network's codes were
checked when it was built).
"""

from __future__ import annotations

import collections

import numpy as np
from numba import typeof, types

from .._codes import ACTIVATION_TABLE, ELU, GELU, LEAKY_RELU, RELU, SIGMOID, SILU, TANH
from .._config import jit, jit_inline
from . import activations, dropout, losses, optim
from .pointers import PointerTable, PointerTableType, pointer, table_reader

#: The slots of an op table: each activation's two kernels, then the rest.
SLOTS = [f"{act.name}_{way}" for way in ("forward", "backward") for act in ACTIVATION_TABLE] + [
    "loss_forward",  # (out, row_loss, logits, targets)
    "loss_backward",  # (dlogits, out, targets, row_scale)
    "correct",  # (out, targets) -> rows predicted right
    "output",  # (out, logits): the output activation alone
    "dropout_forward",  # (out, inp, rate, key)
    "dropout_backward",  # (dinp, dout, rate, key)
    "update",  # (params, grads, state0, state1, hyper, step, lr)
]


# Stubs for the slots a network never reaches: the same types as the kernels
# they stand in for, compiled in a fraction of a second. They raise, so a
# wrong slot fails loudly instead of training on silently.
_UNREACHABLE = "a stub of an op table was called: a kernel picked the wrong slot"


@jit
def _unused_forward(out, inp):
    raise RuntimeError(_UNREACHABLE)


@jit
def _unused_backward(dinp, dout, out, inp):
    raise RuntimeError(_UNREACHABLE)


@jit
def _unused_dropout(out, inp, rate, key):
    raise RuntimeError(_UNREACHABLE)


@jit
def _unused_update(params, grads, state0, state1, hyper, step, lr):
    raise RuntimeError(_UNREACHABLE)


# The activation of a code, called through its slot. The chain is the op
# table's side of _codes.ACTIVATION_TABLE (tests/test_core_kernels.py checks
# that every code reaches its own kernel).


@jit_inline
def activation_forward(ops, code, out, inp):
    """``out = f(inp)`` for the activation ``code``, through ``ops``."""
    # pick the pointer, then call it once: a call through a pointer is a
    # good deal of code, eight of them cost more to compile than the picking
    kernel = ops.identity_forward
    if code == SIGMOID:
        kernel = ops.sigmoid_forward
    elif code == TANH:
        kernel = ops.tanh_forward
    elif code == RELU:
        kernel = ops.relu_forward
    elif code == LEAKY_RELU:
        kernel = ops.leaky_relu_forward
    elif code == ELU:
        kernel = ops.elu_forward
    elif code == GELU:
        kernel = ops.gelu_forward
    elif code == SILU:
        kernel = ops.silu_forward
    kernel(out, inp)


@jit_inline
def activation_backward(ops, code, dinp, dout, out, inp):
    """``dinp = dout * f'(inp)`` for the activation ``code``, through ``ops``."""
    kernel = ops.identity_backward
    if code == SIGMOID:
        kernel = ops.sigmoid_backward
    elif code == TANH:
        kernel = ops.tanh_backward
    elif code == RELU:
        kernel = ops.relu_backward
    elif code == LEAKY_RELU:
        kernel = ops.leaky_relu_backward
    elif code == ELU:
        kernel = ops.elu_backward
    elif code == GELU:
        kernel = ops.gelu_backward
    elif code == SILU:
        kernel = ops.silu_backward
    kernel(dinp, dout, out, inp)


class _Kinds(
    collections.namedtuple("_Kinds", "forward backward loss_forward loss_backward dropout update")
):
    """Argument types of each slot's kernels, for one dtype."""


def _kinds(dtype) -> _Kinds:
    real = typeof(dtype.type(0))
    vec, mat = typeof(np.zeros(1, dtype)), typeof(np.zeros((1, 1), dtype))
    hyper = typeof(np.zeros(1))
    return _Kinds(
        forward=(mat, mat),
        backward=(mat, mat, mat, mat),
        loss_forward=(mat, vec, mat, mat),
        loss_backward=(mat, mat, mat, vec),
        dropout=(mat, mat, types.float64, types.uint64),
        update=(vec, vec, vec, vec, hyper, types.int64, real),
    )


def _slot_types(kinds):
    """The function type of every slot, in order."""

    def kind(args, result=types.none):
        return types.FunctionType(result(*args))

    n_acts = len(ACTIVATION_TABLE)
    return (
        [kind(kinds.forward)] * n_acts
        + [kind(kinds.backward)] * n_acts
        + [
            kind(kinds.loss_forward),
            kind(kinds.loss_backward),
            kind(kinds.forward, types.int64),
            kind(kinds.forward),
            kind(kinds.dropout),
            kind(kinds.dropout),
            kind(kinds.update),
        ]
    )


def ops_type(dtype) -> PointerTableType:
    """The Numba type of every ``op_table`` of ``dtype``: the same for every
    network, so the kernels that take one compile once per dtype."""
    return PointerTableType("ops", zip(SLOTS, _slot_types(_kinds(np.dtype(dtype)))))


#: ``read_ops(addresses, like)``: in compiled code, the op table whose
#: ``addresses`` Python passed, for the dtype of the array ``like``
read_ops = table_reader(ops_type)

_TABLES: dict = {}


def op_table(
    dtype, act_codes, loss_code, output_code, opt_code=None, dropout_on=False
) -> PointerTable:
    """The function pointers of a network's kernels in ``dtype``: the
    activations ``act_codes`` (other codes get stubs), the loss
    ``loss_code`` with its output ``output_code``, dropout if
    ``dropout_on``, and the optimizer ``opt_code`` (None: a stub, for
    prediction). Compiled on first use, then taken from a table.

    Raises ``ValueError`` for an unknown activation, loss or optimizer code.
    """
    dtype = np.dtype(dtype)
    used = frozenset(int(code) for code in act_codes)
    for code in used:
        activations.check_code(code)
    loss = losses.loss_kernels(loss_code, output_code)
    update = None if opt_code is None else optim.update_kernel(opt_code)
    key = (dtype, used, loss, update, bool(dropout_on))
    if key not in _TABLES:
        _TABLES[key] = _build(dtype, used, loss, update, bool(dropout_on))
    return _TABLES[key]


def _build(dtype, used, loss, update, dropout_on) -> PointerTable:
    kinds = _kinds(dtype)
    values = {}
    for act in ACTIVATION_TABLE:
        on = act.code in used
        values[f"{act.name}_forward"] = pointer(
            activations.FORWARD[act.code] if on else _unused_forward, *kinds.forward
        )
    for act in ACTIVATION_TABLE:
        on = act.code in used
        values[f"{act.name}_backward"] = pointer(
            activations.BACKWARD[act.code] if on else _unused_backward, *kinds.backward
        )
    drop_forward = dropout.dropout_forward if dropout_on else _unused_dropout
    drop_backward = dropout.dropout_backward if dropout_on else _unused_dropout
    values.update(
        loss_forward=pointer(loss.forward, *kinds.loss_forward),
        loss_backward=pointer(loss.backward, *kinds.loss_backward),
        correct=pointer(loss.correct, *kinds.forward),
        output=pointer(loss.output, *kinds.forward),
        dropout_forward=pointer(drop_forward, *kinds.dropout),
        dropout_backward=pointer(drop_backward, *kinds.dropout),
        update=pointer(_unused_update if update is None else update, *kinds.update),
    )
    return PointerTable(ops_type(dtype), values)
