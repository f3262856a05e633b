"""Paper Fig. 2 with ground truth: I(X; L3 + eps) of a random-weight MLP 784-512-512-10 on MNIST
against the noise variance, estimated by MINE, AA-MINE and the mixture estimator, next to the
Monte-Carlo truth and its error bar.

X is uniform over the N = 60000 MNIST training images, so the truth is bounded by
log N = 11.0 nats: as the noise vanishes it saturates there, not at infinity.
Every cell is a stored run record (resumable); the table and the PNG are built from the records
only (``render``), and both say how many records are stale at HEAD or made from a dirty tree
(``ibbench.reports.currency``).  It lives with the paper's reproduction, not with the reports, because it
runs its cells (``make_fig2``) and names the paper's three estimators.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path

from tabulate import tabulate

from ..errors import IbbenchError
from ..reports.currency import mark_figure, with_note
from ..running.plugins import Registry
from ..running.runner import cell_of, resolve
from ..running.specs import EstimatorSpec, RunSpec, TaskSpec
from ..store.cells import CellKey
from ..store.results import ResultStore, RunRecord
from ..sweeps.suite import run_cells

NOISE_VARS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # the paper's range, one point per decade
ESTIMATORS = ("mine", "aa-mine", "mixture")


def fig2_cells(budget: str, seeds: list[int], noise_vars, dataset: str, device: str) -> list[RunSpec]:
    return [
        RunSpec(
            task=TaskSpec(name="mixture-channel", params={"dataset": dataset, "noise_var": v}),
            estimator=EstimatorSpec(name=e),
            seed=s,
            budget=budget,
            device=device,
        )
        for v in noise_vars
        for e in ESTIMATORS
        for s in seeds
    ]


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def by_noise_var(records: list[RunRecord]) -> tuple[list[float], dict]:
    """noise_var -> {"truth": (mean, mc stderr), estimator: (mean, std over seeds, n ok, n failed)}."""
    by_var: dict[float, dict] = defaultdict(lambda: {"truth": [], "truth_se": []})
    for r in records:
        var = r.spec.task.params["noise_var"]
        slot = by_var[var]
        if r.truth is not None and r.spec.seed not in slot.setdefault("seeds", set()):
            slot["seeds"].add(r.spec.seed)  # every estimator's record of a seed holds the same truth
            slot["truth"].append(r.truth)
            slot["truth_se"].append(r.truth_stderr or 0.0)
        est = slot.setdefault(r.spec.estimator.name, {"ok": [], "failed": 0, "converged": []})
        if r.status == "ok":
            est["ok"].append(r.estimate)
        else:
            est["failed"] += 1
        protocol = r.extras.get("estimator") or {}
        if "converged" in protocol:  # a critic under the estimation protocol
            est["converged"].append(bool(protocol["converged"]) and r.status == "ok")
    return sorted(by_var), by_var


def render(records: list[RunRecord], out_dir: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variances, by_var = by_noise_var(records)
    log_n = next((r.extras.get("task", {}).get("log_n") for r in records), None)
    rows = []
    for v in variances:
        slot = by_var[v]
        truth = statistics.fmean(slot["truth"])
        # MC error of the averaged truth: independent draws per seed
        truth_se = math.sqrt(sum(se * se for se in slot["truth_se"])) / len(slot["truth_se"])
        row = [f"{v:g}", f"{truth:.3f} ± {truth_se:.3f}"]
        for e in ESTIMATORS:
            est = slot.get(e, {"ok": [], "failed": 0})
            conv = est.get("converged", [])
            note = (f" [failed {est['failed']}]" if est["failed"] else "") + (
                f" [converged {sum(conv)}/{len(conv)}]" if conv and not all(conv) else ""
            )
            if est["ok"]:
                m, s = _mean_std(est["ok"])
                row.append(f"{m:.3f} ± {s:.3f}" + note)
            else:
                row.append(f"failed {est['failed']}" if est["failed"] else "")
        aa = slot.get("aa-mine", {"ok": []})["ok"]
        row.append(f"{statistics.fmean(aa) / truth:.0%}" if aa and truth > 0 else "")
        rows.append(row)
    table = tabulate(
        rows,
        headers=["noise var", "truth (MC ± se)", *ESTIMATORS, "aa-mine / truth"],
        tablefmt="github",
        disable_numparse=True,
    )
    budgets = sorted({r.spec.budget for r in records})
    seeds = sorted({r.spec.seed for r in records})
    task = records[0].extras.get("task", {})
    net = "-".join(str(w) for w in task.get("network", []))
    header = (
        f"I(X; L{task.get('layer', '?')} + eps), random-weight (Glorot) MLP {net}, X uniform over "
        f"{task.get('source', '?')}; nats. "
        f"budget {', '.join(budgets)}; seeds {seeds}; estimates mean ± std over seeds; "
        f"log N = {log_n:.3f} bounds the truth.\n\n"
    )
    table_path = out_dir / "fig2.md"
    table_path.write_text(header + with_note(table, records) + "\n")

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    t_mean = [statistics.fmean(by_var[v]["truth"]) for v in variances]
    t_se = [
        math.sqrt(sum(x * x for x in by_var[v]["truth_se"])) / len(by_var[v]["truth_se"]) for v in variances
    ]
    ax.errorbar(variances, t_mean, yerr=[2 * s for s in t_se], color="black", lw=2, label="truth (MC, ±2 se)")
    styles = {"mine": ("tab:red", "s"), "aa-mine": ("tab:blue", "o"), "mixture": ("tab:green", "^")}
    for e in ESTIMATORS:
        xs, ms, ss = [], [], []
        for v in variances:
            ok = by_var[v].get(e, {"ok": []})["ok"]
            if ok:
                m, s = _mean_std(ok)
                xs.append(v), ms.append(m), ss.append(s)
        color, marker = styles[e]
        ax.errorbar(
            xs, ms, yerr=ss, color=color, marker=marker, ls="--", capsize=3, label=f"{e} (±1 std, seeds)"
        )
    if log_n is not None:
        ax.axhline(log_n, color="grey", ls=":", label=f"log N = {log_n:.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("noise variance $\\sigma^2$")
    ax.set_ylabel("$I(X; L_3 + \\epsilon)$ [nats]")
    ax.set_title(f"Paper Fig. 2 with ground truth ({', '.join(budgets)} budget, {len(seeds)} seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    mark_figure(fig, records)
    png_path = out_dir / "fig2.png"
    fig.savefig(png_path, dpi=120, bbox_inches="tight")  # "tight" keeps the footer below the canvas
    plt.close(fig)
    return table_path, png_path


def make_fig2(
    *,
    out_dir: Path,
    budget: str,
    seeds: list[int],
    noise_vars,
    dataset: str,
    device: str,
    registry: Registry,
    show_progress: bool | str = False,
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out_dir / "runs.jsonl")
    cells = fig2_cells(budget, seeds, tuple(noise_vars or NOISE_VARS), dataset, device)
    run_cells("fig2", cells, store, registry, show_progress=show_progress)
    wanted = {cell_of(resolve(c, registry)) for c in cells}  # as resolved: defaults filled in
    records = [r for r in store.records() if CellKey.of_record(r) in wanted]
    if not records:
        raise IbbenchError(
            f"{store.path} holds none of Fig. 2's cells; run them first (ibbench reproduce fig2)"
        )
    table_path, png_path = render(records, out_dir)
    print(f"wrote {table_path} and {png_path}")
    return table_path, png_path
