"""Benchmarks: ``python -m atomcount.bench NAME`` (or ``all``).

Each benchmark measures on this machine, compares with the paper's figure or a baseline
measured in the same run, and replaces its own section of ``BENCHMARKS.md``.
"""
