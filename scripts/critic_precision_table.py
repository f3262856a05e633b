"""What bf16 critics change in the IB trainers: fp32 and bf16 runs of suites/ib-critics-precision.toml,
paired by seed (same subset, initialisation, batches and critic streams).

    python scripts/critic_precision_table.py results/ib-critics-precision/runs.jsonl > results/ib-critics-precision/table.md

Per trainer and quantity: the fp32 and bf16 means over seeds, the mean paired difference bf16 - fp32
with its 95 % interval (paired t over seeds) and, for the critics' held-out estimates, how many pairs
lie within 2 combined standard errors of each other.  The paired runs part ways from the first
critic step (bf16 rounds differently), so a difference holds the training's own run-to-run noise as well.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys

from scipy import stats

from ibbench.store.results import ResultStore


def quantities(training: dict, trainer: str) -> dict[str, tuple[float, float | None]]:
    """Name -> (value, standard error or None) of one run: test accuracy (%) and the critics' estimates."""
    out: dict[str, tuple[float, float | None]] = {"test accuracy (%)": (100 * training["test_acc"], None)}
    if trainer == "ib-layerwise":
        for layer in training["layers"]:
            for key in ("iyt", "ixt"):
                if key in layer:
                    out[f"layer {layer['layer']} {key.upper()} (nats)"] = (layer[key], layer[f"{key}_se"])
    else:
        for key in ("iyt", "ixt"):
            if key in training["final"]:
                out[f"final {key.upper()} (nats)"] = (training["final"][key], training["final"][f"{key}_se"])
    return out


def table(path: str) -> str:
    runs: dict[tuple[str, str, int], dict] = {}
    for r in ResultStore(path).records():
        if r.status != "ok" or r.training is None:
            continue
        trainer, training = r.expanded["trainer"], r.training.model_dump()
        precision = trainer["params"]["critic_precision"]
        assert training["critic_precision"] == precision, "a run's critics ran in another precision"
        runs[(trainer["name"], precision, r.spec.seed)] = quantities(training, trainer["name"])
    lines = [
        "| trainer | quantity | seeds | fp32 mean | bf16 mean | bf16 - fp32 (95 % CI, paired t) | pairs within 2 se |",
        "|---|---|---|---|---|---|---|",
    ]
    for trainer in sorted({k[0] for k in runs}):
        seeds = sorted(s for t, p, s in runs if t == trainer and p == "fp32" and (t, "bf16", s) in runs)
        for name in runs[(trainer, "fp32", seeds[0])]:
            a = [runs[(trainer, "fp32", s)][name] for s in seeds]
            b = [runs[(trainer, "bf16", s)][name] for s in seeds]
            diffs = [y[0] - x[0] for x, y in zip(a, b, strict=True)]
            mean = statistics.fmean(diffs)
            half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
            within = (
                ""
                if a[0][1] is None
                else str(
                    sum(abs(y[0] - x[0]) <= 2 * math.hypot(x[1], y[1]) for x, y in zip(a, b, strict=True))
                )
                + f"/{len(seeds)}"
            )
            lines.append(
                f"| {trainer} | {name} | {len(seeds)} | {statistics.fmean(x[0] for x in a):.3f} | "
                f"{statistics.fmean(y[0] for y in b):.3f} | {mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] | {within} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    sys.stdout.write(table(parser.parse_args().store))


if __name__ == "__main__":
    main()
