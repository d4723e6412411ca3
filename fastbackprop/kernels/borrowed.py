"""Array views that skip Numba's reference counting.

Every array a compiled function slices, reshapes or gets back from another
compiled function carries a pointer to its buffer's owner (the meminfo),
and Numba increments and decrements the owner's count, atomically, as
views are made and dropped. The training step makes hundreds of small
views, and on one thread those locked instructions took about a fifth of a
small network's step (measured on the tiny workload: 24-25 -> 20-21 us for
one 200-row shard). A borrowed view has no owner pointer, so the counting
is a null check.

It is only safe for arrays that outlive every use of the view: the
arguments of the outermost kernel, which the Python caller holds for the
whole call. Nothing borrowed may be returned or stored.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def borrow(typingctx, array):
    """``array`` as a view without an owner (see the module docstring).
    Compiled code only."""
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        source = context.make_array(signature.args[0])(context, builder, value=args[0])
        view = context.make_array(signature.return_type)(context, builder)
        cgutils.copy_struct(view, source)
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return array(array), codegen
