"""Re-judge a store: today's reliability rules (``ibbench.verdicts.judgement``) applied to its stored records.

A verdict is a function of what the run measured, so a changed rule does not need the estimates
re-run: ``rejudge_store`` re-derives every record's ``reliability`` from the record alone and
rewrites the store atomically (only the ``reliability`` field changes; the measured numbers, the
fingerprint and the provenance stay as they were).  Each verdict then names today's rules
(``reliability.rules``), which is what ``ibbench reproduce --check`` compares.

Records made before the verdict kept the task's dimensions get them from the task itself, built
once per distinct task (a sampler's dimensions cost nothing; a finite sample is loaded).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path

from ..api.reliability import ReliabilityTraits
from ..store.results import ResultStore, RunRecord
from ..verdicts.judgement import PLAIN, judge_record, rules_version


def outdated(record: RunRecord, registry=None) -> bool:
    """Whether a record's verdict was made by rules other than today's (its estimator's traits from
    ``registry``, default the installed plugins)."""
    return bool(record.reliability) and record.reliability.get("rules") != rules_version(
        traits_of(record, registry)
    )


def traits_of(record: RunRecord, registry=None) -> ReliabilityTraits:
    """What the record's estimator declares for the verdict rules (the plain traits where it has none or
    is no longer registered: its verdict then reads as made by other rules)."""
    if record.spec.estimator is None:
        return PLAIN
    return _traits(record.spec.estimator.name, registry)


@functools.cache
def _installed():
    from ..running.plugins import load_registry

    return load_registry()


def _traits(name: str, registry) -> ReliabilityTraits:
    try:
        return (registry or _installed()).get("estimator", name).load().reliability
    except Exception:  # noqa: BLE001 (an unknown or broken plugin: its verdicts cannot be re-judged as its)
        return PLAIN


class TaskDims:
    """(x_dim, y_dim) of a record's task, building each distinct task once."""

    def __init__(self, registry) -> None:
        self.registry = registry
        self.cache: dict[str, tuple[int, int]] = {}

    def __call__(self, record: RunRecord) -> tuple[int, int]:
        import torch

        from ..api import RunContext
        from ..running.runner import resolve

        key = json.dumps(record.expanded.get("task"), sort_keys=True, default=str)
        if key not in self.cache:
            resolved = resolve(record.spec, self.registry)
            ctx = RunContext(seed=record.spec.seed, device=torch.device("cpu"), budget=record.spec.budget)
            task = resolved.task.plugin.build(resolved.task.params, ctx)
            self.cache[key] = (task.x_dim, task.y_dim)
        return self.cache[key]


def rejudge_store(store: Path, registry) -> Counter:
    """Re-judge every record of ``store`` with a verdict; returns a count of "old -> new" verdicts (and
    interval kinds) for the records whose verdict changed, with "records" and "rejudged" totals."""
    from ..store.atomic import atomic_write

    records = ResultStore(store).records()
    dims = TaskDims(registry)
    changes: Counter = Counter(records=len(records))
    out = []
    for record in records:
        if outdated(record, registry):
            old = record.reliability
            given = None if old.get("dims") else dims(record)
            new = judge_record(record, given, traits_of(record, registry)).record()
            changes["rejudged"] += 1
            if (old["verdict"], _kind(old)) != (new["verdict"], _kind(new)):
                changes[f"{old['verdict']} ({_kind(old)}) -> {new['verdict']} ({_kind(new)})"] += 1
            record = record.model_copy(update={"reliability": new})
        out.append(record)
    if changes["rejudged"]:
        with atomic_write(store) as fh:
            fh.write("".join(r.model_dump_json() + "\n" for r in out).encode("utf-8"))
    return changes


def _kind(reliability: dict) -> str:
    return (reliability.get("interval") or {}).get("kind", "no interval")
