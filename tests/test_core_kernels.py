"""Kernel by kernel: every Numba kernel and its NumPy twin, run on identical
inputs, write the same values into every buffer they touch."""

import numba
import numpy as np
import pytest
from conftest import ACTIVATIONS, TOLERANCE

from fastbackprop import kernels, reference  # noqa: F401
from fastbackprop._codes import LOSS_CODES, N_LOSSES, SIGMOID
from fastbackprop.kernels import activations as k_act
from fastbackprop.kernels import elementary as k_elem
from fastbackprop.kernels import linear as k_lin
from fastbackprop.kernels import losses as k_loss
from fastbackprop.kernels import ops as k_ops
from fastbackprop.kernels import optim as k_opt
from fastbackprop.reference import activations as r_act
from fastbackprop.reference import elementary as r_elem
from fastbackprop.reference import linear as r_lin
from fastbackprop.reference import losses as r_loss
from fastbackprop.reference import optim as r_opt
from fastbackprop.workloads import PARITY_SHAPES

DTYPES = ["float64", "float32"]


def run_both(kernel, twin, outputs, inputs):
    """Call both with fresh copies of ``outputs`` (garbage-filled) and the
    same ``inputs``; return both sets of outputs."""
    results = []
    for fn in (kernel, twin):
        outs = [np.full_like(o, np.nan) for o in outputs]
        fn(*outs, *inputs)
        results.append(outs)
    return results


def assert_same(a_list, b_list, dtype):
    rtol, atol = TOLERANCE[dtype]
    for a, b in zip(a_list, b_list):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", PARITY_SHAPES, ids=str)
def test_linear_pair(shape, dtype, rng):
    n_in, n_out = shape["layer_sizes"][:2]
    nb = shape["batch"]
    inp = rng.standard_normal((nb, n_in)).astype(dtype)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    out = np.empty((nb, n_out), dtype)
    fast, ref = run_both(k_lin.linear_forward, r_lin.linear_forward, [out], [inp, W, b])
    assert_same(fast, ref, dtype)
    np.testing.assert_allclose(ref[0], inp @ W + b, rtol=TOLERANCE[dtype][0] * 10)

    dout = rng.standard_normal((nb, n_out)).astype(dtype)
    bufs = [np.empty((nb, n_in), dtype), np.empty((n_in, n_out), dtype), np.empty(n_out, dtype)]
    fast, ref = run_both(k_lin.linear_backward, r_lin.linear_backward, bufs, [dout, inp, W, True])
    assert_same(fast, ref, dtype)


def maybe_strided(array, strided):
    """``array``, or an equal copy whose rows are further apart than their
    length (the kernels' non-contiguous path)."""
    if not strided:
        return array
    wide = np.zeros((array.shape[0], 2 * array.shape[1]), array.dtype)
    wide[:, ::2] = array
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    return view


# The strided (non-contiguous) path's logic does not depend on the dtype, and
# each extra array layout is another compile of every kernel: float64 only.
LAYOUTS = [
    pytest.param("float64", False, id="float64-contiguous"),
    pytest.param("float32", False, id="float32-contiguous"),
    pytest.param("float64", True, id="float64-strided"),
]


@pytest.mark.parametrize("dtype, strided", LAYOUTS)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_pair(name, dtype, strided, rng):
    inp = maybe_strided((3 * rng.standard_normal((7, 5))).astype(dtype), strided)
    out = np.empty_like(inp)
    fast, ref = run_both(k_act.ACTIVATIONS[name], r_act.ACTIVATIONS[name], [out], [inp])
    assert_same(fast, ref, dtype)
    dout = maybe_strided(rng.standard_normal(inp.shape).astype(dtype), strided)
    fast_b, ref_b = run_both(
        k_act.DERIVATIVES[name], r_act.DERIVATIVES[name], [out], [dout, ref[0], inp]
    )
    assert_same(fast_b, ref_b, dtype)
    # in place, as the training loop calls it (its own one-array path)
    in_place = dout.copy()
    k_act.DERIVATIVES[name](in_place, in_place, ref[0], inp)
    np.testing.assert_array_equal(in_place, fast_b[0])


@pytest.mark.parametrize("in_place", [False, True], ids=["apart", "in-place"])
@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided"])
def test_dropout_pair(strided, in_place, rng):
    # the kernel's one-long-row and in-place paths keep the twin's exact mask
    from fastbackprop.kernels import dropout as k_drop
    from fastbackprop.reference import dropout as r_drop

    x = maybe_strided(rng.standard_normal((9, 6)), strided)
    # a key comes back to Python as an int; passed back as np.uint64, as
    # the training loop's keys are typed: given as a plain int, Numba would
    # reuse a kernel compiled for an int64 key and overflow on keys >= 2**63
    key = np.uint64(k_drop.dropout_key(7, 2, 1, 0, 6))
    assert key == r_drop.dropout_key(7, 2, 1, 0, 6)
    for fn in ("dropout_forward", "dropout_backward"):
        expected = np.empty((9, 6))
        getattr(r_drop, fn)(expected, x, 0.3, key)
        out = x.copy() if in_place else np.empty((9, 6))
        getattr(k_drop, fn)(out, out if in_place else x, 0.3, key)
        np.testing.assert_array_equal(out, expected)
        assert 0 < np.count_nonzero(out == 0) < out.size


@pytest.mark.parametrize("dtype, strided", LAYOUTS)
@pytest.mark.parametrize(
    "name, n_out",
    # one output: bce's single-column path, mse's one-wide rows (softmax
    # needs two classes)
    [(name, 3) for name in k_loss.LOSSES] + [("binary_cross_entropy", 1), ("mse", 1)],
)
def test_loss_pair(name, n_out, dtype, strided, rng):
    logits = maybe_strided((4 * rng.standard_normal((6, n_out))).astype(dtype), strided)
    if name == "cross_entropy":
        targets = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, 6)]
    else:
        targets = rng.uniform(size=(6, n_out)).astype(dtype)
    targets = maybe_strided(targets, strided)
    # mse with a sigmoid output; the kernels' table of a loss's kernels
    # against the twin's own dispatch on the codes
    code = LOSS_CODES[name]
    pair = k_loss.loss_kernels(code, SIGMOID)
    weights = np.ones(6, dtype)

    def twin_forward(out, row_loss, logits, targets):
        r_loss.loss_forward(out, row_loss, logits, targets, weights, code, SIGMOID)

    def twin_backward(dlogits, out, targets, row_scale):
        r_loss.scaled_loss_backward(dlogits, out, targets, row_scale, code, SIGMOID)

    outs = [np.empty_like(logits), np.empty(6, dtype)]
    fast, ref = run_both(pair.forward, twin_forward, outs, [logits, targets])
    assert_same(fast, ref, dtype)
    # each row's share of the mean: uneven, as sample weights make it
    row_scale = rng.uniform(0.1, 1.0, 6).astype(dtype) / 6
    inputs = [ref[0], targets, row_scale]
    fast_b, ref_b = run_both(pair.backward, twin_backward, [np.empty_like(logits)], inputs)
    assert_same(fast_b, ref_b, dtype)
    # the output alone, and the rows right, as the twin's
    out = np.full_like(logits, np.nan)
    pair.output(out, logits)
    twin = np.empty_like(logits)
    r_loss.output_forward(twin, logits, code, SIGMOID)
    assert_same([out], [twin], dtype)
    assert pair.correct(out, targets) == r_loss.count_correct(out, targets, code)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_update_pair(dtype, rng):
    params = rng.standard_normal(50).astype(dtype)
    grads = rng.standard_normal(50).astype(dtype)
    a, b = params.copy(), params.copy()
    k_opt.sgd_update(a, grads, np.dtype(dtype).type(0.1))
    r_opt.sgd_update(b, grads, np.dtype(dtype).type(0.1))
    np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype][0])
    np.testing.assert_allclose(a, params - np.dtype(dtype).type(0.1) * grads, rtol=1e-6, atol=1e-6)


def test_name_tables_cover_the_same_names():
    from fastbackprop._codes import ACTIVATION_TABLE, LOSS_TABLE

    names = [act.name for act in ACTIVATION_TABLE]
    assert list(k_act.ACTIVATIONS) == list(r_act.ACTIVATIONS) == ACTIVATIONS == names
    assert list(k_act.DERIVATIVES) == list(r_act.DERIVATIVES) == ACTIVATIONS
    assert list(k_loss.LOSSES) == list(r_loss.LOSSES) == [loss.name for loss in LOSS_TABLE]
    # codes are 0, 1, ...: the kernels refuse anything outside that range
    assert [act.code for act in ACTIVATION_TABLE] == list(range(len(ACTIVATION_TABLE)))
    assert [loss.code for loss in LOSS_TABLE] == list(range(len(LOSS_TABLE)))


@numba.njit
def _through_op_table(addresses, code, out, dinp, dout, inp):
    # the training loop's dispatch of an activation code to its slot
    ops = k_ops.read_ops(addresses, out)
    k_ops.activation_forward(ops, code, out, inp)
    k_ops.activation_backward(ops, code, dinp, dout, out, inp)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaExperimentalFeatureWarning")
def test_every_activation_code_reaches_its_own_kernel(dtype, rng):
    # the op table's if/elif chain on the code matches the table: each code
    # gives its twin's values, and no two codes give the same values
    from fastbackprop._codes import ACTIVATION_TABLE

    inp = (3 * rng.standard_normal((6, 5))).astype(dtype)
    dout = rng.standard_normal((6, 5)).astype(dtype)
    outputs, derivatives = [], []
    for act in ACTIVATION_TABLE:
        out = np.full_like(inp, np.nan)
        dinp = np.full_like(inp, np.nan)
        ops = k_ops.op_table(dtype, [act.code], LOSS_CODES["mse"], 0)
        _through_op_table(ops.addresses, act.code, out, dinp, dout, inp)
        twin = np.empty_like(inp)
        r_act.ACTIVATIONS[act.name](twin, inp)
        assert_same([out], [twin], dtype)
        r_act.DERIVATIVES[act.name](twin, dout, out, inp)
        assert_same([dinp], [twin], dtype)
        outputs.append(out)
        derivatives.append(dinp)
    for i in range(len(outputs)):
        for j in range(i):
            assert not np.array_equal(outputs[i], outputs[j])
            assert not np.array_equal(derivatives[i], derivatives[j])


@pytest.mark.parametrize("code", [-1, 8, 99])
def test_an_unknown_activation_code_is_refused_by_both_backends(code):
    inp = np.ones((2, 3))
    for forward in (k_act.activation_forward, r_act.activation_forward):
        out = np.zeros_like(inp)
        with pytest.raises(ValueError, match="unknown activation code"):
            forward(out, inp, code)
        assert not out.any()  # nothing written
    for backward in (k_act.activation_backward, r_act.activation_backward):
        with pytest.raises(ValueError, match="unknown activation code"):
            backward(np.zeros_like(inp), inp, inp, inp, code)


@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaExperimentalFeatureWarning")
def test_an_op_table_holds_only_the_kernels_its_network_uses():
    # compile only what a fit needs: an unused activation's slots, and
    # dropout's without dropout, hold stubs; the used ones their kernels
    from fastbackprop._codes import ACTIVATION_TABLE, ADAM, RELU

    def kernel_of(pointer):
        return pointer.cres.fndesc.qualname

    ops = k_ops.op_table("float32", [RELU], LOSS_CODES["cross_entropy"], 0, ADAM)
    for act in ACTIVATION_TABLE:
        forward, backward = (
            getattr(ops, f"{act.name}_forward"),
            getattr(ops, f"{act.name}_backward"),
        )
        if act.code == RELU:
            assert (kernel_of(forward), kernel_of(backward)) == ("relu_forward", "relu_backward")
        else:
            assert (kernel_of(forward), kernel_of(backward)) == (
                "_unused_forward",
                "_unused_backward",
            )
    assert kernel_of(ops.loss_forward) == "softmax_cross_entropy_forward"
    assert kernel_of(ops.update) == "adam_slice"
    assert kernel_of(ops.dropout_forward) == "_unused_dropout"
    assert k_ops.op_table("float32", [RELU], LOSS_CODES["cross_entropy"], 0, ADAM) is ops


@pytest.mark.parametrize(
    "codes, match",
    [
        (([9], 0, 0, None), "unknown activation code"),
        (([1], N_LOSSES, 0, None), "unknown loss code"),
        (([1], 0, 0, 4), "unknown optimizer code"),
    ],
    ids=["activation", "loss", "optimizer"],
)
def test_an_op_table_refuses_unknown_codes(codes, match):
    act_codes, loss_code, output_code, opt_code = codes
    with pytest.raises(ValueError, match=match):
        k_ops.op_table("float64", act_codes, loss_code, output_code, opt_code)


@pytest.mark.parametrize("backend", [k_loss, r_loss])
def test_an_unknown_loss_code_is_refused(backend):
    logits = np.zeros((2, 3))
    targets = np.eye(3)[:2]
    weights = np.ones(2)
    with pytest.raises(ValueError, match="unknown loss code"):
        backend.loss_forward(
            np.empty_like(logits), np.empty(2), logits, targets, weights, N_LOSSES, 0
        )
    with pytest.raises(ValueError, match="unknown loss code"):
        backend.scaled_loss_backward(np.empty_like(logits), logits, targets, weights, N_LOSSES, 0)
    with pytest.raises(ValueError, match="unknown loss code"):
        backend.output_forward(np.empty_like(logits), logits, N_LOSSES, 0)
    with pytest.raises(ValueError, match="unknown loss code"):
        backend.count_correct(logits, targets, N_LOSSES)


@pytest.mark.parametrize("backend", [k_opt, r_opt])
def test_an_unknown_optimizer_code_is_refused(backend):
    params = np.ones(4)
    state = np.zeros((2, 4))
    with pytest.raises(ValueError, match="unknown optimizer code"):
        backend.optimizer_update(params, np.ones(4), state, np.zeros(6), 0, 0.1, 4)
    np.testing.assert_array_equal(params, 1.0)  # no step taken


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipping_sums_squares_in_float64_in_both_backends(dtype):
    # 3e19 squared overflows float32: the norm is 5e19 all the same, and the
    # gradient is scaled to norm 1, not zeroed by an inf norm
    grads = {backend: np.array([3e19, 4e19], dtype=dtype) for backend in (k_opt, r_opt)}
    for backend, g in grads.items():
        norm = backend.clip_gradients(g, 1.0)
        np.testing.assert_allclose(norm, 5e19, rtol=1e-6)
        np.testing.assert_allclose(g, [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(grads[k_opt], grads[r_opt])


def test_reference_has_the_same_functions_and_signatures():
    import inspect

    from fastbackprop.kernels import train as k_train
    from fastbackprop.reference import train as r_train

    pairs = [
        (k_elem, r_elem),
        (k_act, r_act),
        (k_lin, r_lin),
        (k_loss, r_loss),
        (k_opt, r_opt),
        (k_train, r_train),
    ]
    # the training loop's twin shares its entry points only: the fast path's
    # views of the arena (matrix_view, segment, gather_rows) have no
    # counterpart in the plain per-layer computation
    entry_points = {"batch_gradients", "train_epochs", "evaluate"}
    for fast_mod, ref_mod in pairs:
        for name, obj in vars(fast_mod).items():
            if hasattr(obj, "py_func") and obj.__module__ == fast_mod.__name__:
                if name.startswith("_"):
                    continue  # per-row bodies are private to their kernel
                if fast_mod is k_train and name not in entry_points:
                    continue
                twin = getattr(ref_mod, name, None)
                assert twin is not None, f"{ref_mod.__name__} lacks {name}"
                assert inspect.signature(obj.py_func) == inspect.signature(twin), name
    assert entry_points <= set(vars(k_train)) and entry_points <= set(vars(r_train))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape, cols", [((400, 16), None), ((64, 128), (32, 96)), ((1100, 1000), None)]
)
def test_column_sums_add_each_columns_rows_in_order(dtype, shape, cols):
    # a large shape, and a column slice as the update chunks pass it
    from fastbackprop.kernels.linear import column_sums

    dout = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    if cols is not None:
        dout = dout[:, cols[0] : cols[1]]
    expected = np.zeros(dout.shape[1], dtype=dtype)
    for row in dout:  # row after row, as the kernel does: the same bits
        expected += row
    db = np.full(dout.shape[1], np.nan, dtype=dtype)
    scratch = np.full(dout.shape[1] + 3, np.nan, dtype=dtype)
    column_sums(db, dout, scratch)
    np.testing.assert_array_equal(db, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape, lo, hi", [((200, 16), 0, 16), ((128, 256), 128, 256), ((64, 10), 3, 7)]
)
def test_column_block_sums_add_the_blocks_rows_in_order_and_nothing_else(dtype, shape, lo, hi):
    # what the update chunks call: columns lo:hi of the whole delta; the
    # NumPy twin (np.sum's own order) agrees to the dtype's tolerance
    dout = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    expected = np.zeros(hi - lo, dtype=dtype)
    for row in dout[:, lo:hi]:  # row after row: the same bits
        expected += row
    for fn in (k_lin.column_block_sums, r_lin.column_block_sums):
        db = np.full(shape[1], np.nan, dtype=dtype)
        scratch = np.full(hi - lo, np.nan, dtype=dtype)
        fn(db, dout, scratch, lo, hi)
        if fn is k_lin.column_block_sums:
            np.testing.assert_array_equal(db[lo:hi], expected)
        else:
            rtol, atol = TOLERANCE[np.dtype(dtype).name]
            np.testing.assert_allclose(db[lo:hi], expected, rtol=rtol, atol=atol)
        assert np.isnan(db[:lo]).all() and np.isnan(db[hi:]).all()


def test_borrowed_views_read_and_write_the_owners_memory():
    """``borrow`` drops only the owner pointer: the view has the same data
    pointer, shape and strides, sees the owner's values, and what is written
    through it (or through a slice of it) lands in the owner."""
    import numba

    from fastbackprop.kernels.borrowed import borrow

    @numba.njit
    def write_through(a):
        view = borrow(a)
        block = view[1:, ::2]  # a view of the view
        block[:] = -1.0
        return view.ctypes.data, view.shape[0], view.shape[1], view.strides[0], view.sum()

    owner = np.arange(12.0).reshape(3, 4)
    expected_sum = owner.sum() - owner[1:, ::2].sum() - owner[1:, ::2].size
    address, rows, cols, stride, total = write_through(owner)
    assert (address, rows, cols, stride) == (owner.ctypes.data, 3, 4, owner.strides[0])
    assert total == expected_sum
    assert (owner[1:, ::2] == -1.0).all() and (owner[0] == [0, 1, 2, 3]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_view_is_the_block_of_the_flat_buffer_or_an_index_error(dtype):
    from fastbackprop.kernels.train import matrix_view

    flat = np.arange(20, dtype=dtype)
    view = matrix_view(flat, 3, 4, 4)
    expected = flat[3:19].reshape(4, 4)
    np.testing.assert_array_equal(view, expected)
    assert view.strides == expected.strides and view.flags.c_contiguous
    view[0, 0] = -1  # a view: writes land in the buffer
    assert flat[3] == -1
    assert matrix_view(flat, 20, 0, 4).shape == (0, 4)
    for offset, rows, cols in [(10, 4, 4), (-1, 1, 1), (0, -1, 2)]:
        with pytest.raises(IndexError, match="does not fit"):
            matrix_view(flat, offset, rows, cols)


@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaExperimentalFeatureWarning")
def test_a_pointer_table_takes_only_kernels_of_its_slots_signatures():
    # the compiled code trusts a table's addresses: a table is built only
    # from kernels whose signatures are those of its slots, slot by slot
    from fastbackprop.kernels.pointers import PointerTable, pointer

    ops = k_ops.op_table("float64", [1], LOSS_CODES["mse"], 0)
    values = dict(ops.values)
    assert len(ops.addresses) == 3 * len(k_ops.SLOTS)
    swapped = {"sigmoid_forward": values["identity_forward"], **values}
    with pytest.raises(ValueError, match="fill the table's slots, in order"):
        PointerTable(ops.numba_type, swapped)
    float32 = pointer(k_act.relu_forward, *[numba.typeof(np.zeros((1, 1), np.float32))] * 2)
    with pytest.raises(TypeError, match="slot relu_forward"):
        PointerTable(ops.numba_type, {**values, "relu_forward": float32})


@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaExperimentalFeatureWarning")
def test_a_slot_the_network_never_uses_raises_when_reached():
    # an unused activation's slot holds a stub that raises, and the error
    # comes back through the pointer call (Numba's own calling convention)
    from fastbackprop._codes import RELU, TANH

    ops = k_ops.op_table("float64", [RELU], LOSS_CODES["mse"], 0)
    x = np.ones((2, 3))
    with pytest.raises(RuntimeError, match="picked the wrong slot"):
        _through_op_table(ops.addresses, TANH, np.empty_like(x), np.empty_like(x), x, x)
