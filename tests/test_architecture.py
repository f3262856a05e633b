"""The shape of the package (issue 29): no import cycle, imports that go down the layers, the command
line imported by nothing in the library, no function over 80 lines.  What is still owed is listed by name, so the lists can only shrink:
each entry sits in a module that a record's source fingerprint covers, and changes with the attested
step that re-runs canary cells (``ibbench reproduce --attest``)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from ibbench.store.fingerprint import _imports

PACKAGE = Path(__file__).resolve().parents[1] / "ibbench"
LONGEST = 80  # lines per function, the parser builder included

#: (file, function) over LONGEST lines, owed to the attested step
LONG_OWED: set[tuple[str, str]] = set()
#: import cycles (sorted module names) owed to the attested step
CYCLES_OWED: set[tuple[str, str]] = set()


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the ibbench modules it imports (lazy imports included).  An edge to a package is left
    out: ``from . import sub`` names the package only to reach ``sub``, and the package root re-exports."""
    found = modules()
    packages = {m for m, p in found.items() if p.name == "__init__.py"}
    return {m: {i for i in _imports(m) if i in found and i != m and i not in packages} for m in found}


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(tuple(sorted(component)))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_but_those_owed():
    found = set(cycles(import_graph()))
    assert found <= CYCLES_OWED, f"new import cycles: {found - CYCLES_OWED}"
    assert CYCLES_OWED <= found, f"cycles gone, drop them from CYCLES_OWED: {CYCLES_OWED - found}"


def test_the_library_never_imports_the_command_line():
    graph = import_graph()
    offenders = [m for m, deps in graph.items() if not m.startswith("ibbench.cli") and any(
        d.startswith("ibbench.cli") for d in deps
    )]  # fmt: skip
    assert not offenders


#: the layers, lowest first (ARCHITECTURE.md's diagram): a module imports its own layer or lower ones
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ibbench.api", "ibbench.errors"),  # the contracts
    ("ibbench.critics", "ibbench.training", "ibbench.data", "ibbench.methods"),  # the toolkits
    ("ibbench.tasks", "ibbench.estimators", "ibbench.trainers"),  # the built-in plugins
    ("ibbench.store", "ibbench.verdicts"),
    ("ibbench.running",),
    ("ibbench.sweeps", "ibbench.executors", "ibbench.reports", "ibbench.reproduction", "ibbench.paper",
     "ibbench.bench", "ibbench.estimate", "ibbench.samples", "ibbench.frames"),
    ("ibbench.cli",),
)  # fmt: skip
#: leaf utilities every layer may use (they import nothing of ibbench but the contracts and each other);
#: they live in running/ and store/ today, and a move to a folder of their own waits for an attested step
BASE = {
    "ibbench.running.progress",
    "ibbench.running.hardware",
    "ibbench.running.specs",
    "ibbench.store.atomic",
}
#: imports from a lower layer into a higher one, still owed (each file is one a fingerprint covers, or
#: reads what the layer above writes); the list can only shrink
UPWARD_OWED = {
    ("ibbench.critics.protocol", "ibbench.running.checkpoints"),  # the toolkits snapshot through it
    ("ibbench.training.state", "ibbench.running.checkpoints"),
    ("ibbench.methods.infoplane", "ibbench.tasks.networks"),  # the networks' layer split
    ("ibbench.methods.preprocess", "ibbench.verdicts.datachecks"),
    ("ibbench.store.fingerprint", "ibbench.reproduction.attestations"),  # a record's currency reads them
}


def layer_of(module: str) -> int | None:
    for rank, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return rank
    return None


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (m, d)
        for m, deps in graph.items()
        for d in deps
        if d not in BASE and layer_of(m) is not None and layer_of(d) is not None and layer_of(d) > layer_of(m)
    }


def test_every_module_has_a_layer():
    assert [m for m in modules() if m != "ibbench" and layer_of(m) is None] == []


def test_imports_go_down_the_layers_but_those_owed():
    graph = import_graph()
    found = upward_imports(graph)
    assert found <= UPWARD_OWED, f"imports up the layers: {sorted(found - UPWARD_OWED)}"
    assert UPWARD_OWED <= found, f"gone, drop them from UPWARD_OWED: {sorted(UPWARD_OWED - found)}"
    base_deps = {d for m in BASE for d in graph[m]}
    assert all(d in BASE or layer_of(d) == 0 for d in base_deps), sorted(base_deps)


def test_the_layer_check_sees_an_upward_import():
    assert upward_imports({"ibbench.api.data": {"ibbench.store.results", "ibbench.running.progress"}}) == {
        ("ibbench.api.data", "ibbench.store.results")
    }


def test_no_function_over_80_lines_but_those_owed():
    long = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.end_lineno - node.lineno + 1 > LONGEST:
                    long.add((str(path.relative_to(PACKAGE)), node.name))
    assert long <= LONG_OWED, f"functions over {LONGEST} lines: {sorted(long - LONG_OWED)}"
    assert LONG_OWED <= long, f"now short, drop them from LONG_OWED: {sorted(LONG_OWED - long)}"


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]


#: the layers that may name built-in plugins: the built-ins themselves and the toolkits they are made of,
#: the benchmarks of them, the paper's reproduction, and the front door (the command line, the Python API)
MAY_NAME_BUILT_INS = (
    "running/builtin.py",
    "tasks/",
    "estimators/",
    "trainers/",
    "executors/builtin.py",
    "critics/",
    "training/",
    "data/",
    "bench/",
    "paper/",
    "cli/",
    "estimate.py",
    "frames.py",
)
#: (core module, built-in name) still owed
NAMES_OWED: set[tuple[str, str]] = set()
#: the executor a suite runs on when none is named: a default has to be named somewhere
DEFAULT_EXECUTOR = {("sweeps/suite.py", "local"), ("reproduction/reproduce.py", "local")}


def built_in_names() -> set[str]:
    from ibbench.running.plugins import KINDS, load_registry

    registry = load_registry()
    return {n for kind in KINDS for n in registry.names(kind)}


def code_strings(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of a module that are not docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_no_core_module_names_a_built_in_plugin():
    """The core (contracts, store, running, reports) works for any plugin: a built-in's name as a string
    in its code is a rule that holds for that plugin only, which a plugin should declare instead."""
    names, found = built_in_names(), set()
    for path in PACKAGE.rglob("*.py"):
        rel = str(path.relative_to(PACKAGE))
        if rel.startswith(MAY_NAME_BUILT_INS):
            continue
        for const in code_strings(ast.parse(path.read_text(encoding="utf-8"))):
            if const.value in names:
                found.add((rel, const.value))
    assert found <= NAMES_OWED | DEFAULT_EXECUTOR, (
        f"built-in names in core modules: {sorted(found - NAMES_OWED)}"
    )
    assert NAMES_OWED <= found, f"no longer named, drop them from NAMES_OWED: {sorted(NAMES_OWED - found)}"


def test_the_layer_folders_init_files_hold_a_docstring_only():
    """``ibbench.store.fingerprint`` leaves them out of every record's fingerprint (``NEUTRAL_PACKAGES``):
    code in one would run before every module of its layer unseen."""
    from ibbench.store.fingerprint import NEUTRAL_PACKAGES
    from ibbench.store.fingerprint import PACKAGE as ROOT_NAME

    for name in NEUTRAL_PACKAGES - {ROOT_NAME}:
        path = PACKAGE.joinpath(*name.split(".")[1:], "__init__.py")
        body = ast.parse(path.read_text(encoding="utf-8")).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), (
            name
        )
