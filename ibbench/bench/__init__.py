"""Throughput of ibbench's hot paths: workloads, timing, FLOP accounting and the throughput table.

The asv suite (``benchmarks/asv``), the pytest-benchmark suite (``benchmarks/micro``)
and ``ibbench bench`` all time the same workloads from ``ibbench.bench.workloads``.
"""
