"""Stores as pandas DataFrames: one row per record, flat typed columns, for notebooks and scripts.

    >>> df = ibbench.load_results("results/bias/runs.jsonl")
    >>> df[df.status == "ok"].groupby(["task_label", "estimator"]).estimate.mean().unstack()

Each row is one ``RunRecord`` (``ibbench.store.results``) read through the store (older schemas migrated,
a torn last line skipped with a warning).  Columns:

* identity: ``id``, ``created`` (datetime, UTC), ``status``, ``error``, ``store`` (the file it came from);
* the spec: ``task``, ``task_label``, ``estimator``, ``trainer`` (names, None where absent), ``seed``,
  ``budget``, ``device``, ``preprocess``, and one column per parameter the spec set, prefixed
  ``task.``, ``estimator.``, ``trainer.`` (e.g. ``task.mi``, ``trainer.beta``);
* estimation, in nats: ``estimate``, ``stderr``, ``truth``, ``truth_stderr``, ``error_nats``
  (estimate - truth), ``converged`` (a critic's held-out plateau; None without a critic),
  ``reliability`` (ok / caution / unreliable);
* training, accuracies as fractions: ``test_acc``, ``val_acc``, ``train_acc``, ``test_acc_final``,
  ``steps``;
* provenance: ``wall_time_s``, ``commit``, ``dirty``, ``ibbench_version``;
* ``record``: the whole ``RunRecord``, for the nested payloads (information plane, evaluations, ...).

pandas is an optional dependency: ``pip install "ibbench[frames]"``.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from .errors import IbbenchError
from .store.results import ResultStore, RunRecord

TRAINING_COLUMNS = ("test_acc", "val_acc", "train_acc", "test_acc_final", "steps")


def record_row(record: RunRecord) -> dict[str, Any]:
    """The flat columns of one record (see the module docstring)."""
    spec = record.spec
    git = record.provenance.get("git") or {}
    row: dict[str, Any] = {
        "id": record.id,
        "created": record.created,
        "status": record.status,
        "error": record.error,
        "task": spec.task.name,
        "task_label": record.task_label,
        "estimator": spec.estimator.name if spec.estimator else None,
        "trainer": spec.trainer.name if spec.trainer else None,
        "seed": spec.seed,
        "budget": spec.budget,
        "device": record.device,
        "preprocess": getattr(spec, "preprocess", None),
        "estimate": record.estimate,
        "stderr": record.estimate_stderr,
        "truth": record.truth,
        "truth_stderr": record.truth_stderr,
        "error_nats": (
            record.estimate - record.truth
            if record.estimate is not None and record.truth is not None
            else None
        ),
        "converged": record.extras.get("estimator", {}).get("converged"),
        "reliability": (record.reliability or {}).get("verdict"),
    }
    training = record.training
    for column in TRAINING_COLUMNS:
        row[column] = getattr(training, column) if training is not None else None
    for part in ("task", "estimator", "trainer"):
        plugin = getattr(spec, part)
        for key, value in (plugin.params if plugin is not None else {}).items():
            row[f"{part}.{key}"] = value
    row.update(
        wall_time_s=record.wall_time_s,
        commit=git.get("commit"),
        dirty=git.get("dirty"),
        ibbench_version=(record.provenance.get("versions") or {}).get("ibbench"),
        record=record,
    )
    return row


def _paths(source: str | Path | list) -> list[Path]:
    if isinstance(source, list | tuple):
        return [p for s in source for p in _paths(s)]
    text = str(source)
    if any(c in text for c in "*?["):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True))
        if not found:
            raise IbbenchError(
                f"no store matches {text!r}; give a .jsonl path or a glob such as results/*/runs.jsonl"
            )
        return found
    path = Path(text).expanduser()
    if not path.is_file():
        raise IbbenchError(
            f"store {path} not found; give a .jsonl path or a glob such as results/*/runs.jsonl"
        )
    return [path]


def load_results(source: str | Path | list) -> Any:
    """Every record of one or more JSON Lines stores (a path, a glob, or a list of either) as a pandas
    DataFrame, one row per record in store order (columns in the module docstring).

    Raises ``IbbenchError`` for a path or glob that names no file, and when pandas is not installed."""
    try:
        import pandas as pd
    except ImportError:
        raise IbbenchError('load_results needs pandas: pip install "ibbench[frames]" (or pandas)') from None
    rows = []
    for path in _paths(source):
        for record in ResultStore(path).records():
            rows.append({**record_row(record), "store": str(path)})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["created"] = pd.to_datetime(frame["created"], utc=True, format="ISO8601")
    for column in (
        "estimate",
        "stderr",
        "truth",
        "truth_stderr",
        "error_nats",
        "wall_time_s",
        *TRAINING_COLUMNS[:4],
    ):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame
