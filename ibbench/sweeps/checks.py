"""One-factor budget checks of a tuned suite: how far its reduced budget is from the paper's.

A suite that cannot afford the paper's budget (5000 iterations per layer, 20000 steps) runs a smaller
one and says so; a space's ``check`` (``ibbench.running.specs.TuneCheck``) asks what that costs.  Its
selected setting is trained again with the check's ``params`` changed, every other value held, on the
check's seeds, into the store's checks file (``runs.jsonl`` -> ``runs.checks.jsonl``); each seed pairs
with the selected setting's own run on it (same subset, initialisation and batch order), so the
paired difference is the factor's effect alone.  The checks file is read by ``ibbench table checks``
only, so no accuracy table mixes the two budgets.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from scipy import stats

from ..running.specs import RunSpec, SuiteSpec, TaskSpec, TrainerSpec, TuneSpace
from ..store.results import RunRecord

_UNSET = object()  # a parameter a record's trainer does not set


def checks_path(store: Path) -> Path:
    """Where a store's one-factor checks go: ``runs.jsonl`` -> ``runs.checks.jsonl``."""
    return store.with_name(store.stem + ".checks.jsonl")


def checked(space: TuneSpace, config: dict) -> TrainerSpec:
    """A selected configuration of ``space`` with its check's parameters changed."""
    return TrainerSpec(name=space.trainer, params={**space.params, **config, **space.check.params})


def check_cells(suite: SuiteSpec, selections: list) -> list[RunSpec]:
    """The checked settings on their seeds, for the spaces with a check that have selected a setting
    (``selections``: ``ibbench.sweeps.tuning.select``'s)."""
    from .tuning import seed_cells

    return [
        cell
        for s in selections
        if s.space.check is not None and s.chosen is not None
        for cell in seed_cells(suite, s.task, checked(s.space, s.chosen.config), s.space.check.seeds)
    ]


def _same(task: TaskSpec, trainer: TrainerSpec, record: RunRecord) -> bool:
    spec = record.spec
    return spec.task == task and spec.trainer is not None and spec.trainer == trainer


def _factor(space: TuneSpace) -> str:
    """``steps 500 -> 1500``: each checked parameter, from the suite's value to the check's."""
    return ", ".join(
        f"{k} {space.params.get(k, 'default')} -> {v}" for k, v in sorted(space.check.params.items())
    )


def _mean_sd(values: list[float]) -> str:
    return f"{statistics.fmean(values):.2f}" + (
        f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    )


def _hours(runs: list[RunRecord]) -> float:
    return sum(r.wall_time_s or 0.0 for r in runs) / 3600


def checks_table(suite: SuiteSpec, records: list[RunRecord], fmt: str = "github") -> str:
    """Each check of ``suite`` found in ``records`` (a store and its checks file, read together): the
    checked setting against the selected one on the same seeds, test accuracy in %, the mean paired
    difference in points with its 95 % paired t interval (from 2 seeds), and each side's compute."""
    from tabulate import tabulate

    from ..reports.currency import with_note
    from ..reports.tables import _setting_label
    from .tuning import space_labels

    labels = space_labels(suite)
    rows, shown = [], []
    for i, space in enumerate(suite.tune.spaces if suite.tune else []):
        if space.check is None:
            continue
        for task in suite.tasks:
            checks = [
                r
                for r in records
                if r.status == "ok"
                and r.spec.task == task
                and r.spec.trainer is not None
                and r.spec.trainer.name == space.trainer
                and all(r.spec.trainer.params.get(k, _UNSET) == v for k, v in space.check.params.items())
                and r.spec.seed in space.check.seeds
            ]
            configs = {
                tuple(sorted((k, r.spec.trainer.params[k]) for k in space.grid if k in r.spec.trainer.params))
                for r in checks
            }
            for config in sorted(configs, key=str):
                setting = TrainerSpec(name=space.trainer, params={**space.params, **dict(config)})
                check = {r.spec.seed: r for r in checks if _same(task, checked(space, dict(config)), r)}
                base = {r.spec.seed: r for r in records if r.status == "ok" and _same(task, setting, r)}
                seeds = sorted(set(check) & set(base))
                if not seeds:
                    continue
                a = [100 * base[s].training.test_acc for s in seeds]
                b = [100 * check[s].training.test_acc for s in seeds]
                d = [y - x for x, y in zip(a, b, strict=True)]
                interval = "-"
                if len(d) > 1:
                    half = stats.t.ppf(0.975, len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d))
                    interval = f"[{statistics.fmean(d) - half:+.2f}, {statistics.fmean(d) + half:+.2f}]"
                shown += [base[s] for s in seeds] + [check[s] for s in seeds]
                rows.append(
                    [
                        _setting_label(task.name, task.params),
                        labels[i] + "[" + ", ".join(f"{k}={v}" for k, v in config) + "]",
                        _factor(space),
                        ", ".join(map(str, seeds)),
                        _mean_sd(a),
                        _mean_sd(b),
                        f"{statistics.fmean(d):+.2f}",
                        interval,
                        f"{_hours([base[s] for s in seeds]):.2f} / {_hours([check[s] for s in seeds]):.2f}",
                    ]
                )
    if not rows:
        return "no one-factor check with a paired run in these stores (run the suite; read STORE and STORE.checks.jsonl)"
    headers = [
        "task",
        "selected setting",
        "factor (suite -> check)",
        "seeds",
        "test acc % (suite)",
        "test acc % (check)",
        "check - suite (points)",
        "95 % interval",
        "hours (suite / check)",
    ]
    text = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
    return with_note(text, shown)
