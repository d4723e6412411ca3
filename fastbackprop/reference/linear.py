"""NumPy twin of :mod:`fastbackprop.kernels.linear`."""

import numpy as np


def add_bias(out, b):
    out += b


def column_sums(db, dout, acc):
    # acc: the compiled version's scratch; NumPy needs none
    np.sum(dout, axis=0, out=db)


def column_block_sums(db, dout, acc, lo, hi):
    # columns lo:hi only; acc: the compiled version's scratch
    np.sum(dout[:, lo:hi], axis=0, out=db[lo:hi])


def linear_forward(out, inp, W, b):
    np.matmul(inp, W, out=out)
    out += b


def linear_backward(dinp, dW, db, dout, inp, W, compute_dinp):
    np.matmul(inp.T, dout, out=dW)
    np.sum(dout, axis=0, out=db)
    if compute_dinp:
        np.matmul(dout, W.T, out=dinp)
