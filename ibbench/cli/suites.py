"""Many runs: ``ibbench suite run`` (a grid from a TOML file) and ``ibbench reproduce`` (every published
result, from results/manifest.toml)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import IbbenchError
from ..running.threads import use_threads
from . import options as o
from .single import confirm_paper_cost


def register(sub) -> dict:
    suite = sub.add_parser("suite", help="run a grid described by a TOML file")
    suite_sub = suite.add_subparsers(dest="suite_command", required=True)
    _add_suite_run(suite_sub.add_parser("run", help="run every cell not already in the store"))
    _add_reproduce(
        sub.add_parser(
            "reproduce",
            help="check or regenerate every published result (results/manifest.toml)",
            description="Every published result (results/manifest.toml: its suites, stores, tables, figures "
            "and the README sections quoting it).  --check: per result, how many records today's code would "
            "reproduce, which modules changed since the others, how many came from a dirty tree, how many "
            "suite cells have no record; exit 1 when a result not marked as awaiting an open issue of the "
            "project is not current.  Without --check: refuse a dirty tree, move the records that are not "
            "current to STORE.stale.jsonl, run the missing cells (resumable) and remake the tables and figures.",
        )
    )
    return {"suite": cmd_suite, "reproduce": cmd_reproduce}


def _add_executor(p, jobs_help: str) -> None:
    p.add_argument("--executor", default="local", help="where cells run: local (default) or slurm")
    p.add_argument("--jobs", type=o.positive_int, help=jobs_help)
    o.add_threads(p, ", shared among the --jobs workers")


def _add_suite_run(srun) -> None:
    srun.add_argument("suite", type=o.path, help="the suite's TOML file (e.g. suites/bias-quick.toml)")
    srun.add_argument("--out", type=o.path, help="results store (default results/<suite name>.jsonl)")
    o.add_quiet(srun)
    o.add_data_dir(srun)
    _add_executor(srun, "local executor: cells at a time in worker processes (default 1)")
    o.add_sets(
        srun,
        "executor.FIELD=VALUE",
        "executor parameter, e.g. --set executor.partition=gpu --set executor.gpus_per_cell=1",
    )
    srun.add_argument(
        "--shard",
        default="0/1",
        metavar="K/N",
        help="run only cells K, K+N, K+2N, ... (N processes, e.g. on one GPU, each with its own --out)",
    )
    o.add_yes(srun, "start paper-budget cells on the CPU without asking (it prints their expected cost)")
    srun.add_argument(
        "--cell-timeout",
        type=o.float_above(0),
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
    o.add_checkpoint_options(srun)


def _add_reproduce(rep) -> None:
    rep.add_argument("names", nargs="*", help="results to regenerate or check (default: all in the manifest)")
    rep.add_argument(
        "--check",
        action="store_true",
        help="only say, per result, whether its records are current at this tree; exit 1 if one is not "
        "(results the manifest marks awaiting an issue are listed, not failed)",
    )
    rep.add_argument(
        "--manifest",
        type=o.path,
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
        help="instead of regenerating: apply today's reliability rules (ibbench/verdicts/judgement.py) to the stored "
        "records of each result, rewriting only their verdicts, then remake its tables (a verdict is a "
        "function of what the run measured: no cell is re-run)",
    )
    rep.add_argument(
        "--since",
        metavar="COMMIT",
        help="--attest for stores made on another processor: run each canary here by COMMIT's code and by "
        "today's, and attest the change between them where the two agree to the last bit (COMMIT: one at "
        "which the records were current, e.g. the commit before the change)",
    )
    rep.add_argument(
        "--canaries",
        type=o.positive_int,
        default=2,
        help="--attest: canary cells per (task, estimator, trainer) (default %(default)s)",
    )
    _add_executor(rep, "local executor: cells at a time (default 1)")
    o.add_quiet(rep)


def _executor_params(args) -> dict:
    """The executor's parameters: ``--set executor.*``, ``--jobs`` and ``--threads`` (local)."""
    from ..running.specs import parse_sets

    params = parse_sets(args.sets, ("executor",), "ibbench suite run")["executor"]
    if args.jobs is not None:
        if args.executor != "local":
            raise IbbenchError(
                f"--jobs is for the local executor; {args.executor} takes --set executor.FIELD=VALUE"
            )
        params["jobs"] = args.jobs
    if args.threads is not None and args.executor == "local":
        params["threads"] = args.threads
    return params


def cmd_suite(args) -> int:
    from ..running.runner import resolve
    from ..running.specs import load_suite
    from ..sweeps.suite import parse_shard, run_suite

    params = _executor_params(args)
    if params.get("jobs", 1) == 1 and args.executor == "local":
        use_threads(args.threads)  # cells run in this process (a --cell-timeout worker gets the same count)
    registry, (k, n) = o.registry(), parse_shard(args.shard)
    confirm_paper_cost([resolve(cell, registry) for cell in load_suite(args.suite).cells()[k::n]], args.yes)
    failed = run_suite(
        args.suite,
        out=args.out,
        registry=registry,
        show_progress=o.progress_enabled(args),
        shard=(k, n),
        executor=args.executor,
        executor_params=params,
        checkpoint_every_s=o.checkpoint_every(args),
        cell_timeout=args.cell_timeout,
        rerun_stale=args.rerun_stale,
    )
    return o.EXIT_FAILED_RUN if failed else 0


def _check(results, registry) -> int:
    """``reproduce --check``: a table of every result's state; 1 when one not awaiting an issue is stale."""
    from ..reproduction.reproduce import check, render

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


def _attest(args, results, registry) -> int:
    from ..reproduction.reproduce import attest_results

    if not args.names:
        results = [r for r in results if not r.awaiting]
    differ = attest_results(results, registry, per_names=args.canaries, quiet=args.quiet, since=args.since)
    if differ:
        print(
            f"ibbench: a canary of {', '.join(differ)} does not reproduce its record: the change alters "
            f"numbers; regenerate with ibbench reproduce {' '.join(differ)}",
            file=sys.stderr,
        )
    return 1 if differ else 0


def cmd_reproduce(args) -> int:
    """``--check``: a table of every result's state, exit 1 when one not awaiting an issue is not current.
    Otherwise regenerate the named (default: every not-current, not-awaiting) results from a clean tree."""
    from ..reproduction.reproduce import check, load_manifest, refuse_dirty, regenerate, rejudge_results

    results = load_manifest(args.manifest).select(args.names)
    registry = o.registry()
    if args.check:
        return _check(results, registry)
    if args.since and not args.attest:
        raise IbbenchError("--since goes with --attest (ibbench reproduce --attest --since COMMIT)")
    refuse_dirty()
    if args.rejudge:
        rejudge_results(results, registry, quiet=args.quiet)
        return 0
    if args.attest:
        return _attest(args, results, registry)
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
        show_progress=o.progress_enabled(args),
        quiet=args.quiet,
    )
    return o.EXIT_FAILED_RUN if failed else 0
