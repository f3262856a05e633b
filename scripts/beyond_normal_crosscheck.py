"""ibbench's Beyond Normal tasks against bmi's own (Czyz et al. 2023, benchmark-mi 0.1.3): truths and samplers.

    python -m venv bmi-env && bmi-env/bin/pip install benchmark-mi==0.1.3 "jax[cpu]==0.4.25" jaxlib==0.4.25
    python scripts/beyond_normal_crosscheck.py --bmi-python bmi-env/bin/python   # writes results/beyond-normal/crosscheck-bmi.md

For each of bmi's 40 benchmark tasks:
- **truth**: bmi's ``task.mutual_information`` against ibbench's closed form; they must agree to 1e-6;
- **sampler**: KSG (ibbench-ksg, quick budget, every pair) on N pairs from bmi's sampler and on N pairs
  from ibbench's, one sample per seed, both through the same ``arrays`` pipeline (so the only
  difference is who drew the pairs).  The samplers agree on a task when Welch's t-test over the seeds
  does not reject equal means at a family-wise 5 % (Bonferroni: p > 0.05 / 40).

bmi runs in its own interpreter (``scripts/peers/bmi_samples.py``): it needs pydantic 1 and numpy 1.
Without ``--bmi-python`` (or without bmi there) the check is skipped with a message.  Exit 1 when a
truth disagrees or a sampler's KSG mean falls outside the band.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "beyond-normal" / "crosscheck-bmi.md"
TRUTH_TOLERANCE = 1e-6
FAMILY_ALPHA = 0.05  # over all tasks (Bonferroni)
BENCHMARK_TASKS = 40  # the family the correction is over, also when --tasks picks a few


def ibbench_sample(task_id: str, n: int, seed: int, folder: Path) -> tuple[Path, Path]:
    """N pairs of ibbench's registered task ``task_id`` at ``seed`` (its fixed sample), saved as .npy."""
    import torch

    from ibbench.api import RunContext
    from ibbench.running.plugins import load_registry

    entry = load_registry().entries["task"][task_id]
    task = entry.load()
    instance = task.build(
        task.params_for("quick", {**entry.defaults, "n_pairs": n}),
        RunContext(seed=seed, device=torch.device("cpu")),
    )
    paths = folder / f"ibbench-{task_id}-{seed}-x.npy", folder / f"ibbench-{task_id}-{seed}-y.npy"
    for path, values in zip(paths, (instance.x, instance.y), strict=True):
        np.save(path, values.double().numpy())
    return paths


def ksg(x: Path, y: Path, seed: int) -> float | None:
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import run
    from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec

    spec = RunSpec(
        task=TaskSpec(name="arrays", params={"x": str(x), "y": str(y)}),
        estimator=EstimatorSpec(name="ksg"),
        seed=seed,
        budget="quick",
        device="cpu",
    )
    record = run(spec, load_registry())
    return record.estimate if record.status == "ok" else None


def truth_of(task_id: str) -> float:
    from ibbench.running.plugins import load_registry

    entry = load_registry().entries["task"][task_id]
    task = entry.load()
    return task.closed_form_truth(task.params_for("quick", entry.defaults))


def agreement(bmi: list[float | None], ours: list[float | None], tasks: int) -> tuple[float, float, bool]:
    """(difference of the KSG means, Welch's p-value, whether p > FAMILY_ALPHA / tasks); a failed run
    (None) leaves fewer seeds, and fewer than two on a side is a disagreement."""
    from scipy.stats import ttest_ind

    a, b = [v for v in bmi if v is not None], [v for v in ours if v is not None]
    if len(a) < 2 or len(b) < 2:
        return math.nan, 0.0, False
    p = float(ttest_ind(b, a, equal_var=False).pvalue)
    p = 1.0 if math.isnan(p) else p  # two constant, equal samples
    return statistics.fmean(b) - statistics.fmean(a), p, p > FAMILY_ALPHA / tasks


def report(rows: list[dict], n: int, seeds: list[int], options: str = "") -> str:
    from tabulate import tabulate

    def cell(values):
        ok = [v for v in values if v is not None]
        failed = f" ({len(values) - len(ok)} failed)" if len(ok) < len(values) else ""
        return (f"{statistics.fmean(ok):.4f} ± {statistics.stdev(ok):.4f}" if len(ok) > 1 else "-") + failed

    body = [
        [
            r["task"],
            f"{r['truth_bmi']:.6f}",
            f"{r['truth_ibbench']:.6f}",
            f"{abs(r['truth_bmi'] - r['truth_ibbench']):.1e}",
            cell(r["ksg_bmi"]),
            cell(r["ksg_ibbench"]),
            f"{r['diff']:+.4f}",
            f"{r['p']:.3f}",
            "yes" if r["agree"] else "NO",
        ]
        for r in rows
    ]
    truths_ok = sum(abs(r["truth_bmi"] - r["truth_ibbench"]) <= TRUTH_TOLERANCE for r in rows)
    samplers_ok = sum(r["agree"] for r in rows)
    head = (
        f"# ibbench's Beyond Normal tasks against bmi 0.1.3\n\n"
        f"Regenerate: `python scripts/beyond_normal_crosscheck.py --bmi-python bmi-env/bin/python{options}`.\n"
        f"KSG (ibbench-ksg, quick budget) on {n} pairs per seed, seeds {', '.join(map(str, seeds))}, "
        f"drawn by bmi's sampler and by ibbench's; mean ± sd over the seeds.  Agreement: Welch's t-test "
        f"of the two means does not reject at a family-wise {FAMILY_ALPHA:g} (p > {FAMILY_ALPHA:g} / "
        f"{BENCHMARK_TASKS}, Bonferroni).\n\n"
        f"**Truths equal to {TRUTH_TOLERANCE:g}: {truths_ok} of {len(rows)} tasks.  "
        f"Samplers agree: {samplers_ok} of {len(rows)} tasks.**\n\n"
    )
    return (
        head
        + tabulate(
            body,
            headers=[
                "task",
                "truth bmi",
                "truth ibbench",
                "|diff|",
                "KSG on bmi's pairs",
                "KSG on ibbench's pairs",
                "diff",
                "Welch p",
                "agree",
            ],
            tablefmt="github",
            disable_numparse=True,
        )
        + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bmi-python", help="an interpreter with benchmark-mi 0.1.3 installed")
    parser.add_argument("--pairs", type=int, default=5000, help="pairs per sample (bmi's protocol: 5000)")
    parser.add_argument(
        "--seeds", default="0,1,2,3,4", help="comma-separated seeds, or a range A-B (at least 2)"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=[],
        metavar="TASK_ID",
        help="only these bmi task ids (default: all 40; the Bonferroni count stays 40)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="the markdown report")
    args = parser.parse_args()
    seeds = [
        int(s)
        for s in (
            args.seeds.split(",")
            if "," in args.seeds or "-" not in args.seeds
            else range(int(args.seeds.split("-")[0]), int(args.seeds.split("-")[1]) + 1)
        )
    ]
    if len(seeds) < 2:
        parser.error("--seeds needs at least two seeds: agreement is judged against the seed spread")
    if not args.bmi_python:
        print("Beyond Normal cross-check skipped: give --bmi-python (an interpreter with benchmark-mi 0.1.3)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc = subprocess.run(
            [
                args.bmi_python,
                str(ROOT / "scripts" / "peers" / "bmi_samples.py"),
                tmp,
                str(args.pairs),
                ",".join(map(str, seeds)),
                *args.tasks,
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(
                f"Beyond Normal cross-check skipped: bmi failed under {args.bmi_python}: "
                f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
            )
            return 0
        rows, truths = [], json.loads((folder / "truths.json").read_text())
        for task_id, truth in truths.items():
            on_bmi = [ksg(folder / f"{task_id}-{s}-x.npy", folder / f"{task_id}-{s}-y.npy", s) for s in seeds]
            on_ours = [ksg(*ibbench_sample(task_id, args.pairs, s, folder), s) for s in seeds]
            diff, p, agree = agreement(on_bmi, on_ours, BENCHMARK_TASKS)
            rows.append(
                {
                    "task": task_id,
                    "truth_bmi": truth,
                    "truth_ibbench": truth_of(task_id),
                    "ksg_bmi": on_bmi,
                    "ksg_ibbench": on_ours,
                    "diff": diff,
                    "p": p,
                    "agree": agree,
                }
            )
            print(
                f"{task_id}: truth {truth:.6f} / {rows[-1]['truth_ibbench']:.6f}; KSG difference {diff:+.4f}, "
                f"p {p:.3f} ({'agree' if agree else 'DISAGREE'})",
                file=sys.stderr,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    options = "".join(
        f" {flag} {value}"
        for flag, value in (("--pairs", args.pairs), ("--seeds", args.seeds))
        if value != parser.get_default(flag.lstrip("-"))
    )
    options += f" --tasks {' '.join(args.tasks)}" if args.tasks else ""
    options += (
        f" --out {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
        if args.out != OUT
        else ""
    )
    args.out.write_text(report(rows, args.pairs, seeds, options))
    print(f"wrote {args.out}")
    bad_truth = any(abs(r["truth_bmi"] - r["truth_ibbench"]) > TRUTH_TOLERANCE for r in rows)
    return 1 if bad_truth or not all(r["agree"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
