"""The built-in executors.  ``local`` runs cells in this process (jobs=1) or a process pool (jobs=N);
``slurm`` submits one submitit job per cell (``pip install ibbench[slurm]``).

An executor's ``map(cells)`` yields (cell index, record data) as cells finish, in any order; the
suite appends each record to the store the moment it arrives, from this one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..api import Executor, Params
from ..errors import IbbenchError
from .cells import run_cell


class LocalParams(Params):
    jobs: int = Field(1, ge=1)  # cells at a time; 1 runs them in this process


def _limit_threads(threads: int) -> None:
    """Pool-worker initialiser: torch (and BLAS through the environment) use ``threads`` threads."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)


class Local(Executor):
    description = "this machine: in-process (jobs=1) or a pool of worker processes (--jobs N)"
    Params = LocalParams

    def map(self, cells: list[dict[str, Any]], params: LocalParams) -> Iterator[tuple[int, dict[str, Any]]]:
        if params.jobs == 1:
            for i, cell in enumerate(cells):
                yield i, run_cell(cell)
            return
        # spawn, not fork: torch's threads and CUDA state do not survive a fork.  Each worker gets its
        # share of the cores: N workers with torch's default of one thread per core oversubscribe them
        threads = max(1, (os.cpu_count() or 1) // params.jobs)
        with ProcessPoolExecutor(max_workers=params.jobs, mp_context=get_context("spawn"),
                                 initializer=_limit_threads, initargs=(threads,)) as pool:
            futures = {pool.submit(run_cell, cell): i for i, cell in enumerate(cells)}
            for future in as_completed(futures):
                yield futures[future], future.result()


class SlurmParams(Params):
    folder: str = "results/slurm"  # submitit's logs and pickles
    partition: str | None = None
    timeout_min: int = Field(240, ge=1)
    gpus_per_cell: int = Field(0, ge=0)  # 1 on a GPU partition: one GPU per cell
    cpus_per_cell: int = Field(2, ge=1)
    mem_gb: int = Field(16, ge=1)
    # "slurm" on a cluster; "local" runs the jobs as local processes through the same pickling and
    # job path (what the tests use); None lets submitit pick (slurm where sbatch exists)
    cluster: Literal["slurm", "local", "debug"] | None = None


class Slurm(Executor):
    description = "a Slurm cluster through submitit: one job per cell (pip install ibbench[slurm])"
    Params = SlurmParams

    def map(self, cells: list[dict[str, Any]], params: SlurmParams) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            import submitit
        except ImportError:
            raise IbbenchError("the slurm executor needs submitit: pip install 'ibbench[slurm]'") from None
        executor = submitit.AutoExecutor(folder=Path(params.folder), cluster=params.cluster)
        options: dict[str, Any] = {"timeout_min": params.timeout_min, "cpus_per_task": params.cpus_per_cell,
                                   "mem_gb": params.mem_gb, "name": "ibbench"}
        if params.gpus_per_cell:
            options["gpus_per_node"] = params.gpus_per_cell
        if params.partition:
            options["slurm_partition"] = params.partition
        executor.update_parameters(**options)
        jobs = executor.map_array(run_cell, cells)
        pending = dict(enumerate(jobs))
        while pending:
            for i, job in list(pending.items()):
                if job.done():
                    del pending[i]
                    yield i, job.result()
            if pending:
                import time

                time.sleep(0.5)
