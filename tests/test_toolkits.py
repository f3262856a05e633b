"""``ibbench.api`` is the interface only (no torch, no lazy re-exports); the toolkits plugins are built
from are the public packages ``ibbench.critics`` and ``ibbench.training``, imported eagerly."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_the_api_imports_no_torch_and_no_toolkit():
    """The contracts load without torch; the torch-backed classification types load on first use, from
    the api's own module, and still pull in no toolkit."""
    code = (
        "import sys, ibbench.api as api; "
        "print('torch' in sys.modules, 'ibbench.critics' in sys.modules, 'ibbench.training' in sys.modules); "
        "cls = api.ClassificationInstance; "
        "print('torch' in sys.modules, 'ibbench.critics' in sys.modules, 'ibbench.training' in sys.modules, "
        "cls.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after = out.splitlines()
    assert before.split() == ["False", "False", "False"]
    assert after.split() == ["True", "False", "False", "ibbench.api.classification"]


def test_the_api_exports_the_interface_only():
    import ibbench.api as api

    assert all(hasattr(api, name) for name in api.__all__)
    for moved in (
        "Critic",
        "CriticParams",
        "train_critic",
        "CriticMeter",
        "BatchStream",
        "restore_global_rng",
    ):
        assert not hasattr(api, moved), f"ibbench.api.{moved} belongs to a toolkit"


@pytest.mark.parametrize("package", ["ibbench.critics", "ibbench.training"])
def test_each_toolkit_name_is_a_plain_attribute(package):
    """Every name in ``__all__`` is bound at import (visible to ``dir()`` and type checkers), each
    submodule imports on its own in a fresh interpreter (no cycle that only laziness keeps working)."""
    import importlib
    import pkgutil

    module = importlib.import_module(package)
    assert not hasattr(module, "__getattr__")
    assert set(module.__all__) <= set(dir(module))
    names = [f"{package}.{info.name}" for info in pkgutil.iter_modules(module.__path__)]
    # each submodule first, in an interpreter that has imported no ibbench module (torch stays loaded)
    code = (
        "import importlib, sys, torch\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'ibbench' or m.startswith('ibbench.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_critic_toolkit_and_the_protocol_are_one_package():
    from ibbench.critics import CRITIC_BUDGETS, Critic, CriticParams, SeparableCritic, train_critic
    from ibbench.critics.protocol import train_critic as protocol_train_critic

    assert train_critic is protocol_train_critic
    assert set(CRITIC_BUDGETS) == {"smoke", "quick", "paper"}
    assert issubclass(SeparableCritic, Critic) and CriticParams().hidden == 1500


def test_the_trainer_toolkit_has_what_a_trainer_receives():
    from ibbench.api import ClassificationInstance as contract
    from ibbench.tasks.classification import ClassificationInstance as built_in
    from ibbench.training import ClassificationInstance, TrainingLoop, classification_instance, schedule

    assert ClassificationInstance is contract is built_in
    assert max(schedule(100, 3)) == 100 and len(schedule(100, 3)) == 3
    assert callable(TrainingLoop.run)
    with pytest.raises(Exception, match="needs a network task"):
        classification_instance(object(), "ce")


def internal_imports(path) -> set[str]:
    """The ibbench modules a source file imports, at any depth (functions included), from its syntax tree."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ibbench")):
            found.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ibbench"))
    return found


def test_the_interface_package_imports_no_implementation_module():
    """The api package's modules import each other and only two leaf utilities (its errors, and the
    progress lines RunContext hands out), which import nothing of ibbench: no cycle runs through it."""
    from .conftest import REPO

    package = REPO / "ibbench"
    leaves = {"..errors": package / "errors.py", "..running.progress": package / "running" / "progress.py"}
    api = sorted((package / "api").glob("*.py"))
    own = {f".{p.stem}" for p in api if p.stem != "__init__"}
    assert own >= {".plugins", ".context", ".data", ".values", ".classification", ".probe", ".records"}
    for path in api:
        outside = internal_imports(path) - own - {"."}
        assert outside <= set(leaves), f"{path.name} imports {outside - set(leaves)}"
    for name, path in leaves.items():
        assert not internal_imports(path), f"{name} imports {internal_imports(path)}"


def test_the_data_layer_leans_on_torchvision_within_500_lines():
    """What is ibbench's own (provenance, the lossy-copy importer, the package-index route) fits in 500
    lines; fetching, md5 checks and archive safety belong to torchvision and tarfile."""
    from pathlib import Path

    import ibbench.data

    lines = sum(len(p.read_text().splitlines()) for p in Path(ibbench.data.__file__).parent.glob("*.py"))
    assert 0 < lines <= 500, f"ibbench/data/ is {lines} lines"
