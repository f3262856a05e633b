"""``ibbench figure`` (a paper figure re-made with ground truth) and ``ibbench bench`` (throughput)."""

from __future__ import annotations

from pathlib import Path

from ..api import BUDGETS
from . import options as o


def register(sub) -> dict:
    fig = sub.add_parser("figure", help="regenerate a figure of the paper with ground truth")
    fig.add_argument("name", choices=("fig2",), help="fig2: I(X; L3 + eps) of a random MLP against the noise")
    fig.add_argument("--budget", choices=BUDGETS, default="quick", help="estimator budget (default quick)")
    fig.add_argument(
        "--seeds", type=o.seed, nargs="+", default=[0, 1, 2], help="seeds to run (default 0 1 2)"
    )
    fig.add_argument("--noise-vars", type=float, nargs="+", help="noise variances (default 1e-3 .. 10)")
    fig.add_argument(
        "--out-dir",
        type=o.path,
        default=Path("results/fig2"),
        help="where the store, table and PNG go (default results/fig2)",
    )
    fig.add_argument(
        "--dataset",
        choices=("mnist", "digits"),
        default="mnist",
        help="X of the channel: MNIST (default) or scikit-learn's digits (offline, seconds)",
    )
    o.add_device(fig)
    o.add_quiet(fig, "no progress bars or progress lines")
    o.add_data_dir(fig)

    bench = sub.add_parser("bench", help="measure throughput (critic steps/s, FLOP utilisation, memory)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    thr = bench_sub.add_parser("throughput", help="write the throughput table to results/benchmarks/")
    o.add_device(thr)
    thr.add_argument(
        "--out-dir",
        type=o.path,
        default=Path("results/benchmarks"),
        help="where throughput-<device>.md and .json go (default results/benchmarks)",
    )
    thr.add_argument("--quick", action="store_true", help="a few small rows (a smoke test of the command)")
    thr.add_argument(
        "--min-time", type=o.float_above(0), default=1.0, help="seconds of timed calls per row (default 1)"
    )
    thr.add_argument("--no-precision", action="store_true", help="skip the bf16/tf32 estimate comparison")
    return {"figure": cmd_figure, "bench": cmd_bench}


def cmd_figure(args) -> int:
    from ..paper.fig2 import make_fig2

    make_fig2(
        out_dir=args.out_dir,
        budget=args.budget,
        seeds=args.seeds,
        noise_vars=args.noise_vars,
        dataset=args.dataset,
        device=args.device,
        registry=o.registry(),
        show_progress=o.progress_enabled(args),
    )
    return 0


def cmd_bench(args) -> int:
    from ..bench.throughput import run_throughput

    if args.device == "cuda":
        from ..running.runner import resolve_device

        resolve_device("cuda")  # a one-line error where torch sees no GPU
    md = run_throughput(
        args.device,
        args.out_dir,
        quick=args.quick,
        min_time=args.min_time,
        with_precision=not args.no_precision,
    )
    print(f"wrote {md} and {md.with_suffix('.json')}")
    return 0
