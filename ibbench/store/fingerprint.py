"""Would today's code reproduce a record?  The source fingerprint of a run, and the test against it.

A record keeps, under ``provenance.source``, a short sha256 of every source file that can change its
numbers: the modules of its task, estimator and trainer plugins and of the runner, with everything
they import from ibbench or from the plugin's own package, found by walking their ``import``
statements (``ast``, lazy imports inside functions included).  Modules that only present, store or
schedule results (``NUMBER_NEUTRAL``: the command line, tables, figures, the store, suites,
executors, progress lines) are left out, so editing a table does not make every record stale.  The
spec module is left out too: a record keeps its resolved spec, and a changed default changes a
suite cell's key (``ibbench.store.cells.CellKey``), which the reproduce check reports as a missing cell.

``staleness(record)`` is then one hash per file at HEAD: milliseconds, against minutes to hours for
re-running a canary cell.  A record made before fingerprints (no ``source``) is judged from its git
commit: clean, and its modules' files unchanged between that commit and HEAD (``git diff``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .git import git

PACKAGE = "ibbench"
#: modules whose edits cannot change a measured number (see the module docstring)
NUMBER_NEUTRAL = (
    "ibbench.cli",
    "ibbench.reports",  # tables, verdicts, coverage, figures, currency
    "ibbench.reproduction",  # reproduce, attest, attestations, rejudge
    "ibbench.sweeps",  # suites, tuning, claims
    "ibbench.verdicts.judgement",  # verdicts are versioned by their rules and re-judged
    "ibbench.paper",
    "ibbench.bench",
    "ibbench.store",  # records, their store, atomic writes, a cell's identity, provenance, this fingerprint
    "ibbench.executors",
    "ibbench.running.progress",
    "ibbench.errors",
    "ibbench.running.specs",
    "ibbench.running.plugins",
    "ibbench.running.hookspecs",
    "ibbench.running.builtin",
)
#: the package root itself (``ibbench/__init__.py``): every module runs it first, but it only names the
#: version and re-exports the public interface, so its edits (a new export) change no number; and the
#: layer folders' ``__init__`` files, which hold a docstring only (tests/test_architecture.py); their
#: submodules are judged on their own
NEUTRAL_PACKAGES = frozenset({PACKAGE, "ibbench.running", "ibbench.verdicts", "ibbench.methods"})
RUNNER = "ibbench.running.runner"
HASH_CHARS = 12


def _neutral(module: str) -> bool:
    return module in NEUTRAL_PACKAGES or any(
        module == n or module.startswith(n + ".") for n in NUMBER_NEUTRAL
    )


@functools.cache
def module_file(module: str) -> Path | None:
    """The source file of an importable module, or None (a namespace, a C extension, not found)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


@functools.cache
def _imports(module: str) -> frozenset[str]:
    """The absolute names of every module ``module``'s source imports (anywhere in the file)."""
    path = module_file(module)
    if path is None:
        return frozenset()
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            found.add(source)
            # ``from pkg import name``: name may be a submodule
            found.update(f"{source}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(found)


def closure(roots: list[str]) -> list[str]:
    """Every module reachable from ``roots`` through imports that stay inside ibbench or a root's own
    top-level package, less the number-neutral ones; sorted."""
    tops = {PACKAGE} | {r.split(".")[0] for r in roots}
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in tops or _neutral(name):
            continue
        if module_file(name) is None:
            continue
        seen.add(name)
        # a submodule runs its packages' __init__ first
        parents = [name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1)]
        todo.extend(parents)
        todo.extend(_imports(name))
    return sorted(seen)


def file_hash(path: Path) -> str:
    return content_hash(path.read_bytes())


def content_hash(data: bytes) -> str:
    """The short sha256 a fingerprint keeps for a file of these bytes (also a file as git holds it)."""
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def source_fingerprint(plugins: list[Any]) -> dict[str, str]:
    """{module: short sha256 of its file} for the runner and these plugin classes (or objects)."""
    roots = [RUNNER] + [(p if isinstance(p, type) else type(p)).__module__ for p in plugins]
    return {m: file_hash(module_file(m)) for m in closure(roots)}


def changed_modules(source: dict[str, str]) -> list[str]:
    """The modules of a fingerprint whose file differs today (or is gone); number-neutral ones (the
    package root, which older fingerprints still list) are not counted."""
    out = []
    for module, digest in sorted(source.items()):
        if _neutral(module):
            continue
        path = module_file(module)
        if path is None or file_hash(path) != digest:
            out.append(module)
    return out


@functools.cache
def changed_since(commit: str, modules: tuple[str, ...]) -> tuple[str, ...] | None:
    """The modules whose file changed between ``commit`` and the working tree (None: git cannot tell,
    e.g. a commit this clone lacks or a file outside the repository)."""
    files = {m: module_file(m) for m in modules}
    if any(f is None for f in files.values()):
        return None
    top = git(next(iter(files.values())).parent, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = Path(top)
    try:
        rel = {m: f.resolve().relative_to(root) for m, f in files.items()}
    except ValueError:
        return None
    out = git(root, "diff", "--name-only", commit, "--", *map(str, rel.values()))
    if out is None:
        return None
    changed = set(out.split())
    return tuple(m for m, r in rel.items() if str(r) in changed)


@dataclass(frozen=True)
class RecordStatus:
    """Whether today's code would reproduce a record: ``current``, ``stale`` (``changed`` names the
    modules that differ), ``dirty`` (made from a tree with uncommitted changes: no commit holds its
    code) or ``unknown`` (no fingerprint, and its commit cannot be compared)."""

    state: str
    changed: tuple[str, ...] = ()
    dirty: bool = False
    attested_at: str | None = (
        None  # current through canary attestations (ibbench.reproduction.attest), the last one's commit
    )

    @property
    def current(self) -> bool:
        return self.state == "current"


def record_status(record, registry=None) -> RecordStatus:
    """The status of a ``RunRecord`` against the working tree.

    An ok record whose changed modules a canary attestation vouches for (``ibbench.reproduction.attest``, the file
    read by ``ibbench.reproduction.attestations``) is current, with ``attested_at`` set; a failed one never is (re-run
    it: a change may have fixed its failure, as one of Table 3's critic readings showed).

    A fingerprinted record is stale when a file of its fingerprint changed, or (given ``registry``)
    when its plugins run a module today that it never ran (code added since, e.g. a data check the
    runner now calls: its later edits would otherwise go unseen); an older record when a file of the
    modules its plugins run today (``registry`` resolves their names) changed since its commit.
    A dirty-tree record is ``dirty`` whatever its fingerprint says: published numbers come from a
    commit."""
    git = record.provenance.get("git") or {}
    dirty = git.get("dirty") is not False
    source = record.provenance.get("source")
    if source:
        changed = tuple(changed_modules(source)) + _never_ran(record, source, registry)
    else:
        commit = git.get("commit")
        modules = _modules_of(record, registry) if commit and registry is not None else None
        changed = changed_since(commit, tuple(modules)) if modules else None
        if changed is None:
            return RecordStatus("dirty" if dirty else "unknown", dirty=dirty)
    # canaries are ok runs: what they vouch for is ok runs.  A failed one is where a code change is most
    # likely to matter (a fix of the very failure), so it stays stale and is re-run
    if changed and source and not dirty and record.status == "ok":
        commit = _attested(record, source, changed)
        if commit is not None:
            return RecordStatus("current", dirty=False, attested_at=commit)
    if changed:
        return RecordStatus("stale", changed, dirty)
    return RecordStatus("dirty" if dirty else "current", dirty=dirty)


def _never_ran(record, source: dict[str, str], registry) -> tuple[str, ...]:
    """The modules today's code path of the record's plugins runs that its fingerprint lacks (sorted;
    none without a registry, or where a plugin is no longer registered: ``changed_modules`` tells)."""
    if registry is None:
        return ()
    today = _modules_of(record, registry) or []
    return tuple(m for m in today if m not in source and not _neutral(m))


def _attested(record, source: dict[str, str], changed: tuple[str, ...]) -> str | None:
    """The commit whose canary attestation carries the record's changed modules to today (or None)."""
    from ..reproduction.attestations import GONE, attested_by, names_of, processor_of, read_attestations

    edges = read_attestations()
    if not edges:
        return None
    today = {}
    for module in changed:
        path = module_file(module)
        today[module] = file_hash(path) if path is not None else GONE
    return attested_by(source, changed, names_of(record), today, edges, processor_of(record))


def _modules_of(record, registry) -> list[str] | None:
    """Today's closure of the plugins a record names (None where one is no longer registered)."""
    plugins = []
    for kind in ("task", "estimator", "trainer", "label_estimator"):
        part = record.expanded.get(kind) or {}
        name = part.get("name") or (getattr(record.spec, kind, None) and getattr(record.spec, kind).name)
        if not name:
            continue
        registry_kind = "estimator" if kind == "label_estimator" else kind
        try:
            plugins.append(registry.get(registry_kind, name).load())
        except Exception:  # an unknown name or a broken plugin: its code cannot be compared
            return None
    return list(source_fingerprint(plugins))
