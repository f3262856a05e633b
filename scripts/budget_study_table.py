"""Summarise a budget study store (e.g. suites/mine-budget-study.toml): per estimator setting, the mean
|bias| over tasks and seeds, the steps the stopping rule used (a cost that does not depend on the
machine), how many fits converged, and the wall time (which does).

    python scripts/budget_study_table.py results/benchmarks/mine-budget/runs.jsonl [--out FILE.md]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from ibbench.reports.tables import setting_labels
from ibbench.store.results import ResultStore


def summary(store: Path) -> str:
    records = [r for r in ResultStore(store).records() if r.spec.estimator is not None]
    labels = setting_labels(records, "estimator", lambda r: r.spec.estimator.name)
    groups: dict[str, list] = {}
    for r in records:
        groups.setdefault(labels[r.id], []).append(r)
    lines = [
        "| setting | runs | failed | mean abs bias (nats) | mean steps used | converged | mean wall time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, runs in sorted(groups.items()):
        ok = [r for r in runs if r.status == "ok" and r.estimate is not None and r.truth is not None]
        fits = [r.extras.get("estimator", {}) for r in ok]
        bias = statistics.fmean(abs(r.estimate - r.truth) for r in ok) if ok else float("nan")
        steps = statistics.fmean(f.get("steps_used", 0) for f in fits) if fits else float("nan")
        converged = sum(bool(f.get("converged")) for f in fits)
        wall = statistics.fmean(r.wall_time_s for r in ok) if ok else float("nan")
        lines.append(
            f"| {label} | {len(runs)} | {len(runs) - len(ok)} | {bias:.3f} | {steps:.0f} | "
            f"{converged}/{len(ok)} | {wall:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path, help="a JSONL store of estimator runs")
    parser.add_argument("--out", type=Path, help="write the table here too (markdown)")
    args = parser.parse_args()
    text = summary(args.store)
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
