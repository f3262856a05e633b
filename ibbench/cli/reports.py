"""Reading a store: ``ibbench table KIND`` and ``ibbench plot KIND``.  Reports read records only; none
runs an experiment."""

from __future__ import annotations

import argparse

from ..api import BUDGETS
from ..errors import IbbenchError
from . import options as o

TABLE_KINDS = {
    "bias": "estimates vs truth",
    "accuracy": "test accuracy of training runs vs the paper",
    "separation": "per-layer cluster separation of the test set (paper Fig. 5)",
    "probes": "per-layer linear-probe test accuracy of every trained net",
    "layers": "layer-wise IB critics per layer against the truth, and the IB terms' gradient ratio",
    "beta": "layer-wise IB against beta (validation accuracy, test accuracy outside a tuning file, the "
    "truth of I(X; L_i + eps) per layer, the gradient ratio)",
    "verdict": "each trainer against ce, paired by seed: the mean paired difference with a 95 %% "
    "paired t interval, Wilcoxon and sign-test p values and the minimum detectable difference "
    "(a 95 %% Welch interval where the two share no seed)",
    "gaps": "the verdict as a table, a row per trainer setting (for sweeps)",
    "failures": "every failed run with its reason and where it failed",
    "preprocess": "each estimator's bias through each preprocessing (suites/preprocess-choice.toml)",
    "coverage": "how often each estimator's interval covers the truth, and how often an ok verdict is "
    "right (suites/coverage.toml)",
    "tuning": "a tuned suite's candidates (--store STORE.tuning.jsonl) with their validation accuracy and "
    "which was selected",
    "checks": "a tuned suite's one-factor budget checks (--store STORE --store STORE.checks.jsonl): the "
    "selected setting with one factor changed against itself, paired by seed",
}


def register(sub) -> dict:
    table = sub.add_parser("table", help="render a table from a results store")
    table.add_argument(
        "kind", choices=tuple(TABLE_KINDS), help="; ".join(f"{k}: {v}" for k, v in TABLE_KINDS.items())
    )
    o.add_store(table)
    table.add_argument("--format", default="github", help="any tabulate format: github, plain, latex, ...")
    table.add_argument("--budget", choices=BUDGETS, help="only records of this budget")
    table.add_argument(
        "--reference",
        default="ce",
        metavar="TRAINER",
        help="verdict and gaps: the trainer every other setting is paired with (default ce, the paper's)",
    )
    table.add_argument(
        "--suite",
        metavar="SUITE.toml",
        help="tuning and checks: the tuned suite that made the files; tuning: a setting is called selected "
        "only once every candidate has run (else: leading, k of n runs); checks: required",
    )
    table.add_argument(
        "--pooled",
        metavar="ESTIMATORS",
        help="preprocess only: a last row pooling these estimators (comma-separated, e.g. ksg,mine,infonce)",
    )
    table.add_argument(
        "--mdd-target",
        action="append",
        type=mdd_target,
        metavar="[FRACTION=]POINTS",
        help="verdict and gaps only: add the seeds needed for a minimum detectable difference of at most "
        "POINTS percentage points, the observed sd of the paired differences taken as the pilot; "
        "FRACTION= limits it to one training fraction and may repeat, e.g. --mdd-target 1%%=1 "
        "--mdd-target 100%%=0.3",
    )

    plot = sub.add_parser("plot", help="plot a stored run, or a figure of a whole store")
    plot.add_argument(
        "kind",
        choices=("info-plane", "heatmap", "beta-curve", "learning-curves"),
        help="info-plane: one training run's trajectory; heatmap: tasks x estimators of a store, "
        "coloured by log2(estimate / truth); beta-curve: layer-wise IB's accuracy and the truth of "
        "I(X; L_i + eps) against beta; learning-curves: accuracy against training steps per trainer "
        "setting, mean and range over seeds (paper Fig. 6); a tuning file shows validation accuracy only",
    )
    plot.add_argument(
        "run_id",
        nargs="?",
        help="info-plane: the run's id (a unique prefix is enough), 'last', or 'all' (a figure per setting, "
        "its runs on the same panels, e.g. paper Fig. 4 over seeds: info-planes-N.png)",
    )
    plot.add_argument(
        "--converged-only",
        action="store_true",
        help="heatmap: only runs whose critic reached its held-out plateau",
    )
    o.add_store(plot)
    plot.add_argument(
        "--out",
        type=o.path,
        help="PNG path (default: in the store's folder, info-plane-<id>.png, heatmap[-converged].png, "
        "beta-curve.png or learning-curves.png)",
    )
    plot.add_argument(
        "--source",
        choices=("auto", "probe", "critics"),
        default="auto",
        help="probe: the run's measuring estimator; critics: an ib-layerwise run's own critics "
        "(the paper's Fig. 4); auto: the probe where there is one",
    )
    return {"table": cmd_table, "plot": cmd_plot}


def mdd_target(text: str) -> tuple[float | None, float]:
    """``POINTS`` or ``FRACTION=POINTS`` (fraction as ``1%`` or ``0.01``) for ``--mdd-target``."""
    fraction, _, points = text.rpartition("=")
    try:
        value = float(points)
        where = None if not fraction else float(fraction.rstrip("%")) / (100 if fraction.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected POINTS or FRACTION=POINTS, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the MDD target must be positive, got {text!r}")
    return where, value


def _mdd_targets(given: list[tuple[float | None, float]] | None):
    """One target for every fraction, a fraction -> target mapping, or None."""
    if not given:
        return None
    everywhere = [points for fraction, points in given if fraction is None]
    if everywhere and len(given) > 1:
        raise IbbenchError("--mdd-target: give one POINTS for every fraction, or FRACTION=POINTS pairs")
    return everywhere[0] if everywhere else dict(given)


def _is_tuning_file(args) -> bool:
    """Whether a store read is a tuning file, whose candidates' test accuracy is never shown."""
    return any(
        s.name.endswith(".tuning.jsonl") for s in o.stores(args)
    )  # ibbench.sweeps.tuning.tuning_path's naming


def _records(args) -> list:
    """Every record of the stores read, in the order given."""
    return [r for store in o.stores(args) for r in o.records(store)]


def _title(args) -> str:
    return " + ".join(map(str, o.stores(args)))


def _renderer(kind: str, args):
    """The function ``(records, fmt) -> text`` of table ``kind``."""
    from ..reports import tables
    from ..reports.coverage import coverage_table
    from ..reports.preprocess_report import preprocess_table
    from ..reports.verdict import verdict_table, verdict_text
    from ..sweeps.checks import checks_table
    from ..sweeps.tuning import tuning_table

    if getattr(args, "suite", None) and kind not in ("tuning", "checks"):
        raise IbbenchError("--suite goes with `ibbench table tuning` or `ibbench table checks`")
    if kind == "checks" and not getattr(args, "suite", None):
        raise IbbenchError(
            "`ibbench table checks` needs --suite SUITE.toml, the tuned suite whose checks to read"
        )
    if getattr(args, "pooled", None) and kind != "preprocess":
        raise IbbenchError("--pooled goes with `ibbench table preprocess`")
    target = _mdd_targets(args.mdd_target)
    if target is not None and kind not in ("verdict", "gaps"):
        raise IbbenchError("--mdd-target goes with `ibbench table verdict` or `ibbench table gaps`")
    return {
        "bias": tables.bias_table,
        "accuracy": tables.accuracy_table,
        "separation": tables.separation_table,
        "probes": tables.probe_table,
        "layers": tables.layer_table,
        "beta": lambda rs, fmt: tables.beta_table(rs, fmt, with_test=not _is_tuning_file(args)),
        "failures": tables.failure_table,
        "verdict": lambda rs, fmt: verdict_text(rs, args.reference, mdd_target=target),
        "gaps": lambda rs, fmt: verdict_table(rs, args.reference, fmt, mdd_target=target),
        "preprocess": lambda rs, fmt: preprocess_table(rs, fmt, pooled=_pooled(args)),
        "coverage": coverage_table,
        "tuning": lambda rs, fmt: tuning_table(rs, fmt, suite=_tuned_suite(args)),
        "checks": lambda rs, fmt: checks_table(_tuned_suite(args), rs, fmt),
    }[kind]


def _tuned_suite(args):
    from ..running.specs import load_suite

    return load_suite(args.suite) if getattr(args, "suite", None) else None


def _pooled(args) -> tuple[str, ...]:
    return tuple(n.strip() for n in (getattr(args, "pooled", None) or "").split(",") if n.strip())


def cmd_table(args) -> int:
    o.stores(args)
    render = _renderer(args.kind, args)
    records = _records(args)
    if args.budget:
        records = [r for r in records if r.spec.budget == args.budget]
    print(render(records, fmt=args.format))
    return 0


def cmd_plot(args) -> int:
    o.stores(args)
    plot = {
        "heatmap": _plot_heatmap,
        "beta-curve": _plot_beta_curve,
        "learning-curves": _plot_learning_curves,
        "info-plane": _plot_info_plane,
    }
    return plot[args.kind](args)


def _whole_store(args, what: str) -> None:
    """A plot of a whole store takes no run id; a one-line error naming what it plots otherwise."""
    if args.run_id is not None:
        raise IbbenchError(f"ibbench plot {args.kind} takes no run id: {what}")


def _plot_heatmap(args) -> int:
    from ..reports.figures.heatmap import plot_heatmap

    _whole_store(args, "it plots every estimator run of --store")
    out = args.out or args.store.parent / f"heatmap{'-converged' if args.converged_only else ''}.png"
    try:
        written = plot_heatmap(_records(args), out, args.converged_only, title=_title(args))
    except ValueError as exc:
        raise IbbenchError(
            f"{args.store}: {exc}; plot a store of `ibbench run --estimator` or suite runs"
        ) from None
    print(f"heatmap of {args.store} written to {written}")
    return 0


def _plot_info_plane(args) -> int:
    from ..reports.figures.info_plane import (
        find_record,
        plot_info_plane,
        plot_info_planes,
        settings_with_planes,
    )

    if args.run_id is None:
        raise IbbenchError("ibbench plot info-plane needs a run id (or 'last', or 'all')")
    if args.run_id == "all":  # a figure per setting, its runs on the same panels
        groups = settings_with_planes(_records(args), args.source)
        if args.out is not None and len(groups) > 1:
            raise IbbenchError(
                f"--out names one PNG and the store has {len(groups)} settings; leave --out out"
            )
        for n, (setting, runs) in enumerate(groups.items(), 1):
            out = args.out or args.store.parent / f"info-planes-{n}.png"
            written = plot_info_planes(runs, out, args.source)
            print(f"information planes of {setting} ({len(runs)} runs) written to {written}")
        return 0
    record = find_record(_records(args), args.run_id, args.source)
    out = args.out or args.store.parent / f"info-plane-{record.id[:12]}.png"  # beside the store, as heatmap
    print(f"information plane of run {record.id[:12]} written to {plot_info_plane(record, out, args.source)}")
    return 0


def _plot_beta_curve(args) -> int:
    from ..reports.figures.beta_curve import beta_curves, plot_beta_curve

    _whole_store(args, "it plots every ib-layerwise run of --store")
    records = _records(args)
    curves = beta_curves(records, with_test=not _is_tuning_file(args))
    if not curves:
        raise IbbenchError(
            f"{args.store} has no ok layer-wise runs with a beta; plot a store of layer-wise IB runs"
        )
    out = args.out or args.store.parent / "beta-curve.png"
    written = plot_beta_curve(curves, out, title=_title(args), records=records)
    print(f"beta curve of {_title(args)} written to {written}")
    return 0


def _plot_learning_curves(args) -> int:
    from ..reports.figures.learning_curves import plot_learning_curves

    _whole_store(args, "it plots every training run of --store")
    out = args.out or args.store.parent / "learning-curves.png"
    metric = "val_acc" if _is_tuning_file(args) else "test_acc"
    try:
        written = plot_learning_curves(_records(args), out, metric, title=_title(args))
    except ValueError as exc:
        raise IbbenchError(f"{args.store}: {exc}; plot a store of training runs") from None
    print(f"learning curves of {args.store} written to {written}")
    return 0
