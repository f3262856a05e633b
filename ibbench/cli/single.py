"""One run from the command line: ``ibbench run`` (a task with an estimator and/or trainer),
``ibbench estimate`` (your own arrays) and ``ibbench sample`` (a task's pairs, saved)."""

from __future__ import annotations

import sys

from ..api import BUDGETS
from ..errors import IbbenchError
from ..running.threads import use_threads
from . import options as o


def register(sub) -> dict:
    run = sub.add_parser("run", help="run one task with an estimator and store the record")
    run.add_argument("--task", required=True, help="task name (see `ibbench list`)")
    run.add_argument(
        "--estimator",
        help="MI estimator name (see `ibbench list`); with --trainer, it measures the information plane",
    )
    run.add_argument("--trainer", help="trainer name (see `ibbench list`); default: the task's own")
    o.add_sets(
        run, "SCOPE.FIELD=VALUE", "override a parameter, e.g. --set task.dim=5 --set estimator.hidden=512"
    )
    o.add_json(run)
    o.add_checkpoint_options(run)
    o.add_run_options(run)

    est = sub.add_parser(
        "estimate", help="estimate I(X;Y) of your own paired arrays (.npy/.npz/.csv, or bmi's sample CSV)"
    )
    est.add_argument("--x", help="X: a .npy, .npz[:NAME] or .csv file, one row per sample (with --y)")
    est.add_argument("--y", help="Y: same format, same row order as X (with --x)")
    est.add_argument(
        "--sample",
        metavar="FILE.csv",
        help="instead of --x/--y: X and Y in one CSV in the layout of bmi's save_sample "
        "(header X0,...,X{dx-1},Y0,...,Y{dy-1}, one row per sample)",
    )
    est.add_argument("--estimator", required=True, help="MI estimator name (see `ibbench list`)")
    o.add_sets(est, "estimator.FIELD=VALUE", "override an estimator parameter, e.g. --set estimator.k=5")
    o.add_json(est)
    o.add_run_options(est)

    smp = sub.add_parser(
        "sample", help="save a task's fixed sample (the pairs a run estimates from) as bmi CSV or .npz"
    )
    smp.add_argument("--task", required=True, help="task name (see `ibbench list`)")
    o.add_sets(smp, "task.FIELD=VALUE", "override a task parameter, e.g. --set task.n_pairs=1000")
    smp.add_argument("--seed", type=o.seed, default=0, help="the run's seed, an integer >= 0 (default 0)")
    smp.add_argument("--budget", choices=BUDGETS, default="quick", help="the run's budget (default quick)")
    smp.add_argument(
        "--out",
        type=o.path,
        required=True,
        metavar="FILE.csv|FILE.npz",
        help="where to write: .csv in bmi's layout (X0,...,Y0,...), .npz with arrays x and y",
    )
    o.add_data_dir(smp)
    return {"run": cmd_run, "estimate": cmd_estimate, "sample": cmd_sample}


def confirm_paper_cost(resolved_runs: list, yes: bool) -> None:
    """Before paper-budget work on the CPU (hours): print its expected cost (``ibbench.paper.cost``) and go on
    only with --yes, or a "y" typed at a terminal; else a one-line error, exit 2, nothing run."""
    from ..paper.cost import paper_cost_on_cpu

    cost = paper_cost_on_cpu(resolved_runs)
    if cost is None:
        return
    what = f"the paper budget on the CPU: {cost}"
    if yes:
        print(f"ibbench: {what}; starting (--yes)", file=sys.stderr)
        return
    if sys.stdin.isatty() and sys.stderr.isatty():
        answer = input(f"ibbench: {what}. Start? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return
        raise IbbenchError("not started; --budget quick runs in minutes, --device cuda on a GPU")
    raise IbbenchError(f"{what}; pass --yes to start it anyway, or use --budget quick or --device cuda")


def cmd_run(args) -> int:
    from ..running.runner import resolve, run
    from ..running.specs import EstimatorSpec, RunSpec, TaskSpec, TrainerSpec, parse_sets
    from ..store.results import ResultStore, summarise

    if args.estimator is None and args.trainer is None:
        raise IbbenchError("ibbench run needs --estimator NAME and/or --trainer NAME (see `ibbench list`)")
    sets = parse_sets(args.sets)
    if sets["estimator"] and args.estimator is None:
        raise IbbenchError("--set estimator.* given without --estimator")
    if sets["trainer"] and args.trainer is None:
        raise IbbenchError("--set trainer.* given without --trainer")
    spec = RunSpec(
        task=TaskSpec(name=args.task, params=sets["task"]),
        estimator=EstimatorSpec(name=args.estimator, params=sets["estimator"]) if args.estimator else None,
        trainer=TrainerSpec(name=args.trainer, params=sets["trainer"]) if args.trainer else None,
        seed=args.seed,
        budget=args.budget,
        device=args.device,
        preprocess=args.preprocess,
    )
    store = ResultStore(args.out)
    store.check_writable()  # before any work: a result that cannot be stored is not run
    registry = o.registry()
    confirm_paper_cost([resolve(spec, registry)], args.yes)
    use_threads(args.threads)
    record = run(
        spec,
        registry,
        store=store,
        show_progress=o.progress_enabled(args),
        checkpoint_every_s=o.checkpoint_every(args),
        bad_input_raises=True,
    )
    if args.json:
        print(record.model_dump_json())
    else:
        print(summarise(record) + f"; stored in {args.out} as run {record.id[:12]}")
    return 0 if record.status == "ok" else o.EXIT_FAILED_RUN


def cmd_sample(args) -> int:
    """Save the fixed pairs a run of ``--task`` at ``--seed`` estimates from; ``ibbench estimate`` on the
    file gives that run's estimate."""
    from ..running.specs import parse_sets
    from ..samples import sample_path, save_sample, task_sample

    sample_path(args.out)  # a bad suffix is an error before any work
    sets = parse_sets(args.sets)
    if sets["estimator"] or sets["trainer"]:
        raise IbbenchError("ibbench sample takes only --set task.FIELD=VALUE (a sample has no estimator)")
    x, y = task_sample(args.task, seed=args.seed, budget=args.budget, params=sets["task"])
    path = save_sample(x, y, args.out)
    read = f"--sample {path}" if path.suffix.lower() == ".csv" else f"--x {path}:x --y {path}:y"
    print(
        f"wrote {x.shape[0]} pairs of {args.task} (seed {args.seed}; X {x.shape[1]}-d, Y {y.shape[1]}-d) "
        f"to {path}; estimate them with `ibbench estimate {read} --estimator ksg --seed {args.seed}`"
    )
    return 0


def _estimate_files(args) -> dict[str, str]:
    """{"x", "y"} or {"sample"} from the arguments; a one-line error for neither or both."""
    if args.sample is not None and (args.x is not None or args.y is not None):
        raise IbbenchError("give --sample FILE.csv (X and Y in one bmi CSV) or --x X --y Y, not both")
    if args.sample is None and (args.x is None or args.y is None):
        raise IbbenchError(
            "ibbench estimate needs --x X --y Y (two files) or --sample FILE.csv "
            "(one CSV in bmi's layout X0,...,Y0,...)"
        )
    return {"sample": args.sample} if args.sample is not None else {"x": args.x, "y": args.y}


def cmd_estimate(args) -> int:
    """Estimate I(X;Y) of two files (``--x``, ``--y``) or of one bmi CSV (``--sample``): every pair unless
    ``--set estimator.n_samples=N`` (N > rows: exit 2 before any work), the count used printed with the
    estimate."""
    from ..estimate import estimate_files
    from ..running.specs import parse_sets
    from ..store.results import ResultStore

    files = _estimate_files(args)
    sets = parse_sets(args.sets)
    if sets["task"].get("robust") is not None:
        raise IbbenchError(
            "--set task.robust is gone: the preprocessing is the same on every route; use "
            "--preprocess standard (mean and std) or --preprocess none"
        )
    if sets["task"] or sets["trainer"]:
        raise IbbenchError(
            "ibbench estimate takes only --set estimator.FIELD=VALUE and --preprocess (the task is your arrays)"
        )
    record = estimate_files(
        files,
        args.estimator,
        sets["estimator"],
        seed=args.seed,
        budget=args.budget,
        device=args.device,
        preprocess=args.preprocess,
        threads=args.threads,
        show_progress=o.progress_enabled(args),
        store=ResultStore(args.out),
        confirm=lambda resolved: confirm_paper_cost([resolved], args.yes),
    )
    if args.json:
        print(record.model_dump_json())
    elif record.status == "ok":
        se = f" ± {record.estimate_stderr:.4f}" if record.estimate_stderr is not None else ""
        print(
            f"I(X;Y) = {record.estimate:.4f}{se} nats ({args.estimator}, {args.budget} budget, "
            f"{_pairs_used(record.extras)}){_reliability(record)}; stored in {args.out} as run {record.id[:12]}"
        )
    else:
        print(f"FAILED: {record.error}; stored in {args.out} as run {record.id[:12]}")
    return 0 if record.status == "ok" else o.EXIT_FAILED_RUN


def _reliability(record) -> str:
    """'; reliability: caution (sample-size), reasons above' (empty when the check was off)."""
    from ..store.results import reliability_text

    if not record.reliability:
        return ""
    return f"; {reliability_text(record.reliability)}" + (
        ", reasons above" if record.reliability["reasons"] else ""
    )


def _pairs_used(extras: dict) -> str:
    """'5000 pairs (2500 train, 2500 held-out)' from the estimator's extras, else the task's count."""
    used = extras.get("estimator", {})
    text = f"{used.get('pairs_used', extras.get('task', {}).get('pairs'))} pairs"
    if "train_pairs" in used and "heldout_pairs" in used:
        text += f" ({used['train_pairs']} train, {used['heldout_pairs']} held-out)"
    if "converged" in used:  # a critic: did its held-out bound plateau, or did it run out of steps?
        text += (
            f", converged in {used['steps_used']} steps"
            if used["converged"]
            else f", NOT converged in the maximum of {used['max_steps']} steps: raise estimator.steps"
        )
    return text
