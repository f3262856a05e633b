"""Records that stay current across a code change that leaves their numbers alone: canary cells re-run.

The source fingerprint (``ibbench.store.fingerprint``) calls a record stale as soon as a file it ran changes.
Most changes to the runner or an estimator's module do not change a number a stored record holds (a
new warning, a new record field, a refactor), and re-running a store to find that out costs CPU-hours.
``attest`` re-runs, at a clean commit, the ``canaries`` cheapest stale cells of each (task, estimator,
trainer) of a published result, and compares every value the stored record holds (``measured``: its
status, expanded spec, estimate, standard error, truth, training result and extras, less wall-clock
timings) with the re-run, to the last bit.  Values the re-run adds (a field new at HEAD) are allowed:
the stored numbers are what is attested.  When every canary matches, one line goes to
``results/attestations.jsonl``: the module changes it vouches for (``[module, old hash, new hash]``),
the names it covers, the canaries and the commit.  ``record_status`` then counts a stale, clean-tree
record as current when every module that changed since it was made has a chain of attested changes
from its hash to today's, each covering the record's (task, estimator, trainer).

This is evidence, not proof: a change that alters only inputs no canary drew (duplicated rows, a
dimension no canary has) passes.  Hence one canary per (task, estimator, trainer) at least, the
record's own thread count and processor (CPU reductions depend on both: a record made on another
processor is no canary here, and an attestation carries only records of its canaries' processor),
and a regeneration (``ibbench reproduce NAME``) whenever a canary differs.

A store made on another processor can still follow a code change: ``attest_since`` re-runs each canary
here twice, by the code of a base commit (a temporary git worktree, its own interpreter) and by today's,
and attests the change from the base's files to today's when the two agree to the last bit.  It vouches
for a change of code, not for a record, so it carries records of every processor; a change to a module
that picks its arithmetic by the processor (``PROCESSOR_DISPATCH``) is refused, as only a canary on each
processor could show it leaves their numbers alone (a move of its file, byte for byte, is not refused).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..store.git import git, git_blob
from .attestations import (  # re-exported: the reading side of the file this module writes
    ATTESTATIONS,
    GONE,
    names_of,
    processor_of,
)

#: record fields compared between a stored record and its canary
MEASURED = (
    "status",
    "error",
    "expanded",
    "estimate",
    "estimate_stderr",
    "truth",
    "truth_stderr",
    "training",
    "extras",
)
#: keys whose values are wall-clock measurements, not results: never compared
VOLATILE = frozenset(
    {
        "fit_seconds",
        "steps_per_s",
        "wall_time_s",
        "wall_time_before_s",
        "resumed",
        "traceback",
        "check_seconds",
    }
)


#: modules whose code picks its arithmetic by the processor it runs on (bf16 only where it is native): a
#: change to one can alter the numbers of one processor and not another's (``attest_since`` refuses it)
PROCESSOR_DISPATCH = frozenset({"ibbench.running.hardware"})


def measured(record) -> dict[str, Any]:
    """What a record measured, as plain JSON, without the wall-clock timings (``VOLATILE``): its
    ``MEASURED`` fields and, where it has a verdict, the half-sample fit behind it (the verdict itself
    is a function of these, versioned apart: ``ibbench.verdicts.judgement``)."""
    data = json.loads(record.model_dump_json(include=set(MEASURED)))
    if record.reliability:
        data["consistency"] = record.reliability.get("consistency")
    return _drop_volatile(data)


def _drop_volatile(value):
    if isinstance(value, dict):
        return {k: _drop_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_drop_volatile(v) for v in value]
    return value


def differences(stored, rerun, path: str = "") -> list[str]:
    """Where ``rerun`` does not hold ``stored``'s values exactly: ``path: stored != rerun`` for each leaf
    of ``stored`` (keys only ``rerun`` has are not differences; NaN equals NaN)."""
    if isinstance(stored, dict):
        if not isinstance(rerun, dict):
            return [f"{path or '.'}: a mapping, now {type(rerun).__name__}"]
        out = []
        for key, value in stored.items():
            where = f"{path}.{key}" if path else key
            out += differences(value, rerun[key], where) if key in rerun else [f"{where}: now absent"]
        return out
    if isinstance(stored, list):
        if not isinstance(rerun, list) or len(rerun) != len(stored):
            return [f"{path}: a list of {len(stored)}, now {rerun!r:.60}"]
        return [
            d
            for i, (a, b) in enumerate(zip(stored, rerun, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    same = stored == rerun or (
        isinstance(stored, float) and isinstance(rerun, float) and math.isnan(stored) and math.isnan(rerun)
    )
    return [] if same else [f"{path}: {stored!r} != {rerun!r}"]


# ---- making attestations -----------------------------------------------------------------------------


@dataclass
class Canary:
    record: Any  # the stored record
    label: str
    differences: list[str]
    wall_time_s: float


def choose_canaries(records: list, per_names: int) -> dict[tuple[str, str, str], list]:
    """``per_names`` records of each (task, estimator, trainer): the cheapest (by stored wall time, then
    id) of each of its distinct settings first (parameters other than the seed), then the next cheapest."""
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for record in records:
        groups[names_of(record)].append(record)
    chosen = {}
    for names, group in sorted(groups.items()):
        ordered = sorted(group, key=lambda r: (r.wall_time_s or 0.0, r.id))
        settings, first, rest = set(), [], []
        for record in ordered:
            setting = json.dumps(record.expanded, sort_keys=True, default=str)
            (rest if setting in settings else first).append(record)
            settings.add(setting)
        chosen[names] = (first + rest)[:per_names]
    return chosen


def record_threads(record) -> int | None:
    """The torch thread count a record ran with (from ``provenance.device``, e.g. 'cpu:... (1 threads)')."""
    text = str(record.provenance.get("device", ""))
    if text.endswith(" threads)"):
        try:
            return int(text.rsplit("(", 1)[1].split()[0])
        except (IndexError, ValueError):
            return None
    return None


def rerun(record, registry) -> Any:
    """The record's spec run again here (at its own thread count), not stored."""
    import torch

    from ..running.runner import execute, resolve
    from ..running.threads import use_threads

    before, environment = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    use_threads(record_threads(record) or before)
    try:
        return execute(resolve(record.spec, registry))
    finally:
        torch.set_num_threads(before)
        if environment is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = environment


def this_processor() -> str:
    """This machine's CPU as a record names it (``ibbench.reproduction.attestations.processor_of``)."""
    import torch

    from ..store.provenance import processor

    return processor(torch.device("cpu"))


def stale_records(records: list, registry) -> list:
    """The records that only a source change makes not current (clean tree, fingerprinted, stale)."""
    from ..store.fingerprint import record_status

    out = []
    for record in records:
        status = record_status(record, registry)
        if status.state == "stale" and not status.dirty and record.provenance.get("source"):
            out.append(record)
    return out


def attest(
    name: str,
    records: list,
    registry,
    *,
    commit: str,
    per_names: int = 2,
    path: Path = ATTESTATIONS,
    say=lambda text: print(text, file=sys.stderr),
) -> bool:
    """Re-run canaries of the stale ``records`` of result ``name``; append an attestation to ``path`` and
    return True when every one reproduces its stored values, else write nothing and return False."""
    from ..store.fingerprint import file_hash, module_file, record_status

    stale = [r for r in stale_records(records, registry) if r.status == "ok"]  # failed ones are re-run
    if not stale:
        say(f"{name}: no stale clean-tree record to attest")
        return True
    # a canary is compared on the processor its record was made on: elsewhere its last bits differ
    # whatever the code (measured on the readme example's cells: docs/guide/commands.md)
    here = this_processor()
    elsewhere = Counter(processor_of(r) for r in stale if processor_of(r) != here)
    stale = [r for r in stale if processor_of(r) == here]
    if elsewhere:
        made = ", ".join(f"{n} on {p or 'an unnamed processor'}" for p, n in elsewhere.most_common())
        say(
            f"{name}: {sum(elsewhere.values())} stale records were made on another processor ({made}), "
            f"not this {here}: attest them on that processor, or here with --since COMMIT (the commit before "
            f"the change), or regenerate them with ibbench reproduce {name}"
        )
        if not stale:
            return False
    chosen = choose_canaries(stale, per_names)
    canaries = []
    for names, group in chosen.items():
        for stored in group:
            fresh = rerun(stored, registry)
            diff = differences(measured(stored), measured(fresh))
            canaries.append(Canary(stored, stored.task_label, diff, fresh.wall_time_s))
            verdict = "identical" if not diff else f"DIFFERS ({len(diff)}: {diff[0]})"
            say(
                f"{name}: canary {'/'.join(n for n in names if n)} {stored.task_label} seed {stored.spec.seed}: "
                f"{verdict} ({fresh.wall_time_s:.1f} s)"
            )
    if any(c.differences for c in canaries):
        return False
    changes = set()
    for record in stale:
        if names_of(record) not in chosen:
            continue
        for module in record_status(record, registry).changed:  # GONE -> hash: a module it never ran
            file = module_file(module)
            new = file_hash(file) if file is not None else GONE
            changes.add((module, record.provenance["source"].get(module, GONE), new))
    _append(path, _entry(name, commit, chosen, changes, stale, canaries, processor=here))
    say(f"{name}: {len(canaries)} canaries identical; {len(stale)} records attested at commit {commit[:7]}")
    return True


def _entry(name, commit, chosen, changes, records, canaries, *, processor) -> dict[str, Any]:
    """An attestation line: the changes (module, old hash, new hash) vouched for the names ``chosen``."""
    return {
        "result": name,
        "commit": commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "covers": sorted(list(n) for n in chosen),
        "processor": processor,
        "changes": sorted(list(c) for c in changes),
        "records": len(records),
        "canaries": [
            {
                "id": c.record.id,
                "task": c.label,
                "seed": c.record.spec.seed,
                "names": list(names_of(c.record)),
                "wall_time_s": c.wall_time_s,
            }
            for c in canaries
        ],
    }


def _append(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


# ---- attesting a change since a base commit, on any processor -----------------------------------------

#: run by a base commit's interpreter, one canary per line of stdin ("THREADS SPEC_JSON"), each answered on
#: stdout by its record after _MARK or its error after _FAILED.  It names only what every ibbench since
#: the first published store has (runner.resolve/execute, specs.RunSpec, plugins.load_registry), at the
#: top level before the layer folders and in ``ibbench.running`` since.
_DRIVER = """
import sys
import torch
try:
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import execute, resolve
    from ibbench.running.specs import RunSpec
except ImportError:
    from ibbench.plugins import load_registry
    from ibbench.runner import execute, resolve
    from ibbench.specs import RunSpec
registry = load_registry()
for line in sys.stdin:
    threads, spec = line.split(" ", 1)
    torch.set_num_threads(int(threads))
    try:
        record = execute(resolve(RunSpec.model_validate_json(spec), registry))
        print("\\n" + sys.argv[1] + record.model_dump_json(), flush=True)
    except Exception as exc:
        print("\\n" + sys.argv[2] + (type(exc).__name__ + ": " + str(exc)).replace("\\n", " "), flush=True)
"""
_MARK = "ibbench-record: "
_FAILED = "ibbench-failed: "


def _git(root: Path, *args: str) -> str:
    return git(root, *args, strict=True, timeout=300)


def repository_root() -> Path:
    """The git work tree the ibbench package is imported from."""
    return Path(_git(Path(__file__).resolve().parent, "rev-parse", "--show-toplevel").strip())


@contextlib.contextmanager
def base_tree(commit: str, root: Path | None = None) -> Iterator[Path]:
    """A temporary detached git worktree of ``commit`` (removed on exit)."""
    root = root or repository_root()
    with tempfile.TemporaryDirectory(prefix="ibbench-base-") as tmp:
        tree = Path(tmp) / "tree"
        _git(root, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        try:
            yield tree
        finally:
            _git(root, "worktree", "remove", "--force", str(tree))


class _BaseProcess:
    """One interpreter running the code checked out in ``tree`` for every canary: torch's import and the
    plugin registry's load are paid once, not per canary."""

    def __init__(self, tree: Path) -> None:
        paths = [
            tree,
            *sorted(p for p in (tree / "plugins").glob("*") if p.is_dir()),
        ]  # the repo's own plugins
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
        self.errors = tempfile.TemporaryFile(mode="w+")  # its warnings and tracebacks, read on a failure
        self.process = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, _MARK, _FAILED],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            cwd=tree,
            env=env,
        )

    def run(self, record) -> Any:
        """The record's spec run by the base's code at the record's thread count: its ``RunRecord`` (not
        stored).  Raises IbbenchError when it fails."""
        from ..errors import IbbenchError
        from ..store.results import RunRecord

        what = f"{record.task_label} seed {record.spec.seed}"
        self.process.stdin.write(f"{record_threads(record) or 1} {record.spec.model_dump_json()}\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith(_MARK):
                return RunRecord.model_validate_json(line[len(_MARK) :])
            if line.startswith(_FAILED):
                raise IbbenchError(
                    f"the base commit's code could not run {what}: {line[len(_FAILED) :].strip()}"
                )
        self.errors.seek(0)
        last = (self.errors.read().strip().splitlines() or ["it exited"])[-1]
        raise IbbenchError(f"the base commit's interpreter stopped before running {what}: {last}")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.errors.close()


@contextlib.contextmanager
def base_runner(commit: str, root: Path | None = None) -> Iterator[Callable[[Any], Any]]:
    """``run(record)``: the record's spec run here by ``commit``'s code (a temporary worktree, its own
    interpreter, ``_BaseProcess``); the worktree is removed on exit."""
    with base_tree(commit, root) as tree:
        process = _BaseProcess(tree)
        try:
            yield process.run
        finally:
            process.close()


def _both_codes(run_base: Callable[[Any], Any], record, registry) -> tuple[Any, Any]:
    """(the base's record, today's record) of one canary: the two run side by side where this machine has
    the cores for both at the record's thread count, else one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    from ..running.threads import available_cpus

    if 2 * (record_threads(record) or 1) > available_cpus():
        return run_base(record), rerun(record, registry)
    with ThreadPoolExecutor(max_workers=1) as pool:  # the base runs in its own process: no GIL shared
        base = pool.submit(run_base, record)
        today = rerun(record, registry)
        return base.result(), today


@functools.cache
def _files_at(root: Path, commit: str) -> tuple[str, ...]:
    return tuple(_git(root, "ls-tree", "-r", "--name-only", commit).split("\n"))


def hash_at(commit: str, module: str, root: Path | None = None) -> str:
    """The fingerprint hash (``ibbench.store.fingerprint.file_hash``) of ``module``'s file at ``commit``: the
    file whose path ends in the module's dotted name (``GONE`` where the commit has none)."""
    root = root or repository_root()
    stem = module.replace(".", "/")
    for path in _files_at(root, commit):
        if path in (f"{stem}.py", f"{stem}/__init__.py") or path.endswith(
            (f"/{stem}.py", f"/{stem}/__init__.py")
        ):
            return _blob_hash(root, commit, path)
    return GONE


def moved_intact(commit: str, module: str, new_hash: str, root: Path | None = None) -> bool:
    """Whether ``module``'s file today (hash ``new_hash``) was at ``commit`` byte for byte under another
    folder, with the same file name: a move, which picks the same arithmetic on every processor."""
    root = root or repository_root()
    name = "/" + module.rsplit(".", 1)[-1] + ".py"
    return any(
        _blob_hash(root, commit, path) == new_hash
        for path in _files_at(root, commit)
        if ("/" + path).endswith(name)
    )


def _blob_hash(root: Path, commit: str, path: str) -> str:
    """The fingerprint hash of file ``path`` as it was at ``commit``."""
    from ..store.fingerprint import content_hash

    return content_hash(git_blob(root, commit, path))


def changes_since(base: str, records: list, registry) -> set[tuple[str, str, str]]:
    """(module, its hash at ``base``, today's) for each module whose file differs between the two among
    those that make ``records`` stale."""
    from ..store.fingerprint import file_hash, module_file, record_status

    out = set()
    for record in records:
        for module in record_status(record, registry).changed:
            file = module_file(module)
            old, new = hash_at(base, module), (file_hash(file) if file is not None else GONE)
            if old != new:
                out.add((module, old, new))
    return out


def attest_since(
    name: str,
    records: list,
    registry,
    *,
    base: str,
    commit: str,
    per_names: int = 2,
    path: Path = ATTESTATIONS,
    say=lambda text: print(text, file=sys.stderr),
) -> bool:
    """Attest the code change from commit ``base`` to this clean ``commit`` for the stale ``records`` of
    result ``name``, whatever processor made them: each canary is run here by ``base``'s code and by
    today's, and the two must agree in every measured value.  Appends an attestation (``processor``
    null: any; ``measured_on`` this one) and returns True, or writes nothing and returns False.  Records
    that were not current at ``base`` are not helped: the attested change starts from ``base``'s files."""
    stale = [r for r in stale_records(records, registry) if r.status == "ok"]
    if not stale:
        say(f"{name}: no stale clean-tree record to attest")
        return True
    here = this_processor()
    kind = here.split(":", 1)[0]
    stale = [r for r in stale if processor_of(r).split(":", 1)[0] == kind]  # cuda records need a GPU here
    chosen = choose_canaries(stale, per_names)
    covered = [r for r in stale if names_of(r) in chosen]
    changes = changes_since(base, covered, registry)
    dispatch = sorted(
        module
        for module, _, new in changes
        if module in PROCESSOR_DISPATCH and not moved_intact(base, module, new)
    )
    if dispatch:
        say(
            f"{name}: {', '.join(dispatch)} changed since {base[:7]}: it picks arithmetic by processor, so "
            "attest on each processor that made records (ibbench reproduce --attest) or regenerate them"
        )
        return False
    if not changes:
        say(f"{name}: nothing its stale records ran changed since {base[:7]}: attest from an older base")
        return False
    canaries = []
    with base_runner(base) as run_base:
        for names, group in chosen.items():
            for stored in group:
                before, after = _both_codes(run_base, stored, registry)
                diff = differences(measured(before), measured(after))
                apart = len(differences(measured(stored), measured(before)))  # the processor's share, if any
                canaries.append(Canary(stored, stored.task_label, diff, after.wall_time_s))
                verdict = "identical" if not diff else f"DIFFERS ({len(diff)}: {diff[0]})"
                say(
                    f"{name}: canary {'/'.join(n for n in names if n)} {stored.task_label} seed {stored.spec.seed}: "
                    f"{base[:7]} and {commit[:7]} {verdict} here ({after.wall_time_s:.1f} s; "
                    f"{apart} values apart from the record made on {processor_of(stored)})"
                )
    if any(c.differences for c in canaries):
        return False
    entry = _entry(name, commit, chosen, changes, covered, canaries, processor=None)
    entry.update({"method": "since", "base": base, "measured_on": here})
    _append(path, entry)
    say(
        f"{name}: {len(canaries)} canaries identical at {base[:7]} and {commit[:7]}; {len(covered)} records attested"
    )
    return True
