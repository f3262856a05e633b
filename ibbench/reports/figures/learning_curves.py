"""Accuracy against training steps (paper Fig. 6) from the records' evaluation history.

One panel per task, training fraction and data source; one line per trainer setting: the mean over
seeds of the accuracy each run logged at its evaluation steps (``training.evals``), with a band from
the lowest to the highest seed.  Test accuracy, except for a tuning file (``STORE.tuning.jsonl``),
whose candidates' test accuracy is never read: there the validation accuracy is drawn.  A footer
says so where the records are stale at HEAD or from a dirty tree (``ibbench.reports.currency``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from ...store.results import RunRecord


def curves(
    records: list[RunRecord], metric: str = "test_acc"
) -> dict[str, dict[str, dict[int, list[float]]]]:
    """Panel label -> trainer setting -> step -> the ``metric`` of every seed that logged that step
    (fractions); ok training runs with an evaluation history only."""
    from ..tables import _training_groups

    panels: dict[str, dict[str, dict[int, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for (task, fraction, data, setting, budget, _estimator), runs in _training_groups(records).items():
        panel = f"{task} {100 * fraction:g}%" + (f", {data}" if data else "") + f" ({budget})"
        for r in runs:
            if r.status != "ok" or not r.training.evals:
                continue
            for point in r.training.evals:
                value = getattr(point, metric, None)
                if value is not None:
                    panels[panel][setting][point.step].append(value)
    return {
        p: {s: dict(sorted(steps.items())) for s, steps in settings.items()} for p, settings in panels.items()
    }


def plot_learning_curves(
    records: list[RunRecord], out: Path, metric: str = "test_acc", title: str = ""
) -> Path:
    """Write the figure to ``out`` (PNG); ValueError where no record has an evaluation history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..currency import mark_figure

    panels = curves(records, metric)
    if not panels:
        raise ValueError("no ok training run with an evaluation history (training.evals)")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (panel, settings) in zip(axes[0], panels.items(), strict=True):
        for setting, steps in settings.items():
            xs = list(steps)
            values = [[100 * v for v in steps[s]] for s in xs]
            seeds = max(len(v) for v in values)
            line = ax.plot(
                xs,
                [statistics.fmean(v) for v in values],
                marker="o",
                ms=3,
                label=f"{setting} ({seeds} seeds)",
            )
            ax.fill_between(
                xs, [min(v) for v in values], [max(v) for v in values], alpha=0.2, color=line[0].get_color()
            )
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{'test' if metric == 'test_acc' else 'validation'} accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        title or "accuracy against training steps (mean over seeds; band: lowest to highest)", fontsize=10
    )
    fig.tight_layout()
    mark_figure(fig, [r for r in records if r.spec.trainer is not None])
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
