"""One IB training iteration before and after issue 27's speed work, timed on one quiet machine.

    PYTHONPATH=OLD python scripts/trainer_step_timing.py --out results/benchmarks/trainer-step-before.json
    python scripts/trainer_step_timing.py --out results/benchmarks/trainer-step-after.json
    python scripts/trainer_step_timing.py --table results/benchmarks/trainer-step-before.json \\
        results/benchmarks/trainer-step-after.json > results/benchmarks/trainer-step.md

Each row is ``ibbench bench throughput``'s trainer-step workload (an MNIST-sized 784-512-512-10 MLP on
synthetic inputs) in a fresh process with torch's default threads: the median over >= 3 s of calls.
The old checkout is imported through PYTHONPATH, so both sides run the same workload definition as far
as the old code has one.  Run nothing else meanwhile: two cores are easily oversubscribed.
"""

from __future__ import annotations

import argparse
import json
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


def measure(min_time: float) -> list[dict]:
    import ibbench
    from ibbench.bench.timing import measure_in_subprocess
    from ibbench.provenance import git_state

    rows = []
    for params in ROWS:
        m = measure_in_subprocess("trainer-step", {**params, "device": "cpu"}, min_time=min_time)
        if "error" in m:  # a setting this checkout's workload does not have
            rows.append({**params, "ms": None, "error": m["error"]})
        else:
            rows.append({**params, "ms": 1e3 * m["median_s"], "calls": m["calls"], "ran": m["params"]})
    return [{"checkout": str(Path(ibbench.__file__).parents[1]), "git": git_state(), "rows": rows}]


def table(before: dict, after: dict) -> str:
    lines = [
        f"Before: commit {before['git']['commit'][:7]}; after: commit {after['git']['commit'][:7]}"
        f"{' (dirty tree)' if after['git']['dirty'] else ''}.  Median ms per iteration, one process per row.",
        "",
        "| trainer | budget | setting | before (ms) | after (ms) | before / after |",
        "|---|---|---|---|---|---|",
    ]

    def ms(row: dict) -> str:
        return "-" if row["ms"] is None else f"{row['ms']:.1f}"

    for b, a in zip(before["rows"], after["rows"], strict=True):
        setting = (
            ", ".join(f"{k}={v}" for k, v in a.items() if k in ("layer", "critic_precision")) or "default"
        )
        ratio = f"{b['ms'] / a['ms']:.2f}" if b["ms"] and a["ms"] else "-"
        lines.append(f"| {a['trainer']} | {a['budget']} | {setting} | {ms(b)} | {ms(a)} | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--min-time", type=float, default=3.0)
    parser.add_argument("--table", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.table:
        before, after = (json.loads(p.read_text())[0] for p in args.table)
        print(table(before, after), end="")
    elif args.out:
        args.out.write_text(json.dumps(measure(args.min_time), indent=1) + "\n")
    else:
        parser.error("give --out or --table")


if __name__ == "__main__":
    main()
