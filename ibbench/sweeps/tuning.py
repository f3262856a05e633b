"""The same tuning budget for every trainer, selected on validation accuracy only.

A suite with a ``[tune]`` block (``ibbench.running.specs.TuneSpec``) runs in two phases:

1. **candidates**: for every task, every space's ``configurations`` settings (its grid's points, or a
   seeded choice of that many where the grid is larger) on the tuning seeds, into the store's tuning
   file (``runs.jsonl`` -> ``runs.tuning.jsonl``);
2. **selection and evaluation**: per task and space, the setting with the highest mean validation
   accuracy over the tuning seeds (ties: the first in the grid's order) is trained on the suite's
   evaluation seeds, into the store itself, next to the suite's untuned cells.

Test accuracy is in every record, but only the evaluation seeds' is reported: the tuning file's is
never read for selection or shown by ``ibbench table tuning``, and the validators keep the two seed
sets apart.  This is the protocol of Bouthillier et al. 2021 and of Dodge et al. 2019 ("Show your
work"): equal budgets, selection on validation data, the test set read once.  Both phases resume
cell by cell like any suite.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..running.specs import RunSpec, SuiteSpec, TaskSpec, TrainerSpec, TuneSpace
from ..store.results import RunRecord


def tuning_path(store: Path) -> Path:
    """Where a store's tuning candidates go: ``runs.jsonl`` -> ``runs.tuning.jsonl``."""
    return store.with_name(store.stem + ".tuning.jsonl")


def configurations(suite: SuiteSpec, space: TuneSpace) -> list[dict[str, Any]]:
    """The settings a space tries: its grid's points in order (keys sorted), or ``configurations`` of them
    drawn without replacement by a generator seeded from the suite's and trainer's names (the same
    choice on every machine and every resume)."""
    keys = sorted(space.grid)
    points = [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*(space.grid[k] for k in keys))
    ]
    n = suite.tune.configurations
    if len(points) == n:
        return points
    entropy = int.from_bytes(hashlib.sha256(f"{suite.name}/{space.trainer}".encode()).digest()[:8], "big")
    chosen = np.random.default_rng(np.random.SeedSequence(entropy)).choice(len(points), size=n, replace=False)
    return [points[i] for i in sorted(chosen)]


def trainer_setting(space: TuneSpace, config: dict[str, Any]) -> TrainerSpec:
    return TrainerSpec(name=space.trainer, params={**space.params, **config})


def candidate_cells(suite: SuiteSpec) -> list[RunSpec]:
    """Every (task, space, configuration, tuning seed) cell."""
    return [
        RunSpec(
            task=task,
            trainer=trainer_setting(space, config),
            seed=seed,
            budget=suite.budget,
            device=suite.device,
        )
        for task in suite.tasks
        for space in suite.tune.spaces
        for config in configurations(suite, space)
        for seed in suite.tune.seeds
    ]


@dataclass
class Candidate:
    task: TaskSpec
    space: TuneSpace
    config: dict[str, Any]
    val_accs: list[float]  # one per tuning seed that ran ok
    runs: int  # records found, ok or failed

    @property
    def score(self) -> float | None:
        """Mean validation accuracy over the tuning seeds; None when a seed failed or gave none."""
        if not self.val_accs or len(self.val_accs) < self.runs:
            return None
        return statistics.fmean(self.val_accs)


@dataclass
class Selection:
    task: TaskSpec
    space: TuneSpace
    candidates: list[Candidate]
    chosen: Candidate | None  # None: some candidate has not run yet
    seeds: int = 1  # tuning seeds per candidate

    @property
    def missing(self) -> int:
        """Candidate runs (configuration x tuning seed) without a record."""
        return sum(max(self.seeds - c.runs, 0) for c in self.candidates)


def space_labels(suite: SuiteSpec) -> list[str]:
    """How tables name each space of a suite's ``[tune]``: its trainer, and where several spaces share a
    trainer, the parameters that space fixes and the others do not (e.g. ``ib-layerwise[beta=0.0]``
    beside ``ib-layerwise``, Table 2's IB on I(Y; L) beside full IB)."""
    labels = []
    for space in suite.tune.spaces:
        others = [s for s in suite.tune.spaces if s is not space and s.trainer == space.trainer]
        own = {k: v for k, v in space.params.items() if any(o.params.get(k, _ABSENT) != v for o in others)}
        labels.append(
            space.trainer + (f"[{', '.join(f'{k}={v}' for k, v in sorted(own.items()))}]" if own else "")
        )
    return labels


_ABSENT = object()


def space_of(suite: SuiteSpec, trainer: TrainerSpec) -> int | None:
    """The index of the ``[tune]`` space a candidate's trainer setting comes from (None: none of them)."""
    for i, space in enumerate(suite.tune.spaces):
        params = trainer.params
        fixed = all(params.get(k, _ABSENT) == v for k, v in space.params.items())
        searched = set(params) - set(space.params)
        if space.trainer == trainer.name and fixed and searched <= set(space.grid):
            if all(params[k] in space.grid[k] for k in searched):
                return i
    return None


def _key(task: TaskSpec, trainer: TrainerSpec) -> str:
    return json.dumps([task.model_dump(), trainer.model_dump()], sort_keys=True, default=str)


def select(suite: SuiteSpec, records: list[RunRecord]) -> list[Selection]:
    """Per task and space, the candidates with their tuning records' validation accuracies and the
    chosen one (highest mean validation accuracy, ties to the earlier; a candidate with a failed seed
    is never chosen).  ``chosen`` is None while any candidate has a seed without a record."""
    found: dict[str, list[RunRecord]] = {}
    seeds = set(suite.tune.seeds)
    for r in records:
        if r.spec.trainer is not None and r.spec.seed in seeds:
            found.setdefault(_key(r.spec.task, r.spec.trainer), []).append(r)
    out = []
    for task in suite.tasks:
        for space in suite.tune.spaces:
            candidates = []
            for config in configurations(suite, space):
                runs = found.get(_key(task, trainer_setting(space, config)), [])
                accs = [
                    r.training.val_acc
                    for r in runs
                    if r.status == "ok" and r.training is not None and r.training.val_acc is not None
                ]
                candidates.append(Candidate(task, space, config, accs, len({r.spec.seed for r in runs})))
            complete = all(c.runs == len(seeds) for c in candidates)
            scored = [c for c in candidates if c.score is not None]
            chosen = (
                max(scored, key=lambda c: c.score, default=None) if complete else None
            )  # max keeps the first
            out.append(Selection(task, space, candidates, chosen, len(seeds)))
    return out


def seed_cells(suite: SuiteSpec, task: TaskSpec, trainer: TrainerSpec, seeds: list[int]) -> list[RunSpec]:
    """One setting on each of ``seeds``, at the suite's budget and device."""
    return [
        RunSpec(task=task, trainer=trainer, seed=seed, budget=suite.budget, device=suite.device)
        for seed in seeds
    ]


def evaluation_cells(suite: SuiteSpec, selections: list[Selection]) -> list[RunSpec]:
    """The selected settings on the evaluation seeds (only selections that chose one)."""
    return [
        cell
        for s in selections
        if s.chosen is not None
        for cell in seed_cells(suite, s.task, trainer_setting(s.space, s.chosen.config), suite.seeds)
    ]


def tuning_table(records: list[RunRecord], fmt: str = "github", suite: SuiteSpec | None = None) -> str:
    """Every candidate of a tuning file (``runs.tuning.jsonl``): per task and trainer, the values its
    grid varied, the mean ± sd validation accuracy over the tuning seeds and the best (the highest, as
    ``select`` chooses; a candidate with a failed seed never is), with what one candidate ran.

    With the ``suite`` that made the file the best is marked "selected" only once every candidate of
    its task and space has run on every tuning seed (``select``), else "leading (k of n runs)" (spaces
    that share a trainer are told apart: ``space_labels``);
    without it the table cannot know whether candidates are missing and marks "best so far".  Test
    accuracy is left out on purpose: it is read for the selected setting only, on the evaluation seeds
    (``ibbench table accuracy`` of the store itself)."""
    from tabulate import tabulate

    from ..reports.currency import with_note
    from ..reports.tables import _setting_label, budget_label, compute_note

    labels = space_labels(suite) if suite is not None else []

    def trainer_label(trainer: TrainerSpec) -> str:  # its space's label (the trainer's name without a suite)
        i = space_of(suite, trainer) if suite is not None else None
        return trainer.name if i is None else labels[i]

    marks = _marks(suite, records, labels) if suite is not None else {}
    groups: dict[tuple[str, str], dict[str, list[RunRecord]]] = {}
    for r in records:
        if r.spec.trainer is None:
            continue
        task = _setting_label(r.spec.task.name, r.spec.task.params)
        setting = json.dumps(r.spec.trainer.params, sort_keys=True, default=str)
        groups.setdefault((task, trainer_label(r.spec.trainer)), {}).setdefault(setting, []).append(r)
    rows = []
    for (task, trainer), settings in groups.items():
        params = [json.loads(k) for k in settings]
        varied = sorted({k for p in params for k in p if len({json.dumps(q.get(k)) for q in params}) > 1})
        scores = {}
        for key, runs in settings.items():
            accs = _val_accs(runs)
            scores[key] = statistics.fmean(accs) if accs and len(accs) == len(runs) else None
        best = max((k for k in settings if scores[k] is not None), key=lambda k: scores[k], default=None)
        for key, runs in settings.items():
            accs = [100 * a for a in _val_accs(runs)]
            shown = (
                "-"
                if not accs
                else f"{statistics.fmean(accs):.2f}"
                + (f" ± {statistics.stdev(accs):.2f}" if len(accs) > 1 else "")
            )
            failed = sum(r.status != "ok" for r in runs)
            rows.append(
                [
                    task,
                    trainer,
                    ", ".join(f"{k}={json.loads(key).get(k)}" for k in varied) or "-",
                    len(runs),
                    shown + (f" ({failed} failed)" if failed else ""),
                    marks.get((task, trainer), "best so far") if key == best else "",
                    budget_label(runs[0]),
                ]
            )
    if not rows:
        return "no training runs in the tuning store"
    headers = ["task", "trainer", "setting (varied)", "seeds", "val acc % (mean ± sd)", "", "budget (as run)"]
    text = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
    return with_note(f"{text}\n\n{compute_note(records)}", records)


def _val_accs(runs: list[RunRecord]) -> list[float]:
    return [
        r.training.val_acc for r in runs if r.status == "ok" and r.training and r.training.val_acc is not None
    ]


def _marks(suite: SuiteSpec, records: list[RunRecord], labels: list[str]) -> dict[tuple[str, str], str]:
    """(task, space label) -> the mark of its best candidate: "selected" once every candidate has run
    on every tuning seed, else "leading (k of n runs)"."""
    from ..reports.tables import _setting_label

    out = {}
    for sel in select(suite, records):
        done, total = sum(min(c.runs, sel.seeds) for c in sel.candidates), len(sel.candidates) * sel.seeds
        complete = sel.chosen is not None or sel.missing == 0
        key = (_setting_label(sel.task.name, sel.task.params), labels[suite.tune.spaces.index(sel.space)])
        out[key] = "selected" if complete else f"leading ({done} of {total} runs)"
    return out
