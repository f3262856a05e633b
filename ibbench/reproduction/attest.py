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
record's own thread count and processor (CPU reductions depend on both: a record made on another
processor is no canary here, and an attestation carries only records of its canaries' processor),
and a regeneration (``ibbench reproduce NAME``) whenever a canary differs.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .attestations import (  # re-exported: the reading side of the file this module writes
    ATTESTATIONS,
    GONE,
    names_of,
    processor_of,
)

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

    from ..runner import execute, resolve
    from ..threads import use_threads

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


def this_processor() -> str:
    """This machine's CPU as a record names it (``ibbench.reproduction.attestations.processor_of``)."""
    import torch

    from ..provenance import processor

    return processor(torch.device("cpu"))


def stale_records(records: list, registry) -> list:
    """The records that only a source change makes not current (clean tree, fingerprinted, stale)."""
    from ..fingerprint import record_status

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
    from ..fingerprint import file_hash, module_file, record_status

    stale = [r for r in stale_records(records, registry) if r.status == "ok"]  # failed ones are re-run
    if not stale:
        say(f"{name}: no stale clean-tree record to attest")
        return True
    # a canary is compared on the processor its record was made on: elsewhere its last bits differ
    # whatever the code (measured on the readme example's cells: docs/guide/commands.md)
    here = this_processor()
    elsewhere = Counter(processor_of(r) for r in stale if processor_of(r) != here)
    stale = [r for r in stale if processor_of(r) == here]
    if elsewhere:
        made = ", ".join(f"{n} on {p or 'an unnamed processor'}" for p, n in elsewhere.most_common())
        say(
            f"{name}: {sum(elsewhere.values())} stale records were made on another processor ({made}), "
            f"not this {here}: attest them on that processor, or regenerate them with ibbench reproduce {name}"
        )
        if not stale:
            return False
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
        for module in record_status(record, registry).changed:  # GONE -> hash: a module it never ran
            file = module_file(module)
            new = file_hash(file) if file is not None else GONE
            changes.add((module, record.provenance["source"].get(module, GONE), new))
    entry = {
        "result": name,
        "commit": commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "covers": sorted(list(n) for n in chosen),
        "processor": here,
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
