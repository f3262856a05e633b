"""Wall time of one critic estimate at the quick budget, for the throughput notes (results/benchmarks).

    python scripts/time_per_estimate.py --out results/benchmarks/time-per-estimate-after.json
    PYTHONPATH=OLD python scripts/time_per_estimate.py --out results/benchmarks/time-per-estimate-before.json
    python scripts/time_per_estimate.py --table BEFORE.json AFTER.json > results/benchmarks/time-per-estimate.md

One process, runs one after another on a quiet machine, torch's default threads; each cell is the
runner's own wall time for the estimate (task build and truth excluded), with the critic steps used.
Run nothing else meanwhile: two cores are easily oversubscribed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

CELLS = [
    ("gaussian", {"dim": 5, "mi": 2.0}),
    ("gaussian-20d-4nats", {}),
    ("gaussian-20d-10nats", {}),
    ("gaussian", {"dim": 1, "mi": 1.0}),
]
ESTIMATORS = ("mine", "aa-mine")
SEEDS = (0, 1)


def measure() -> list[dict]:
    import torch

    from ibbench.api import RunContext
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import resolve, set_seed
    from ibbench.running.specs import RunSpec

    registry = load_registry()
    rows = []
    for task, params in CELLS:
        for est in ESTIMATORS:
            for seed in SEEDS:
                spec = RunSpec.model_validate(
                    {
                        "task": {"name": task, "params": params},
                        "estimator": {"name": est},
                        "seed": seed,
                        "budget": "quick",
                        "device": "cpu",
                    }
                )
                r = resolve(spec, registry)
                ctx = RunContext(seed=seed, device=torch.device("cpu"), budget="quick")
                instance = r.task.plugin.build(r.task.params, ctx)
                set_seed(seed)
                start = time.perf_counter()
                out = r.estimator.plugin.estimate(instance, r.estimator.params, ctx)
                seconds = time.perf_counter() - start
                steps = out.extras.get("steps_used", getattr(r.estimator.params, "steps", None))
                rows.append(
                    {
                        "task": r.label,
                        "estimator": est,
                        "seed": seed,
                        "seconds": seconds,
                        "steps": steps,
                        "converged": out.extras.get("converged"),
                        "estimate": out.value,
                        "threads": torch.get_num_threads(),
                    }
                )
                print(rows[-1])
    return rows


def table(before: list[dict], after: list[dict]) -> str:
    def summary(rows, task, est):
        cell = [r for r in rows if r["task"] == task and r["estimator"] == est]
        return (
            statistics.median(r["seconds"] for r in cell),
            statistics.median(r["steps"] for r in cell),
            statistics.fmean(r["estimate"] for r in cell),
        )

    lines = [
        "| task | estimator | before: s (steps, estimate) | after: s (steps used, estimate) | after / before |",
        "|---|---|---|---|---|",
    ]
    for task in dict.fromkeys(r["task"] for r in after):
        for est in ESTIMATORS:
            b, a = summary(before, task, est), summary(after, task, est)
            lines.append(
                f"| {task} | {est} | {b[0]:.2f} ({b[1]:.0f}, {b[2]:.3f}) | {a[0]:.2f} ({a[1]:.0f}, {a[2]:.3f}) "
                f"| {a[0] / b[0]:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--table", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.table:
        print(table(*(json.loads(p.read_text()) for p in args.table)))
        return
    rows = measure()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
