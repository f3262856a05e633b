"""One IB training iteration before and after issue 27's speed work, timed on one quiet machine.

    PYTHONPATH=OLD python scripts/trainer_step_timing.py --repeats 3 --out results/benchmarks/trainer-step-before.json
    python scripts/trainer_step_timing.py --repeats 3 --out results/benchmarks/trainer-step-after.json
    python scripts/trainer_step_timing.py --table results/benchmarks/trainer-step-before.json \\
        results/benchmarks/trainer-step-after.json > results/benchmarks/trainer-step.md

Each row is ``ibbench bench throughput``'s trainer-step workload (an MNIST-sized 784-512-512-10 MLP on
synthetic inputs) in a fresh process with torch's default threads: the median over >= 3 s of calls;
``--repeats`` runs the whole list that many times (this shared VM moves a row by 10-30 % between
runs), and the table gives each row's median over the repeats with their range.
The old checkout is imported through PYTHONPATH, so both sides run the same workload definition as far
as the old code has one.  Run nothing else meanwhile: two cores are easily oversubscribed.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

ROWS = [
    {"trainer": "ib-layerwise", "budget": "quick"},
    {"trainer": "ib-e2e", "budget": "quick"},
    {"trainer": "ib-layerwise", "budget": "paper"},
    # what each change gives, where the code has the setting (older code: no row)
    {"trainer": "ib-layerwise", "budget": "quick", "critic_precision": "fp32"},
    {"trainer": "ib-e2e", "budget": "quick", "critic_precision": "fp32"},
    {"trainer": "ib-layerwise", "budget": "paper", "critic_precision": "fp32"},
    {"trainer": "ib-layerwise", "budget": "quick", "layer": 2},
    {"trainer": "ib-layerwise", "budget": "quick", "layer": 3},
]


def measure(min_time: float) -> dict:
    import ibbench
    from ibbench.bench.timing import measure_in_subprocess
    from ibbench.store.provenance import git_state

    rows = []
    for params in ROWS:
        m = measure_in_subprocess("trainer-step", {**params, "device": "cpu"}, min_time=min_time)
        if "error" in m:  # a setting this checkout's workload does not have
            rows.append({**params, "ms": None, "error": m["error"]})
        else:
            rows.append({**params, "ms": 1e3 * m["median_s"], "calls": m["calls"], "ran": m["params"]})
    return {"checkout": str(Path(ibbench.__file__).parents[1]), "git": git_state(), "rows": rows}


def _summary(runs: list[dict], i: int) -> tuple[float | None, str]:
    """Row i over the repeats: its median and 'median [min-max]' (ms), or None and '-' where absent."""
    values = [r["rows"][i]["ms"] for r in runs if r["rows"][i]["ms"] is not None]
    if not values:
        return None, "-"
    mid = statistics.median(values)
    return mid, f"{mid:.1f} [{min(values):.1f}-{max(values):.1f}]" if len(values) > 1 else f"{mid:.1f}"


def table(before: list[dict], after: list[dict]) -> str:
    commits = {
        side: sorted({r["git"]["commit"][:7] for r in runs}) for side, runs in (("b", before), ("a", after))
    }
    dirty = any(r["git"]["dirty"] for r in after)
    lines = [
        f"Before: commit {', '.join(commits['b'])}; after: commit {', '.join(commits['a'])}"
        f"{' (dirty tree)' if dirty else ''}; {len(before)} and {len(after)} runs of every row.  Median ms"
        " per iteration over the runs [range], each run's figure the median of >= 3 s of calls in a fresh process.",
        "",
        "| trainer | budget | setting | before (ms) | after (ms) | before / after |",
        "|---|---|---|---|---|---|",
    ]
    for i, row in enumerate(after[0]["rows"]):
        setting = (
            ", ".join(f"{k}={v}" for k, v in row.items() if k in ("layer", "critic_precision")) or "default"
        )
        (b, b_text), (a, a_text) = _summary(before, i), _summary(after, i)
        ratio = f"{b / a:.2f}" if b and a else "-"
        lines.append(f"| {row['trainer']} | {row['budget']} | {setting} | {b_text} | {a_text} | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--min-time", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--table", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.table:
        before, after = (json.loads(p.read_text()) for p in args.table)
        print(table(before, after), end="")
    elif args.out:
        runs = [measure(args.min_time) for _ in range(args.repeats)]
        args.out.write_text(json.dumps(runs, indent=1) + "\n")
    else:
        parser.error("give --out or --table")


if __name__ == "__main__":
    main()
