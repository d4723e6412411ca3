"""Inverted dropout with counter-based masks.

The keep/drop decision for element (i, j) of a layer's batch is a hash of
(key, i, j), where the key mixes the fit's dropout seed, the global step and
the layer. Nothing is stored: backward recomputes the same mask, the NumPy
twin computes bit-identical masks, and the run is reproducible per seed.
"""

import numpy as np

from .._config import jit, jit_inline
from .flat import one_row_2, same_buffer

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@jit_inline
def mix64(x):
    """splitmix64's finaliser: a bijective, well-mixed uint64 -> uint64."""
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


@jit
def dropout_key(seed, step, layer, first_row, n_cols):
    """The mask key of one layer at one optimizer step, for a block of the
    batch's rows starting at ``first_row`` (``n_cols`` wide): the hash of
    element (i, j) of the block equals that of (first_row + i, j) of the
    whole batch, so splitting a batch across threads keeps the same mask."""
    k = mix64(np.uint64(seed) + np.uint64(step) * _GOLDEN)
    key = mix64(k ^ (np.uint64(layer + 1) * _GOLDEN))
    return key + np.uint64(first_row * n_cols) * _GOLDEN


@jit_inline
def _keep_scale(key, i, j, n_cols, rate, scale):
    h = mix64(key + np.uint64(i * n_cols + j) * _GOLDEN)
    u = (h >> np.uint64(11)) * _UNIT  # uniform in [0, 1)
    return scale if u >= rate else 0.0


@jit_inline
def _dropout_row(i, out, inp, rate, key):
    scale = 1.0 / (1.0 - rate)
    for j in range(inp.shape[1]):
        out[i, j] = inp[i, j] * _keep_scale(key, i, j, inp.shape[1], rate, scale)


@jit
def dropout_forward(out, inp, rate, key):  # out, inp: (batch, n)
    # one long row: element (0, i * n + j) hashes as (i, j) does
    o, x = one_row_2(out, inp)
    for i in range(o.shape[0]):
        _dropout_row(i, o, x, rate, key)


@jit
def dropout_backward(dinp, dout, rate, key):  # dinp, dout: (batch, n)
    # the same mask and scale: d(out)/d(inp) = mask / (1 - rate); in place,
    # one array for both (see ``activations``: else LLVM's overlap check
    # sends the loop to its scalar version)
    di, do = one_row_2(dinp, dout)
    if not same_buffer(dinp, dout):
        for i in range(di.shape[0]):
            for j in range(di.shape[1]):
                di[i, j] = do[i, j]
    for i in range(di.shape[0]):
        _dropout_row(i, di, di, rate, key)
