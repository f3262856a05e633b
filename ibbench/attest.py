"""Records that stay current across a code change that leaves their numbers alone: canary cells re-run.

The source fingerprint (``ibbench.fingerprint``) calls a record stale as soon as a file it ran changes.
Most changes to the runner or an estimator's module do not change a number a stored record holds (a
new warning, a new record field, a refactor), and re-running a store to find that out costs CPU-hours.
``attest`` re-runs, at a clean commit, the ``canaries`` cheapest stale cells of each (task, estimator,
trainer) of a published result, and compares every value the stored record holds (``measured``: its
status, expanded spec, estimate, standard error, truth, training result and extras, less wall-clock
timings) with the re-run, to the last bit.  Values the re-run adds (a field new at HEAD) are allowed:
the stored numbers are what is attested.  When every canary matches, one line goes to
``results/attestations.jsonl``: the module changes it vouches for (``[module, old hash, new hash]``),
the names it covers, the canaries and the commit.  ``record_status`` then counts a stale, clean-tree
record as current when every module that changed since it was made has a chain of attested changes
from its hash to today's, each covering the record's (task, estimator, trainer).

This is evidence, not proof: a change that alters only inputs no canary drew (duplicated rows, a
dimension no canary has) passes.  Hence one canary per (task, estimator, trainer) at least, the
record's own thread count (CPU reductions depend on it), and a regeneration (``ibbench reproduce NAME``)
whenever a canary differs.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import IbbenchError

ATTESTATIONS = Path("results") / "attestations.jsonl"
GONE = "-"  # the hash of a module whose file no longer exists
#: record fields compared between a stored record and its canary
MEASURED = (
    "status",
    "error",
    "expanded",
    "estimate",
    "estimate_stderr",
    "truth",
    "truth_stderr",
    "training",
    "extras",
)
#: keys whose values are wall-clock measurements, not results: never compared
VOLATILE = frozenset(
    {
        "fit_seconds",
        "steps_per_s",
        "wall_time_s",
        "wall_time_before_s",
        "resumed",
        "traceback",
        "check_seconds",
    }
)


def names_of(record) -> tuple[str, str, str]:
    """(task, estimator, trainer) plugin names of a record ("" where it has none)."""
    out = []
    for part in ("task", "estimator", "trainer"):
        plugin = getattr(record.spec, part, None)
        out.append(plugin.name if plugin is not None else "")
    return tuple(out)


def measured(record) -> dict[str, Any]:
    """What a record measured, as plain JSON, without the wall-clock timings (``VOLATILE``): its
    ``MEASURED`` fields and, where it has a verdict, the half-sample fit behind it (the verdict itself
    is a function of these, versioned apart: ``ibbench.judgement``)."""
    data = json.loads(record.model_dump_json(include=set(MEASURED)))
    if record.reliability:
        data["consistency"] = record.reliability.get("consistency")
    return _drop_volatile(data)


def _drop_volatile(value):
    if isinstance(value, dict):
        return {k: _drop_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_drop_volatile(v) for v in value]
    return value


def differences(stored, rerun, path: str = "") -> list[str]:
    """Where ``rerun`` does not hold ``stored``'s values exactly: ``path: stored != rerun`` for each leaf
    of ``stored`` (keys only ``rerun`` has are not differences; NaN equals NaN)."""
    if isinstance(stored, dict):
        if not isinstance(rerun, dict):
            return [f"{path or '.'}: a mapping, now {type(rerun).__name__}"]
        out = []
        for key, value in stored.items():
            where = f"{path}.{key}" if path else key
            out += differences(value, rerun[key], where) if key in rerun else [f"{where}: now absent"]
        return out
    if isinstance(stored, list):
        if not isinstance(rerun, list) or len(rerun) != len(stored):
            return [f"{path}: a list of {len(stored)}, now {rerun!r:.60}"]
        return [
            d
            for i, (a, b) in enumerate(zip(stored, rerun, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    same = stored == rerun or (
        isinstance(stored, float) and isinstance(rerun, float) and math.isnan(stored) and math.isnan(rerun)
    )
    return [] if same else [f"{path}: {stored!r} != {rerun!r}"]


# ---- the attestations file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """One attested change of one module's file, for the records of the names it covers."""

    old: str
    new: str
    covers: frozenset[tuple[str, str, str]]
    commit: str


@dataclass(frozen=True)
class AttestationsFile:
    """What ``results/attestations.jsonl`` holds: the canary attestations, as {module: its attested
    changes}, and the script files re-made byte for byte, as {(file, sha256): commits, oldest first}."""

    edges: dict[str, list[Edge]]
    reproduced: dict[tuple[str, str], list[str]]


def read_attestations(path: Path = ATTESTATIONS) -> dict[str, list[Edge]]:
    """{module: its attested changes} from ``path`` (empty when there is none)."""
    return _read(str(path), path.stat().st_mtime_ns if path.exists() else None).edges


def reproduced_at(path: Path, name: str, sha256: str) -> list[str]:
    """The commits at which a script's re-run wrote file ``name`` with this ``sha256``, newest first."""
    found = _read(str(path), path.stat().st_mtime_ns if path.exists() else None).reproduced
    return found.get((name, sha256), [])[::-1]


@functools.cache
def _read(path: str, mtime: int | None) -> AttestationsFile:
    """The one reader of the attestations file (cached per modification time)."""
    edges: dict[str, list[Edge]] = defaultdict(list)
    reproduced: dict[tuple[str, str], list[str]] = defaultdict(list)
    if mtime is None:
        return AttestationsFile(edges, reproduced)
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if "reproduced" in entry:  # a script's file re-made byte for byte (ibbench.reproduce)
                reproduced[(entry["reproduced"], entry["sha256"])].append(entry["commit"])
                continue
            covers = frozenset(tuple(c) for c in entry["covers"])
            for module, old, new in entry["changes"]:
                edges[module].append(Edge(old, new, covers, entry["commit"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise IbbenchError(
                f"{path}, line {number}: not an attestation ({exc}); restore the file from git"
            ) from None
    return AttestationsFile(edges, reproduced)


def note_reproduced(path: Path, files: dict[str, str], commit: str) -> None:
    """Append a ``reproduced`` line per {file: sha256} re-made byte for byte by a script at ``commit``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for name, digest in files.items():
            entry = {
                "reproduced": name,
                "sha256": digest,
                "commit": commit,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            fh.write(json.dumps(entry, sort_keys=True) + "\n")


def attested_by(
    source: dict[str, str],
    changed: tuple[str, ...],
    names: tuple[str, str, str],
    today: dict[str, str],
    edges: dict[str, list[Edge]],
) -> str | None:
    """The commit of the last attestation that carries every ``changed`` module of a record (its hashes in
    ``source``) to ``today``'s hash through changes covering ``names``; None where one is missing."""
    last = None
    for module in changed:
        start, goal = source[module], today.get(module, GONE)
        reached, todo, commit_at = {start}, [start], {start: None}
        while todo:
            here = todo.pop()
            for edge in edges.get(module, ()):
                if edge.old == here and names in edge.covers and edge.new not in reached:
                    reached.add(edge.new)
                    commit_at[edge.new] = edge.commit
                    todo.append(edge.new)
        if goal not in reached:
            return None
        last = commit_at[goal] or last
    return last


# ---- making attestations -----------------------------------------------------------------------------


@dataclass
class Canary:
    record: Any  # the stored record
    label: str
    differences: list[str]
    wall_time_s: float


def choose_canaries(records: list, per_names: int) -> dict[tuple[str, str, str], list]:
    """``per_names`` records of each (task, estimator, trainer): the cheapest (by stored wall time, then
    id) of each of its distinct settings first (parameters other than the seed), then the next cheapest."""
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for record in records:
        groups[names_of(record)].append(record)
    chosen = {}
    for names, group in sorted(groups.items()):
        ordered = sorted(group, key=lambda r: (r.wall_time_s or 0.0, r.id))
        settings, first, rest = set(), [], []
        for record in ordered:
            setting = json.dumps(record.expanded, sort_keys=True, default=str)
            (rest if setting in settings else first).append(record)
            settings.add(setting)
        chosen[names] = (first + rest)[:per_names]
    return chosen


def record_threads(record) -> int | None:
    """The torch thread count a record ran with (from ``provenance.device``, e.g. 'cpu:... (1 threads)')."""
    text = str(record.provenance.get("device", ""))
    if text.endswith(" threads)"):
        try:
            return int(text.rsplit("(", 1)[1].split()[0])
        except (IndexError, ValueError):
            return None
    return None


def rerun(record, registry) -> Any:
    """The record's spec run again here (at its own thread count), not stored."""
    import torch

    from .runner import execute, resolve
    from .threads import use_threads

    before, environment = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    use_threads(record_threads(record) or before)
    try:
        return execute(resolve(record.spec, registry))
    finally:
        torch.set_num_threads(before)
        if environment is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = environment


def stale_records(records: list, registry) -> list:
    """The records that only a source change makes not current (clean tree, fingerprinted, stale)."""
    from .fingerprint import record_status

    out = []
    for record in records:
        status = record_status(record, registry)
        if status.state == "stale" and not status.dirty and record.provenance.get("source"):
            out.append(record)
    return out


def attest(
    name: str,
    records: list,
    registry,
    *,
    commit: str,
    per_names: int = 2,
    path: Path = ATTESTATIONS,
    say=lambda text: print(text, file=sys.stderr),
) -> bool:
    """Re-run canaries of the stale ``records`` of result ``name``; append an attestation to ``path`` and
    return True when every one reproduces its stored values, else write nothing and return False."""
    from .fingerprint import file_hash, module_file

    stale = stale_records(records, registry)
    if not stale:
        say(f"{name}: no stale clean-tree record to attest")
        return True
    chosen = choose_canaries(stale, per_names)
    canaries = []
    for names, group in chosen.items():
        for stored in group:
            fresh = rerun(stored, registry)
            diff = differences(measured(stored), measured(fresh))
            canaries.append(Canary(stored, stored.task_label, diff, fresh.wall_time_s))
            verdict = "identical" if not diff else f"DIFFERS ({len(diff)}: {diff[0]})"
            say(
                f"{name}: canary {'/'.join(n for n in names if n)} {stored.task_label} seed {stored.spec.seed}: "
                f"{verdict} ({fresh.wall_time_s:.1f} s)"
            )
    if any(c.differences for c in canaries):
        return False
    changes = set()
    for record in stale:
        if names_of(record) not in chosen:
            continue
        for module, old in record.provenance["source"].items():
            file = module_file(module)
            new = file_hash(file) if file is not None else GONE
            if new != old:
                changes.add((module, old, new))
    entry = {
        "result": name,
        "commit": commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "covers": sorted(list(n) for n in chosen),
        "changes": sorted(list(c) for c in changes),
        "records": len(stale),
        "canaries": [
            {
                "id": c.record.id,
                "task": c.label,
                "seed": c.record.spec.seed,
                "names": list(names_of(c.record)),
                "wall_time_s": c.wall_time_s,
            }
            for c in canaries
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
    say(f"{name}: {len(canaries)} canaries identical; {len(stale)} records attested at commit {commit[:7]}")
    return True
