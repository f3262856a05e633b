"""Timing, the machine's matmul peak, and peak memory of one workload in a fresh process."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import torch

from .workloads import Workload, build, resolve


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(
    fn,
    device: torch.device,
    min_time: float = 1.0,
    warmup: int = 2,
    min_calls: int = 3,
    max_calls: int = 10_000,
) -> dict[str, float]:
    """Per-call wall time: warm-up calls, then calls until ``min_time`` has passed; median and best."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or (time.perf_counter() - start < min_time and len(times) < max_calls):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "best_s": min(times), "calls": len(times)}


def matmul_peak(
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    sizes: tuple[int, ...] | None = None,
    min_time: float = 0.5,
) -> dict[str, Any]:
    """The best FLOP/s of square matmuls on this device: the denominator of FLOP utilisation.

    ``sizes`` are tried in ascending order; once one matmul takes longer than ``min_time`` the larger
    sizes are skipped.  A CPU without native bf16 runs a 3072-square bf16 matmul in about a minute,
    and five of them (warm-up included) would cost minutes for a number the smaller size already gives.
    """
    dev = resolve(device)
    sizes = sizes or ((1024, 2048, 3072) if dev.type == "cpu" else (4096, 8192))
    best = {"gflops": 0.0}
    g = torch.Generator().manual_seed(0)
    for n in sorted(sizes):
        a = torch.randn(n, n, generator=g).to(dev, dtype)
        b = torch.randn(n, n, generator=g).to(dev, dtype)
        t = time_calls(lambda: torch.mm(a, b), dev, min_time=min_time)
        gflops = 2.0 * n**3 / t["best_s"] / 1e9
        if gflops > best["gflops"]:
            best = {"gflops": gflops, "size": n, "dtype": str(dtype).removeprefix("torch.")}
        if t["best_s"] > min_time:
            break
    return best


def _rss_mib() -> float:
    """Resident set size now, MiB (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, params: dict[str, Any], min_time: float = 1.0) -> dict[str, Any]:
    """Build, time and (on CUDA) memory-profile one workload in this process."""
    w: Workload = build(name, **params)
    if w.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(w.device)
    rss_before = _rss_mib()
    t = time_calls(w, w.device, min_time=min_time)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out: dict[str, Any] = {
        "workload": name,
        "params": w.params,
        "device": str(w.device),
        **t,
        "flops": w.flops,
        "samples": w.samples,
        "extras": w.extras,
        "peak_rss_mib": peak_rss,
        "rss_after_setup_mib": rss_before,
    }
    if w.device.type == "cuda":
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated(w.device) / 2**20
    return out


def measure_in_subprocess(
    name: str, params: dict[str, Any], min_time: float = 1.0, timeout: float = 1800
) -> dict[str, Any]:
    """``measure`` in a fresh interpreter, so its peak memory is its own and not the previous row's."""
    job = json.dumps({"name": name, "params": params, "min_time": min_time})
    proc = subprocess.run(
        [sys.executable, "-m", "ibbench.bench.timing", job],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"workload": name, "params": params, "error": tail[0]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # python -m ibbench.bench.timing '{"name": ..., "params": {...}}'
    spec = json.loads(sys.argv[1])
    print(json.dumps(measure(spec["name"], spec["params"], spec.get("min_time", 1.0))))
