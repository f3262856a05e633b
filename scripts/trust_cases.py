"""Issue 11's five failing inputs, measured: run this against any ibbench checkout, keep the JSON.

    python scripts/trust_cases.py --cases 1,2,3,5 --out results/trust/after.json      # this checkout
    python scripts/trust_cases.py --cases 4 --out results/trust/after-case4.json
    PYTHONPATH=OLD:OLD/plugins/ibbench-ksg:OLD/plugins/ibbench-variational \
        python scripts/trust_cases.py --cases 1,2,3,5 --out results/trust/before.json  # (and --cases 4)
    python scripts/trust_cases.py --table results/trust/before.json,results/trust/before-case4.json \
        results/trust/after.json,results/trust/after-case4.json > results/trust/cases.md

OLD is a checkout of the commit before the estimation protocol (69c2f4a).

Every case is an input whose MI is known; each row records what ``ibbench estimate`` (or, for the
IB trainers' critics, the trainer's own critic code) printed, and its exit status.  MNIST for case 4
comes from ``ibbench``'s data layer (../shared/data here).  CPU, seed 0; nothing is tuned per case.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ibbench.store.results import ResultStore

HALF_LOG_101 = 0.5 * math.log(101)  # I(x; y) of the two precision pairs


def estimate(workdir: Path, x: np.ndarray, y: np.ndarray, estimator: str, *sets: str, budget: str = "smoke"):
    """``ibbench estimate`` on the arrays; (printed line, exit code, stored record or None)."""
    np.save(workdir / "x.npy", x)
    np.save(workdir / "y.npy", y)
    store = workdir / "runs.jsonl"
    store.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "ibbench.cli",
        "estimate",
        "--x",
        str(workdir / "x.npy"),
        "--y",
        str(workdir / "y.npy"),
        "--estimator",
        estimator,
        "--budget",
        budget,
        "--out",
        str(store),
        "--quiet",
    ]
    for s in sets:
        cmd += ["--set", s]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = (
        (done.stdout.strip() or done.stderr.strip()).splitlines()[-1] if (done.stdout or done.stderr) else ""
    )
    record = json.loads(store.read_text().splitlines()[-1]) if store.exists() and store.read_text() else None
    return line, done.returncode, record


def row(case: str, input_: str, truth: float | None, line: str, code: int, record) -> dict:
    extras = (record or {}).get("extras", {}).get("estimator", {}) or {}
    return {
        "case": case,
        "input": input_,
        "truth": truth,
        "printed": line,
        "exit": code,
        "estimate": (record or {}).get("estimate"),
        "stderr": (record or {}).get("estimate_stderr"),
        "status": (record or {}).get("status"),
        "converged": extras.get("converged"),
        "pairs_used": extras.get("pairs_used", extras.get("n_samples")),
    }


def case_units(workdir: Path) -> list[dict]:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=5000)
    z = (x + rng.uniform(size=5000)) / 2  # I(x; z) = 0.5 nats in any units of x
    rows = []
    for scale in (1.0, 255.0, 1e6):
        for est in ("mine", "ksg"):
            rows.append(
                row("1 units", f"{est}, x scaled by {scale:g}", 0.5, *estimate(workdir, x * scale, z, est))
            )
    return rows


def case_in_sample(workdir: Path) -> list[dict]:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 1)), rng.normal(size=(64, 1))
    return [
        row("2 in-sample", "mine, 64 independent pairs", 0.0, *estimate(workdir, x, y, "mine")),
        row(
            "2 in-sample",
            "mine, 64 independent pairs, steps=1500",
            0.0,
            *estimate(workdir, x, y, "mine", "estimator.steps=1500"),
        ),
    ]


def case_precision(workdir: Path) -> list[dict]:
    rng = np.random.default_rng(2)
    t = rng.normal(0, 10, size=5000)
    y1 = t + rng.normal(size=5000)
    t2 = rng.normal(size=5000)
    y2 = t2 + 0.1 * rng.normal(size=5000)
    inputs = [
        ("x = 1.7e9 + t, t ~ N(0, 100), y = t + N(0,1)", 1.7e9 + t, y1),
        ("x = 1e7 + t', y = t' + 0.1 N(0,1)", 1e7 + t2, y2),
        ("x = 1e300 t', y = t' + 0.1 N(0,1)", 1e300 * t2, y2),
    ]
    return [
        row("3 precision", f"{est}, {name}", HALF_LOG_101, *estimate(workdir, x, y, est, budget="quick"))
        for name, x, y in inputs
        for est in ("ksg", "binning")
    ]


def case_counts(workdir: Path) -> list[dict]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5000, 2))
    y = x + rng.normal(size=(5000, 2))  # 2 * 1/2 log 2
    rows = [
        row("5 counts", f"{est}, 5000 rows", math.log(2), *estimate(workdir, x, y, est, budget="quick"))
        for est in ("ksg", "binning")
    ]
    rows.append(
        row(
            "5 counts",
            "ksg, n_samples=6000 > 5000 rows",
            math.log(2),
            *estimate(workdir, x, y, "ksg", "estimator.n_samples=6000", budget="quick"),
        )
    )
    return rows


def case_ib_critics() -> list[dict]:
    """The critics of ``ib-layerwise`` at layer 1's start (after their pre-training, quick budget,
    mnist-mlp 100 %), next to the Monte-Carlo truth of I(X; L1 + eps); then the quick start's
    information plane (``info_plane_rows``)."""
    import torch

    from ibbench.api import RunContext
    from ibbench.methods.gaussian_mixture import mixture_mi
    from ibbench.methods.infoplane import layer_network
    from ibbench.running.runner import set_seed
    from ibbench.tasks.network_tasks import MNISTMLP
    from ibbench.tasks.networks import features
    from ibbench.trainers.ib_critics import IBCritics
    from ibbench.trainers.ib_layerwise import LayerwiseIB

    torch.set_num_threads(2)
    ctx = RunContext(seed=0, device=torch.device("cpu"), budget="quick")
    set_seed(0)
    task = MNISTMLP().build(MNISTMLP.params_for("quick"), ctx)
    data, p = task.data, LayerwiseIB.params_for("quick")
    net = task.network(seed=0)
    f = layer_network(net, 1)
    critics = IBCritics(f, data, task.noise_std, p, ctx, with_y=True, with_x=True, name="layer-1")
    if hasattr(critics, "pretrain"):
        read = critics.pretrain()
    else:  # before the protocol: a fixed number of steps, then the critics' own estimates
        for t in critics.trainers():
            t.fit(p.critic_pretrain_steps, trace_points=0)
        read = critics.estimates()
    idx = torch.randperm(data.train_x.shape[0], generator=ctx.generator("layerwise.truth-points"))[
        : p.truth_points
    ]
    with torch.no_grad():
        truth, truth_se = mixture_mi(
            features(f, data.train_x[idx]), task.noise_std, 1000, ctx.generator("layerwise.truth.layer-1")
        )
    rows = [
        {
            "case": "4 IB critics",
            "input": "ib-layerwise AA-MINE D_x, layer 1 at its start (quick)",
            "truth": truth,
            "truth_stderr": truth_se,
            "estimate": read["ixt"],
            "stderr": read["ixt_se"],
            "converged": read.get("ixt_converged"),
            "status": "ok",
            "exit": 0,
            "printed": "",
        }
    ]
    return rows + info_plane_rows()


def info_plane_rows() -> list[dict]:
    """The quick start (CE on MNIST, information plane by AA-MINE and MINE): the last point of each
    layer, I(X; L_i + eps) against its Monte-Carlo truth and I(Y; L_i) against log 10."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "runs.jsonl"
        cmd = [
            sys.executable,
            "-m",
            "ibbench.cli",
            "run",
            "--task",
            "mnist-mlp",
            "--estimator",
            "aa-mine",
            "--budget",
            "quick",
            "--out",
            str(store),
            "--quiet",
        ]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        record = ResultStore(store).records()[-1]
    trainer = record.training.model_dump()
    points = trainer["info_plane"]["points"]
    last = max(p["step"] for p in points)
    rows = []
    for p in sorted((p for p in points if p["step"] == last), key=lambda p: p["layer"]):
        rows.append(
            {
                "case": "4 IB critics",
                "input": f"quick start, CE net ({trainer['test_acc']:.1%} test): "
                f"AA-MINE I(X; L{p['layer']} + eps) at step {last}",
                "truth": p.get("ixt_truth"),
                "estimate": p["ixt"],
                "stderr": p["ixt_se"],
                "status": "ok",
                "exit": 0,
                "printed": "",
            }
        )
        rows.append(
            {
                "case": "4 IB critics",
                "input": f"quick start, CE net ({trainer['test_acc']:.1%} test): "
                f"MINE I(Y; L{p['layer']}) at step {last} (ceiling log 10 = 2.3026)",
                "truth": None,
                "estimate": p["iyt"],
                "stderr": p["iyt_se"],
                "status": "ok",
                "exit": 0,
                "printed": "",
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--cases", default="1,2,3,4,5")
    ap.add_argument(
        "--table",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="two JSON files (or comma-separated lists of them) to tabulate side by side",
    )
    args = ap.parse_args()
    if args.table:
        print(
            table(
                *(
                    [r for p in side.split(",") for r in json.loads(Path(p).read_text())]
                    for side in args.table
                )
            )
        )
        return
    wanted = set(args.cases.split(","))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for key, fn in (("1", case_units), ("2", case_in_sample), ("3", case_precision), ("5", case_counts)):
            if key in wanted:
                rows += fn(work)
                print(f"case {key} done", file=sys.stderr)
    if "4" in wanted:
        rows += case_ib_critics()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")


def _cell(r: dict) -> str:
    if r.get("estimate") is None:
        reason = re.sub(r"\s+", " ", r.get("printed", ""))[:90]
        return f"exit {r['exit']}: {reason}"
    se = f" ± {r['stderr']:.3f}" if r.get("stderr") is not None else ""
    flags = [] if r.get("converged") is None else ["converged" if r["converged"] else "not converged"]
    if r.get("pairs_used") is not None:
        flags.append(f"{r['pairs_used']} pairs")
    status = "" if r.get("status") == "ok" else f" ({r.get('status')})"
    return f"{r['estimate']:.4f}{se}{status}" + (f" [{', '.join(flags)}]" if flags else "")


def _unmeasured(text: str) -> str:
    """A row's input without what the run measured (the CE net's test accuracy), to pair before with after."""
    return re.sub(r"\(\d+(\.\d+)?% test\)", "(% test)", text)


def table(before: list[dict], after: list[dict]) -> str:
    old = {(r["case"], _unmeasured(r["input"])): r for r in before}
    lines = ["| case | input | truth (nats) | before | after |", "|---|---|---|---|---|"]
    for r in after:
        b = old.get((r["case"], _unmeasured(r["input"])))
        truth = "" if r.get("truth") is None else f"{r['truth']:.4f}"
        lines.append(f"| {r['case']} | {r['input']} | {truth} | {_cell(b) if b else 'n/a'} | {_cell(r)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
