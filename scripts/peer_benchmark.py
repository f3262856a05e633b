"""ibbench next to bmi (Czyż et al. 2023, benchmark-mi) on bmi's own tasks, same arrays, one session.

    python -m venv bmi-env && bmi-env/bin/pip install benchmark-mi==0.1.3 "jax[cpu]==0.4.25" jaxlib==0.4.25
    python scripts/peer_benchmark.py --bmi-python bmi-env/bin/python --preprocess none    # peers-cpu-none.*
    python scripts/peer_benchmark.py --bmi-python bmi-env/bin/python --preprocess robust  # peers-cpu-robust.*

bmi 0.1.3 needs pydantic 1 and numpy 1 (jax 0.4.25), ibbench pydantic 2, so bmi runs in its own
interpreter (``scripts/peers/bmi_side.py``): it samples each task with bmi's sampler and saves the
arrays, then times its estimators on them; this process times ibbench's estimators (default budget,
in process, no start-up cost) on the very same arrays.  Without ``--bmi-python`` (or without bmi
there) the benchmark is skipped with a message.  Run it on a quiet machine: it is a timing table.

Both sides see the same numbers: ``--preprocess robust`` maps the sampled files once with ibbench's
robust map (``ibbench.methods.preprocess``) before either side estimates, and ibbench then runs with
``preprocess = "none"`` on them; ``--preprocess none`` leaves them raw for both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
TASKS = (
    "1v1-normal-0.75",
    "1v1-additive-0.1",
    "1v1-bimodal-0.75",
    "student-identity-2-2-1",
    "multinormal-dense-5-5-0.5",
    "multinormal-sparse-5-5-2-2.0",
    "half_cube-multinormal-sparse-5-5-2-2.0",
    "spiral-multinormal-sparse-5-5-2-2.0",
    "normal_cdf-multinormal-sparse-5-5-2-2.0",
    "asinh-student-identity-5-5-2",
    "multinormal-dense-25-25-0.5",
)
ESTIMATORS = ("ksg", "mine", "infonce", "nwj")  # in both packages


def map_files(folder: Path, method: str) -> None:
    """Each sampled .npy through ibbench's ``method`` map, fitted on its own columns, in float64."""
    import numpy as np

    from ibbench.methods.preprocess import fit

    for path in sorted(folder.glob("*.npy")):
        a = np.load(path)
        np.save(path, fit(a, method).apply(a))


def ibbench_rows(
    folder: Path, tasks: list[str], seeds: list[int], budget: str, estimators: tuple[str, ...] = ESTIMATORS
) -> list[dict]:
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import run
    from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec

    registry, rows = load_registry(), []
    for task in tasks:
        for seed in seeds:
            x, y = folder / f"{task}-{seed}-x.npy", folder / f"{task}-{seed}-y.npy"
            for name in estimators:
                spec = RunSpec(
                    task=TaskSpec(name="arrays", params={"x": str(x), "y": str(y)}),
                    estimator=EstimatorSpec(name=name),
                    seed=seed,
                    budget=budget,
                    device="cpu",
                    preprocess="none",  # the files are already what both sides see (map_files)
                )
                record = run(spec, registry)
                rows.append(
                    {
                        "task": task,
                        "seed": seed,
                        "estimator": name,
                        "estimate": record.estimate,
                        "seconds": record.wall_time_s,
                        "status": record.status,
                        "converged": (record.extras.get("estimator") or {}).get("converged"),
                    }
                )
                print(
                    f"ibbench {task} seed {seed} {name}: {record.estimate} in {record.wall_time_s:.1f} s",
                    file=sys.stderr,
                )
    return rows


def table(
    bmi_rows: list[dict], ours: list[dict], estimators: tuple[str, ...] = ESTIMATORS
) -> tuple[str, dict]:
    from tabulate import tabulate

    truth = {r["task"]: r["truth"] for r in bmi_rows}
    lines, summary = [], {}
    for side, rows in (("bmi", bmi_rows), ("ibbench", ours)):
        for name in estimators:
            mine = [r for r in rows if r["estimator"] == name and r.get("estimate") is not None]
            summary[(side, name)] = {
                "mean_abs_bias": statistics.fmean(abs(r["estimate"] - truth[r["task"]]) for r in mine)
                if mine
                else None,
                "seconds": sum(r["seconds"] for r in rows if r["estimator"] == name),
            }
    for task in dict.fromkeys(r["task"] for r in bmi_rows):
        row = [task, f"{truth[task]:.3f}"]
        for name in estimators:
            for rows in (bmi_rows, ours):
                got = [r for r in rows if r["task"] == task and r["estimator"] == name]
                vals = [r["estimate"] for r in got if r.get("estimate") is not None]
                row.append(
                    f"{statistics.fmean(vals):.3f} / {sum(r['seconds'] for r in got):.1f} s"
                    if vals
                    else "failed"
                )
        lines.append(row)
    headers = ["task", "truth"] + [f"{name} {side}" for name in estimators for side in ("bmi", "ibbench")]
    return tabulate(lines, headers=headers, tablefmt="github", disable_numparse=True), summary


def verdict(summary: dict, estimators: tuple[str, ...]) -> str:
    """Each side's best estimator by mean |bias|, and the wall time of all compared estimators."""

    def best(side):
        scored = [
            (summary[(side, n)]["mean_abs_bias"], n)
            for n in estimators
            if summary[(side, n)]["mean_abs_bias"] is not None
        ]
        return min(scored) if scored else (None, "none")

    (bmi_bias, bmi_name), (our_bias, our_name) = best("bmi"), best("ibbench")
    bmi_time = sum(summary[("bmi", n)]["seconds"] for n in estimators)
    our_time = sum(summary[("ibbench", n)]["seconds"] for n in estimators)
    fmt = lambda v: "none" if v is None else f"{v:.3f} nats"  # noqa: E731
    return (
        f"**Best mean |bias|: bmi {bmi_name} {fmt(bmi_bias)}, ibbench {our_name} {fmt(our_bias)}.  "
        f"Wall time of the {len(estimators)} compared estimators: bmi {bmi_time:.1f} s, ibbench {our_time:.1f} s "
        f"({our_time / bmi_time:.2f} of bmi's).**"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bmi-python", help="an interpreter with benchmark-mi 0.1.3 installed")
    parser.add_argument("--n", type=int, default=5000, help="samples per task (bmi's protocol: 5000)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--budget", default="quick", help="ibbench's budget (default quick)")
    parser.add_argument(
        "--estimators",
        nargs="+",
        default=list(ESTIMATORS),
        choices=ESTIMATORS,
        help="estimators to run on both sides (default all four)",
    )
    parser.add_argument(
        "--preprocess",
        choices=("none", "robust"),
        default="none",
        help="the same map for both sides: none (raw arrays) or ibbench's robust map, applied once",
    )
    parser.add_argument("--out", type=Path, help="default results/benchmarks/peers-cpu-PREPROCESS")
    args = parser.parse_args()
    args.out = args.out or OUT / f"peers-cpu-{args.preprocess}"
    if not args.bmi_python:
        print("peer benchmark skipped: no --bmi-python (see this script's docstring for the bmi environment)")
        return 0
    probe = subprocess.run([args.bmi_python, "-c", "import bmi"], capture_output=True, text=True)
    if probe.returncode:
        print(
            f"peer benchmark skipped: {args.bmi_python} cannot import bmi ({probe.stderr.strip().splitlines()[-1]})"
        )
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="ibbench-peers-") as tmp:
        estimators = tuple(args.estimators)
        side = [args.bmi_python, str(ROOT / "scripts" / "peers" / "bmi_side.py")]
        subprocess.run([*side, "sample", tmp, str(args.n), args.seeds, *args.tasks], check=True)
        map_files(Path(tmp), args.preprocess)
        subprocess.run([*side, "estimate", tmp, args.seeds, ",".join(estimators), *args.tasks], check=True)
        bmi_rows = json.loads((Path(tmp) / "bmi.json").read_text())["rows"]
        ours = ibbench_rows(Path(tmp), args.tasks, seeds, args.budget, estimators)
    text, summary = table(bmi_rows, ours, estimators)

    def bias(side, name):
        value = summary[(side, name)]["mean_abs_bias"]
        return "no estimate" if value is None else f"{value:.3f} nats"

    totals = "\n".join(
        f"- {name}: mean |bias| bmi {bias('bmi', name)} in {summary[('bmi', name)]['seconds']:.1f} s, "
        f"ibbench {bias('ibbench', name)} in {summary[('ibbench', name)]['seconds']:.1f} s"
        for name in estimators
    )
    totals += "\n\n" + verdict(summary, estimators)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "n": args.n,
                "seeds": seeds,
                "budget": args.budget,
                "preprocess": args.preprocess,
                "bmi": bmi_rows,
                "ibbench": ours,
            },
            indent=1,
        )
        + "\n"
    )
    args.out.with_suffix(".md").write_text(
        f"# ibbench next to bmi on bmi's tasks\n\nMade by `python scripts/peer_benchmark.py --bmi-python ...` "
        f"--preprocess {args.preprocess} ({args.n} samples per task, seeds {args.seeds}, the same {args.preprocess} "
        f"arrays for both sides, ibbench budget {args.budget}; bmi 0.1.3 estimators at "
        f"their defaults).  Each cell: mean estimate over seeds (nats) / total wall time.\n\n{text}\n\n{totals}\n"
    )
    print(f"written {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
