"""The results store: one JSON line per run, schema-versioned, append-only.

Every table and plot is built from these records only.  A record is appended
and fsync'ed the moment its run ends; a half-written last line (a crash
mid-write) is detected, reported and repaired on the next write, so nothing
already measured is lost.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import StoreError
from .specs import RunSpec

SCHEMA_VERSION = 1
DEFAULT_STORE = Path("results") / "runs.jsonl"


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str
    created: str  # ISO 8601, UTC
    status: Literal["ok", "failed"]
    error: str | None = None  # one line: why it failed
    spec: RunSpec
    task_label: str  # task name plus the parameters the spec set, e.g. gaussian[dim=5,mi=2.0]
    expanded: dict[str, Any] = Field(default_factory=dict)  # every parameter the budget expanded to
    device: str
    provenance: dict[str, Any] = Field(default_factory=dict)
    wall_time_s: float
    estimate: float | None = None  # nats
    estimate_stderr: float | None = None
    truth: float | None = None  # nats; None where unknown
    truth_stderr: float | None = None
    extras: dict[str, Any] = Field(default_factory=dict)


class StoreWarning(UserWarning):
    pass


class ResultStore:
    """A JSON Lines file of RunRecords."""

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        if self.path.is_dir():  # checked here, before any work is done that could not then be stored
            raise StoreError(f"results store {self.path} is a folder; pass a .jsonl file path")

    def append(self, record: RunRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        line = record.model_dump_json() + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def _repair_tail(self) -> None:
        """Truncate a last line without its newline (a write cut short) and warn."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            data = fh.read()
            cut = data.rfind(b"\n") + 1
            fh.truncate(cut)
        warnings.warn(
            f"{self.path}: removed a half-written last record ({len(data) - cut} bytes) left by an interrupted run",
            StoreWarning,
            stacklevel=3,
        )

    def records(self) -> list[RunRecord]:
        if not self.path.exists():
            return []
        out: list[RunRecord] = []
        lines = self.path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            is_last = number == len(lines)  # no trailing newline: interrupted write
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                if is_last:
                    warnings.warn(f"{self.path}:{number}: ignoring a half-written last record", StoreWarning,
                                  stacklevel=2)
                    continue
                raise StoreError(f"{self.path}:{number} is not valid JSON; fix or delete that line") from None
            version = data.get("schema_version") if isinstance(data, dict) else None
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}:{number} has schema_version {version!r}, this ibbench reads {SCHEMA_VERSION}; "
                    f"use a new --out file or the ibbench version that wrote it"
                )
            try:
                out.append(RunRecord.model_validate(data))
            except ValidationError as exc:
                raise StoreError(f"{self.path}:{number} is not a valid run record: {exc.errors()[0]['msg']}") from None
        return out


def summarise(record: RunRecord) -> str:
    """One line for a person: task x estimator, estimate and truth with errors, log2 ratio, time."""
    what = " x ".join(p.name for p in (record.spec.trainer, record.spec.estimator) if p is not None)
    head = f"{record.task_label} x {what} (seed {record.spec.seed}, {record.spec.budget}, {record.device})"
    if record.status != "ok":
        return f"{head}: FAILED: {record.error}"
    parts = []
    trained = record.extras.get("trainer") or {}
    if "test_acc" in trained:
        fit = trained.get("readout")
        how = (f"fitted readout, {'converged' if fit['converged'] else 'NOT converged'}" if isinstance(fit, dict)
               else f"val-selected; final {100 * trained['test_acc_final']:.2f}%")
        parts.append(f"test accuracy {100 * trained['test_acc']:.2f}% ({how})")
    if "info_plane" in trained:
        points = trained["info_plane"]["points"]
        flags = [p[k] for p in points for k in ("ixt_converged", "iyt_converged") if k in p]
        on_plateau = f" ({sum(map(bool, flags))} of {len(flags)} critic readings on a held-out plateau)" if flags else ""
        parts.append(f"{len(points)} information-plane points{on_plateau}")
    if record.estimate is not None:
        se = f" ± {record.estimate_stderr:.3f}" if record.estimate_stderr is not None else ""
        parts.append(f"estimate {record.estimate:.4f}{se} nats")
        protocol = record.extras.get("estimator") or {}
        if "converged" in protocol:  # a critic estimator: held-out plateau or the step maximum?
            parts.append(f"held out, converged in {protocol['steps_used']} steps" if protocol["converged"] else
                         f"held out, NOT converged (stopped at the maximum of {protocol['max_steps']} steps)")
    if record.truth is not None:
        se = f" ± {record.truth_stderr:.3f}" if record.truth_stderr else ""
        parts.append(f"truth {record.truth:.4f}{se} nats")
        if record.estimate is not None and record.estimate > 0 and record.truth > 0:
            parts.append(f"log2(est/true) {math.log2(record.estimate / record.truth):+.3f}")
    parts.append(f"{record.wall_time_s:.1f} s")
    if "resumed" in record.extras:
        where = " ".join(f"{k.replace('_', ' ')} {v}" for k, v in record.extras["resumed"]["progress"].items())
        parts.append(f"resumed from a checkpoint at {where}")
    return f"{head}: " + ", ".join(parts)
