"""``ibbench table coverage``: do the intervals cover the truth, and is an ``ok`` verdict right?

Per estimator, over every record with a truth (bmi's tasks, the staircase: ``suites/coverage.toml``):

- **± coverage**: how often the truth lies in estimate ± 1.96 se, the reported standard error read as
  a 95 % interval (it is the held-out sampling error only: bias and the critic's optimisation are
  not in it);
- **one-sided coverage**: how often truth >= estimate - 1.645 se, the lower end alone (it needs no
  verdict, so it reads any store with a truth);
- **bias-aware coverage**: how often the truth lies in estimate ± (1.96 se + |drift|), for the records
  whose half-sample check ran, whatever interval their verdict gives (the interval KSG, SMILE and
  binning had before the rules gave them a lower reading or none);
- **the record's interval** (``ibbench.verdicts.judgement.interval``): a lower bound's or a lower reading's
  one-sided [estimate - 1.645 se, ...), else the bias-aware estimate ± (1.96 se + |drift|), drift
  being the move of the estimate between N/2 and N pairs (for a bias that falls like 1/N,
  bias(N/2) - bias(N) = bias(N)), else ± 1.96 se, or none (binning); how often it holds the truth;
- **the check's cost**: the half-sample fit's seconds over the estimate's own, the median over records;
- **verdicts**: how many records were ``ok``, ``caution``, ``unreliable``, how often an ``ok``
  estimate lies within 2 se of the truth (the promise of a number printed without a warning, read as
  a point estimate) and how often the truth is at least the ``ok`` estimate - 2 se (the promise read
  as a lower bound).

An interval is called honest when its coverage is at least ``HONEST`` (near the nominal 95 %); an
estimator for which neither the record's interval nor ± 1.96 se is honest is labelled "none".
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from tabulate import tabulate

Z95 = 1.96
Z95_ONE_SIDED = 1.645
HONEST = 0.90  # coverage an interval must reach on the table's tasks to be called honest


def _covers(r, half_width: float) -> bool:
    return abs(r.estimate - r.truth) <= half_width


def _inside(truth: float, interval: dict) -> bool:
    """Whether the record's own interval (``ibbench.verdicts.judgement.interval``; a one-sided one has no upper
    end) holds the truth."""
    return interval["low"] <= truth and (interval["high"] is None or truth <= interval["high"])


def coverage_rows(records) -> list[dict]:
    """One row per estimator: counts and coverages (fractions), sorted by estimator."""
    by: dict[str, list] = defaultdict(list)
    for r in records:
        if (
            r.status == "ok"
            and r.truth is not None
            and r.estimate is not None
            and r.spec.estimator is not None
        ):
            by[r.spec.estimator.name].append(r)
    rows = []
    for name, rs in sorted(by.items()):
        with_se = [r for r in rs if r.estimate_stderr is not None]
        judged = [r for r in rs if r.reliability]
        checked = [r for r in judged if (r.reliability.get("consistency") or {}).get("drift") is not None]
        with_interval = [r for r in judged if r.reliability.get("interval")]
        kinds = sorted({r.reliability["interval"]["kind"] for r in with_interval})
        ok = [r for r in judged if r.reliability["verdict"] == "ok"]
        ok_se = [r for r in ok if r.estimate_stderr is not None]

        rows.append(
            {
                "estimator": name,
                "records": len(rs),
                "with_se": len(with_se),
                "se_coverage": _share([_covers(r, Z95 * r.estimate_stderr) for r in with_se]),
                "bias_aware_coverage": _share(
                    [
                        _covers(
                            r, Z95 * (r.estimate_stderr or 0.0) + abs(r.reliability["consistency"]["drift"])
                        )
                        for r in checked
                    ]
                ),
                "one_sided_coverage": _share(
                    [r.truth >= r.estimate - Z95_ONE_SIDED * r.estimate_stderr for r in with_se]
                ),
                "checked": len(checked),
                "interval_kind": ", ".join(kinds) or "-",
                "with_interval": len(with_interval),
                "interval_coverage": _share(
                    [_inside(r.truth, r.reliability["interval"]) for r in with_interval]
                ),
                "ok_bound_holds": _share([r.truth >= r.estimate - 2 * r.estimate_stderr for r in ok_se]),
                "ok": len(ok),
                "caution": sum(r.reliability["verdict"] == "caution" for r in judged),
                "unreliable": sum(r.reliability["verdict"] == "unreliable" for r in judged),
                "ok_within_2se": _share([_covers(r, 2 * r.estimate_stderr) for r in ok_se]),
                "ok_mean_abs_bias": _mean([abs(r.estimate - r.truth) for r in ok]),
                "check_cost": _median(
                    [
                        r.reliability["consistency"]["check_seconds"]
                        / (r.wall_time_s - r.reliability["consistency"]["check_seconds"])
                        for r in checked
                        if r.wall_time_s and r.wall_time_s > r.reliability["consistency"]["check_seconds"]
                    ]
                ),
                "flagged_mean_abs_bias": _mean(
                    [abs(r.estimate - r.truth) for r in judged if r.reliability["verdict"] != "ok"]
                ),
            }
        )
    return rows


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _nats(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def honest_label(row: dict) -> str:
    """Which interval reaches ``HONEST`` coverage on the table's tasks: the record's own, the ± se, or none."""
    if row["interval_coverage"] is not None and row["interval_coverage"] >= HONEST:
        return f"yes ({row['interval_kind']})"
    if row["se_coverage"] is not None and row["se_coverage"] >= HONEST:
        return "± 1.96 se"
    return "none"


def coverage_table(records, fmt: str = "github") -> str:
    from .currency import with_note

    rows = coverage_rows(records)
    table = tabulate(
        [
            (
                r["estimator"],
                r["records"],
                f"{_pct(r['se_coverage'])} of {r['with_se']}",
                _pct(r["one_sided_coverage"]),
                f"{_pct(r['bias_aware_coverage'])} of {r['checked']}",
                r["interval_kind"],
                f"{_pct(r['interval_coverage'])} of {r['with_interval']}",
                honest_label(r),
                f"{r['ok']} / {r['caution']} / {r['unreliable']}",
                _pct(r["ok_within_2se"]),
                _pct(r["ok_bound_holds"]),
                _nats(r["ok_mean_abs_bias"]),
                _nats(r["flagged_mean_abs_bias"]),
                "-" if r["check_cost"] is None else f"{r['check_cost']:.2f}",
            )
            for r in rows
        ],
        headers=(
            "estimator",
            "records",
            "truth in ± 1.96 se",
            "truth >= est - 1.645 se",
            "truth in ± (1.96 se + abs drift)",
            "the record's interval",
            "truth in it",
            f"honest (>= {100 * HONEST:.0f} %)",
            "ok / caution / unreliable",
            "ok: within 2 se",
            "ok: truth >= est - 2 se",
            "ok: mean abs bias (nats)",
            "flagged: mean abs bias (nats)",
            "check's time / estimate's (median)",
        ),
        tablefmt=fmt,
    )
    return with_note(table, records)
