"""Numba kernels: the compiled backend.

Every module here has a pure-NumPy twin of the same name in
:mod:`fastbackprop.reference` with the same functions and signatures.
Conventions (after llm.c): outputs first, then inputs, then parameters, then
sizes; gradient buffers carry a ``d`` prefix; every buffer is preallocated by
the caller.
"""
