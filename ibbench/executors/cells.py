"""The unit of work an executor ships: one cell (spec, checkpoint policy) in, its record out, as plain data.

Workers rebuild the plugin registry themselves, so a cell pickles as a dict (no torch objects, no
registry) and runs the same way in a pool worker, a submitit job or this process.
"""

from __future__ import annotations

import os
from typing import Any


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Execute one cell, ``{"spec": spec data, "checkpoints": CheckpointPolicy fields or None}``; the
    record as JSON data (failures are records too)."""
    from ..checkpoints import CheckpointPolicy
    from ..plugins import load_registry
    from ..runner import execute, resolve
    from ..specs import RunSpec

    _claim_gpu()
    spec = RunSpec.model_validate(cell["spec"])
    policy = CheckpointPolicy(**cell["checkpoints"]) if cell.get("checkpoints") else None
    return execute(resolve(spec, load_registry()), checkpoints=policy).model_dump(mode="json")


def _claim_gpu() -> None:
    """One GPU per cell: a pool worker with several GPUs visible takes GPU (worker index mod count)."""
    import multiprocessing

    import torch

    identity = multiprocessing.current_process()._identity  # (k,) in the k-th pool worker, () elsewhere
    if identity and torch.cuda.is_available() and torch.cuda.device_count() > 1 \
            and "CUDA_VISIBLE_DEVICES" not in os.environ:
        torch.cuda.set_device((identity[0] - 1) % torch.cuda.device_count())


def crashed_cell(cell: dict[str, Any], error: str) -> dict[str, Any]:
    """The failed record, as JSON data, of a cell whose worker process died."""
    from ..plugins import load_registry
    from ..runner import crashed_record, resolve
    from ..specs import RunSpec

    return crashed_record(resolve(RunSpec.model_validate(cell["spec"]), load_registry()), error).model_dump(mode="json")


def run_marked(cell: dict[str, Any], marker: str) -> dict[str, Any]:
    """``run_cell`` leaving ``marker`` on disk while it runs: after a worker dies, the cells whose
    markers remain are the ones that were running."""
    open(marker, "w").close()
    try:
        return run_cell(cell)
    finally:
        os.remove(marker)
