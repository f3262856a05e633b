"""Tables built from stored run records only (tabulate).

Bias table: rows are tasks, columns estimators; a cell is the mean +- std of
the estimate over seeds (nats) and log2(mean estimate / truth): 0 is
unbiased, -1 means half the true MI, +1 twice it.  Failed runs are counted in
the cell, never silently dropped (bmi's convergence fraction).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from tabulate import tabulate

from .results import RunRecord


@dataclass
class Cell:
    estimates: list[float]
    truths: list[float]
    failed: int

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


def aggregate(records: list[RunRecord]) -> dict[tuple[str, str], Cell]:
    """(row label, estimator) -> Cell, over seeds.  Rows carry the budget when several are mixed."""
    with_estimator = [r for r in records if r.spec.estimator is not None]
    budgets = {r.spec.budget for r in with_estimator}
    cells: dict[tuple[str, str], Cell] = defaultdict(lambda: Cell([], [], 0))
    for r in with_estimator:
        row = r.task_label if len(budgets) <= 1 else f"{r.task_label} @{r.spec.budget}"
        cell = cells[(row, r.spec.estimator.name)]
        if r.status == "ok" and r.estimate is not None:
            cell.estimates.append(r.estimate)
        else:
            cell.failed += 1
        if r.truth is not None:
            cell.truths.append(r.truth)
    return dict(cells)


def _format_cell(cell: Cell | None, digits: int) -> str:
    if cell is None:
        return ""
    parts = []
    if cell.estimates:
        parts.append(f"{cell.mean():.{digits}f} ± {cell.std():.{digits}f}")
        ratio = cell.log2_ratio()
        parts.append(f"({ratio:+.2f})" if ratio is not None else "(n/a)")
    if cell.failed:
        parts.append(f"[failed {cell.failed}/{cell.runs}]")
    return " ".join(parts)


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
    return tabulate(table, headers=headers, tablefmt=fmt, disable_numparse=True)
