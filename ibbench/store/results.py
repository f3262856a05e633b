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
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..api.records import TrainingResult
from ..errors import StoreError
from ..running.specs import RunSpec

SCHEMA_VERSION = (
    2  # 2: the trainer's numbers in the typed ``training`` field (1: untyped ``extras["trainer"]``)
)
READABLE_VERSIONS = (1, 2)
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
    training: TrainingResult | None = None  # what the trainer returned, for runs that trained a net
    #: an estimate's verdict (``ibbench.verdicts.judgement``): {"verdict": ok | caution | unreliable, "reasons":
    #: [{code, level, text}], "consistency": the half-sample check or {"skipped": why}, "interval",
    #: "dims": [x_dim, y_dim], "rules": the rules' version}; None: no estimate (a training run)
    reliability: dict[str, Any] | None = None
    #: plain JSON: ``task`` (the instance's description), ``estimator`` / ``truth`` (their extras),
    #: ``traceback`` (failed runs), ``resumed`` (runs resumed from a snapshot)
    extras: dict[str, Any] = Field(default_factory=dict)


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A record as read from a store, brought to SCHEMA_VERSION in memory (the file is never rewritten).

    1 -> 2: ``extras["trainer"]`` becomes ``training``."""
    if data.get("schema_version") == 1:
        extras = dict(data.get("extras") or {})
        data = {**data, "schema_version": 2, "extras": extras}
        if "trainer" in extras:
            data["training"] = extras.pop("trainer")
    return data


class StoreWarning(UserWarning):
    pass


def unique_cells(records: list[RunRecord]) -> list[RunRecord]:
    """The first record of each cell: a cell stored twice (two suites at once) counts once in a table."""
    from .cells import CellKey

    seen: set[CellKey] = set()
    out = []
    for r in records:
        key = CellKey.of_record(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


class ResultStore:
    """A JSON Lines file of RunRecords.

    Appends are serialised by an exclusive ``flock`` on the file (POSIX; several processes may append
    to one store), and the tail is checked under the same lock: a last line that parses but lacks
    its newline gets one, a half-written one is cut.  Only regular files are stores: a device such
    as /dev/full would otherwise be read without end or swallow the records.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        if self.path.is_dir():  # checked here, before any work is done that could not then be stored
            raise StoreError(f"results store {self.path} is a folder; pass a .jsonl file path")
        if self.path.exists() and not self.path.is_file():
            raise StoreError(
                f"results store {self.path} is not a regular file (a device, pipe or socket); "
                f"pass a .jsonl file path"
            )

    def check_writable(self) -> None:
        """Raise StoreError now, before any work, if a record could not be appended here.

        Tried, not inferred from permission bits (root passes those for /sys and /proc): the store
        is opened for appending if it exists, else a temporary file is made and removed in its
        nearest existing folder.  Nothing is left behind."""
        try:
            if self.path.exists():
                with open(self.path, "ab"):
                    pass
            else:
                folder = next(p for p in self.path.absolute().parents if p.exists())
                with tempfile.TemporaryFile(dir=folder):
                    pass
        except OSError as exc:
            raise StoreError(
                f"cannot write to results store {self.path}: {exc.strerror or exc}; "
                f"pass --out PATH somewhere writable"
            ) from None

    def append(self, record: RunRecord) -> None:
        """Append one record (fsync'ed).  If the write fails (disk full, store gone read-only) the
        record is printed to stderr, so nothing measured is lost, and StoreError says why."""
        line = (record.model_dump_json() + "\n").encode("utf-8")
        try:  # a line the store could not read back would make every later read fail: check it now
            RunRecord.model_validate_json(line)
        except ValidationError as exc:
            sys.stderr.write(
                f"ibbench: run {record.id} does not read back as a record; it follows:\n"
                f"{line.decode('utf-8')}"
            )
            first = exc.errors()[0]
            raise StoreError(
                f"run {record.id} would not read back from {self.path} "
                f"({'.'.join(map(str, first['loc']))}: {first['msg']}); it was printed above, not "
                f"stored; this is a bug in ibbench or the plugin that made it"
            ) from None
        self._append_line(line, record.id)

    def append_verbatim(self, line: str, record_id: str) -> None:
        """Append one stored line as it was read (``lines_by_id``): a record moved between stores keeps
        its bytes, so its file diff shows only that it moved."""
        self._append_line((line.rstrip("\n") + "\n").encode("utf-8"), record_id)

    def _append_line(self, line: bytes, record_id: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab+") as fh:
                _lock(fh)
                try:
                    self._repair_tail(fh)
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
                finally:
                    _unlock(fh)
        except OSError as exc:
            sys.stderr.write(
                f"ibbench: could not append run {record_id} to {self.path}; the record follows, "
                f"save it with `>> other.jsonl`:\n{line.decode('utf-8')}"
            )
            raise StoreError(
                f"cannot write to results store {self.path}: {exc.strerror or exc}; the record "
                f"was printed above"
            ) from None

    def _repair_tail(self, fh) -> None:
        """Under the lock: end a complete last record with its newline; cut a half-written one (warn)."""
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        cut = data.rfind(b"\n") + 1
        try:
            json.loads(data[cut:])
        except ValueError:
            fh.truncate(cut)
            warnings.warn(
                f"{self.path}: removed a half-written last record ({len(data) - cut} bytes) left by "
                f"an interrupted run",
                StoreWarning,
                stacklevel=3,
            )
        else:  # a whole record whose newline was lost (e.g. an editor): keep it
            fh.seek(0, os.SEEK_END)
            fh.write(b"\n")

    def lines_by_id(self) -> dict[str, str]:
        """Each record's stored line (no newline), by record id, first occurrence kept; for moving
        records without re-serialising them (a newer schema would add fields to every line)."""
        out: dict[str, str] = {}
        if not self.path.exists():
            return out
        with open(self.path, encoding="utf-8") as fh:
            for _, line, _ in _numbered_lines(fh):
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:  # a half-written last line; records() warns of it
                    continue
                if isinstance(data, dict) and isinstance(data.get("id"), str):
                    out.setdefault(data["id"], line)
        return out

    def records(self) -> list[RunRecord]:
        """Every record, read line by line; a record id seen twice counts once (with a warning)."""
        if not self.path.exists():
            return []
        out: list[RunRecord] = []
        seen: set[str] = set()
        with open(self.path, encoding="utf-8") as fh:
            lines = list(_numbered_lines(fh))
        for number, line, is_last in lines:
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                if is_last:  # no trailing newline: an interrupted write
                    warnings.warn(
                        f"{self.path}:{number}: ignoring a half-written last record",
                        StoreWarning,
                        stacklevel=2,
                    )
                    continue
                raise StoreError(f"{self.path}:{number} is not valid JSON; fix or delete that line") from None
            version = data.get("schema_version") if isinstance(data, dict) else None
            if version not in READABLE_VERSIONS:
                raise StoreError(
                    f"{self.path}:{number} has schema_version {version!r}, this ibbench reads "
                    f"{', '.join(map(str, READABLE_VERSIONS))}; use a new --out file or the ibbench version that "
                    f"wrote it"
                )
            try:
                record = RunRecord.model_validate(migrate(data))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(map(str, first["loc"]))
                raise StoreError(
                    f"{self.path}:{number} is not a valid run record: {where}: {first['msg']}"
                ) from None
            if record.id in seen:
                warnings.warn(
                    f"{self.path}:{number}: record {record.id} appears twice; counted once",
                    StoreWarning,
                    stacklevel=2,
                )
                continue
            seen.add(record.id)
            out.append(record)
        return out


def _numbered_lines(fh):
    """(line number, text, is it the file's unterminated last line) for each non-blank line."""
    previous = None
    for number, raw in enumerate(fh, start=1):
        if previous is not None:
            yield previous
        previous = (number, raw.rstrip("\n"), not raw.endswith("\n")) if raw.strip() else None
    if previous is not None:
        yield previous


try:  # POSIX advisory locks; elsewhere appends are not serialised across processes
    import fcntl

    def _lock(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)

    def _unlock(fh) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
except ImportError:  # pragma: no cover - Windows

    def _lock(fh) -> None:
        pass

    def _unlock(fh) -> None:
        pass


def critic_plateaus(points: list[dict]) -> tuple[int, int]:
    """(readings whose critic reached its held-out plateau, readings with a flag) over information-plane
    points; a point has a flag per axis measured by a critic under the estimation protocol."""
    flags = [p[k] for p in points for k in ("ixt_converged", "iyt_converged") if p.get(k) is not None]
    return sum(map(bool, flags)), len(flags)


def reliability_text(reliability: dict[str, Any]) -> str:
    """'reliability: caution (sample-size, dimension)' or 'reliability: ok' for a record's verdict, after
    'a lower bound (I >= v nats at 95 %)' for a variational bound and 'a lower reading (I >= v nats,
    not a bound)' for an estimator that reads low (one that declares ``interval="lower reading"``: ``ibbench.api.ReliabilityTraits``)."""
    codes = list(dict.fromkeys(r["code"] for r in reliability.get("reasons", [])))
    text = f"reliability: {reliability['verdict']}" + (f" ({', '.join(codes)})" if codes else "")
    interval = reliability.get("interval") or {}
    if interval.get("kind") == "lower bound":  # a variational bound: only the side it guarantees
        text = f"a lower bound (I >= {interval['low']:.4f} nats at 95 %), {text}"
    elif interval.get("kind") == "lower reading":  # reads low, measured on bmi's tasks, no guarantee
        text = f"a lower reading (I >= {interval['low']:.4f} nats, not a bound), {text}"
    return text


def summarise(record: RunRecord, show_test: bool = True) -> str:
    """One line for a person: task x estimator, estimate and truth with errors, log2 ratio, time.
    ``show_test`` False: a trained net's line gives its validation accuracy and withholds the test
    accuracy (a tuning candidate's, which selection must not be seen to read)."""
    what = " x ".join(p.name for p in (record.spec.trainer, record.spec.estimator) if p is not None)
    head = f"{record.task_label} x {what} (seed {record.spec.seed}, {record.spec.budget}, {record.device})"
    if record.status != "ok":
        return f"{head}: FAILED: {record.error}"
    parts = []
    trained = record.training
    if trained is not None:
        fit = trained.readout
        how = (
            f"fitted readout, {'converged' if fit.get('converged') else 'NOT converged'}"
            if isinstance(fit, dict)
            else f"val-selected; final {100 * trained.test_acc_final:.2f}%"
            if trained.test_acc_final is not None
            else ""
        )
        if show_test:
            parts.append(f"test accuracy {100 * trained.test_acc:.2f}%" + (f" ({how})" if how else ""))
        else:
            val = f"{100 * trained.val_acc:.2f}%" if trained.val_acc is not None else "none"
            parts.append(f"validation accuracy {val} (test accuracy withheld: a tuning candidate)")
    if trained is not None and trained.info_plane is not None:
        points = trained.info_plane.points
        on, flagged = critic_plateaus([p.model_dump() for p in points])
        on_plateau = f" ({on} of {flagged} critic readings on a held-out plateau)" if flagged else ""
        parts.append(f"{len(points)} information-plane points{on_plateau}")
    if record.estimate is not None:
        se = f" ± {record.estimate_stderr:.4f}" if record.estimate_stderr is not None else ""
        parts.append(f"estimate {record.estimate:.4f}{se} nats")
        protocol = record.extras.get("estimator") or {}
        if "converged" in protocol:  # a critic estimator: held-out plateau or the step maximum?
            parts.append(
                f"held out, converged in {protocol['steps_used']} steps"
                if protocol["converged"]
                else f"held out, NOT converged (stopped at the maximum of {protocol['max_steps']} steps)"
            )
    if record.reliability:
        parts.append(reliability_text(record.reliability))
    if record.truth is not None:
        se = f" ± {record.truth_stderr:.3f}" if record.truth_stderr else ""
        parts.append(f"truth {record.truth:.4f}{se} nats")
        if record.estimate is not None and record.estimate > 0 and record.truth > 0:
            parts.append(f"log2(est/true) {math.log2(record.estimate / record.truth):+.3f}")
    parts.append(f"{record.wall_time_s:.1f} s")
    if "resumed" in record.extras:
        where = " ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in record.extras["resumed"]["progress"].items()
        )
        parts.append(f"resumed from a checkpoint at {where}")
    return f"{head}: " + ", ".join(parts)
