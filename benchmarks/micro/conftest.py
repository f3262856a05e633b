"""pytest-benchmark micro-benchmarks of ibbench's hot functions (not part of the default test run).

    python -m pytest benchmarks/micro --benchmark-only

Each benchmark times one call of a workload from ``ibbench.bench.workloads``,
the same ones the asv suite and ``ibbench bench throughput`` time.
"""

import pytest
import torch

from ibbench.bench.workloads import build


@pytest.fixture
def workload():
    def make(name, **params):
        if params.get("device") == "cuda" and not torch.cuda.is_available():
            pytest.skip("no CUDA device")
        w = build(name, **params)
        w()  # warm-up
        return w

    return make
