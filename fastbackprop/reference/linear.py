"""NumPy twin of :mod:`fastbackprop.kernels.linear`."""

import numpy as np


def add_bias(out, b):
    out += b


def column_sums(db, dout, acc):
    # acc: the compiled version's scratch; NumPy needs none
    np.sum(dout, axis=0, out=db)


def linear_forward(out, inp, W, b):
    np.matmul(inp, W, out=out)
    out += b


def linear_backward(dinp, dW, db, dout, inp, W, compute_dinp):
    np.matmul(inp.T, dout, out=dW)
    np.sum(dout, axis=0, out=db)
    if compute_dinp:
        np.matmul(dout, W.T, out=dinp)
