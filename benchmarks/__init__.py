"""Benchmarks: pytest-benchmark (``pytest benchmarks/ --benchmark-only``) and
asv (``asv run``; see ``asv_bench.py``). Shapes and workloads come from
:mod:`fastbackprop.workloads`, the table the tests also use."""
