"""The built-in executors.  ``local`` runs cells in this process (jobs=1) or a process pool (jobs=N);
``slurm`` submits one submitit job per cell (``pip install ibbench[slurm]``).

An executor's ``map(cells)`` yields (cell index, record data) as cells finish, in any order; the
suite appends each record to the store the moment it arrives, from this one process.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..api import Executor, Params
from ..errors import IbbenchError
from ..running.threads import share, use_threads
from .cells import TIMED_OUT, crashed_cell, run_cell, run_marked


class LocalParams(Params):
    jobs: int = Field(1, ge=1)  # cells at a time; 1 runs them in this process
    threads: int | None = Field(None, ge=1)  # torch threads in all, split among the jobs (default: the CPUs)


def _init_worker(threads: int) -> None:
    """Pool-worker initialiser: torch (and BLAS through the environment) use ``threads`` threads, and
    the worker exits when the suite's process dies (``kill -9`` of it would otherwise leave the
    workers waiting for work for ever)."""
    use_threads(threads)
    parent = multiprocessing.parent_process()
    if parent is not None:

        def exit_with_parent() -> None:
            multiprocessing.connection.wait([parent.sentinel])  # ready when the parent process ends
            os._exit(1)

        threading.Thread(target=exit_with_parent, daemon=True).start()


class Local(Executor):
    Params = LocalParams

    def map(self, cells: list[dict[str, Any]], params: LocalParams) -> Iterator[tuple[int, dict[str, Any]]]:
        timed = any(cell.get("timeout_s") for cell in cells)
        if params.jobs == 1 and not timed:  # a time limit needs a process that can be ended: a pool of one
            for i, cell in enumerate(cells):
                yield i, run_cell(cell)
            return
        # spawn, not fork: torch's threads and CUDA state do not survive a fork.  Each worker gets its
        # share of the CPUs: N workers with torch's default of one thread per core oversubscribe them
        threads = share(params.threads, params.jobs)
        yield from _pool_map(cells, params.jobs, threads)


def _pool(jobs: int, threads: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads,)
    )


def _pool_map(cells: list[dict[str, Any]], jobs: int, threads: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Cells on a pool of ``jobs`` workers.  A worker that dies (killed, out of memory, ``os._exit`` in
    a plugin) breaks the whole pool: the cells that were running then are rerun one at a time in a
    pool of their own, so the one that kills its worker again becomes a failed record, and the rest
    go on in a fresh pool."""
    pending = dict(enumerate(cells))
    suspects: list[int] = []
    with tempfile.TemporaryDirectory(prefix="ibbench-cells-") as markers:
        while pending:
            if suspects:
                i = suspects.pop(0)
                marker = os.path.join(markers, str(i))
                try:
                    with _pool(1, threads) as pool:
                        data = pool.submit(run_marked, pending[i], marker).result()
                except BrokenProcessPool:
                    data = crashed_cell(pending[i], _why_it_died(marker, pending[i]))
                del pending[i]
                yield i, data
                continue
            try:
                with _pool(jobs, threads) as pool:
                    futures = {
                        pool.submit(run_marked, cell, os.path.join(markers, str(i))): i
                        for i, cell in pending.items()
                    }
                    for future in as_completed(futures):
                        i = futures[future]
                        data = future.result()
                        del pending[i]
                        yield i, data
            except BrokenProcessPool:
                suspects = []
                for name in sorted(os.listdir(markers), key=int):
                    i = int(name)
                    why = _why_it_died(os.path.join(markers, name), cells[i])
                    if i not in pending:
                        continue
                    if why.startswith(
                        "the cell ran past"
                    ):  # ended by its watchdog: a failed record, not a rerun
                        yield i, crashed_cell(pending.pop(i), why)
                    else:
                        suspects.append(i)
                if pending and not suspects:
                    suspects = sorted(pending)[:1]


def _why_it_died(marker: str, cell: dict[str, Any]) -> str:
    """The reason for a failed record of a cell whose worker died, from its marker (which it removes)."""
    with open(marker) as fh:
        timed_out = fh.read() == TIMED_OUT
    os.remove(marker)
    if timed_out:
        return (
            f"the cell ran past its time limit of {cell['timeout_s']:g} s (--cell-timeout or the suite's cell_timeout) inside native code; "
            f"its worker was ended"
        )
    return "the worker process running this cell died (killed, out of memory, or os._exit in a plugin); no result"


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
    Params = SlurmParams

    def map(self, cells: list[dict[str, Any]], params: SlurmParams) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            import submitit
        except ImportError:
            raise IbbenchError("the slurm executor needs submitit: pip install 'ibbench[slurm]'") from None
        executor = submitit.AutoExecutor(folder=Path(params.folder), cluster=params.cluster)
        options: dict[str, Any] = {
            "timeout_min": params.timeout_min,
            "cpus_per_task": params.cpus_per_cell,
            "mem_gb": params.mem_gb,
            "name": "ibbench",
        }
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
