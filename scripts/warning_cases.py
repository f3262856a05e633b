"""Issue 26's inputs, measured: public reports of other MI libraries rebuilt as seeded arrays whose MI
is known, each given to ``ibbench estimate`` as a new user would.  Keep the JSON; render the table.

    python scripts/warning_cases.py --out results/reliability/cases-after.json       # this checkout
    PYTHONPATH=OLD:OLD/plugins/ibbench-ksg:OLD/plugins/ibbench-variational \\
        python scripts/warning_cases.py --out results/reliability/cases-before.json  # an older checkout
    python scripts/warning_cases.py --table results/reliability/cases-before.json \\
        results/reliability/cases-after.json > results/reliability/cases.md

A row passes when the estimate is within 2 standard errors (or 0.05 nats) of the truth, or when the
run printed a warning on stderr and its record's reliability is not ``ok`` (or it refused the input
with a one-line error).  CPU, seed 0, quick budget, one torch thread; nothing is tuned per case.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def gaussian_pairs(rng: np.random.Generator, n: int, rho: float, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """n pairs of ``dims`` independent coordinate pairs, each correlated rho; truth dims * -log(1-rho^2)/2."""
    x = rng.standard_normal((n, dims))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dims))
    return x, y


def gaussian_truth(rho: float, dims: int) -> float:
    return -0.5 * dims * math.log(1 - rho**2)


def cases() -> list[dict]:
    """Every input: name, the public report it stands for, arrays, truth (nats), estimator, sets."""
    out = []
    x, y = gaussian_pairs(np.random.default_rng(14), 1000, 0.8, 1)
    for repeat in (4, 2):
        out.append(
            dict(
                case=f"rows repeated x{repeat}",
                report="causationentropy#14",
                x=np.repeat(x, repeat, axis=0),
                y=np.repeat(y, repeat, axis=0),
                truth=gaussian_truth(0.8, 1),
                estimator="ksg",
                sets=[],
            )
        )
    x, y = gaussian_pairs(np.random.default_rng(1), 5000, 0.5, 16)
    out.append(
        dict(
            case="16 + 16 dims",
            report="knnie#3",
            x=x,
            y=y,
            truth=gaussian_truth(0.5, 16),
            estimator="ksg",
            sets=[],
        )
    )
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((2000, 100)), rng.standard_normal((2000, 100))
    y[:, :5] = 0.9 * x[:, :5] + math.sqrt(0.19) * rng.standard_normal((2000, 5))
    for estimator in ("mine", "infonce"):
        out.append(
            dict(
                case="2000 pairs of 100 + 100 dims",
                report="Mine_pytorch#2",
                x=x,
                y=y,
                truth=gaussian_truth(0.9, 5),
                estimator=estimator,
                sets=[],
            )
        )
    rho = math.sqrt(1 - math.exp(-4))
    for data_seed in (
        8,
        9,
        10,
    ):  # the report's kind on other samples too: the first alone was caught narrowly
        x, y = gaussian_pairs(np.random.default_rng(data_seed), 4000, rho, 5)
        out.append(
            dict(
                case="MI 10 nats, 4000 pairs"
                + ("" if data_seed == 8 else f", data default_rng({data_seed})"),
                report="alf#166",
                x=x,
                y=y,
                truth=gaussian_truth(rho, 5),
                estimator="mine",
                sets=[],
            )
        )
    x, y = gaussian_pairs(np.random.default_rng(5), 4000, 0.9, 1)
    out.append(
        dict(
            case="batch of 2",
            report="InfoBERT#7",
            x=x,
            y=y,
            truth=gaussian_truth(0.9, 1),
            estimator="mine",
            sets=["estimator.batch_size=2"],
        )
    )
    x, y = gaussian_pairs(np.random.default_rng(6), 1000, 0.8, 1)
    out.append(
        dict(
            case="1000 pairs, 1-d",
            report="binning's upward bias",
            x=x,
            y=y,
            truth=gaussian_truth(0.8, 1),
            estimator="binning",
            sets=[],
        )
    )
    return out


def run_case(case: dict, workdir: Path) -> dict:
    """``ibbench estimate`` on the case's arrays: what it printed, its exit code and record."""
    np.save(workdir / "x.npy", case["x"])
    np.save(workdir / "y.npy", case["y"])
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
        case["estimator"],
        "--budget",
        "quick",
        "--seed",
        "0",
        "--threads",
        "1",
        "--out",
        str(store),
        "--quiet",
    ]
    for item in case["sets"]:
        cmd += ["--set", item]
    done = subprocess.run(cmd, capture_output=True, text=True)
    record = json.loads(store.read_text().splitlines()[-1]) if store.exists() and store.read_text() else None
    reliability = (record or {}).get("reliability") or {}
    return {
        "case": case["case"],
        "report": case["report"],
        "estimator": case["estimator"],
        "sets": case["sets"],
        "truth": case["truth"],
        "rc": done.returncode,
        "stdout": done.stdout.strip(),
        "stderr": [line for line in done.stderr.splitlines() if line.strip()],
        "estimate": (record or {}).get("estimate"),
        "stderr_of_estimate": (record or {}).get("estimate_stderr"),
        "reliability": reliability.get("verdict"),
        "reasons": reliability.get("reasons", []),
        "wall_time_s": (record or {}).get("wall_time_s"),
        "commit": ((record or {}).get("provenance") or {}).get("git", {}).get("commit"),
    }


def passes(row: dict) -> bool:
    """Correct, or warned and not ``ok``, or refused with a one-line error."""
    if row["estimate"] is None:
        return row["rc"] != 0 and len(row["stderr"]) == 1
    se = row["stderr_of_estimate"] or 0.0
    close = abs(row["estimate"] - row["truth"]) <= max(2 * se, 0.05)
    warned = bool(row["stderr"]) and row["reliability"] not in (None, "ok")
    return close or warned


def _reason(line: str) -> str:
    """A warning line without its 'ibbench: warning: E on TASK[x=/tmp/...]: ' prefix (temporary paths)."""
    for level in (": unreliable: ", ": caution: "):
        if level in line:
            return level.strip(" :") + ": " + line.split(level, 1)[1]
    return line.removeprefix("ibbench: ")


def table(before: list[dict], after: list[dict]) -> str:
    lines = [
        "| input (public report) | estimator | truth | before | after | reliability after | warning after | passes |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def shown(row):
        if row["estimate"] is None:
            return f"refused (exit {row['rc']})"
        se = f" ± {row['stderr_of_estimate']:.3f}" if row["stderr_of_estimate"] is not None else ""
        return f"{row['estimate']:.3f}{se}"

    def key(row):
        return row["case"], row["report"], row["estimator"], tuple(row["sets"])

    earlier = {key(row): row for row in before}
    for new in after:
        old = earlier.get(key(new))  # a case added since the before run has none
        sets = f" ({', '.join(new['sets'])})" if new["sets"] else ""
        warning = "; ".join(_reason(line) for line in new["stderr"])[:260].replace("|", "/") or "none"
        lines.append(
            f"| {new['case']} ({new['report']}) | {new['estimator']}{sets} | {new['truth']:.3f} | {shown(old) if old else '-'} | "
            f"{shown(new)} | {new['reliability'] or '-'} | {warning} | {'yes' if passes(new) else 'NO'} |"
        )
    commits = sorted({r["commit"][:7] for r in after if r["commit"]})
    lines.append(
        f"\nMade by `python scripts/warning_cases.py` (quick budget, seed 0, one thread, CPU); after at commit "
        f"{', '.join(commits)}.  Before: the same script on an older checkout (its JSON names the commit)."
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    parser.add_argument(
        "--table", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="render two JSON files"
    )
    args = parser.parse_args()
    if args.table:
        before, after = (json.loads(p.read_text()) for p in args.table)
        print(table(before, after), end="")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases():
            row = run_case(case, Path(tmp))
            print(
                f"{row['case']} / {row['estimator']}: {row['estimate']} (truth {row['truth']:.3f}) "
                f"{row['reliability']} rc {row['rc']} {row['stderr'][:1]}",
                file=sys.stderr,
            )
            rows.append(row)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(passes(r) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
