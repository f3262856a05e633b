"""Tables and figures say whether the records they were built from are current at HEAD (ibbench.reports.currency)."""

from __future__ import annotations

import json

import pytest

from ibbench.reports.currency import classify, figure_note, mark_figure, provenance_note
from ibbench.reports.tables import bias_table, failure_table
from ibbench.reports.verdict import verdict_table
from ibbench.running.plugins import load_registry
from ibbench.store.fingerprint import RUNNER, file_hash, module_file, source_fingerprint
from ibbench.store.results import ResultStore, RunRecord

from .test_tables import record
from .test_verdict import CE, trained

COMMIT = "abc1234" + "0" * 33
OTHER = "def5678" + "0" * 33
REGISTRY = load_registry()


def made(seed: int, *, source: dict, dirty: bool | None = False, commit: str = COMMIT) -> RunRecord:
    """A mine run on gaussian (seeds tell cells apart) with this fingerprint and git state."""
    data = record("mine", seed, 1.8).model_dump()
    data["provenance"] = {"git": {"commit": commit, "dirty": dirty}, "source": source}
    return RunRecord.model_validate(data)


@pytest.fixture(scope="module")
def today() -> dict[str, str]:
    """The fingerprint of a mine-on-gaussian run's modules as they are in the working tree now."""
    source = source_fingerprint(
        [REGISTRY.get("task", "gaussian").load(), REGISTRY.get("estimator", "mine").load()]
    )
    assert source[RUNNER] == file_hash(module_file(RUNNER))
    return source


def stored(tmp_path, records: list[RunRecord]) -> list[RunRecord]:
    store = ResultStore(tmp_path / "runs.jsonl")
    for r in records:
        store.append(r)
    return store.records()


def test_current_stale_and_dirty_records_are_counted_apart(tmp_path, today):
    wrong = {**today, RUNNER: "0" * 12}
    records = stored(
        tmp_path,
        [
            made(0, source=today),
            made(1, source=today),
            made(2, source=today),
            made(3, source=wrong),
            made(4, source=wrong, dirty=True),
            made(5, source=today, dirty=True),
        ],
    )
    tally = classify(records)
    assert (tally.total, tally.current, tally.stale, tally.dirty, tally.tree_unknown, tally.unknown) == (
        6,
        3,
        2,
        2,
        0,
        0,
    )
    assert provenance_note(records) == (
        f"Not current at HEAD: 2 of 6 records stale (changed: {RUNNER}), 2 made from a dirty tree; "
        "made at commit abc1234; regenerate with ibbench reproduce"
    )
    table = bias_table(records)
    assert table.splitlines()[-1] == provenance_note(records)
    assert table.splitlines()[-2] == ""  # a blank line between the table and its note
    assert failure_table(records).splitlines()[-1] == provenance_note(records)
    assert figure_note(records) == (
        "stale at HEAD: 2 of 6 records; dirty tree: 2; regenerate with ibbench reproduce"
    )


def test_a_table_of_current_records_says_so_with_its_commits(tmp_path, today):
    records = stored(tmp_path, [made(seed, source=today) for seed in range(3)])
    assert bias_table(records).splitlines()[-1] == (
        "All 3 records current at this tree (made at commit abc1234, clean tree)."
    )
    assert figure_note(records) is None
    two = records + [made(3, source=today, commit=OTHER)]
    assert provenance_note(two) == "All 4 records current at this tree (made at 2 commits, clean trees)."


def test_changed_modules_are_named_most_frequent_first_the_rest_counted(today):
    a, b, c = sorted(today)[:3]
    records = [
        made(0, source={**today, a: "0" * 12, b: "0" * 12, c: "0" * 12}),
        made(1, source={**today, b: "0" * 12, c: "0" * 12}),
        made(2, source={**today, c: "0" * 12}),
    ]
    assert f"3 of 3 records stale (changed: {c}, {b}, +1);" in provenance_note(records)


def test_records_without_git_status_are_not_called_current_or_dirty(today):
    records = [made(0, source=today, dirty=None), made(1, source=today)]
    tally = classify(records)
    assert (tally.current, tally.dirty, tally.tree_unknown) == (1, 0, 1)
    assert provenance_note(records).startswith(
        "Not current at HEAD: 1 of 2 records of unknown tree state (no git status); made at commit abc1234;"
    )


def test_the_gap_table_notes_its_training_records_only():
    far = [trained("ib-layerwise", s, a) for s, a in enumerate((0.800, 0.810, 0.805))]
    estimator_only = [record("mine", 0, 1.8)]
    last = verdict_table(CE + far + estimator_only, "ce").splitlines()[-1]
    # the six training records, no provenance at all; the estimator run is not part of this table
    assert last.startswith("Not current at HEAD: 6 of 6 records of unknown tree state")


def test_a_figure_with_stale_records_carries_the_note_in_small_text(today):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    stale = [made(0, source={**today, RUNNER: "0" * 12})]
    note = mark_figure(fig, stale)
    assert note == "stale at HEAD: 1 of 1 records; regenerate with ibbench reproduce"
    assert [t.get_text() for t in fig.texts] == [note] and fig.texts[0].get_fontsize() <= 7
    plt.close(fig)
    fig, _ = plt.subplots()
    assert mark_figure(fig, [made(0, source=today)]) is None and not fig.texts
    plt.close(fig)


def test_the_package_root_only_names_the_version_and_re_exports_so_its_edits_stale_nothing(today):
    """``ibbench/__init__.py`` runs before every module but is left out of fingerprints: it may hold
    imports, ``__version__``/``__all__`` and a module ``__getattr__`` (lazy exports), nothing that
    computes.  A record whose fingerprint still lists the root with another digest stays current."""
    import ast

    from ibbench.store.fingerprint import PACKAGE, changed_modules

    tree = ast.parse(module_file(PACKAGE).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # the docstring
            continue
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            continue
        targets = (
            [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else []
        )
        if targets and set(targets) <= {"__version__", "__all__"}:
            continue
        if isinstance(node, ast.Try) and all(
            isinstance(n, ast.Assign) and n.targets[0].id == "__version__"
            for block in (node.body, *(h.body for h in node.handlers))
            for n in block
        ):
            continue
        raise AssertionError(
            f"ibbench/__init__.py line {node.lineno}: only imports and re-exports belong there"
        )
    assert PACKAGE not in today and "ibbench.api" in today
    assert changed_modules({**today, PACKAGE: "0" * 12}) == []
    assert changed_modules({**today, "ibbench.api": "0" * 12}) == ["ibbench.api"]


def test_a_record_is_stale_where_its_plugins_now_run_code_it_never_ran(tmp_path, today):
    """A module added to the code path since (a data check the runner now calls) is code the record never
    ran: stale, named, until an attestation from 'never ran' to its hash covers the record."""
    from ibbench.reproduction.attestations import GONE
    from ibbench.store.fingerprint import record_status

    added = "ibbench.estimators.mine"
    older = {m: h for m, h in today.items() if m != added}
    record = stored(tmp_path, [made(0, source=older)])[0]
    status = record_status(record, REGISTRY)
    assert (status.state, status.changed) == ("stale", (added,))
    assert record_status(record).current  # without the registry only the fingerprint's own files count

    edge = {
        "result": "r",
        "commit": OTHER,
        "covers": [["gaussian", "mine", ""]],
        "records": 1,
        "canaries": [],
    }
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "attestations.jsonl").write_text(
        json.dumps({**edge, "changes": [[added, GONE, today[added]]]}) + "\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)  # the attestations file is read from results/ where the command runs
        status = record_status(record, REGISTRY)
    assert status.current and status.attested_at == OTHER
