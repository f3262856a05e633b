"""Every published result, tied to what makes it: ``results/manifest.toml`` and ``ibbench reproduce``.

The manifest names, for each published result, its stores and the suites that fill them (``runs``),
the commands that turn stores into tables and figures (``outputs``), the files produced by a script
rather than a suite (``scripts``), and the README sections that quote it (``quoted_in``).
``awaiting`` marks a result known to be stale that a named issue regenerates: the check lists it and
does not fail on it; every other result must be current.

``check`` reads every store once and says of each result, in seconds: how many records are current
at the working tree (``ibbench.store.fingerprint.record_status``), stale (and which modules changed), made
from a dirty tree, and how many of its suites' cells are missing (a changed default or a new cell).
A script's files are judged by git: the commit that last wrote them, clean, and the script and the
ibbench modules it imports unchanged since.

Why not Snakemake or DVC: both decide staleness by file timestamps or content hashes of declared
inputs; what makes a record stale here is a change in the *source it ran*, which only ibbench knows
(its plugins' import closure), and the suites already resume cell by cell, lock their stores and run
on Slurm.  A manifest over the suites adds the one missing piece without a second workflow to learn.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import IbbenchError, SpecError
from ..reports.currency import Currency, classify
from ..running.specs import describe_validation_error, read_toml
from ..store.git import git

MANIFEST = Path("results") / "manifest.toml"
JUDGEMENT = (
    "ibbench.verdicts.judgement"  # number-neutral for stores (verdicts are re-judged), not for script output
)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteRun(_Entry):
    suite: str  # a suite TOML file, relative to the repository root
    store: str  # the JSON Lines store it fills


class ScriptRun(_Entry):
    command: str  # what regenerates the files, run from the repository root
    script: str  # the script file whose source (and the ibbench modules it imports) the files depend on
    files: list[str] = Field(min_length=1)
    # a script that runs the command line in a subprocess: the plugin kinds its commands use (a
    # script that estimates MI on arrays and sampled tasks runs no trainer); default every kind
    plugin_kinds: list[Literal["task", "estimator", "trainer", "executor"]] | None = None


class Result(_Entry):
    name: str = Field(min_length=1)
    kind: str = "estimator"  # estimator | training | benchmark
    runs: list[SuiteRun] = Field(default_factory=list)
    scripts: list[ScriptRun] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)  # commands: tables and figures from the stores
    quoted_in: list[str] = Field(default_factory=list)  # README.md#section, results/README.md#section
    awaiting: str | None = None  # known stale: what regenerates it (an issue)


class Manifest(_Entry):
    result: list[Result] = Field(min_length=1)

    def select(self, names: list[str]) -> list[Result]:
        known = {r.name: r for r in self.result}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SpecError(
                f"no published result named {unknown[0]!r} in the manifest; known: {', '.join(sorted(known))}"
            )
        return [known[n] for n in names] if names else list(self.result)


def load_manifest(path: Path = MANIFEST) -> Manifest:
    data = read_toml(path, "manifest", "run ibbench reproduce from the repository root, or give --manifest")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, f"manifest {path}")) from None


@dataclass
class ResultState:
    """What ``check`` found for one result."""

    name: str
    records: Currency = field(default_factory=Currency)  # every store's records, tallied
    missing: int = 0  # suite cells with no record
    problems: list[str] = field(default_factory=list)  # script files stale, stores absent, ...
    awaiting: str | None = None

    @property
    def current(self) -> bool:
        return not self.problems and not self.missing and self.records.all_current

    def verdict(self) -> str:
        if self.current:
            return "current"
        return f"awaiting {self.awaiting}" if self.awaiting else "NOT CURRENT"

    def summary(self) -> str:
        tally = self.records
        reasons = [f"{n} {what}" for n, what in tally.reasons()]
        if tally.total:
            current = f"{tally.current} current{tally.attested_text().replace('; ', ', ')}"
            text = f"{tally.total} records ({', '.join([current, *reasons])})"
            text += f", made at {tally.commits_text()}"
        else:
            text = "files made by a script (judged by git)" + ("" if self.problems else ": current")
        if self.missing:
            text += f"; {self.missing} suite cells missing"
        return "; ".join([text, *self.problems])


def check(results: list[Result], registry, root: Path = Path(".")) -> list[ResultState]:
    """The state of each result against the working tree under ``root``."""
    from ..running.runner import cell_of, resolve
    from ..running.specs import load_suite
    from ..store.cells import CellKey
    from ..store.results import ResultStore
    from ..sweeps.suite import suite_cells

    states = []
    for result in results:
        state = ResultState(result.name, awaiting=result.awaiting)
        suites: dict[str, list[str]] = {}  # a store filled by several suites is read once
        for run in result.runs:
            suites.setdefault(run.store, []).append(run.suite)
        records = []
        for store_name, suite_files in suites.items():
            store = root / store_name
            if not store.exists():  # its tuning file, if any, is still read below
                state.problems.append(f"store {store_name} missing")
            found = ResultStore(store).records() if store.exists() else []
            records += found
            expected: dict[Path, list] = {}
            for suite_file in suite_files:
                for path, cells in suite_cells(load_suite(root / suite_file), store).items():
                    expected.setdefault(path, []).extend(cells)
            for path, cells in expected.items():
                rows = found if path == store else ResultStore(path).records() if path.exists() else []
                if path != store:
                    records += rows  # a tuned suite's candidates are published numbers too
                have = {CellKey.of_record(r) for r in rows}
                state.missing += len({cell_of(resolve(cell, registry)) for cell in cells} - have)
        state.records = classify(records, registry)
        for script in result.scripts:
            state.problems.extend(_script_problems(script, root, registry))
        states.append(state)
    return states


def _script_problems(script: ScriptRun, root: Path, registry=None) -> list[str]:
    """Why a script's files may not be what the script makes today (empty: current).  A script is judged
    by the ibbench modules it imports and, where it runs the command line in a subprocess, by the
    runner's and every registered plugin's (``_script_roots``)."""
    from ..store.fingerprint import RUNNER, changed_since, closure

    problems = []
    for name in script.files:
        path = root / name
        if not path.exists():
            problems.append(f"{name} missing")
            continue
        log = _git(root, "log", "-1", "--format=%H", "--", name)
        if not log:
            problems.append(f"{name} not committed")
            continue
        if _git(root, "status", "--porcelain", "--", name):
            problems.append(f"{name} has uncommitted changes")
            continue
        roots = _script_roots(root / script.script, registry, script.plugin_kinds)
        modules = tuple(closure(roots)) if roots else ()
        if RUNNER in modules and _carries_verdicts(path):  # the rules are part of what it wrote
            modules += (JUDGEMENT,)
        for commit in _reproduced_at(root, name):  # re-runs that wrote the same bytes (git saw no change)
            same_code = not modules or changed_since(commit, modules) == ()
            if same_code and not _git(root, "diff", "--name-only", commit, "--", script.script):
                log = commit
                break
        changed = changed_since(log, modules) if modules else ()
        script_changed = bool(_git(root, "diff", "--name-only", log, "--", script.script))
        if changed is None:
            problems.append(f"{name}: cannot compare its code with commit {log[:7]}")
        elif changed or script_changed:
            what = ([script.script] if script_changed else []) + list(changed)
            problems.append(f"{name} stale (changed since {log[:7]}: {', '.join(what[:3])})")
    return problems


def _carries_verdicts(path: Path) -> bool:
    """Whether a script's file holds reliability verdicts (then the verdict rules are part of its code)."""
    try:
        return "reliability" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def _reproduced_at(root: Path, name: str) -> list[str]:
    """Commits at which a re-run of its script rewrote file ``name`` byte for byte (``reproduced`` lines
    of the attestations file whose sha256 is the file's today), newest first."""
    from .attestations import ATTESTATIONS, reproduced_at

    return reproduced_at(root / ATTESTATIONS, name, _sha256(root / name))


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_reproduced(root: Path, files: list[str], commit: str) -> list[str]:
    """After a script re-ran at ``commit`` (a clean tree), note each of its ``files`` that it rewrote (the
    caller passes those whose mtime moved) and that came out byte for byte as committed (git sees no
    change, so no commit can say it was re-made); returns them."""
    from .attestations import ATTESTATIONS, note_reproduced

    same = [
        f
        for f in files
        if (root / f).exists()
        and _git(root, "log", "-1", "--format=%H", "--", f)
        and not _git(root, "status", "--porcelain", "--", f)
    ]
    if same:
        note_reproduced(root / ATTESTATIONS, {f: _sha256(root / f) for f in same}, commit)
    return same


def _script_roots(path: Path, registry, kinds: list[str] | None = None) -> list[str]:
    """The modules a script runs: those it imports and, for a script that calls ``ibbench`` (or ``python
    -m ibbench.cli``) in a subprocess, which no import shows, the runner and every registered plugin
    (of ``kinds`` only, where given)."""
    from ..store.fingerprint import RUNNER

    roots = _script_imports(path)
    source = path.read_text(encoding="utf-8")
    if "ibbench.cli" in source or re.search(r"[\"']ibbench[\"']\s*,", source):
        roots += [RUNNER] + (_plugin_modules(registry, kinds) if registry is not None else [])
    return sorted(set(roots))


def _plugin_modules(registry, kinds: list[str] | None = None) -> list[str]:
    """The module of every registered plugin of ``kinds`` (default all; from its entry's target, without
    importing it)."""
    out = []
    for kind, entries in registry.entries.items():
        if kinds is not None and kind not in kinds:
            continue
        for entry in entries.values():
            target = entry.target
            out.append(target.partition(":")[0] if isinstance(target, str) else target.__module__)
    return out


def _script_imports(path: Path) -> list[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return sorted(n for n in names if n.split(".")[0].startswith("ibbench"))


def _git(root: Path, *args: str) -> str:
    """Git's answer, "" where it fails (outside git, an unknown commit): the check then says so."""
    return git(root, *args) or ""


def head_commit(root: Path = Path(".")) -> str:
    """The commit checked out under ``root`` ("" outside git)."""
    return _git(root, "rev-parse", "HEAD")


def render(states: list[ResultState]) -> str:
    from tabulate import tabulate

    rows = [(s.name, s.verdict(), s.summary()) for s in states]
    return tabulate(rows, headers=("result", "state", "records"), tablefmt="github")


def dirty_tree(root: Path = Path(".")) -> list[str]:
    """Tracked files outside results/ with uncommitted changes (the code a published store must not be made
    from; the stores themselves change as they are filled)."""
    from ..store.provenance import uncommitted_code

    return uncommitted_code(root) or []


def regenerate(
    results: list[Result],
    registry,
    *,
    jobs: int | None,
    threads: int | None,
    executor: str,
    show_progress: bool | str,
    quiet: bool,
) -> int:
    """Re-run what is not current of each result (stale and dirty records set aside, missing cells run),
    then its outputs; returns how many cells or commands failed."""
    from ..sweeps.suite import run_suite, set_aside_stale
    from .rejudge import rejudge_store

    failed = 0
    for result in results:
        for store in dict.fromkeys(run.store for run in result.runs):  # once per store, before any cell runs
            moved = set_aside_stale(Path(store), registry)
            if moved and not quiet:
                print(f"{result.name}: {moved} records of {store} not current, set aside", file=sys.stderr)
        for run in result.runs:
            params: dict[str, Any] = {}
            if executor == "local":
                params.update({k: v for k, v in (("jobs", jobs), ("threads", threads)) if v is not None})
            failed += run_suite(
                run.suite,
                out=Path(run.store),
                registry=registry,
                show_progress=show_progress,
                executor=executor,
                executor_params=params,
            )
        commit = head_commit()
        for script in result.scripts:
            before = {f: _mtime(Path(f)) for f in script.files}
            failed += run_commands(result, [script.command], quiet)  # a check script may exit 1 on a finding
            rewritten = [f for f in script.files if _mtime(Path(f)) not in (None, before[f])]
            if commit:
                record_reproduced(Path("."), rewritten, commit)
        for store in dict.fromkeys(run.store for run in result.runs):  # the kept records, by today's rules
            if Path(store).exists():
                rejudge_store(Path(store), registry)
        failed += run_commands(result, result.outputs, quiet)
    return failed


def run_commands(result: Result, commands: list[str], quiet: bool) -> int:
    """Run a result's manifest commands from the repository root; returns how many failed."""
    failed = 0
    for command in commands:
        if not quiet:
            print(f"{result.name}: {command}", file=sys.stderr)
        if subprocess.run(_this_python(command), shell=True).returncode != 0:  # noqa: S602 (the manifest's own)
            print(f"ibbench: {result.name}: failed: {shlex.quote(command)}", file=sys.stderr)
            failed += 1
    return failed


def _this_python(command: str) -> str:
    """A manifest command run by this interpreter: ``ibbench ...`` and ``python ...`` at the start of each
    ``;``/``&&`` part become ``<sys.executable> -m ibbench.cli ...`` / ``<sys.executable> ...``, so a
    virtual environment that is not activated (not on PATH) runs them the same."""
    python = shlex.quote(sys.executable)
    parts = re.split(r"(\s*(?:;|&&)\s*)", command)
    for i, part in enumerate(parts):
        if part.startswith("ibbench "):
            parts[i] = f"{python} -m ibbench.cli {part[len('ibbench ') :]}"
        elif part.startswith("python "):
            parts[i] = f"{python} {part[len('python ') :]}"
    return "".join(parts)


def result_files(result: Result) -> list[Path]:
    """The record files of a result that exist: its stores and their tuning and checks files (a tuned
    suite's candidates and checks are published numbers too)."""
    from ..sweeps.suite import companion_files

    stores = [Path(store) for store in dict.fromkeys(run.store for run in result.runs)]
    return [path for store in stores for path in (store, *companion_files(store)) if path.exists()]


def _resolve_commit(name: str) -> str:
    """The full hash of a commit name (``HEAD~1``, a short hash); IbbenchError when git knows none."""
    found = _git(Path("."), "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if not found:
        raise IbbenchError(f"--since {name}: no such commit in this repository (give a hash or HEAD~N)")
    return found


def attest_results(
    results: list[Result], registry, *, per_names: int, quiet: bool, since: str | None = None
) -> list[str]:
    """Canary attestations (``ibbench.reproduction.attest``: ``attest``, or ``attest_since`` the commit
    ``since``) for the stale records of each result's stores and tuning files, then its tables and
    figures remade (their currency lines change); returns the results whose canaries differ."""
    from ..store.results import ResultStore
    from .attest import attest, attest_since

    commit = head_commit()
    base = _resolve_commit(since) if since else None
    say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr))
    differ = []
    for result in results:
        if not result.runs:
            say(f"{result.name}: made by a script; re-run it (ibbench reproduce {result.name})")
            continue
        records = [r for store in result_files(result) for r in ResultStore(store).records()]
        if base:
            done = attest_since(
                result.name, records, registry, base=base, commit=commit, per_names=per_names, say=say
            )
        else:
            done = attest(result.name, records, registry, commit=commit, per_names=per_names, say=say)
        if done:
            run_commands(result, result.outputs, quiet)
        else:
            differ.append(result.name)
    return differ


def rejudge_results(results: list[Result], registry, *, quiet: bool) -> None:
    """Today's reliability rules applied to every store of each result (``ibbench.reproduction.rejudge``), then its
    tables and figures remade where a verdict was re-judged."""
    from .rejudge import rejudge_store

    for result in results:
        if not result.runs:  # made by a script: its verdicts are in its files, re-made by re-running it
            continue
        changes = Counter()
        for store in result_files(result):
            changes += rejudge_store(store, registry)
        if not quiet:
            moved = sorted((k, n) for k, n in changes.items() if "->" in k)
            detail = "; ".join(f"{k}: {n}" for k, n in moved) or "no verdict changed"
            print(f"{result.name}: {changes['rejudged']} verdicts re-judged ({detail})", file=sys.stderr)
        if changes["rejudged"]:
            run_commands(result, result.outputs, quiet)


def refuse_dirty(root: Path = Path(".")) -> None:
    changed = dirty_tree(root)
    if changed:
        raise IbbenchError(
            f"the tree has {len(changed)} uncommitted change(s) ({changed[0].strip()}, ...); published results "
            f"come from a commit: commit or stash them, then run ibbench reproduce"
        )
