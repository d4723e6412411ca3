"""A table of compiled kernels that Python hands to compiled code as one
array of addresses, read there into function pointers (Numba's
first-class function values).

Numba can take each pointer as an argument of its own (a
``CompileResultWAP``), but it looks up both addresses of every such argument
through two Python calls on every call: for the 23 kernels of an op table,
70 us a call, ten times a one-row ``predict``. A ``PointerTable`` works
out the addresses once, when it is built; compiled code reads them from its
``addresses`` array (``table_reader``) into a struct whose every slot is a
first-class function value (``table.relu_forward(out, inp)``). Its Numba
type names every slot's signature, so a table of other kernels with the same
signatures is the same type and compiles nothing new.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.datamodel import models, register_default
from numba.core.imputils import lower_getattr_generic
from numba.core.types.function_type import CompileResultWAP
from numba.core.typing.templates import AttributeTemplate, infer_getattr
from numba.extending import intrinsic
from numba.np.numpy_support import as_dtype


def pointer(kernel, *argtypes) -> CompileResultWAP:
    """``kernel`` (a jitted function) compiled, or loaded from the cache,
    for ``argtypes``, as a first-class function value."""
    kernel.compile(argtypes)
    return CompileResultWAP(kernel.overloads[argtypes])


def pointer_type(wrapped: CompileResultWAP) -> types.FunctionType:
    """The Numba type of a ``pointer``."""
    return types.FunctionType(wrapped.signature())


class PointerTableType(types.Type):
    """The Numba type of a ``PointerTable``: its slots' names and function
    types, in order."""

    def __init__(self, kind: str, slots: tuple):
        self.kind = kind
        self.slots = tuple(slots)  # ((name, FunctionType), ...)
        listed = ", ".join(f"{name}: {ftype}" for name, ftype in self.slots)
        super().__init__(name=f"{kind}[{listed}]")


@register_default(PointerTableType)
class _PointerTableModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, list(fe_type.slots))


class PointerTable:
    """Named first-class function values, typed ``numba_type``.

    Parameters
    ----------
    numba_type : PointerTableType
        Its slots, in order; each value's signature must be its slot's.
    values : dict
        Slot name -> ``pointer``.
    """

    def __init__(self, numba_type: PointerTableType, values: dict):
        if [name for name, _ in numba_type.slots] != list(values):
            raise ValueError("the values must fill the table's slots, in order")
        for name, ftype in numba_type.slots:
            if pointer_type(values[name]) != ftype:
                raise TypeError(f"slot {name}: the kernel's signature is not the slot's")
        self.numba_type = numba_type
        self.values = dict(values)  # keeps the compiled code alive
        # per slot: the C wrapper's address, the Python object's and the
        # function's own (Numba's calling convention, which passes
        # exceptions on), as Numba's own unboxing of a function value finds
        addresses = []
        for wrapped in self.values.values():
            library, fndesc = wrapped.cres.library, wrapped.cres.fndesc
            own = library.get_pointer_to_function(fndesc.llvm_func_name)
            if not own:  # a null one would fall back to the C wrapper, which drops exceptions
                raise RuntimeError(f"slot {fndesc.qualname}: no address of the compiled function")
            addresses += [wrapped.__wrapper_address__(), id(wrapped), own]
        #: what compiled code reads the table from (``table_reader``)
        self.addresses = np.array(addresses, dtype=np.uint64)

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


def table_reader(type_of_dtype):
    """A compiled-code-only function ``read(addresses, like)`` that turns a
    ``PointerTable``'s ``addresses`` into the table, of the type
    ``type_of_dtype(dtype)`` for the dtype of the array ``like``.

    Python passes the table as its array of addresses: an array crosses
    into compiled code in Numba's fast path, where an object of a type of
    its own goes through Python on every call (2.5 us, a third of a
    one-row ``predict``).
    """

    @intrinsic
    def read(typingctx, addresses, like):
        if not (isinstance(addresses, types.Array) and addresses.dtype == types.uint64):
            return None
        if not isinstance(like, types.Array):
            return None
        table = type_of_dtype(as_dtype(like.dtype))

        def codegen(context, builder, signature, args):
            array = context.make_array(signature.args[0])(context, builder, value=args[0])
            base = builder.bitcast(array.data, cgutils.voidptr_t.as_pointer())
            result = cgutils.create_struct_proxy(table)(context, builder)
            for k, (name, ftype) in enumerate(table.slots):
                value = cgutils.create_struct_proxy(ftype)(context, builder)
                value.c_addr, value.py_addr, value.jit_addr = (
                    builder.load(cgutils.gep_inbounds(builder, base, 3 * k + j)) for j in range(3)
                )
                setattr(result, name, value._getvalue())
            return result._getvalue()

        return table(addresses, like), codegen

    return read


@infer_getattr
class _PointerTableAttributes(AttributeTemplate):
    key = PointerTableType

    def generic_resolve(self, typ, attr):
        return dict(typ.slots).get(attr)


@lower_getattr_generic(PointerTableType)
def _pointer_table_getattr(context, builder, typ, value, attr):
    # a function value holds plain addresses: nothing to count references of
    return getattr(cgutils.create_struct_proxy(typ)(context, builder, value=value), attr)
