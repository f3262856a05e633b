"""The unit of work an executor ships: one cell (spec, checkpoint policy) in, its record out, as plain data.

Workers rebuild the plugin registry themselves, so a cell pickles as a dict (no torch objects, no
registry) and runs the same way in a pool worker, a submitit job or this process.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any

from ..errors import CellTimeoutError


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Execute one cell, ``{"spec": spec data, "checkpoints": CheckpointPolicy fields or None,
    "timeout_s": seconds or None}``; the record as JSON data (failures are records too).

    With ``timeout_s``, a cell still running after that many seconds is ended by SIGALRM
    (CellTimeoutError inside the plugin's code: a failed record saying so)."""
    from ..running.checkpoints import CheckpointPolicy
    from ..running.plugins import load_registry
    from ..running.runner import execute, resolve
    from ..running.specs import RunSpec

    _claim_gpu()
    spec = RunSpec.model_validate(cell["spec"])
    policy = CheckpointPolicy(**cell["checkpoints"]) if cell.get("checkpoints") else None
    try:
        with time_limit(cell.get("timeout_s")):
            return execute(resolve(spec, load_registry()), checkpoints=policy).model_dump(mode="json")
    except CellTimeoutError as exc:  # it fired outside the plugin's code (the runner catches it inside)
        return crashed_cell(cell, str(exc))


@contextmanager
def time_limit(seconds: float | None):
    """Raise CellTimeoutError in this (main) thread once ``seconds`` have passed; None: no limit.

    Python runs a signal handler between bytecodes, so a plugin looping in Python or torch stops
    within one operation; one stuck inside a single native call does not (the pool worker's
    watchdog, ``executors.builtin``, ends that process a little later)."""
    if (
        not seconds
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "SIGALRM")
    ):
        yield
        return

    def expire(signum, frame):
        raise CellTimeoutError(
            f"the cell ran longer than its time limit of {seconds:g} s (--cell-timeout or the suite's cell_timeout) and was "
            f"stopped; raise the limit or lower the cell's budget"
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _claim_gpu() -> None:
    """One GPU per cell: a pool worker with several GPUs visible takes GPU (worker index mod count)."""
    import multiprocessing

    import torch

    identity = multiprocessing.current_process()._identity  # (k,) in the k-th pool worker, () elsewhere
    if (
        identity
        and torch.cuda.is_available()
        and torch.cuda.device_count() > 1
        and "CUDA_VISIBLE_DEVICES" not in os.environ
    ):
        torch.cuda.set_device((identity[0] - 1) % torch.cuda.device_count())


def crashed_cell(cell: dict[str, Any], error: str) -> dict[str, Any]:
    """The failed record, as JSON data, of a cell whose worker process died."""
    from ..running.plugins import load_registry
    from ..running.runner import crashed_record, resolve
    from ..running.specs import RunSpec

    return crashed_record(resolve(RunSpec.model_validate(cell["spec"]), load_registry()), error).model_dump(
        mode="json"
    )


TIMED_OUT = "timed out"  # what a marker holds when the watchdog ended its worker


def run_marked(cell: dict[str, Any], marker: str) -> dict[str, Any]:
    """``run_cell`` leaving ``marker`` on disk while it runs: after a worker dies, the cells whose
    markers remain are the ones that were running.  With ``timeout_s``, a watchdog thread ends the
    worker (writing TIMED_OUT into the marker) if the cell outlives its limit by a grace period
    without the SIGALRM having stopped it: a plugin stuck in native code."""
    open(marker, "w").close()
    done = threading.Event()
    seconds = cell.get("timeout_s")
    if seconds:
        grace = max(10.0, 0.1 * seconds)

        def watchdog() -> None:
            if not done.wait(seconds + grace):
                with open(marker, "w") as fh:
                    fh.write(TIMED_OUT)
                os._exit(124)

        threading.Thread(target=watchdog, daemon=True).start()
    try:
        return run_cell(cell)
    finally:
        done.set()
        os.remove(marker)
