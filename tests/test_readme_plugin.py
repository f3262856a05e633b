"""The plugin example of the user guide's "Writing a plugin" (docs/guide/plugins.md, once the README's),
written out file by file as a reader would, registers and runs."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib

import pytest

from ibbench.running.plugins import load_registry
from ibbench.running.runner import run
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec

from .conftest import REPO

PAGE = REPO / "docs" / "guide" / "plugins.md"


def example_files() -> dict[str, str]:
    """The page's code blocks that start with a '# path' comment -> {path: text}."""
    text = PAGE.read_text(encoding="utf-8")
    assert text.startswith("# Writing a plugin\n")
    blocks = re.findall(r"```(?:toml|python)\n# (\S+)\n(.*?)```", text, flags=re.S)
    return {path: body for path, body in blocks}


def test_the_example_is_a_complete_distribution():
    files = example_files()
    assert set(files) == {
        "pyproject.toml",
        "ibbench_foo/__init__.py",
        "ibbench_foo/estimator.py",
        "ibbench_foo/trainer.py",
    }
    project = tomllib.loads(files["pyproject.toml"])["project"]
    assert {"name", "version", "dependencies"} <= set(project)
    assert project["entry-points"]["ibbench"] == {"foo": "ibbench_foo"}


def example_registry(tmp_path, monkeypatch):
    """The page's files written out under tmp_path, imported, and registered as a plugin."""
    for path, body in example_files().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("ibbench_foo")]:
        monkeypatch.delitem(sys.modules, name)
    return load_registry(entry_points=False, extra_plugins=(("foo", importlib.import_module("ibbench_foo")),))


def test_the_example_estimator_registers_and_reads_a_gaussians_mi(tmp_path, monkeypatch):
    registry = example_registry(tmp_path, monkeypatch)
    assert "foo" in registry.names("estimator")
    spec = RunSpec(
        task=TaskSpec(name="gaussian", params={"dim": 3, "mi": 1.0}),
        estimator=EstimatorSpec(name="foo"),
        seed=0,
        budget="quick",
        device="cpu",
    )
    record = run(spec, registry)
    assert record.status == "ok" and record.estimate == pytest.approx(1.0, abs=0.05)


def test_the_example_trainer_trains_the_digits_net(tmp_path, monkeypatch):
    from ibbench.running.specs import TrainerSpec

    registry = example_registry(tmp_path, monkeypatch)
    spec = RunSpec(
        task=TaskSpec(name="digits-mlp"),
        trainer=TrainerSpec(name="momentum-sgd"),
        seed=0,
        budget="smoke",
        device="cpu",
    )
    record = run(spec, registry)
    assert record.status == "ok", record.error
    assert record.training.test_acc > 0.5 and record.training.selected_step in (50, 100, 150)


def test_the_example_trainer_refuses_an_estimator_in_one_line(tmp_path, monkeypatch):
    from ibbench.errors import NotApplicableError
    from ibbench.running.specs import TrainerSpec

    registry = example_registry(tmp_path, monkeypatch)
    spec = RunSpec(
        task=TaskSpec(name="digits-mlp"),
        trainer=TrainerSpec(name="momentum-sgd"),
        estimator=EstimatorSpec(name="mine"),
        budget="smoke",
        device="cpu",
    )
    with pytest.raises(
        NotApplicableError, match="momentum-sgd measures no information plane; drop --estimator"
    ):
        run(spec, registry, bad_input_raises=True)  # as `ibbench run` asks
