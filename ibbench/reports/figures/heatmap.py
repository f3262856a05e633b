"""The benchmark heatmap of Czyz et al. 2023 ("Beyond Normal", bmi): tasks x estimators, each cell
coloured by log2(mean estimate / truth) and labelled with the mean estimate in nats.

log2 of the ratio is 0 for an unbiased estimator, -1 where it reads half the truth and +1 where it
reads twice it; the colour scale is clipped to +-2 (a factor of 4).  A cell whose mean estimate is
not above 0 has no log ratio: it takes the bottom colour and its estimate is printed.  Cells come
from ``ibbench.reports.tables.aggregate`` (one cell per task and estimator setting, seeds pooled, a cell
stored twice counted once).  The converged-only view keeps the runs whose critic reached its
held-out plateau (and every run of an estimator without a critic); a cell left empty says so.
A footer says how many of the estimator runs are stale at HEAD or made from a dirty tree
(``ibbench.reports.currency``), where any is.
"""

from __future__ import annotations

import math
from pathlib import Path

from ...store.results import RunRecord
from ..currency import mark_figure
from ..tables import Cell, aggregate, estimator_runs

CLIP = 2.0  # |log2 ratio| beyond which the colour saturates


def converged_runs(records: list[RunRecord]) -> list[RunRecord]:
    """The records whose critic converged, and those of estimators without a convergence flag."""
    return [r for r in records if (r.extras.get("estimator") or {}).get("converged", True) is not False]


def _row_order(rows: set[str]) -> list[str]:
    from ...tasks.beyond_normal.catalogue import BENCHMARK_IDS

    rank = {name: i for i, name in enumerate(BENCHMARK_IDS)}
    return sorted(rows, key=lambda r: (rank.get(r, len(rank)), r))


def plot_heatmap(records: list[RunRecord], out: Path, converged_only: bool = False, title: str = "") -> Path:
    """Write the heatmap of the estimator runs in ``records`` to ``out`` (PNG); returns the path.
    Raises ValueError when the records hold no estimator run on a task with a truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    every = {k: c for k, c in aggregate(records).items() if c.truths}
    if not every:
        raise ValueError("no estimator runs on tasks with a known truth in these records")
    shown = aggregate(converged_runs(records)) if converged_only else every
    rows, cols = _row_order({k[0] for k in every}), sorted({k[1] for k in every})
    values = [[_colour_value(shown.get((r, c))) for c in cols] for r in rows]

    fig, ax = plt.subplots(figsize=(1.3 * len(cols) + 4.5, 0.32 * len(rows) + 1.8))
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("0.85")  # grey: no run to show
    masked = [[math.nan if v is None else v for v in row] for row in values]
    image = ax.imshow(masked, cmap=cmap, norm=TwoSlopeNorm(0.0, -CLIP, CLIP), aspect="auto")
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax.text(
                j,
                i,
                _label(shown.get((r, c)), every[(r, c)] if (r, c) in every else None, converged_only),
                ha="center",
                va="center",
                fontsize=7,
            )
    truths = {r: next(cell.truth() for (row, _), cell in every.items() if row == r) for r in rows}
    ax.set_yticks(range(len(rows)), [f"{r}  ({truths[r]:.3f})" for r in rows], fontsize=7)
    ax.set_xticks(range(len(cols)), cols, fontsize=8, rotation=30, ha="right")
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    bar.set_label("log2(estimate / truth)")
    view = "converged runs only" if converged_only else "all runs"
    ax.set_title(
        f"{title}{'; ' if title else ''}{view}\ncell: mean estimate in nats (runs, where some failed or "
        f"did not converge)\nrow: task (truth in nats); colour clipped to ±2",
        fontsize=9,
    )
    fig.tight_layout()
    mark_figure(fig, estimator_runs(records))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")  # "tight" keeps the footer below the canvas
    plt.close(fig)
    return out


def _colour_value(cell: Cell | None) -> float | None:
    if cell is None or not cell.estimates:
        return None
    ratio = cell.log2_ratio()
    return -CLIP if ratio is None else max(-CLIP, min(CLIP, ratio))  # mean <= 0: the bottom colour


def _label(cell: Cell | None, full: Cell | None, converged_only: bool) -> str:
    if full is None:
        return "not run"
    if not full.estimates:
        return "failed"
    if cell is None or not cell.estimates:
        return "none conv."
    return f"{cell.mean():.2f}" + (f" ({len(cell.estimates)})" if len(cell.estimates) < full.runs else "")
