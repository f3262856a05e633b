"""Shared by the asv benchmarks: build a workload or skip the parameter combination."""

import torch

from ibbench.bench.workloads import build


def workload_or_skip(name, device, **params):
    """The workload, or NotImplementedError (asv's "skipped") where the device is absent."""
    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    return build(name, device=device, **params)


def utilisation(workload, peak_gflops, calls=5):
    """Achieved matmul FLOP/s of ``workload`` over the device's measured peak, in percent."""
    from ibbench.bench.timing import time_calls

    t = time_calls(workload, workload.device, min_time=0.0, warmup=2, min_calls=calls)
    return 100.0 * workload.flops / t["median_s"] / 1e9 / peak_gflops


class Short:
    """asv timing attributes that keep `asv continuous` on two commits to minutes on 2 CPU cores:
    one process per benchmark, up to 5 timed calls, no warm-up beyond the workload's own."""

    rounds = 1
    repeat = (1, 5, 10.0)
    number = 1
    warmup_time = 0.0
