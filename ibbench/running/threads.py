"""How many threads torch may use: the CPUs this process may run on, shared among a suite's workers.

``os.cpu_count()`` counts the machine's CPUs, not the ones this process is allowed: a container or a
cluster job with a CPU quota (cgroup ``cpu.max``) or an affinity mask (``taskset``, Slurm's
``--cpus-per-task``) gets fewer, and torch's default of one thread per core then oversubscribes them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
#: how long an idle OpenMP thread spins before it sleeps (GNU OpenMP, which torch's Linux wheels use).
#: Its default (300000 spins) burns the cores other processes need: beside 4 busy processes on 2 cores
#: a quick MINE run on the 20-d staircase took 68 CPU-seconds at 2 threads instead of 9.5 when quiet;
#: with 1000 it took 12.3, and on the quiet machine no longer than before (9.3); passive waiting
#: (OMP_WAIT_POLICY=PASSIVE) took 9.6 busy but 40-60 % more wall time quiet (single runs, 2026-12-01;
#: the README's quick start with 1000: results/benchmarks/busy-machine.md)
SPIN_COUNT = "1000"


def _cgroup_cpus() -> float | None:
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return int(quota) / int(period)


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup quota (rounded up), >= 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def spin_briefly() -> None:
    """Set ``GOMP_SPINCOUNT`` to SPIN_COUNT unless the user chose a spin count or a wait policy.  Only
    effective before torch is first imported in this process (OpenMP reads it when it loads); the
    command line calls it first thing, and the processes it starts inherit it."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT


def default_threads() -> int:
    """``OMP_NUM_THREADS`` where the user set it, else the available CPUs."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return available_cpus()


def share(threads: int | None, jobs: int) -> int:
    """Threads per worker when ``jobs`` workers share ``threads`` (default ``default_threads()``)."""
    return max(1, (threads or default_threads()) // jobs)


def use_threads(threads: int | None) -> int:
    """Make torch use ``threads`` (None: ``default_threads()``, but never more than torch's own default,
    one per physical core); returns the count.  BLAS libraries that read the environment at start-up
    follow through ``OMP_NUM_THREADS`` in processes started after this."""
    import torch

    count = threads if threads is not None else min(default_threads(), torch.get_num_threads())
    os.environ["OMP_NUM_THREADS"] = str(count)
    torch.set_num_threads(count)
    return count
