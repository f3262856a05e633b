"""Is a training method on par with, better or worse than cross-entropy?  Worded from the records only.

For each task x training fraction, every trainer setting is compared with the ``ce`` runs of the same
task, fraction, data and budget name: the difference of mean test accuracies over seeds, its Welch standard error
sqrt(s_a^2 / n_a + s_c^2 / n_c) and a 95 % Welch t interval.  The verdict is ``better`` or ``worse``
only when the interval excludes 0, else ``on par``; with fewer than two seeds on either side there is
no interval and the verdict is ``too few seeds``.  Three seeds give wide intervals (t ~ 2.8-4.3): the
wording is as strong as the data, no stronger.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats
from tabulate import tabulate

from .currency import with_note
from .results import RunRecord
from .tables import _setting_label, _training_groups, budget_label, training_runs

REFERENCE = "ce"


@dataclass
class Comparison:
    task: str
    fraction: float
    setting: str
    budget: str
    accuracies: list[float]  # test accuracy %, one per seed
    reference: list[float]  # ce's, same task and fraction

    @property
    def difference(self) -> float:
        return statistics.fmean(self.accuracies) - statistics.fmean(self.reference)

    def interval(self) -> tuple[float, float] | None:
        """The 95 % Welch t interval of the difference (percentage points), or None below 2 seeds a side."""
        a, c = self.accuracies, self.reference
        if len(a) < 2 or len(c) < 2:
            return None
        va, vc = statistics.variance(a) / len(a), statistics.variance(c) / len(c)
        se = math.sqrt(va + vc)
        if se == 0:
            return self.difference, self.difference
        df = (va + vc) ** 2 / (va**2 / (len(a) - 1) + vc**2 / (len(c) - 1))  # Welch-Satterthwaite
        half = stats.t.ppf(0.975, df) * se
        return self.difference - half, self.difference + half

    def verdict(self) -> str:
        ci = self.interval()
        if ci is None:
            return "too few seeds"
        return "better" if ci[0] > 0 else "worse" if ci[1] < 0 else "on par (the interval includes 0)"


def comparisons(records: list[RunRecord]) -> list[Comparison]:
    """Every non-reference trainer setting next to ``ce`` on the same task and fraction (ok runs only)."""
    groups = _training_groups(records)
    out = []
    for key, runs in groups.items():
        ok = [r for r in runs if r.status == "ok"]
        if not ok or ok[0].spec.trainer.name == REFERENCE:
            continue
        ref = [
            r
            for k, rs in groups.items()
            if k[:3] == key[:3] and k[4] == key[4]  # task, fraction, data, budget
            for r in rs
            if r.status == "ok" and r.spec.trainer.name == REFERENCE
        ]
        if not ref:
            continue
        out.append(
            Comparison(
                key[0],
                key[1],
                _setting_label(ok[0].spec.trainer.name, ok[0].spec.trainer.params),
                "; ".join(sorted({budget_label(r) for r in ok})),
                [100 * r.training.test_acc for r in ok],
                [100 * r.training.test_acc for r in ref],
            )
        )
    return out


def _mean_pm_sd(values: list[float]) -> str:
    """'mean ± sd', or the one value where one run has no spread to show."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def _mean_sd(values: list[float]) -> str:
    return f"{_mean_pm_sd(values)} % ({len(values)} seed{'s' * (len(values) > 1)})"


def verdict_text(records: list[RunRecord]) -> str:
    """One paragraph per task x fraction: each setting against CE, mean ± sd over seeds, the difference
    with its 95 % interval, and the verdict."""
    rows = comparisons(records)
    if not rows:
        return "no training runs with a ce reference on the same task and fraction in the store"
    paragraphs = []
    for task, fraction in dict.fromkeys((c.task, c.fraction) for c in rows):
        mine = [c for c in rows if (c.task, c.fraction) == (task, fraction)]
        lines = [f"**{task}, {100 * fraction:g} % of the training set**: ce {_mean_sd(mine[0].reference)}."]
        for c in mine:
            ci = c.interval()
            where = f"95 % interval [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "no interval"
            lines.append(
                f"{c.setting} ({c.budget}): {_mean_sd(c.accuracies)}, {c.difference:+.2f} points "
                f"against ce ({where}): **{c.verdict()}**."
            )
        paragraphs.append(" ".join(lines))
    return with_note("\n\n".join(paragraphs), training_runs(_training_groups(records)))


def verdict_table(records: list[RunRecord], fmt: str = "github") -> str:
    """The verdict as one row per trainer setting (a sweep reads down a column): its test accuracy and
    ce's (mean ± sd over seeds, %), the difference in points, its 95 % Welch interval and the verdict."""
    rows = comparisons(records)
    if not rows:
        return "no training runs with a ce reference on the same task and fraction in the store"
    headers = ["task", "train", "trainer", "budget (as run)", "seeds", "test acc %", "ce %"]
    headers += ["vs ce (points)", "95 % interval", "verdict"]
    table = []
    for c in rows:
        ci = c.interval()
        table.append(
            [c.task, f"{100 * c.fraction:g}%", c.setting, c.budget, len(c.accuracies)]
            + [_mean_pm_sd(c.accuracies), _mean_pm_sd(c.reference), f"{c.difference:+.2f}"]
            + [f"[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "-", c.verdict()]
        )
    text = tabulate(table, headers=headers, tablefmt=fmt, disable_numparse=True)
    return with_note(text, training_runs(_training_groups(records)))
