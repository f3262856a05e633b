"""Information-plane PNGs (paper Figs. 3-4) from one stored training record.

One panel per layer: x = I(X; L_i + eps), y = I(Y; L_i), both in nats, points
coloured by training step and joined in time order.  Where the record has the
Monte-Carlo truth of I(X; L_i + eps), it is drawn as hollow grey circles at
the same I(Y; L_i), so an estimator's error is visible along the trajectory.
A reading whose critic (for either axis) stopped short of its held-out plateau
is drawn as a cross, and the title counts the readings that reached it.
Without a measuring estimator, a layer-wise IB record falls back to its own
critics' training bounds (the paper's Fig. 4 shows those).  A footer says so where the record
is stale at HEAD or was made from a dirty tree (``ibbench.reports.currency``).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import IbbenchError
from ...store.results import RunRecord, critic_plateaus
from ..currency import mark_figure


def trajectory(record: RunRecord, source: str = "auto") -> tuple[list[dict], str, str]:
    """(points with layer/step/ixt/iyt, what measured them, step label) from a record.

    ``source``: "probe" (the run's measuring estimator), "critics" (a layer-wise IB run's own
    critics) or "auto" (the probe where there is one).
    """
    trained = record.training
    plane = trained.info_plane if trained is not None else None
    if plane is not None and source in ("auto", "probe"):
        who = (
            plane.estimator
            if plane.estimator == plane.iyt_estimator
            else f"I(X;L+eps): {plane.estimator}, I(Y;L): {plane.iyt_estimator}"
        )
        return [p.model_dump() for p in plane.points], who, "training step"
    trace = trained.get("trace") if trained is not None else None
    if trace and "layer" in trace[0] and source in ("auto", "critics"):
        points = [{**p, "step": p["iteration"]} for p in trace]
        return points, "the trainer's own critics (DV bounds on training batches)", "iteration of the layer"
    if source == "critics":
        raise IbbenchError(
            f"run {record.id[:12]} has no layer-wise critic trace: --source critics needs an "
            "ib-layerwise run; use --source probe"
        )
    raise IbbenchError(
        f"run {record.id[:12]} has no information plane: train with --estimator NAME "
        "(e.g. ibbench run --task mnist-mlp --trainer ce --estimator aa-mine)"
    )


def short_of_plateau(point: dict) -> bool:
    """Whether either critic of an information-plane reading stopped before its held-out plateau
    (readings without a convergence flag, e.g. from binning or the trainer's own critics, are not)."""
    return point.get("ixt_converged") is False or point.get("iyt_converged") is False


def plateau_note(points: list[dict]) -> str:
    """'; k of n critic readings on a held-out plateau', or '' where the points carry no flags."""
    on, flagged = critic_plateaus(points)
    return f"; {on} of {flagged} critic readings on a held-out plateau" if flagged else ""


def plot_info_plane(record: RunRecord, out: Path, source: str = "auto") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, who, step_label = trajectory(record, source)
    layers = sorted({p["layer"] for p in points})
    steps = [p["step"] for p in points]
    lo, hi = min(steps), max(steps) or 1
    fig, axes = plt.subplots(1, len(layers), figsize=(3.6 * len(layers), 3.4), squeeze=False)
    cmap, norm = plt.get_cmap("viridis"), matplotlib.colors.Normalize(lo, hi)
    for ax, layer in zip(axes[0], layers, strict=True):
        pts = sorted(
            (p for p in points if p["layer"] == layer and p["ixt"] is not None and p["iyt"] is not None),
            key=lambda p: p["step"],
        )  # an undefined (NaN, stored as null) reading is not drawn
        xs, ys = [p["ixt"] for p in pts], [p["iyt"] for p in pts]
        ax.plot(xs, ys, color="0.7", lw=0.8, zorder=1)
        for short, marker, size in ((False, "o", 22), (True, "x", 30)):
            part = [p for p in pts if short_of_plateau(p) == short]
            ax.scatter(
                [p["ixt"] for p in part],
                [p["iyt"] for p in part],
                c=[p["step"] for p in part],
                cmap=cmap,
                norm=norm,
                marker=marker,
                s=size,
                zorder=2,
                label="critic short of its plateau" if short and part else None,
            )
        truth = [(p["ixt_truth"], p["iyt"]) for p in pts if p.get("ixt_truth") is not None]
        if truth:
            ax.scatter(
                *zip(*truth, strict=True),
                facecolors="none",
                edgecolors="0.4",
                s=22,
                zorder=2,
                label="truth of I(X;L+eps)",
            )
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("I(X; L + eps) [nats]")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("I(Y; L) [nats]")
    fig.colorbar(matplotlib.cm.ScalarMappable(norm, cmap), ax=axes[0].tolist(), label=step_label, shrink=0.9)
    spec = record.spec
    trainer = spec.trainer.name if spec.trainer else "-"
    fig.suptitle(
        f"{record.task_label}, {trainer}, seed {spec.seed}, {spec.budget} budget; measured by {who}"
        + plateau_note(points),
        fontsize=9,
    )
    mark_figure(fig, [record])
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return out


def layer_ends(record: RunRecord) -> dict[int, list[tuple[float, float, float]]]:
    """A layer-wise IB record's held-out readings at each layer's start and end, with the truth:
    {layer: [(critic I(X;L+eps), I(Y;L), truth of I(X;L+eps)) at the start, at the end]}; {} for
    other records."""
    out = {}
    for i, layer in enumerate(record.training.layers if record.training else []):
        ends = []
        for when in (layer.get("at_start") or {}, layer):
            if all(when.get(k) is not None for k in ("ixt", "iyt", "ixt_truth")):
                ends.append((when["ixt"], when["iyt"], when["ixt_truth"]))
        if ends:
            out[i + 1] = ends
    return out


def plot_info_planes(records: list[RunRecord], out: Path, source: str = "auto") -> Path:
    """Several runs' information planes on the same panels (paper Fig. 4 over seeds): a colour per run,
    its readings joined in time order, a layer-wise IB run's held-out readings at each layer's start and
    end as squares, and the Monte-Carlo truth of I(X; L + eps) there as hollow circles at the same
    I(Y; L), joined to its reading by a dotted line (how far the critic reads below the truth)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = [(r, *trajectory(r, source)) for r in records]
    layers = sorted({p["layer"] for _, points, _, _ in drawn for p in points})
    fig, axes = plt.subplots(1, len(layers), figsize=(3.8 * len(layers), 3.6), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, layer in zip(axes[0], layers, strict=True):
        for n, (record, points, _, _) in enumerate(drawn):
            colour = colours(n % 10)
            pts = sorted(
                (p for p in points if p["layer"] == layer and p["ixt"] is not None and p["iyt"] is not None),
                key=lambda p: p["step"],
            )
            ends = layer_ends(record).get(layer, [])
            xs = [e[0] for e in ends[:1]] + [p["ixt"] for p in pts] + [e[0] for e in ends[1:]]
            ys = [e[1] for e in ends[:1]] + [p["iyt"] for p in pts] + [e[1] for e in ends[1:]]
            ax.plot(xs, ys, color=colour, lw=0.9, marker="o", ms=2.5, label=f"seed {record.spec.seed}")
            for critic, iyt, truth in ends:
                ax.scatter([critic], [iyt], marker="s", s=18, color=colour, zorder=3)
                ax.scatter([truth], [iyt], facecolors="none", edgecolors=colour, s=30, zorder=3)
                ax.plot([critic, truth], [iyt, iyt], ls=":", lw=0.8, color=colour)
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("I(X; L + eps) [nats]")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("I(Y; L) [nats]")
    axes[0][0].legend(fontsize=7, loc="lower right")
    first = records[0].spec
    fig.suptitle(
        f"{records[0].task_label}, {first.trainer.name if first.trainer else '-'}, {len(records)} runs, "
        f"{first.budget} budget; measured by {drawn[0][2]}\nsquares: held-out readings at a layer's start "
        "and end; hollow circles: the truth of I(X; L + eps) there",
        fontsize=8,
    )
    mark_figure(fig, records)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return out


def _has_plane(record: RunRecord, source: str) -> bool:
    try:
        trajectory(record, source)
    except IbbenchError:
        return False
    return True


def settings_with_planes(records: list[RunRecord], source: str = "auto") -> dict[str, list[RunRecord]]:
    """Every ok record with an information plane for ``source``, grouped by setting: {"task label x
    trainer setting": its runs} (the runs 'all' draws on one figure each)."""
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.status == "ok" and _has_plane(r, source):
            trainer = r.spec.trainer
            setting = trainer.name + (
                f"[{', '.join(f'{k}={v}' for k, v in sorted(trainer.params.items()))}]"
                if trainer.params
                else ""
            )
            groups.setdefault(f"{r.task_label} x {setting}", []).append(r)
    if not groups:
        raise IbbenchError("no training run with an information plane in the store")
    return groups


def find_record(records: list[RunRecord], run_id: str, source: str = "auto") -> RunRecord:
    """The record whose id starts with ``run_id`` (unique prefix), or for 'last' the newest record
    that has an information plane for ``source`` (an estimate stored after it does not hide it)."""
    if run_id == "last":
        if not records:
            raise IbbenchError("the results store is empty")
        with_plane = [r for r in records if r.status == "ok" and _has_plane(r, source)]
        if not with_plane:
            raise IbbenchError(
                "no training run with an information plane in the store; train with --estimator "
                "NAME (e.g. ibbench run --task mnist-mlp --trainer ce --estimator aa-mine)"
            )
        return with_plane[-1]
    matches = [r for r in records if r.id.startswith(run_id)]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs"
        raise IbbenchError(
            f"{what} with id starting {run_id!r} in the store; give more of the id "
            "(ids are printed by `ibbench run --json` and stored in the store's 'id' field)"
        )
    return matches[0]
