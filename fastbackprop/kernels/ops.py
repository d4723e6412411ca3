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
from numba.extending import typeof_impl

from .._codes import ACTIVATION_TABLE, ELU, GELU, LEAKY_RELU, RELU, SIGMOID, SILU, TANH
from .._config import jit, jit_inline
from . import activations, dropout, losses, optim

#: The slots of an op table. Flat, with an activation's two kernels in slots
#: of their own: Numba's parallel loops pass a tuple into their body one
#: level deep, and a tuple nested in one fails to compile there.
_ACTIVATION_SLOTS = [
    f"{act.name}_{way}" for way in ("forward", "backward") for act in ACTIVATION_TABLE
]
_OTHER_SLOTS = [
    "loss_forward",  # (out, row_loss, logits, targets)
    "loss_backward",  # (dlogits, out, targets, row_scale)
    "correct",  # (out, targets) -> rows predicted right
    "output",  # (out, logits): the output activation alone
    "dropout_forward",  # (out, inp, rate, key)
    "dropout_backward",  # (dinp, dout, rate, key)
    "update",  # (params, grads, state0, state1, hyper, step, lr)
]
Ops = collections.namedtuple("Ops", _ACTIVATION_SLOTS + _OTHER_SLOTS)


class OpTable(Ops):
    """Function pointers to the kernels of one network (and optimizer),
    with the table's Numba type worked out once (``numba_type``): Numba would
    otherwise type every pointer anew on each kernel call, and warn each time
    that first-class functions are experimental."""


class PhasePointers(tuple):
    """A plain tuple of function pointers with its Numba type worked out
    once (``numba_type``), as ``OpTable``."""


@typeof_impl.register(OpTable)
@typeof_impl.register(PhasePointers)
def _typeof_pointers(value, context):
    return value.numba_type


def pointer(kernel, *argtypes):
    """``kernel`` compiled (or loaded from the cache) for ``argtypes``, as a
    first-class function value."""
    from numba.core.types.function_type import CompileResultWAP

    kernel.compile(argtypes)
    return CompileResultWAP(kernel.overloads[argtypes])


def pointer_type(wrapped):
    """The Numba type of a ``pointer``."""
    return types.FunctionType(wrapped.signature())


def typed_pointers(values: tuple) -> PhasePointers:
    """``values`` (pointers) as a ``PhasePointers`` tuple."""
    result = PhasePointers(values)
    result.numba_type = types.Tuple([pointer_type(p) for p in values])
    return result


# Stubs for the slots a network never reaches: the same types as the kernels
# they stand in for, compiled in a fraction of a second.


@jit
def _unused_forward(out, inp):
    pass


@jit
def _unused_backward(dinp, dout, out, inp):
    pass


@jit
def _unused_dropout(out, inp, rate, key):
    pass


@jit
def _unused_update(params, grads, state0, state1, hyper, step, lr):
    pass


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


def ops_type(dtype):
    """The Numba type of every ``op_table`` of ``dtype``: the same for every
    network, so the kernels that take one compile once per dtype."""
    return types.NamedTuple(_slot_types(_kinds(np.dtype(dtype))), OpTable)


_TABLES: dict = {}


def op_table(dtype, act_codes, loss_code, output_code, opt_code=None, dropout_on=False) -> OpTable:
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


def _build(dtype, used, loss, update, dropout_on) -> OpTable:
    kinds = _kinds(dtype)

    def act(kernels, stub, kind):
        return [
            pointer(kernels[code] if code in used else stub, *kind) for code in range(len(kernels))
        ]

    table = OpTable(
        *act(activations.FORWARD, _unused_forward, kinds.forward),
        *act(activations.BACKWARD, _unused_backward, kinds.backward),
        loss_forward=pointer(loss.forward, *kinds.loss_forward),
        loss_backward=pointer(loss.backward, *kinds.loss_backward),
        correct=pointer(loss.correct, *kinds.forward),
        output=pointer(loss.output, *kinds.forward),
        dropout_forward=pointer(
            dropout.dropout_forward if dropout_on else _unused_dropout, *kinds.dropout
        ),
        dropout_backward=pointer(
            dropout.dropout_backward if dropout_on else _unused_dropout, *kinds.dropout
        ),
        update=pointer(_unused_update if update is None else update, *kinds.update),
    )
    table.numba_type = ops_type(dtype)
    if [pointer_type(p) for p in table] != list(table.numba_type.types):
        raise RuntimeError("a kernel's compiled signature differs from its slot in ops_type")
    return table
