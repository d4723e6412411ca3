"""Pure-NumPy reference backend.

The obvious version of every kernel in :mod:`fastbackprop.kernels`, under the
same module names, function names and signatures. Tests compare the two on
identical inputs; ``Network(backend="numpy")`` trains with it.
"""
