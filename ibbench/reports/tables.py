"""Tables built from stored run records only (tabulate).

Bias table: rows are tasks, columns estimators; a cell is the mean +- std of
the estimate over seeds (nats) and log2(mean estimate / truth): 0 is
unbiased, -1 means half the true MI, +1 twice it.  Failed runs are counted in
the cell, never silently dropped (bmi's convergence fraction).

Accuracy table: one row per task x training fraction x trainer setting, the
test accuracy (selected on validation) mean +- std over seeds, next to the
paper's number where it has one.

Every table kind ``ibbench table`` renders ends with one line saying whether the records it was built
from are current at HEAD, or how many are stale or made from a dirty tree (``ibbench.reports.currency``).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from tabulate import tabulate

from ..store.results import RunRecord, unique_cells
from .currency import with_note


@dataclass
class Cell:
    estimates: list[float]
    truths: list[float]
    failed: int
    converged: list[bool] = field(default_factory=list)  # runs whose critic reached a held-out plateau
    steps: list[int] = field(default_factory=list)  # critic updates used, where the estimator reports them
    seconds: list[float] = field(default_factory=list)  # wall time per run
    rates: list[float] = field(default_factory=list)  # critic updates per second of the fit, where recorded

    @property
    def runs(self) -> int:
        return len(self.estimates) + self.failed

    def mean(self) -> float:
        return statistics.fmean(self.estimates)

    def std(self) -> float:
        return statistics.stdev(self.estimates) if len(self.estimates) > 1 else 0.0

    def truth(self) -> float | None:
        return statistics.fmean(self.truths) if self.truths else None

    def log2_ratio(self) -> float | None:
        truth = self.truth()
        if not self.estimates or truth is None or truth <= 0 or self.mean() <= 0:
            return None
        return math.log2(self.mean() / truth)


def _expanded_params(record: RunRecord, part: str) -> dict:
    """The validated parameters a part ran with (the spec's for records that lack them)."""
    if part in record.expanded:
        return record.expanded[part]["params"]
    return getattr(record.spec, part).params


def setting_labels(records: list[RunRecord], part: str, base) -> dict[str, str]:
    """Record id -> a label per distinct *ran* setting of ``part``: ``base(record)`` where that names
    one setting, else the name with the expanded parameters that tell the settings apart.  Two runs
    whose spec reads the same but whose parameters differ (a default changed, a budget expanded
    differently) are never one cell."""

    def canon(r):
        return json.dumps(_expanded_params(r, part), sort_keys=True)

    by_base: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in records:
        by_base[base(r)][canon(r)] = _expanded_params(r, part)
    labels = {}
    for r in records:
        settings = by_base[base(r)]
        if len(settings) == 1:
            labels[r.id] = base(r)
            continue
        differing = sorted(
            {
                k
                for ps in settings.values()
                for k in ps
                if len({json.dumps(p.get(k), sort_keys=True) for p in settings.values()}) > 1
            }
        )
        params = _expanded_params(r, part)
        labels[r.id] = f"{base(r)} {{" + ",".join(f"{k}={params.get(k)}" for k in differing) + "}"
    return labels


def estimator_runs(records: list[RunRecord]) -> list[RunRecord]:
    """The estimator runs (no trainer) a bias table is built from, a cell stored twice counted once."""
    return [r for r in unique_cells(records) if r.spec.estimator is not None and r.spec.trainer is None]


def aggregate(records: list[RunRecord]) -> dict[tuple[str, str], Cell]:
    """(row label, estimator) -> Cell, over seeds.  Rows carry the budget when several are mixed; a
    row or column is one setting of the validated, expanded parameters (``setting_labels``)."""
    with_estimator = estimator_runs(records)
    budgets = {r.spec.budget for r in with_estimator}
    settings: dict[str, set[str]] = defaultdict(set)
    for r in with_estimator:
        settings[r.spec.estimator.name].add(_setting_label(r.spec.estimator.name, r.spec.estimator.params))

    def column_base(r):  # with its parameters when the store holds several settings of it
        name = r.spec.estimator.name
        return name if len(settings[name]) == 1 else _setting_label(name, r.spec.estimator.params)

    def row_base(r):
        return r.task_label if len(budgets) <= 1 else f"{r.task_label} @{r.spec.budget}"

    rows, columns = (
        setting_labels(with_estimator, "task", row_base),
        setting_labels(with_estimator, "estimator", column_base),
    )
    cells: dict[tuple[str, str], Cell] = defaultdict(lambda: Cell([], [], 0))
    for r in with_estimator:
        cell = cells[(rows[r.id], columns[r.id])]
        if r.status == "ok" and r.estimate is not None:
            cell.estimates.append(r.estimate)
        else:
            cell.failed += 1
        protocol = r.extras.get("estimator") or {}
        if "converged" in protocol:  # a critic estimator (records before the protocol have no flag)
            cell.converged.append(bool(protocol["converged"]) and r.status == "ok")
            cell.steps.append(int(protocol.get("steps_used") or 0))
            if protocol.get("steps_per_s"):
                cell.rates.append(float(protocol["steps_per_s"]))
        cell.seconds.append(r.wall_time_s)
        if r.truth is not None:
            cell.truths.append(r.truth)
    return dict(cells)


def _format_cell(cell: Cell | None, digits: int) -> str:
    if cell is None:
        return ""
    parts = []
    if cell.estimates:  # one run has no spread to show
        spread = f" ± {cell.std():.{digits}f}" if len(cell.estimates) > 1 else ""
        parts.append(f"{cell.mean():.{digits}f}{spread}")
        ratio = cell.log2_ratio()
        parts.append(
            f"({ratio:+.2f}, n={len(cell.estimates)})"
            if ratio is not None
            else f"(n/a, n={len(cell.estimates)})"
        )
    if cell.failed:
        parts.append(f"[failed {cell.failed}/{cell.runs}]")
    if cell.converged and not all(cell.converged):
        parts.append(f"[converged {sum(cell.converged)}/{len(cell.converged)}]")
    return " ".join(parts)


def protocol_table(records: list[RunRecord], fmt: str = "github") -> str:
    """Per estimator: runs, the share whose critic reached a held-out plateau (not the step
    maximum), the critic updates used (median, max), the critic's updates per second (median, its
    held-out checks included; records before this column have none) and the median wall time per
    estimate."""
    per: dict[str, Cell] = defaultdict(lambda: Cell([], [], 0))
    for (_, est), cell in aggregate(records).items():
        merged = per[est]
        merged.estimates += cell.estimates
        merged.failed += cell.failed
        merged.converged += cell.converged
        merged.steps += cell.steps
        merged.seconds += cell.seconds
        merged.rates += cell.rates
    table = []
    for est in sorted(per):
        c = per[est]
        conv = (
            f"{sum(c.converged)}/{len(c.converged)} ({sum(c.converged) / len(c.converged):.0%})"
            if c.converged
            else "n/a"
        )
        steps = f"{statistics.median(c.steps):.0f} / {max(c.steps)}" if c.steps else "n/a"
        rate = f"{statistics.median(c.rates):.0f}" if c.rates else "n/a"
        table.append([est, c.runs, c.failed, conv, steps, rate, f"{statistics.median(c.seconds):.2f}"])
    return tabulate(
        table,
        headers=[
            "estimator",
            "runs",
            "failed",
            "converged",
            "critic steps (median / max)",
            "critic steps/s (median)",
            "median s per estimate",
        ],
        tablefmt=fmt,
        disable_numparse=True,
    )


def bias_table(records: list[RunRecord], fmt: str = "github", digits: int = 3) -> str:
    cells = aggregate(records)
    if not cells:
        return "no estimator runs in the store"
    rows = sorted({row for row, _ in cells})
    estimators = sorted({est for _, est in cells})
    table = []
    for row in rows:
        truths = [c.truth() for (r, _), c in cells.items() if r == row and c.truth() is not None]
        seeds = max(c.runs for (r, _), c in cells.items() if r == row)
        truth = f"{statistics.fmean(truths):.{digits}f}" if truths else "unknown"
        table.append([row, truth, seeds] + [_format_cell(cells.get((row, e)), digits) for e in estimators])
    headers = ["task", "true MI", "runs"] + estimators
    main = tabulate(table, headers=headers, tablefmt=fmt, disable_numparse=True)
    text = (
        f"{main}\n\nHow the estimates were made (critic estimators: held-out plateau or step maximum):\n\n"
        f"{protocol_table(records, fmt)}"
    )
    if sum(1 for row in rows if any(cells[k].truth() is not None for k in cells if k[0] == row)) > 1:
        text += f"\n\nAcross tasks (each task's mean estimate against its truth):\n\n{across_tasks_table(cells, fmt)}"
    return with_note(text, estimator_runs(records))


def across_tasks_table(cells: dict[tuple[str, str], Cell], fmt: str = "github") -> str:
    """Per estimator, over the tasks with a truth: how many have an estimate, the mean |mean estimate -
    truth| in nats, the median |log2(mean estimate / truth)| (tasks whose mean is not above 0 have
    none), how many lie within a factor 2^0.1 (7 %) of the truth, and the failed runs."""
    table = []
    for est in sorted({e for _, e in cells}):
        mine = [c for (_, e), c in cells.items() if e == est and c.truth() is not None]
        scored = [c for c in mine if c.estimates]
        ratios = [abs(r) for r in (c.log2_ratio() for c in scored) if r is not None]
        bias = statistics.fmean(abs(c.mean() - c.truth()) for c in scored) if scored else None
        table.append(
            [
                est,
                f"{len(scored)}/{len(mine)}",
                "-" if bias is None else f"{bias:.3f}",
                f"{statistics.median(ratios):.3f}" if ratios else "-",
                sum(r <= 0.1 for r in ratios),
                sum(c.failed for c in mine),
            ]
        )
    return tabulate(
        table,
        headers=[
            "estimator",
            "tasks estimated",
            "mean abs bias (nats)",
            "median abs log2(est / truth)",
            "tasks within 2^±0.1",
            "failed runs",
        ],
        tablefmt=fmt,
        disable_numparse=True,
    )


def _setting_label(name: str, params: dict) -> str:
    if not params:
        return name
    return f"{name}[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]"


def _data_label(record: RunRecord) -> str:
    task = record.extras.get("task", {})
    if task.get("lossy_data"):
        return task.get("source", "lossy copy")
    return task.get("dataset", "")


def compute_note(records: list[RunRecord]) -> str:
    """What the runs cost: 'Compute: 32 runs, 4.16 hours of wall time (ce 0.62 h, ib-e2e 3.54 h)', the
    sum of the records' wall times (a run's own clock, resumed parts included)."""
    hours: dict[str, float] = defaultdict(float)
    for r in records:
        hours[r.spec.trainer.name if r.spec.trainer else r.spec.estimator.name] += r.wall_time_s / 3600
    split = ", ".join(f"{name} {h:.2f} h" for name, h in sorted(hours.items()))
    return f"Compute: {len(records)} runs, {sum(hours.values()):.2f} hours of wall time ({split})."


class TrainingGroup(NamedTuple):
    """What a training table's row stands for: the runs over seeds of one setting."""

    task: str  # the task's label, its train fraction left out
    fraction: float  # of the training set
    data: str  # the data's source (``_data_label``)
    trainer: str  # the trainer's label with its parameters
    budget: str
    estimator: str  # the information plane's estimator, "" where none


def _training_groups(records: list[RunRecord]) -> dict[TrainingGroup, list[RunRecord]]:
    """Each ``TrainingGroup`` -> its runs over seeds, ordered by task, fraction, budget, trainer, estimator."""
    records = unique_cells(records)
    groups: dict[TrainingGroup, list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.spec.trainer is None or "trainer" not in r.expanded:
            continue
        task_params = {k: v for k, v in r.spec.task.params.items() if k != "train_fraction"}
        fraction = r.expanded["task"]["params"].get("train_fraction", 1.0)
        key = TrainingGroup(
            _setting_label(r.spec.task.name, task_params),
            fraction,
            _data_label(r),
            _setting_label(r.spec.trainer.name, r.spec.trainer.params),
            r.spec.budget,
            r.spec.estimator.name if r.spec.estimator else "",
        )
        groups[key].append(r)
    return dict(
        sorted(
            groups.items(),
            key=lambda kv: (kv[0].task, kv[0].fraction, kv[0].budget, kv[0].trainer, kv[0].estimator),
        )
    )


def training_runs(groups: dict[TrainingGroup, list[RunRecord]]) -> list[RunRecord]:
    """Every record of ``_training_groups``' groups: what a training table is built from."""
    return [r for runs in groups.values() for r in runs]


def _mean_std(values: list[float], digits: int = 2) -> str:
    if not values:
        return ""
    if len(values) == 1:  # one run: no spread to show
        return f"{values[0]:.{digits}f} (n=1)"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def budget_label(record: RunRecord) -> str:
    """What a training run actually ran: the budget's name and the numbers that set its cost.

    ``quick: 300 it/layer, k=10, critics 2x256`` for a run that trained layer by layer (its result has
    ``layers``); ``quick: 2000 steps`` for one that trained end to end; ``quick: fitted`` for one that
    only fits a readout (random-features).
    """
    p = record.expanded["trainer"]["params"]
    if "steps" not in p:
        return f"{record.spec.budget}: fitted"
    per_layer = bool(record.training and record.training.layers)  # a layer-by-layer trainer's summary
    parts = [f"{p['steps']} it/layer" if per_layer else f"{p['steps']} steps"]
    if "critic_steps" in p and "critic_hidden" in p:
        parts.append(f"k={p['critic_steps']}, critics {p.get('critic_depth', 2)}x{p['critic_hidden']}")
    return f"{record.spec.budget}: " + ", ".join(parts)


def _readout_label(ok: list[RunRecord]) -> str:
    """``fitted, converged 3/3`` where the runs fitted a readout (trainers/readout.py); older records
    say how many Adam steps their readout took; ``-`` where there is no readout (CE)."""
    fits = [r.training.readout for r in ok if r.training.readout is not None]
    stepped = sorted(
        {r.training.get("readout_steps") for r in ok if r.training.get("readout_steps") is not None}
    )
    if not fits:  # records from before the fitted readout ran Adam for a fixed number of steps
        return f"stepped, {'/'.join(map(str, stepped))} Adam steps" if stepped else "-"
    return f"fitted, converged {sum(bool(f.get('converged')) for f in fits)}/{len(fits)}"


def accuracy_table(records: list[RunRecord], fmt: str = "github") -> str:
    """Test accuracy (%) per task x fraction x trainer setting, with the paper's figure alongside.

    Each row states the budget it actually ran (``budget_label``) and, for trainers that fit a
    readout, how many of its fits converged; ``final`` is the last evaluation where training had a
    trajectory to select from."""
    from ..paper import paper_accuracy

    groups = _training_groups(records)
    if not groups:
        return "no training runs in the store"
    table = []
    for key, runs in groups.items():
        ok = [r for r in runs if r.status == "ok"]
        accs = [100 * r.training.test_acc for r in ok]
        finals = [100 * r.training.test_acc_final for r in ok if r.training.test_acc_final is not None]
        first = runs[0]
        paper = paper_accuracy(
            first.spec.task.name, key.fraction, first.spec.trainer.name, first.expanded["trainer"]["params"]
        )
        failed = len(runs) - len(ok)
        budgets = sorted({budget_label(r) for r in runs})
        table.append(
            [
                key.task,
                f"{100 * key.fraction:g}%",
                key.data,
                key.trainer,
                key.estimator or "-",
                "; ".join(budgets),
                len(ok),
                _mean_std(accs),
                f"{statistics.fmean(finals):.2f}" if finals else "",
                _readout_label(ok),
                f"{paper.accuracy:.2f} ({paper.table})" if paper else "-",
                f"{failed}/{len(runs)}" if failed else "",
            ]
        )
    headers = [
        "task",
        "train",
        "data",
        "trainer",
        "info plane",
        "budget (as run)",
        "seeds",
        "test acc % (val-selected)",
        "final",
        "readout",
        "paper",
        "failed",
    ]
    return with_note(
        tabulate(table, headers=headers, tablefmt=fmt, disable_numparse=True), training_runs(groups)
    )


def probe_table(records: list[RunRecord], fmt: str = "github") -> str:
    """Linear-probe test accuracy (%) per layer L_i of every trained net (``linear_probes``)."""
    groups = {
        k: [r for r in rs if r.status == "ok" and r.training.linear_probes]
        for k, rs in _training_groups(records).items()
    }
    groups = {k: rs for k, rs in groups.items() if rs}
    if not groups:
        return "no training runs with linear probes in the store"
    depth = max(len(r.training.linear_probes) for rs in groups.values() for r in rs)
    table = []
    for key, runs in groups.items():
        cells = []
        for i in range(depth):
            accs = [
                100 * r.training.linear_probes[i].test_acc
                for r in runs
                if i < len(r.training.linear_probes) and r.training.linear_probes[i].test_acc is not None
            ]
            cells.append(_mean_std(accs) or "not probed")
        table.append([key.task, f"{100 * key.fraction:g}%", key.trainer, key.budget, len(runs), *cells])
    headers = ["task", "train", "trainer", "budget", "seeds", *[f"L{i + 1}" for i in range(depth)]]
    return with_note(
        tabulate(table, headers=headers, tablefmt=fmt, disable_numparse=True), training_runs(groups)
    )


def _mean_or_blank(values: list[float], fmt: str) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return format(statistics.fmean(values), fmt) if values else ""


def layer_table(records: list[RunRecord], fmt: str = "github") -> str:
    """Layer-wise IB runs, per layer (means over seeds): what the critics read at the layer's start
    (after pre-training) and end, the Monte-Carlo truth of I(X; L_i + eps) beside AA-MINE's reading,
    AA-MINE's fraction of it, and the gradient-norm ratio of the two IB terms on the layer's weights
    (||beta grad I(X; L+eps)|| / ||grad I(Y; L)||, median over the logged steps): near 0, beta did nothing."""
    rows, used = [], []
    for key, runs in _training_groups(records).items():
        ok = [
            r for r in runs if r.status == "ok" and r.training.layers and "at_start" in r.training.layers[0]
        ]
        used += ok
        depth = max((len(r.training.layers) for r in ok), default=0)
        for i in range(depth):
            per = [r.training.layers[i] for r in ok if i < len(r.training.layers)]
            start = [layer["at_start"] for layer in per]

            def col(items, name, fmt=".3f"):
                return _mean_or_blank([item.get(name) for item in items], fmt)

            rows.append(
                [
                    key.task,
                    f"{100 * key.fraction:g}%",
                    key.trainer,
                    key.budget,
                    len(per),
                    i + 1,
                    f"{col(start, 'iyt')} -> {col(per, 'iyt')}",
                    f"{col(start, 'ixt')} -> {col(per, 'ixt')}".strip(" ->"),
                    f"{col(start, 'ixt_truth')} -> {col(per, 'ixt_truth')}",
                    f"{col(start, 'ixt_fraction_of_truth', '.0%')} -> {col(per, 'ixt_fraction_of_truth', '.0%')}".strip(
                        " ->"
                    ),
                    col(per, "grad_ratio_median", ".2e"),
                ]
            )
    if not rows:
        return "no layer-wise IB runs with per-layer critic records in the store"
    headers = [
        "task",
        "train",
        "trainer",
        "budget",
        "seeds",
        "layer",
        "I(Y;L) critic start -> end",
        "I(X;L+eps) critic start -> end",
        "I(X;L+eps) truth start -> end",
        "AA-MINE / truth",
        "grad ratio (median)",
    ]
    return with_note(tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True), used)


def beta_table(records: list[RunRecord], fmt: str = "github", with_test: bool = True) -> str:
    """Layer-wise IB against beta (``ibbench.reports.figures.beta_curve``): per setting and beta, validation
    (and, outside a tuning file, test) accuracy, the truth of I(X; L_i + eps) per layer at the layer's
    end and the median gradient ratio of the two IB terms."""
    from .figures.beta_curve import beta_curves, beta_rows

    curves = beta_curves(records, with_test)
    if not curves:
        return "no ok layer-wise runs (with a summary per layer) in the store"
    headers, rows = beta_rows(curves)
    used = [r for r in unique_cells(records) if r.training is not None and r.training.layers]
    return with_note(tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True), used)


def separation_table(records: list[RunRecord], fmt: str = "github") -> str:
    """Paper Fig. 5's cluster separation (mean distance between class means / mean class spread) per layer."""
    groups = _training_groups(records)
    depth = max(
        (len(r.training.separation) for rs in groups.values() for r in rs if r.status == "ok"), default=0
    )
    if not depth:
        return "no training runs with a cluster separation in the store"
    table = []
    for key, runs in groups.items():
        ok = [r for r in runs if r.status == "ok" and r.training.separation]
        layers = [
            _mean_std(
                [
                    r.training.separation[i]
                    for r in ok
                    if i < len(r.training.separation) and r.training.separation[i] is not None
                ]
            )
            for i in range(depth)
        ]
        table.append([key.task, f"{100 * key.fraction:g}%", key.trainer, key.budget, len(ok), *layers])
    headers = ["task", "train", "trainer", "budget", "seeds", *[f"L{i + 1}" for i in range(depth)]]
    return with_note(
        tabulate(table, headers=headers, tablefmt=fmt, disable_numparse=True), training_runs(groups)
    )


def failure_table(records: list[RunRecord], fmt: str = "github", width: int = 90) -> str:
    """Every failed run: what ran, why it failed (one line) and where (the innermost frame), plus a
    per-(task, method) count of failures over runs, bmi's convergence fraction turned around."""
    records = unique_cells(records)
    failed = [r for r in records if r.status == "failed"]
    if not failed:
        return with_note(f"no failed runs among {len(records)}", records)

    def method(r: RunRecord) -> str:
        parts = [s.name for s in (r.spec.estimator, r.spec.trainer) if s is not None]
        return " + ".join(parts)

    totals: dict[tuple[str, str], list[int]] = {}
    for r in records:
        counts = totals.setdefault((r.task_label, method(r)), [0, 0])
        counts[0] += r.status == "failed"
        counts[1] += 1
    rows = []
    for r in failed:
        error = r.error or ""
        where = (r.extras.get("traceback") or [""])[-1]
        rows.append(
            [
                r.id[:12],
                r.task_label,
                method(r),
                r.spec.seed,
                r.spec.budget,
                error if len(error) <= width else error[: width - 3] + "...",
                where.rsplit("/", 1)[-1],
            ]
        )
    runs = tabulate(rows, headers=["run", "task", "method", "seed", "budget", "error", "where"], tablefmt=fmt)
    counts = tabulate(
        [[task, m, f"{f}/{n}"] for (task, m), (f, n) in sorted(totals.items()) if f],
        headers=["task", "method", "failed/runs"],
        tablefmt=fmt,
    )
    return with_note(f"{counts}\n\n{runs}", records)
