"""Would today's code reproduce a record (``ibbench.store.fingerprint``), and the published results' check
(``ibbench reproduce --check``) and re-run of what is not current (``suite run --rerun-stale``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ibbench.cli import main
from ibbench.running.plugins import load_registry
from ibbench.store.fingerprint import closure, record_status, source_fingerprint
from ibbench.store.results import ResultStore, RunRecord
from ibbench.sweeps.suite import run_suite, stale_path

REGISTRY = load_registry()
SUITE = """
name = "tiny"
budget = "smoke"
device = "cpu"
seeds = [0, 1]
estimators = [{ name = "binning" }]
tasks = [{ name = "gaussian", params = { dim = 1, mi = 0.5 } }]
"""


@pytest.fixture
def made(tmp_path):
    """A two-cell suite run into a store: (suite path, store path, its records)."""
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    store = tmp_path / "runs.jsonl"
    assert run_suite(suite, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    return suite, store, ResultStore(store).records()


def rewrite(store: Path, records: list[RunRecord]) -> None:
    store.write_text("".join(r.model_dump_json() + "\n" for r in records))


def with_provenance(record: RunRecord, **changes) -> RunRecord:
    provenance = json.loads(json.dumps(record.provenance))
    for key, value in changes.items():
        provenance[key] = value
    return record.model_copy(update={"provenance": provenance})


def test_a_record_knows_the_source_it_ran():
    from ibbench.estimators.binning import Binning

    modules = closure(["ibbench.running.runner", Binning.__module__])
    assert "ibbench.estimators.binning" in modules and "ibbench.methods.preprocess" in modules
    assert not any(
        m.startswith(("ibbench.cli", "ibbench.reports.tables", "ibbench.reports.figures")) for m in modules
    )
    assert set(source_fingerprint([Binning])) == set(modules)


def test_fresh_records_are_current_and_an_edited_module_makes_them_stale(made):
    _, _, records = made
    record = records[0]
    source = record.provenance["source"]
    assert "ibbench.estimators.binning" in source
    clean = with_provenance(record, git={"commit": "abc", "dirty": False})
    assert record_status(clean, REGISTRY).state == "current"
    edited = with_provenance(clean, source={**source, "ibbench.estimators.binning": "0" * 12})
    status = record_status(edited, REGISTRY)
    assert status.state == "stale" and status.changed == ("ibbench.estimators.binning",)
    dirty = with_provenance(record, git={"commit": "abc", "dirty": True})
    assert record_status(dirty, REGISTRY).state == "dirty"


def manifest(tmp_path: Path, suite: Path, store: Path, awaiting: str | None = None) -> Path:
    path = tmp_path / "manifest.toml"
    extra = f'awaiting = "{awaiting}"\n' if awaiting else ""
    path.write_text(
        f'[[result]]\nname = "tiny"\nruns = [{{ suite = "{suite}", store = "{store}" }}]\n{extra}'
    )
    return path


def test_the_check_fails_on_a_stale_or_incomplete_result_unless_an_issue_awaits_it(made, tmp_path, capsys):
    suite, store, records = made
    clean = [with_provenance(r, git={"commit": "abc", "dirty": False}) for r in records]
    rewrite(store, clean)
    assert main(["reproduce", "--check", "--manifest", str(manifest(tmp_path, suite, store))]) == 0
    assert "2 records (2 current)" in capsys.readouterr().out
    source = clean[1].provenance["source"]
    rewrite(store, [clean[0], with_provenance(clean[1], source={**source, "ibbench.api": "0" * 12})])
    assert main(["reproduce", "--check", "--manifest", str(manifest(tmp_path, suite, store))]) == 1
    out = capsys.readouterr()
    assert "1 current, 1 stale (changed: ibbench.api)" in out.out
    assert "not current at this tree: tiny" in out.err
    rewrite(store, clean[:1])  # a cell with no record
    assert main(["reproduce", "--check", "--manifest", str(manifest(tmp_path, suite, store))]) == 1
    assert "1 suite cells missing" in capsys.readouterr().out
    awaited = manifest(tmp_path, suite, store, awaiting="issue 99")
    assert main(["reproduce", "--check", "--manifest", str(awaited)]) == 0
    assert "awaiting issue 99" in capsys.readouterr().out


def test_rerun_stale_sets_aside_only_what_is_not_current_and_runs_those_cells(made):
    suite, store, records = made
    clean = with_provenance(records[0], git={"commit": "abc", "dirty": False})
    dirty = with_provenance(records[1], git={"commit": "abc", "dirty": True})
    rewrite(store, [clean, dirty])
    assert run_suite(suite, out=store, registry=REGISTRY, checkpoint_every_s=None, rerun_stale=True) == 0
    kept = ResultStore(store).records()
    assert [r.id for r in ResultStore(stale_path(store)).records()] == [dirty.id]
    assert len(kept) == 2 and kept[0].id == clean.id and kept[1].id != dirty.id
    assert kept[1].spec.seed == dirty.spec.seed


def test_setting_aside_moves_and_keeps_stored_lines_byte_for_byte(made):
    """A record written by an older ibbench lacks fields today's schema adds: re-serialising it on a
    set-aside would rewrite every kept line of a published store."""
    from ibbench.sweeps.suite import set_aside_stale

    _, store, records = made
    clean = with_provenance(records[0], git={"commit": "abc", "dirty": False})
    dirty = with_provenance(records[1], git={"commit": "abc", "dirty": True})
    # spaced separators: a spelling model_dump_json never writes, so a re-serialised line would differ
    lines = [json.dumps(json.loads(r.model_dump_json()), separators=(", ", ": ")) for r in (clean, dirty)]
    store.write_text("".join(line + "\n" for line in lines))
    assert set_aside_stale(store, REGISTRY) == 1
    assert store.read_text() == lines[0] + "\n"
    assert stale_path(store).read_text() == lines[1] + "\n"


def test_the_published_manifest_names_real_suites_stores_and_sections():
    from ibbench.reproduction.reproduce import load_manifest

    root = Path(__file__).resolve().parents[1]
    results = load_manifest(root / "results" / "manifest.toml").result
    quoted = set()
    for result in results:
        for run in result.runs:
            assert (root / run.suite).is_file(), (result.name, run)
            # a store may be missing only while its result awaits the issue that is running it
            assert (root / run.store).is_file() or result.awaiting, (result.name, run)
        for quote in result.quoted_in:  # README.md#..., results/README.md#..., docs/guide/PAGE.md#...
            file, _, section = quote.partition("#")
            assert file.endswith(".md") and (root / file).is_file(), (result.name, quote)
            text = (root / file).read_text(encoding="utf-8")
            anchors = {_anchor(line) for line in text.splitlines() if line.startswith("#")}
            assert section in anchors, (result.name, quote)
            quoted.add(file)
    assert {"README.md", "results/README.md"} <= quoted


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    import re

    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_a_store_being_filled_is_no_dirty_tree(tmp_path):
    import subprocess

    from ibbench.reproduction.reproduce import dirty_tree

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "runs.jsonl").write_text("")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "one")
    (tmp_path / "results" / "runs.jsonl").write_text("{}\n")
    assert dirty_tree(tmp_path) == []
    (tmp_path / "code.py").write_text("x = 2\n")
    assert dirty_tree(tmp_path) == ["M code.py"]


def test_two_suites_on_one_store_keep_each_others_records(tmp_path, monkeypatch):
    """The store is cleared of what is not current once, before either suite runs: here every record
    counts as made from a dirty tree, so a second clearing would drop the first suite's records."""
    import ibbench.store.fingerprint
    from ibbench.reproduction.reproduce import Result, SuiteRun, regenerate

    monkeypatch.setattr(
        ibbench.store.fingerprint,
        "record_status",
        lambda r, reg=None: ibbench.store.fingerprint.RecordStatus("dirty", dirty=True),
    )

    suites = []
    for seed in (0, 1):
        path = tmp_path / f"s{seed}.toml"
        path.write_text(SUITE.replace('name = "tiny"', f'name = "s{seed}"').replace("[0, 1]", f"[{seed}]"))
        suites.append(SuiteRun(suite=str(path), store=str(tmp_path / "runs.jsonl")))
    result = Result(name="two", runs=suites)
    kw = dict(jobs=None, threads=None, executor="local", show_progress=False, quiet=True)
    assert regenerate([result], REGISTRY, **kw) == 0
    assert sorted(r.spec.seed for r in ResultStore(tmp_path / "runs.jsonl").records()) == [0, 1]


def test_manifest_commands_run_with_this_interpreter_without_an_activated_environment():
    import shlex
    import sys

    from ibbench.reproduction.reproduce import _this_python

    python = shlex.quote(sys.executable)
    assert (
        _this_python("ibbench table bias --store a > b")
        == f"{python} -m ibbench.cli table bias --store a > b"
    )
    assert _this_python("python s.py --out a; python s.py --table a b > c") == (
        f"{python} s.py --out a; {python} s.py --table a b > c"
    )
    assert _this_python("echo ibbench python") == "echo ibbench python"


def test_a_script_file_remade_byte_for_byte_is_current_through_its_reproduced_line(tmp_path):
    import subprocess

    from ibbench.reproduction.reproduce import ScriptRun, _script_problems, record_reproduced

    def git(*args):
        out = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    git("init", "-q")
    (tmp_path / "make.py").write_text("print(1)\n")
    (tmp_path / "out.md").write_text("1\n")
    git("add", ".")
    git("commit", "-qm", "made")
    script = ScriptRun(command="python make.py > out.md", script="make.py", files=["out.md"])
    assert _script_problems(script, tmp_path) == []
    (tmp_path / "make.py").write_text("print(1)  # same output\n")
    git("commit", "-qam", "script edited")
    assert "stale" in _script_problems(script, tmp_path)[0]
    head = git("rev-parse", "HEAD")
    assert record_reproduced(tmp_path, ["out.md"], head) == ["out.md"]  # re-run: the same bytes
    git("add", ".")
    git("commit", "-qm", "reproduced")
    assert _script_problems(script, tmp_path) == []
    (tmp_path / "out.md").write_text("2\n")  # another content: the note no longer vouches for it
    git("commit", "-qam", "changed by hand")
    assert record_reproduced(tmp_path, [], head) == []
    (tmp_path / "make.py").write_text("print(2)\n")
    git("commit", "-qam", "script edited again")
    assert "stale" in _script_problems(script, tmp_path)[0]


def test_a_script_that_runs_the_command_line_is_judged_by_the_code_that_command_runs(tmp_path):
    from ibbench.reproduction.reproduce import _script_roots
    from ibbench.running.plugins import load_registry

    registry = load_registry()
    by_import = tmp_path / "imports.py"
    by_import.write_text("from ibbench.tasks.gaussian import GaussianTask\n")
    assert _script_roots(by_import, registry) == [
        "ibbench.tasks.gaussian",
        "ibbench.tasks.gaussian.GaussianTask",
    ]
    for call in (
        'subprocess.run([sys.executable, "-m", "ibbench.cli", "estimate"])\n',
        'subprocess.run(["ibbench", "estimate", "--x", "x.npy"])\n',
    ):
        by_subprocess = tmp_path / "cli.py"
        by_subprocess.write_text("import subprocess, sys\n" + call)
        roots = _script_roots(by_subprocess, registry)
        # no import shows what the subprocess runs: the runner and every plugin it may call
        assert {"ibbench.running.runner", "ibbench.estimators.mine", "ibbench.tasks.arrays"} <= set(roots)
        assert any(r.startswith("ibbench.trainers.") for r in roots)
        # a script whose manifest entry names the plugin kinds its commands use: those kinds only
        estimating = _script_roots(by_subprocess, registry, ["task", "estimator"])
        assert {"ibbench.running.runner", "ibbench.estimators.mine", "ibbench.tasks.arrays"} <= set(
            estimating
        )
        assert not any(r.startswith("ibbench.trainers.") for r in estimating)


def test_only_a_script_file_that_holds_verdicts_is_judged_by_the_verdict_rules(tmp_path):
    from ibbench.reproduction.reproduce import _carries_verdicts

    with_verdict, without = tmp_path / "a.json", tmp_path / "b.md"
    with_verdict.write_text('{"printed": "I(X;Y) = 0.5 nats (ksg); reliability: ok"}')
    without.write_text("| task | ksg bmi | ksg ibbench |\n| a | 0.4 | 0.41 |\n")
    assert _carries_verdicts(with_verdict) and not _carries_verdicts(without)
