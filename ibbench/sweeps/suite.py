"""Run a grid of cells from a TOML suite, appending each record the moment it ends.

Every cell is resolved (names, parameters) before the first one runs, so a
typo costs nothing.  Cells that already have a record in the store (by their
validated, expanded parameters: ``ibbench.store.cells.CellKey``) are skipped, so re-running
the same command after an interruption finishes the grid without repeating
work; cells another suite on the same store is running are skipped too (claims).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tqdm.auto import tqdm

from ..api import Executor, Params
from ..errors import SpecError
from ..executors.builtin import Local, LocalParams
from ..running.checkpoints import DEFAULT_EVERY_S, CheckpointPolicy
from ..running.plugins import Registry
from ..running.runner import ResolvedRun, cell_of, execute, resolve, store_record
from ..running.specs import RunSpec, SuiteSpec, describe_validation_error, load_suite
from ..store.cells import CellKey
from ..store.results import ResultStore, RunRecord, summarise
from .claims import Claims


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 0 <= K < N: this process runs cells K, K+N, K+2N, ..."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 0 <= int(k) < int(n):
        raise SpecError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. --shard 0/4")
    return int(k), int(n)


def run_suite(
    path: str | Path,
    *,
    out: Path | None,
    registry: Registry,
    show_progress: bool | str = False,
    shard: tuple[int, int] = (0, 1),
    executor: str = "local",
    executor_params: dict[str, Any] | None = None,
    checkpoint_every_s: float | None = DEFAULT_EVERY_S,
    cell_timeout: float | None = None,
    rerun_stale: bool = False,
) -> int:
    """Run every missing cell (of this shard); returns how many cells failed in this invocation.
    ``cell_timeout`` (seconds; default the suite file's ``cell_timeout``): a cell still running then is
    stopped and stored as failed, and the suite goes on.  ``rerun_stale``: first set aside the store's
    records that today's code would not reproduce (``set_aside_stale``), so their cells run again."""
    suite = load_suite(path)
    store = ResultStore(out or Path("results") / f"{suite.name}.jsonl")
    store.check_writable()  # before any cell runs
    if rerun_stale:
        moved = set_aside_stale(store.path, registry)
        print(
            f"{suite.name}: {moved} records not current at this tree set aside in {stale_path(store.path)} "
            "(and its tuning file's)",
            file=sys.stderr,
        )
    k, n = shard
    cells = suite.cells()
    name = suite.name if n == 1 else f"{suite.name} (shard {k}/{n})"
    entry = registry.get("executor", executor)
    plugin = entry.load()
    try:
        params = plugin.params_for("quick", {**entry.defaults, **(executor_params or {})})
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, f"executor {executor!r}")) from None

    def run(label: str, todo: list, into: ResultStore, blind: bool = False) -> int:
        checkpoints = (
            None if checkpoint_every_s is None else CheckpointPolicy.for_store(into.path, checkpoint_every_s)
        )
        return run_cells(
            label,
            todo[k::n],
            into,
            registry,
            show_progress=show_progress,
            executor=(plugin, params),
            checkpoints=checkpoints,
            cell_timeout=cell_timeout or suite.cell_timeout,
            blind=blind,
        )

    failed = 0
    if suite.tune is not None:  # first the candidates, then the selected settings join the grid
        from .tuning import candidate_cells, evaluation_cells, select, tuning_path

        tuning = ResultStore(tuning_path(store.path))
        # a candidate's line shows its validation accuracy only: test accuracy is read once, after selection
        failed += run(f"{name}: tuning candidates", candidate_cells(suite), tuning, blind=True)
        selections = select(suite, tuning.records())
        waiting = [s for s in selections if s.chosen is None]
        for s in waiting:
            why = f"{s.missing} candidate runs without a record" if s.missing else "every candidate failed"
            print(
                f"{suite.name}: {s.space.trainer} on {s.task.name}: no setting selected ({why}); "
                f"run the suite again{' when the other shards are done' if n > 1 else ''}",
                file=sys.stderr,
            )
        cells = cells + evaluation_cells(suite, selections)
    failed += run(name, cells, store)
    if suite.tune is not None and any(space.check for space in suite.tune.spaces):
        from .checks import check_cells, checks_path

        # after the evaluation seeds: a check is read against the selected setting's runs
        failed += run(
            f"{name}: one-factor checks", check_cells(suite, selections), ResultStore(checks_path(store.path))
        )
    return failed


def stale_path(store: Path) -> Path:
    return store.with_name(store.stem + ".stale.jsonl")


def set_aside_stale(store: Path, registry: Registry) -> int:
    """Move the records of ``store``, of its tuning file (``runs.tuning.jsonl``: a tuned suite's
    candidates decide which settings run, so a stale one is re-run too) and of its checks file, that are not current
    (``ibbench.store.fingerprint.record_status``: stale, dirty-tree or unknown) to ``<file>.stale.jsonl``;
    returns how many."""
    return sum(_set_aside_stale_in(path, registry) for path in (store, *companion_files(store)))


def companion_files(store: Path) -> tuple[Path, Path]:
    """The files a tuned suite fills beside ``store``: its tuning candidates and its one-factor checks."""
    from .checks import checks_path
    from .tuning import tuning_path

    return tuning_path(store), checks_path(store)


def _set_aside_stale_in(store: Path, registry: Registry) -> int:
    """``set_aside_stale`` for one file.  The records are appended to ``<store>.stale.jsonl`` (fsync'ed)
    before the store is atomically rewritten without them: a crash between the two leaves a record in
    both files, never in neither."""
    from ..store.atomic import atomic_write
    from ..store.fingerprint import record_status

    if not store.exists():
        return 0
    records = ResultStore(store).records()
    current = [record_status(r, registry).current for r in records]  # once per record
    keep = [r for r, ok in zip(records, current, strict=True) if ok]
    if len(keep) == len(records):
        return 0
    lines = ResultStore(store).lines_by_id()  # moved and kept records keep their bytes
    aside = ResultStore(stale_path(store))
    for r, ok in zip(records, current, strict=True):
        if not ok:
            aside.append_verbatim(lines[r.id], r.id)
    with atomic_write(store) as fh:
        fh.write("".join(lines[r.id] + "\n" for r in keep).encode("utf-8"))
    return len(records) - len(keep)


def run_cells(
    name: str,
    cells: list[RunSpec],
    store: ResultStore,
    registry: Registry,
    *,
    show_progress: bool | str = False,
    executor: tuple[Executor, Params] | None = None,
    checkpoints: CheckpointPolicy | None = None,
    cell_timeout: float | None = None,
    blind: bool = False,
) -> int:
    """Run the cells missing from ``store``, appending each record as it ends; returns failures.
    ``blind``: each cell's printed line withholds test accuracy (tuning candidates).

    With ``checkpoints``, a training cell snapshots its state as it goes; a cell killed mid-way
    resumes from its snapshot when the suite is run again.

    Without an executor (or with ``local`` at jobs=1) cells run here, with ``registry``; otherwise
    the executor ships each cell's spec to a worker, which rebuilds the registry from the installed
    plugins, and this process appends the records as they come back, in completion order.
    """
    resolved = [resolve(cell, registry) for cell in cells]  # fail fast on any bad name or parameter
    unique: dict[CellKey, ResolvedRun] = {}
    for r in resolved:  # a cell written twice in a suite (other spelling, other order) runs once
        unique.setdefault(cell_of(r), r)
    cells = [r.spec for r in unique.values()]
    done = {CellKey.of_record(r) for r in store.records()}
    missing = [key for key in unique if key not in done]
    claims = Claims(store.path)
    try:
        claimed = [key for key in missing if claims.take(key)]  # another suite on this store runs the rest
        # a run that held a claim stored its record before releasing it: read the store again now that
        # the claims are ours, or a cell it finished meanwhile would run twice
        done = {CellKey.of_record(r) for r in store.records()}
        for key in claimed:
            if key in done:
                claims.release(key)
        todo = [unique[key] for key in claimed if key not in done]
        missing = [key for key in missing if key not in done]
        where = "" if executor is None else f" on {type(executor[0]).__name__.lower()}"
        busy = f", {len(missing) - len(todo)} claimed by another run" if len(todo) < len(missing) else ""
        print(
            f"{name}: {len(cells)} cells, {len(cells) - len(missing)} already in {store.path}{busy}, "
            f"running {len(todo)}{where}",
            file=sys.stderr,
        )
        failed = _run_claimed(
            name, todo, store, show_progress, executor, checkpoints, claims, cell_timeout, blind
        )
        if busy:
            print(
                f"{name}: {len(missing) - len(todo)} cells were left to another run on {store.path}; run this "
                f"command again once it ends to check the grid is complete",
                file=sys.stderr,
            )
        return failed
    finally:
        claims.release_all()


def _run_claimed(
    name: str,
    todo: list,
    store: ResultStore,
    show_progress: bool | str,
    executor: tuple[Executor, Params] | None,
    checkpoints: CheckpointPolicy | None,
    claims: Claims,
    cell_timeout: float | None = None,
    blind: bool = False,
) -> int:
    # a time limit needs a worker process that can be ended, so it ships cells even at jobs=1
    in_process = cell_timeout is None and (executor is None or getattr(executor[1], "jobs", None) == 1)
    if in_process:
        records = (execute(item, show_progress=False, checkpoints=checkpoints) for item in todo)
    else:
        plugin, params = executor or (Local(), LocalParams())
        policy = None if checkpoints is None else asdict(checkpoints)
        cells_data = [
            {"spec": item.spec.model_dump(mode="json"), "checkpoints": policy, "timeout_s": cell_timeout}
            for item in todo
        ]
        records = (RunRecord.model_validate(data) for _, data in plugin.map(cells_data, params))
    failed = 0
    for record in tqdm(
        records, total=len(todo), desc=name, disable=show_progress is not True, file=sys.stderr
    ):
        store_record(store, record, checkpoints)
        claims.release(CellKey.of_record(record))
        failed += record.status != "ok"
        # the cell's result is the command's output (stdout); tqdm.write keeps a bar on stderr intact
        tqdm.write(summarise(record, show_test=not blind), file=sys.stdout)
    return failed


def suite_cells(suite: SuiteSpec, store: Path) -> dict[Path, list[RunSpec]]:
    """Every cell a suite fills, per store: its grid in ``store`` and, for a tuned suite, its candidates
    in the tuning file, its selected settings (once chosen) in ``store`` and their one-factor checks in
    the checks file; while a selection waits on candidates, each of its evaluation and check cells
    counts as one missing cell."""
    out = {store: list(suite.cells())}
    if suite.tune is None:
        return out
    from .checks import check_cells, checked, checks_path
    from .tuning import candidate_cells, evaluation_cells, seed_cells, select, trainer_setting, tuning_path

    tuning = tuning_path(store)
    out[tuning] = candidate_cells(suite)
    selections = select(suite, ResultStore(tuning).records() if tuning.exists() else [])
    out[store] += evaluation_cells(suite, selections)
    if any(space.check for space in suite.tune.spaces):
        out[checks_path(store)] = check_cells(suite, selections)
    for s in selections:  # not selected yet: a placeholder per evaluation seed (the first candidate's)
        if s.chosen is None and s.candidates:
            first = s.candidates[0]
            out[store] += seed_cells(suite, s.task, trainer_setting(s.space, first.config), suite.seeds)
            if s.space.check is not None:  # and one per check seed
                out[checks_path(store)] += seed_cells(
                    suite, s.task, checked(s.space, first.config), s.space.check.seeds
                )
    return out
