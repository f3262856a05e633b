"""Is a training method on par with, better or worse than cross-entropy?  Worded from the records only.

For each task x training fraction, every trainer setting is compared with the reference trainer's
runs (``ce`` in the paper's tables: the command line's ``--reference``) of the same
task, fraction, data and budget name.  A seed fixes the data subset, the initialisation and the batch
order for both trainers, so the runs are **paired by seed** (``record.spec.seed``; where a seed has
several runs on one side, e.g. two ``ce`` settings, their mean stands for it).  Over the n seeds both
sides ran, with d_i = acc_i(setting) - acc_i(ce) in percentage points:

* the mean paired difference d, its standard deviation s_d and the 95 % paired t interval
  d ± t_{0.975, n-1} s_d / sqrt(n);
* two tests that assume less: the Wilcoxon signed-rank p value, exact at every n and conditional on
  the observed ranks where |d_i| tie (``signed_rank_p``; zeros dropped) and the sign-test p value
  (``scipy.stats.binomtest`` on the positive against the negative non-zero differences).  Both read
  the differences rounded to 1e-9 points: accuracies are counts over a test set, so their differences
  tie often, and float noise in 100 acc_a - 100 acc_c must neither make nor break a tie (it once
  moved a p value by a factor of 46 between two routes to the same runs).  Neither can fall below
  p = 0.25 at three seeds, so there the verdict rests on the t interval and its normality;
* the minimum detectable difference (MDD) at these seeds: the true difference a two-sided paired t test
  at alpha 0.05 finds with power 0.8, (t_{0.975, n-1} + t_{0.80, n-1}) s_d / sqrt(n)
  (``minimum_detectable_difference``).  ``seeds_needed`` turns a pilot's s_d into the seed count that
  brings the MDD under a target (``ibbench table verdict|gaps --mdd-target``).

The verdict is ``better`` or ``worse`` only when the paired interval excludes 0, else ``on par``
(which means "no difference this large was seen", not "equal": read it next to the MDD); with fewer than
two paired seeds there is no interval and the verdict is ``too few seeds``.  Where the two sides share
no seed at all, the comparison falls back to the unpaired one: the difference of mean accuracies, its
Welch standard error sqrt(s_a^2 / n_a + s_c^2 / n_c) and a 95 % Welch t interval, labelled ``unpaired``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from scipy import stats
from tabulate import tabulate

from ..store.results import RunRecord
from .currency import with_note
from .tables import _setting_label, _training_groups, budget_label, compute_note, training_runs

ALPHA = 0.05  # two-sided: the 95 % interval and the MDD's test
POWER = 0.8  # the MDD's power, the usual convention (Cohen 1988)


def minimum_detectable_difference(sd_d: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true mean paired difference a two-sided paired t test finds with this power.

    MDD = (t_{1-alpha/2, n-1} + t_{power, n-1}) * sd_d / sqrt(n), sd_d the standard deviation of the
    paired differences: the standard power formula for a paired (one-sample) t test, the normal
    approximation z_{1-alpha/2} + z_{power} with t quantiles in place of z (Cohen 1988, *Statistical
    Power Analysis for the Behavioral Sciences*, ch. 2; Zar, *Biostatistical Analysis*, "minimum
    detectable difference").  It ignores the noncentrality of t and a rejection on the wrong side: at
    this MDD the exact power (noncentral t) is 0.73 at n = 2, 0.77 at 3, 0.79 at 5 and 0.80 from 10 on,
    so at two or three seeds the difference detected with power 0.8 is somewhat larger than stated.
    """
    if n < 2:
        raise ValueError(f"the MDD needs at least 2 paired seeds, got {n}")
    df = n - 1
    return (stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * sd_d / math.sqrt(n)


def seeds_needed(
    sd_d: float, target: float, alpha: float = ALPHA, power: float = POWER, max_seeds: int = 100
) -> int | None:
    """The fewest seeds n >= 2 whose MDD is at most ``target`` (same units as sd_d), or None when even
    ``max_seeds`` is not enough.  The MDD falls with n, so the first n that meets the target is the answer.

    sd_d comes from a pilot (the seeds already run); with three pilot seeds it is itself uncertain by
    a factor of about two, so the count is a planning figure, to be checked against the MDD once run.
    """
    if target <= 0:
        raise ValueError(f"the MDD target must be positive, got {target}")
    for n in range(2, max_seeds + 1):
        if minimum_detectable_difference(sd_d, n, alpha, power) <= target:
            return n
    return None


def tied_grid(d: list[float]) -> list[float]:
    """Paired differences (points) rounded to 1e-9 points: far below an accuracy's resolution (100 / test
    set size), far above float noise, so equal differences compare equal whatever route made them."""
    return [round(x, 9) + 0.0 for x in d]  # + 0.0: -0.0 is 0


def signed_rank_p(d: list[float]) -> float:
    """Two-sided exact p of Wilcoxon's signed-rank test of paired differences ``d`` (points).

    Zeros are dropped (Wilcoxon's convention); tied |d_i| share their mid-rank, and the p value is
    exact conditional on those ranks: under H0 each sign is + or - with probability 1/2 independently,
    so T+ (the sum of the positive differences' ranks) has the distribution of a random subset sum of
    the ranks, counted by dynamic programming over the doubled (integer) ranks, O(n^3) (the approach
    of Streitberg & Roehmel 1986 and of R's ``coin::wilcoxsign_test(distribution = "exact")``).
    Without ties it equals ``scipy.stats.wilcoxon(d, method="exact")``; scipy falls back to the
    normal approximation with ties above n = 13.  p = 2 P(T+ <= min(t, T - t)), at most 1.
    Raises ValueError when no difference is non-zero.
    """
    kept = [x for x in tied_grid(d) if x != 0]
    if not kept:
        raise ValueError("the signed-rank test needs a non-zero difference")
    ranks = [int(round(2 * r)) for r in stats.rankdata([abs(x) for x in kept])]  # doubled mid-ranks
    total = sum(ranks)
    t_plus = sum(r for r, x in zip(ranks, kept, strict=True) if x > 0)
    counts = [1.0] + [0.0] * total  # counts[s]: sign assignments with T+ = s (exact in floats to 2^53)
    for r in ranks:
        counts = [c + (counts[s - r] if s >= r else 0.0) for s, c in enumerate(counts)]
    t = min(t_plus, total - t_plus)
    return min(1.0, 2 * sum(counts[: t + 1]) / 2 ** len(kept))


def _by_seed(values: list[float], seeds: list[int]) -> dict[int, float]:
    """One value per seed: the mean of that seed's runs."""
    runs: dict[int, list[float]] = defaultdict(list)
    for seed, value in zip(seeds, values, strict=True):
        runs[seed].append(value)
    return {seed: statistics.fmean(v) for seed, v in runs.items()}


@dataclass
class Comparison:
    task: str
    fraction: float
    setting: str
    budget: str
    accuracies: list[float]  # test accuracy %, one per run
    reference: list[float]  # ce's, same task and fraction
    seeds: list[int]  # the seed of each of ``accuracies``
    reference_seeds: list[int]  # the seed of each of ``reference``
    reference_name: str  # the reference trainer's name (e.g. ce)
    failed: int = 0  # this setting's failed runs (left out of every number above, and said)
    reference_failed: int = 0

    @property
    def paired_seeds(self) -> list[int]:
        return sorted(set(self.seeds) & set(self.reference_seeds))

    @property
    def paired(self) -> bool:
        """Whether the two sides share a seed; if not, the comparison is the unpaired Welch one."""
        return bool(self.paired_seeds)

    @property
    def unpaired_seeds(self) -> int:
        """Seeds run on one side only, left out of a paired comparison."""
        return len(set(self.seeds) ^ set(self.reference_seeds))

    def shown(self) -> tuple[list[float], list[float]]:
        """The accuracies the comparison is about: per paired seed where paired, else every run."""
        if not self.paired:
            return self.accuracies, self.reference
        a, c = _by_seed(self.accuracies, self.seeds), _by_seed(self.reference, self.reference_seeds)
        return [a[s] for s in self.paired_seeds], [c[s] for s in self.paired_seeds]

    @property
    def differences(self) -> list[float]:
        """d_i = setting - ce per paired seed, in percentage points (empty where unpaired)."""
        if not self.paired:
            return []
        a, c = self.shown()
        return [x - y for x, y in zip(a, c, strict=True)]

    @property
    def difference(self) -> float:
        """The mean paired difference, or the difference of means where unpaired (points)."""
        if self.paired:
            return statistics.fmean(self.differences)
        return statistics.fmean(self.accuracies) - statistics.fmean(self.reference)

    @property
    def sd_difference(self) -> float | None:
        """The standard deviation of the paired differences (None below 2 paired seeds)."""
        d = self.differences
        return statistics.stdev(d) if len(d) >= 2 else None

    def interval(self) -> tuple[float, float] | None:
        """The 95 % interval of the difference (points): paired t where paired, else Welch; None below
        2 seeds (paired, or on either side)."""
        if not self.paired:
            return self.welch_interval()
        d, sd = self.differences, self.sd_difference
        if sd is None:
            return None
        half = stats.t.ppf(1 - ALPHA / 2, len(d) - 1) * sd / math.sqrt(len(d))
        return self.difference - half, self.difference + half

    def welch_interval(self) -> tuple[float, float] | None:
        """The 95 % Welch t interval of the difference of mean accuracies over all runs, ignoring seeds."""
        a, c = self.accuracies, self.reference
        if len(a) < 2 or len(c) < 2:
            return None
        difference = statistics.fmean(a) - statistics.fmean(c)
        va, vc = statistics.variance(a) / len(a), statistics.variance(c) / len(c)
        se = math.sqrt(va + vc)
        if se == 0:
            return difference, difference
        df = (va + vc) ** 2 / (va**2 / (len(a) - 1) + vc**2 / (len(c) - 1))  # Welch-Satterthwaite
        half = stats.t.ppf(1 - ALPHA / 2, df) * se
        return difference - half, difference + half

    def wilcoxon_p(self) -> float | None:
        """Two-sided Wilcoxon signed-rank p of the paired differences (``signed_rank_p``); None below 2
        paired seeds or where every difference is 0 (nothing to rank)."""
        d = self.differences
        if len(d) < 2 or not any(tied_grid(d)):
            return None
        return signed_rank_p(d)

    def sign_p(self) -> float | None:
        """Two-sided sign-test p: positive against negative differences, zeros dropped; None without any."""
        d = tied_grid(self.differences)
        up, down = sum(x > 0 for x in d), sum(x < 0 for x in d)
        if len(d) < 2 or up + down == 0:
            return None
        return float(stats.binomtest(up, up + down, 0.5).pvalue)

    def mdd(self) -> float | None:
        """The minimum detectable difference at the paired seeds run (points), or None below 2."""
        sd = self.sd_difference
        return None if sd is None else minimum_detectable_difference(sd, len(self.differences))

    def seeds_for(self, target: float) -> int | None:
        """Seeds whose MDD would be <= target, with this comparison as the pilot (see ``seeds_needed``)."""
        sd = self.sd_difference
        if sd is None:
            raise ValueError("a pilot needs at least 2 paired seeds")
        return seeds_needed(sd, target)

    def verdict(self) -> str:
        ci = self.interval()
        if ci is None:
            return "too few seeds"
        return "better" if ci[0] > 0 else "worse" if ci[1] < 0 else "on par (the interval includes 0)"


def comparisons(records: list[RunRecord], reference: str) -> list[Comparison]:
    """Every trainer setting next to the runs of trainer ``reference`` (e.g. the paper's ``ce``) on the
    same task, fraction, data and budget (ok runs only)."""
    groups = _training_groups(records)
    out = []
    for key, runs in groups.items():
        ok = [r for r in runs if r.status == "ok"]
        if not ok or ok[0].spec.trainer.name == reference:
            continue
        ref_runs = [  # the reference's runs on the same task, fraction, data and budget
            r
            for k, rs in groups.items()
            if (k.task, k.fraction, k.data, k.budget) == (key.task, key.fraction, key.data, key.budget)
            for r in rs
            if r.spec.trainer.name == reference
        ]
        ref = [r for r in ref_runs if r.status == "ok"]
        if not ref:
            continue
        out.append(
            Comparison(
                key.task,
                key.fraction,
                _setting_label(ok[0].spec.trainer.name, ok[0].spec.trainer.params),
                "; ".join(sorted({budget_label(r) for r in ok})),
                [100 * r.training.test_acc for r in ok],
                [100 * r.training.test_acc for r in ref],
                [r.spec.seed for r in ok],
                [r.spec.seed for r in ref],
                reference,
                failed=len(runs) - len(ok),
                reference_failed=sum(r.status != "ok" for r in ref_runs),
            )
        )
    return out


MddTarget = float | Mapping[float, float] | None  # points, for every fraction or per training fraction


def _target_for(target: MddTarget, fraction: float) -> float | None:
    if target is None or isinstance(target, int | float):
        return target
    return next((t for f, t in target.items() if math.isclose(f, fraction)), None)


def _mean_pm_sd(values: list[float]) -> str:
    """'mean ± sd', or the one value where one run has no spread to show."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def _mean_sd(values: list[float]) -> str:
    return f"{_mean_pm_sd(values)} % ({len(values)} seed{'s' * (len(values) > 1)})"


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def _interval(ci: tuple[float, float] | None) -> str:
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "-"


def _seeds_cell(c: Comparison) -> str:
    failed = _failed_text(c)
    if not c.paired:
        return f"unpaired ({len(c.accuracies)}, {c.reference_name} {len(c.reference)})" + (
            f" ({failed})" if failed else ""
        )
    left = [f"+{c.unpaired_seeds} unpaired"] if c.unpaired_seeds else []
    left += [failed] if failed else []
    return f"{len(c.paired_seeds)}" + (f" ({', '.join(left)})" if left else "")


def _failed_text(c: Comparison) -> str:
    """'1 failed run of ib-e2e left out' (either side's), '' where none failed."""
    sides = ((c.failed, c.setting.split("[")[0]), (c.reference_failed, c.reference_name))
    parts = [f"{n} failed run{'s' if n > 1 else ''} of {who}" for n, who in sides if n]
    return f"{' and '.join(parts)} left out" if parts else ""


def _seeds_for_cell(c: Comparison, target: float | None, say_target: bool) -> str:
    if target is None or c.sd_difference is None:
        return "-"
    n = c.seeds_for(target)
    cell = "> 100" if n is None else str(n)
    return f"{cell} (<= {target:g})" if say_target else cell


def _sentence(c: Comparison, target: float | None) -> str:
    """One setting against the reference in words, no stronger than its interval."""
    a, ref = c.shown()
    head = f"{c.setting} ({c.budget}): {_mean_sd(a)}"
    ci = c.interval()
    if not c.paired:
        where = f"unpaired Welch 95 % interval {_interval(ci)}" if ci else "no interval"
        return (
            f"{head}, no seed in common with {c.reference_name}, {c.difference:+.2f} points against "
            f"{c.reference_name}'s mean "
            f"({where}): **{c.verdict()}**."
        )
    on = f"against {c.reference_name}'s {_mean_pm_sd(ref)} % on the same {'seeds' if len(a) > 1 else 'seed'}"
    if c.unpaired_seeds:
        on += f" ({c.unpaired_seeds} seeds run by one side only left out)"
    if failed := _failed_text(c):
        on += f" ({failed}; `ibbench table failures` says why)"
    if ci is None:
        return f"{head} {on}, {c.difference:+.2f} points (no interval): **{c.verdict()}**."
    text = (
        f"{head} {on}: a mean paired difference of {c.difference:+.2f} points (sd "
        f"{c.sd_difference:.2f}; 95 % paired t interval {_interval(ci)}; Wilcoxon p {_p(c.wilcoxon_p())}, "
        f"sign test p {_p(c.sign_p())}); the minimum detectable difference at {len(a)} seeds "
        f"(power {POWER:g}, alpha {ALPHA:g}) is {c.mdd():.2f} points"
    )
    if target is not None:
        n = c.seeds_for(target)
        fewest = f"{n} seeds" if n is not None else "not even 100 seeds"
        text += f"; {fewest} would give an MDD of at most {target:g} points"
    return f"{text}: **{c.verdict()}**."


def verdict_text(records: list[RunRecord], reference: str, mdd_target: MddTarget = None) -> str:
    """One paragraph per task x fraction: each setting against trainer ``reference`` on the seeds both
    ran, mean ± sd, the mean paired difference with its 95 % interval, the two rank tests, the MDD and
    the verdict."""
    rows = comparisons(records, reference)
    if not rows:
        return f"no training runs with a {reference} reference on the same task and fraction in the store"
    paragraphs = []
    for task, fraction in dict.fromkeys((c.task, c.fraction) for c in rows):
        mine = [c for c in rows if (c.task, c.fraction) == (task, fraction)]
        lines = [
            f"**{task}, {100 * fraction:g} % of the training set**: {reference} {_mean_sd(mine[0].reference)}."
        ]
        lines += [_sentence(c, _target_for(mdd_target, fraction)) for c in mine]
        paragraphs.append(" ".join(lines))
    return with_note("\n\n".join(paragraphs), training_runs(_training_groups(records)))


def verdict_table(
    records: list[RunRecord], reference: str, fmt: str = "github", mdd_target: MddTarget = None
) -> str:
    """The verdict as one row per trainer setting (a sweep reads down a column): the seeds paired, its
    test accuracy and the reference's on them (mean ± sd, %), the mean paired difference in points, its 95 % paired
    t interval (Welch where the sides share no seed: ``unpaired``), the Wilcoxon and sign-test p values,
    the MDD at these seeds and the verdict.  ``mdd_target`` (points; one for all, or per fraction) adds
    the seeds that would bring the MDD under it, with the observed sd of the differences as the pilot."""
    rows = comparisons(records, reference)
    if not rows:
        return f"no training runs with a {reference} reference on the same task and fraction in the store"
    headers = ["task", "train", "trainer", "budget (as run)", "seeds paired", "test acc %", f"{reference} %"]
    headers += [f"vs {reference} (points)", "95 % interval", "Wilcoxon p", "sign p", "MDD (points)"]
    one_target = isinstance(mdd_target, int | float)
    if mdd_target is not None:
        headers.append(f"seeds for MDD <= {mdd_target:g}" if one_target else "seeds for MDD <= target")
    headers.append("verdict")
    table = []
    for c in rows:
        a, ref = c.shown()
        mdd = c.mdd()
        row = [c.task, f"{100 * c.fraction:g}%", c.setting, c.budget, _seeds_cell(c)]
        row += [_mean_pm_sd(a), _mean_pm_sd(ref), f"{c.difference:+.2f}", _interval(c.interval())]
        row += [_p(c.wilcoxon_p()), _p(c.sign_p()), "-" if mdd is None else f"{mdd:.2f}"]
        if mdd_target is not None:
            row.append(_seeds_for_cell(c, _target_for(mdd_target, c.fraction), not one_target))
        table.append(row + [c.verdict()])
    text = tabulate(table, headers=headers, tablefmt=fmt, disable_numparse=True)
    runs = training_runs(_training_groups(records))
    return with_note(f"{text}\n\n{compute_note(runs)}", runs)
