"""The IB curve the paper never drew (issue 27): what layer-wise IB does as beta grows.

For every ``ib-layerwise`` setting of a store that differs only in beta (same task, fraction, learning
rate, steps, ...), one point per beta over its seeds: the validation accuracy (always; a tuning
candidate's test accuracy is never read, ``ibbench.sweeps.tuning``), the test accuracy where the store is not
a tuning file, and per layer i the Monte-Carlo truth of I(X; L_i + eps) when the layer's training
ended (``ixt_truth``: X uniform over the truth points, the Gaussian-mixture formula; nats) and the
median ratio ||beta grad I(X; L_i + eps)|| / ||grad I(Y; L_i)|| on the layer's weights (near 0: beta
did nothing).  Compression shows as the truth falling with beta; "does any beta beat CE" is then
Table 1's tuned, paired question, not this curve's.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ...store.results import RunRecord, unique_cells


@dataclass
class BetaPoint:
    """One beta of one setting, over its seeds (accuracies as fractions, information in nats)."""

    beta: float
    seeds: list[int] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    ixt_truth: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))  # layer -> runs
    grad_ratio: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))


def _mean_se(values: list[float]) -> tuple[float, float | None]:
    """Mean and standard error over seeds (None with one seed)."""
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None)


def beta_curves(records: list[RunRecord], with_test: bool) -> dict[str, list[BetaPoint]]:
    """Setting label (everything but beta) -> its points in increasing beta, from the ok runs of
    ``records`` by a layer-wise trainer with a ``beta`` (``ib-layerwise``: a summary per layer).  ``with_test`` False (a tuning file): test accuracy is left unread."""
    points: dict[str, dict[float, BetaPoint]] = defaultdict(dict)
    for r in unique_cells(records):
        if r.status != "ok" or r.training is None or not r.training.layers:
            continue
        params = dict(r.expanded["trainer"]["params"])
        if "beta" not in params:  # a layer-wise trainer without the IB coefficient (greedy CE)
            continue
        beta = float(params.pop("beta"))
        fraction = r.expanded["task"]["params"].get("train_fraction", 1.0)
        shown = {k: params[k] for k in ("lr", "steps", "critic_steps") if k in params}
        setting = ", ".join(f"{k}={v}" for k, v in shown.items())
        label = f"{r.spec.trainer.name} on {r.spec.task.name} {100 * fraction:g}%, {setting}"
        point = points[label].setdefault(beta, BetaPoint(beta))
        point.seeds.append(r.spec.seed)
        point.val_acc.append(r.training.val_acc)
        if with_test:
            point.test_acc.append(r.training.test_acc)
        for i, layer in enumerate(r.training.layers):
            if layer.get("ixt_truth") is not None:
                point.ixt_truth[i + 1].append(layer["ixt_truth"])
            if layer.get("grad_ratio_median") is not None:
                point.grad_ratio[i + 1].append(layer["grad_ratio_median"])
    return {label: [by_beta[b] for b in sorted(by_beta)] for label, by_beta in sorted(points.items())}


def _pm(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    if not values:
        return ""
    mean, se = _mean_se([scale * v for v in values])
    return f"{mean:.{digits}f}" + (f" ± {se:.{digits}f}" if se is not None else "")


def beta_rows(curves: dict[str, list[BetaPoint]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the beta table (accuracy %, mean ± se over seeds; truth in nats)."""
    layers = sorted({i for pts in curves.values() for p in pts for i in p.ixt_truth})
    headers = ["setting", "beta", "seeds", "val acc % (mean ± se)", "test acc % (mean ± se)"]
    headers += [f"I(X;L{i}+eps) truth" for i in layers] + [f"grad ratio L{i}" for i in layers]
    rows = []
    for label, pts in curves.items():
        for p in pts:
            rows.append(
                [
                    label,
                    f"{p.beta:g}",
                    str(len(p.seeds)),
                    _pm(p.val_acc, 100),
                    _pm(p.test_acc, 100) or "withheld",
                ]
                + [_pm(p.ixt_truth.get(i, []), digits=3) for i in layers]
                + [f"{statistics.median(p.grad_ratio[i]):.2e}" if p.grad_ratio.get(i) else "" for i in layers]
            )
    return headers, rows


def plot_beta_curve(
    curves: dict[str, list[BetaPoint]], out: Path, title: str = "", records: list[RunRecord] = ()
) -> Path:
    """Accuracy and the truth of I(X; L_i + eps) (log scale) against beta, one colour per setting, one line
    style per layer.  beta = 0
    sits one decade left of the smallest positive beta, at a tick labelled 0.  A footer says so where
    ``records`` are stale at HEAD or from a dirty tree (``ibbench.reports.currency``)."""
    import matplotlib

    from ..currency import mark_figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positive = [p.beta for pts in curves.values() for p in pts if p.beta > 0]
    zero_at = min(positive) / 10 if positive else 1e-4

    def xs(pts):
        return [p.beta if p.beta > 0 else zero_at for p in pts]

    fig, (acc_ax, info_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    layer_styles = ["o-", "s--", "^:", "D-."]  # L1, L2, L3, ...: one colour per setting in both panels
    for n, (label, pts) in enumerate(curves.items()):
        colour = colours[n % len(colours)]
        for values, style, what in (
            (lambda p: p.val_acc, "o-", "val"),
            (lambda p: p.test_acc, "s--", "test"),
        ):
            shown = [p for p in pts if values(p)]
            if shown:
                means = [100 * _mean_se(values(p))[0] for p in shown]
                errs = [100 * (_mean_se(values(p))[1] or 0) for p in shown]
                acc_ax.errorbar(
                    xs(shown), means, yerr=errs, fmt=style, color=colour, capsize=3, label=f"{label} ({what})"
                )
        for i in sorted({i for p in pts for i in p.ixt_truth}):
            shown = [p for p in pts if p.ixt_truth.get(i)]
            means = [_mean_se(p.ixt_truth[i])[0] for p in shown]
            errs = [_mean_se(p.ixt_truth[i])[1] or 0 for p in shown]
            style = layer_styles[(i - 1) % len(layer_styles)]
            info_ax.errorbar(xs(shown), means, yerr=errs, fmt=style, color=colour, capsize=2, markersize=4)
    layers = sorted({i for pts in curves.values() for p in pts for i in p.ixt_truth})
    for i in layers:  # the right panel's legend: which line style is which layer (colours as on the left)
        info_ax.plot([], [], layer_styles[(i - 1) % len(layer_styles)], color="grey", label=f"L{i}")
    info_ax.set_yscale("log")  # the truth falls over three decades as beta grows
    for ax, ylabel in ((acc_ax, "accuracy (%)"), (info_ax, "I(X; L_i + eps), Monte-Carlo truth (nats)")):
        ax.set_xscale("log")
        ticks = sorted({*positive, zero_at})
        ax.set_xticks(ticks, [("0" if t == zero_at else f"{t:g}") for t in ticks])
        ax.set_xlabel("beta (weight of I(X; L + eps))")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title or "layer-wise IB against beta (mean ± se over seeds)", fontsize=10)
    fig.tight_layout()
    mark_figure(fig, [r for r in records if r.training is not None and r.training.layers])
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
