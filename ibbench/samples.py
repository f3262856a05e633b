"""A task's own sample, taken out: ``ibbench.task_sample`` returns it, ``ibbench sample`` saves it.

The pairs are the ones a run of the task with that seed estimates from (``TaskInstance.fixed_pairs``:
the task's fixed sample, before the run's preprocessing), so ``ibbench estimate`` on the saved file
gives the estimate ``ibbench run`` gives, to the last digit (``tests/test_routes.py``).  Saved as one
CSV in bmi's ``save_sample`` layout (header ``X0,...,Y0,...``; Czyz et al. 2023) or as an ``.npz``
holding arrays ``x`` and ``y``; the CSV writes each number with 17 significant digits, which
round-trips every float64 exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import IbbenchError

FORMATS = (".csv", ".npz")


def task_sample(
    task: str, *, seed: int = 0, budget: str = "quick", params: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The fixed pairs of task ``task`` (a name from ``ibbench list``, with its ``params``, as
    ``--set task.FIELD=VALUE``) at ``seed``: float64 arrays of shape (n_pairs, d_x) and (n_pairs, d_y),
    row i of each a pair.

    Raises ``SpecError`` for an unknown task or a bad parameter, and ``IbbenchError`` for a task with no
    fixed sample (one that draws fresh pairs, ``n_pairs = None``, or a classification task)."""
    import torch

    from .api import RunContext
    from .running.plugins import load_registry
    from .running.runner import _resolve_plugin
    from .running.specs import PluginSpec

    resolved = _resolve_plugin(load_registry(), "task", PluginSpec(name=task, params=params or {}), budget)
    fresh = f"task {task!r} draws fresh pairs, so it has no fixed sample to save"
    if hasattr(resolved.params, "n_pairs") and resolved.params.n_pairs is None:
        raise IbbenchError(f"{fresh}; give n_pairs=N (--set task.n_pairs=N) to save N pairs")
    instance = resolved.plugin.build(resolved.params, RunContext(seed, torch.device("cpu")))
    if instance.n_pairs is None:
        raise IbbenchError(f"{fresh} (the bmi tasks have one, and beyond-normal with n_pairs=N)")
    return instance.fixed_pairs()


def sample_path(path: str | Path) -> Path:
    """``path`` if it names a format a sample is saved in, else ``IbbenchError``."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in FORMATS:
        raise IbbenchError(f"{path}: save a sample as .csv (bmi's layout) or .npz (arrays x and y)")
    return path


def save_sample(x: np.ndarray, y: np.ndarray, path: str | Path) -> Path:
    """Write pairs (n, d_x), (n, d_y) to ``path``: ``.csv`` in bmi's layout, ``.npz`` as arrays x, y.
    Raises ``IbbenchError`` for another suffix or rows that do not pair up."""
    path = sample_path(path)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise IbbenchError(f"x {x.shape} and y {y.shape} are not (n, d_x) and (n, d_y) pairs")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npz":
        np.savez(path, x=x, y=y)
        return path
    header = ",".join([f"X{i}" for i in range(x.shape[1])] + [f"Y{i}" for i in range(y.shape[1])])
    np.savetxt(path, np.hstack([x, y]), delimiter=",", header=header, comments="", fmt="%.17g")
    return path
