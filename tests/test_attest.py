"""Canary attestations (``ibbench.reproduction.attest``): a stale record whose cell re-runs identically at HEAD
counts as current; one whose re-run differs in any stored value does not, and nothing is written."""

from __future__ import annotations

import contextlib
import json
import math

import pytest

from ibbench.errors import IbbenchError
from ibbench.reports.currency import classify, provenance_note
from ibbench.reproduction.attest import attest, changes_since, differences, measured
from ibbench.reproduction.attestations import attested_by, processor_of, read_attestations
from ibbench.running.plugins import load_registry
from ibbench.store.fingerprint import record_status
from ibbench.store.results import ResultStore
from ibbench.sweeps.suite import run_suite

from .test_reproduce import SUITE, with_provenance

REGISTRY = load_registry()
OLD = "0" * 12  # a module hash no file has: the record looks made by other code


@pytest.fixture
def stale(tmp_path, monkeypatch):
    """Two binning records made here, then given an old hash for the estimator's module (stale, clean);
    the working directory is a fresh one whose results/attestations.jsonl is the one read."""
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    store = tmp_path / "runs.jsonl"
    assert run_suite(suite, out=store, registry=REGISTRY, checkpoint_every_s=None) == 0
    monkeypatch.chdir(tmp_path)
    out = []
    for record in ResultStore(store).records():
        source = {**record.provenance["source"], "ibbench.estimators.binning": OLD}
        out.append(with_provenance(record, git={"commit": "a" * 40, "dirty": False}, source=source))
    assert all(record_status(r, REGISTRY).state == "stale" for r in out)
    return out


def test_identical_canaries_make_the_stale_records_current(stale, tmp_path):
    said = []
    assert attest("tiny", stale, REGISTRY, commit="b" * 40, per_names=1, say=said.append)
    path = tmp_path / "results" / "attestations.jsonl"
    (entry,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert entry["covers"] == [["gaussian", "binning", ""]] and entry["records"] == 2
    assert len(entry["canaries"]) == 1  # one per (task, estimator, trainer), the cheapest
    assert [c[:2] for c in entry["changes"]] == [["ibbench.estimators.binning", OLD]]
    for record in stale:
        status = record_status(record, REGISTRY)
        assert status.state == "current" and status.attested_at == "b" * 40
    note = provenance_note(stale, REGISTRY)
    assert (
        note.startswith("All 2 records current") and "through canary cells re-run at commit bbbbbbb" in note
    )


def test_a_failed_record_is_never_a_canary_nor_attested_but_re_run(stale, tmp_path):
    """Table 3's seed 1 failed on a critic reading that a later change reports instead: an attestation
    from ok canaries must not carry that failure to today as if the change could not touch it."""
    failed = stale[0].model_copy(
        update={"status": "failed", "error": "DivergenceError: diverged", "wall_time_s": 0.0}
    )
    records = [failed, *stale[1:]]
    said = []
    assert attest("tiny", records, REGISTRY, commit="b" * 40, per_names=2, say=said.append)
    (entry,) = [
        json.loads(line) for line in (tmp_path / "results" / "attestations.jsonl").read_text().splitlines()
    ]
    assert entry["records"] == len(stale) - 1 and all(c["id"] != failed.id for c in entry["canaries"])
    assert record_status(failed, REGISTRY).state == "stale"  # the same hashes: still to be re-run

    tally = classify(records, REGISTRY)  # its tally too, though it shares the ok records' fingerprint
    assert (tally.current, tally.stale) == (len(stale) - 1, 1)
    assert all(record_status(r, REGISTRY).current for r in stale[1:])


def test_an_attestation_covers_only_the_names_its_canaries_ran(stale, tmp_path):
    assert attest("tiny", stale, REGISTRY, commit="b" * 40, per_names=1, say=lambda _: None)
    other = stale[0].model_copy(
        update={
            "spec": stale[0].spec.model_copy(
                update={"estimator": stale[0].spec.estimator.model_copy(update={"name": "ksg"})}
            )
        }
    )
    assert record_status(other, REGISTRY).state == "stale"


def on_processor(record, processor: str):
    return with_provenance(record, device=f"{processor} (1 threads)")


def test_a_record_made_on_another_processor_is_no_canary_and_not_attested_here(stale, tmp_path):
    """The readme example's cells re-run on an Intel Xeon differ from their AMD EPYC records in the last
    bits (and a layer-wise run's test accuracy by 0.3 points) at the same commit: a canary compared
    across processors would blame the code for the machine."""
    elsewhere = [on_processor(r, "cpu:Other CPU 9000") for r in stale]
    said = []
    assert not attest("tiny", elsewhere, REGISTRY, commit="b" * 40, per_names=1, say=said.append)
    assert "2 stale records were made on another processor (2 on cpu:Other CPU 9000)" in said[0]
    assert "ibbench reproduce tiny" in said[0]
    assert not (tmp_path / "results" / "attestations.jsonl").exists()
    # beside records made here, those are attested and the others stay stale
    assert attest("tiny", [stale[0], elsewhere[1]], REGISTRY, commit="b" * 40, per_names=1, say=said.append)
    (entry,) = [
        json.loads(line) for line in (tmp_path / "results" / "attestations.jsonl").read_text().splitlines()
    ]
    assert entry["records"] == 1 and entry["processor"] == processor_of(stale[0])
    assert record_status(stale[0], REGISTRY).state == "current"
    assert record_status(elsewhere[1], REGISTRY).state == "stale"
    assert classify(elsewhere, REGISTRY).stale == 2  # the status cache tells processors apart


def test_an_attestation_without_a_processor_carries_records_of_any(tmp_path):
    """Attestations written before processors were compared came from one machine with every record."""
    names = ("gaussian", "binning", "")
    lines = [
        {"commit": "c1", "covers": [list(names)], "changes": [["m", "h0", "h1"]]},
        {"commit": "c2", "covers": [list(names)], "changes": [["m", "h1", "h2"]], "processor": "cpu:A"},
    ]
    path = tmp_path / "att.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    edges = read_attestations(path)
    assert attested_by({"m": "h0"}, ("m",), names, {"m": "h1"}, edges, "cpu:B") == "c1"
    assert attested_by({"m": "h0"}, ("m",), names, {"m": "h2"}, edges, "cpu:A") == "c2"
    assert attested_by({"m": "h0"}, ("m",), names, {"m": "h2"}, edges, "cpu:B") is None


def test_a_canary_that_differs_in_any_stored_value_writes_nothing(stale, tmp_path):
    changed = stale[0].model_copy(update={"estimate": stale[0].estimate + 1e-15})
    said = []
    assert not attest("tiny", [changed], REGISTRY, commit="b" * 40, per_names=1, say=said.append)
    assert "DIFFERS" in said[0] and "estimate" in said[0]
    assert not (tmp_path / "results" / "attestations.jsonl").exists()
    assert record_status(changed, REGISTRY).state == "stale"


def test_differences_compare_every_stored_leaf_and_allow_new_fields():
    stored = {"estimate": 0.5, "extras": {"a": [1, 2], "nan": math.nan, "fit_seconds": 3.0}}
    assert differences(stored, {**stored, "new": 1}) == []
    assert differences(stored, {**stored, "extras": {**stored["extras"], "a": [1, 3]}}) == [
        "extras.a[1]: 2 != 3"
    ]
    assert differences(stored, {"estimate": 0.5}) == ["extras: now absent"]


def test_measured_leaves_out_wall_clock_timings(stale):
    values = measured(stale[0])
    assert "wall_time_s" not in values and "provenance" not in values
    assert "fit_seconds" not in json.dumps(values)
    assert values["estimate"] == stale[0].estimate


def test_a_chain_of_attestations_carries_a_record_to_today(tmp_path):
    names = ("gaussian", "binning", "")
    lines = [
        {"commit": "c1", "covers": [list(names)], "changes": [["m", "h0", "h1"]]},
        {"commit": "c2", "covers": [list(names)], "changes": [["m", "h1", "h2"]]},
    ]
    path = tmp_path / "att.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    edges = read_attestations(path)
    assert attested_by({"m": "h0"}, ("m",), names, {"m": "h2"}, edges) == "c2"
    assert attested_by({"m": "h0"}, ("m",), names, {"m": "h3"}, edges) is None
    assert attested_by({"m": "h0"}, ("m",), ("gaussian", "ksg", ""), {"m": "h2"}, edges) is None


def test_reproduce_attest_at_a_clean_commit_then_check_passes(stale, tmp_path, capsys):
    import subprocess

    from ibbench.cli import main

    store = tmp_path / "runs.jsonl"
    store.write_text("".join(r.model_dump_json() + "\n" for r in stale))
    (tmp_path / "manifest.toml").write_text(
        '[[result]]\nname = "tiny"\nruns = [{ suite = "tiny.toml", store = "runs.jsonl" }]\n'
    )
    for command in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)
    check = ["reproduce", "--check", "--manifest", "manifest.toml"]
    assert main(check) == 1
    capsys.readouterr()
    assert main(["reproduce", "--attest", "--canaries", "1", "--manifest", "manifest.toml"]) == 0
    assert "1 canaries identical; 2 records attested" in capsys.readouterr().err
    assert main(check) == 0
    assert "2 current, 2 of them through canary cells re-run at commit" in capsys.readouterr().out


def test_canaries_spread_over_a_groups_settings_before_taking_more_of_one():
    from types import SimpleNamespace as NS

    from ibbench.reproduction.attest import choose_canaries

    def record(i, setting, seconds):
        spec = NS(task=NS(name="t"), estimator=NS(name="e"), trainer=None)
        return NS(id=str(i), spec=spec, wall_time_s=seconds, expanded={"params": setting})

    records = [record(0, "a", 1.0), record(1, "a", 2.0), record(2, "b", 9.0), record(3, "a", 3.0)]
    (chosen,) = choose_canaries(records, per_names=2).values()
    assert [r.id for r in chosen] == ["0", "2"]  # the cheapest of each setting, not the two cheapest
    (three,) = choose_canaries(records, per_names=3).values()
    assert [r.id for r in three] == ["0", "2", "1"]


def test_a_canary_must_also_repeat_the_half_sample_fit_behind_its_verdict(stale, tmp_path):
    record = stale[0]
    fit = record.reliability["consistency"]
    assert (
        "half_estimate" in measured(record)["consistency"]
        and "check_seconds" not in measured(record)["consistency"]
    )
    moved = record.model_copy(
        update={
            "reliability": {
                **record.reliability,
                "consistency": {**fit, "half_estimate": fit["half_estimate"] + 1e-12},
            }
        }
    )
    said = []
    assert not attest("tiny", [moved], REGISTRY, commit="b" * 40, per_names=1, say=said.append)
    assert "consistency.half_estimate" in said[0]
    # the verdict's own fields are the rules' business (ibbench.verdicts.judgement), not a measurement
    relabelled = record.model_copy(update={"reliability": {**record.reliability, "verdict": "unreliable"}})
    assert attest("tiny", [relabelled], REGISTRY, commit="b" * 40, per_names=1, say=said.append)


# ---- a change since a base commit, attested on another processor --------------------------------------


def _since(monkeypatch, base_hash: dict[str, str]):
    """``attest_since`` with the base commit's hashes of the modules named given (the others unchanged)
    and the base's code taken to be today's (no worktree; ``run_at`` is tested for real below)."""
    from ibbench.reproduction import attest as module

    monkeypatch.setattr(module, "hash_at", lambda commit, name, root=None: base_hash.get(name, "same"))
    monkeypatch.setattr(module, "changes_since", _changes_with(module, base_hash))
    monkeypatch.setattr(module, "moved_intact", lambda commit, name, new, root=None: False)  # edited in place
    today = contextlib.nullcontext(lambda record: module.rerun(record, REGISTRY))
    monkeypatch.setattr(module, "base_runner", lambda commit: today)
    return module.attest_since


def _changes_with(module, base_hash: dict[str, str]):
    def changes(base, records, registry):  # the real one (this module's name), its hashes patched
        return {
            c for c in changes_since(base, records, registry) if c[0] in base_hash
        }  # only the modules named

    return changes


def test_a_change_since_a_base_commit_is_attested_for_records_of_any_processor(stale, tmp_path, monkeypatch):
    """A store made on an AMD EPYC follows a refactor attested on an Intel Xeon: the same cells run by
    the base's code and by today's agree here, so the change leaves numbers alone."""
    elsewhere = [on_processor(r, "cpu:Other CPU 9000") for r in stale]
    attest_since = _since(monkeypatch, {"ibbench.estimators.binning": OLD})
    said = []
    assert attest_since(
        "tiny", elsewhere, REGISTRY, base="c" * 40, commit="b" * 40, per_names=1, say=said.append
    )
    (entry,) = [
        json.loads(line) for line in (tmp_path / "results" / "attestations.jsonl").read_text().splitlines()
    ]
    assert entry["processor"] is None and entry["measured_on"] == processor_of(stale[0])
    assert entry["method"] == "since" and entry["base"] == "c" * 40 and entry["records"] == 2
    assert [c[:2] for c in entry["changes"]] == [["ibbench.estimators.binning", OLD]]
    assert (
        "identical here" in said[0] and "values apart from the record made on cpu:Other CPU 9000" in said[0]
    )
    assert all(record_status(r, REGISTRY).state == "current" for r in elsewhere)


def test_a_change_since_a_base_that_alters_a_canary_or_picks_arithmetic_by_processor_is_not_attested(
    stale, tmp_path, monkeypatch
):
    from ibbench.reproduction import attest as module

    elsewhere = [on_processor(r, "cpu:Other CPU 9000") for r in stale]
    moved = lambda record: module.rerun(record, REGISTRY).model_copy(update={"estimate": 1.0})  # noqa: E731
    attest_since = _since(monkeypatch, {"ibbench.estimators.binning": OLD})
    monkeypatch.setattr(module, "base_runner", lambda commit: contextlib.nullcontext(moved))
    said = []
    assert not attest_since("tiny", elsewhere, REGISTRY, base="c" * 40, commit="b" * 40, say=said.append)
    assert "DIFFERS" in said[0] and "estimate" in said[0]
    # a processor-dispatching module among the changes: refused before any canary runs
    dispatch = [
        with_provenance(r, source={**r.provenance["source"], "ibbench.running.hardware": OLD})
        for r in elsewhere
    ]
    attest_since = _since(monkeypatch, {"ibbench.running.hardware": OLD})
    monkeypatch.setattr(module, "base_runner", lambda commit: pytest.fail("no canary should run"))
    said.clear()
    assert not attest_since("tiny", dispatch, REGISTRY, base="c" * 40, commit="b" * 40, say=said.append)
    assert "ibbench.running.hardware changed since ccccccc" in said[0]
    assert not (tmp_path / "results" / "attestations.jsonl").exists()
    # the same module moved to another folder byte for byte: the canaries run, and the move is attested
    monkeypatch.setattr(module, "moved_intact", lambda commit, name, new, root=None: True)
    monkeypatch.setattr(
        module, "base_runner", lambda commit: contextlib.nullcontext(lambda r: module.rerun(r, REGISTRY))
    )
    assert attest_since("tiny", dispatch, REGISTRY, base="c" * 40, commit="b" * 40, say=said.append)


def test_a_file_moved_byte_for_byte_is_told_from_an_edited_one(tmp_path):
    import subprocess

    from ibbench.reproduction.attest import moved_intact
    from ibbench.store.fingerprint import file_hash

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    def commit():
        git("add", "-A")
        git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "c")
        return subprocess.run(
            ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "hardware.py").write_text("BF16 = True\n")
    base = commit()
    (tmp_path / "pkg" / "running").mkdir()
    git("mv", "pkg/hardware.py", "pkg/running/hardware.py")
    moved = tmp_path / "pkg" / "running" / "hardware.py"
    assert moved_intact(base, "pkg.running.hardware", file_hash(moved), root=tmp_path)
    moved.write_text("BF16 = False\n")
    assert not moved_intact(base, "pkg.running.hardware", file_hash(moved), root=tmp_path)


def _code_differs_from_head() -> bool:
    import subprocess

    from ibbench.reproduction.attest import repository_root

    root = repository_root()
    done = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "ibbench", "plugins"],
        capture_output=True,
        text=True,
    )
    return bool(done.stdout.strip())


def test_the_base_commits_code_runs_canaries_in_its_own_worktree_as_today_does(stale):
    """``base_runner`` for real: the repository's HEAD checked out in a temporary worktree runs canary
    specs, one after another in one interpreter, and makes the records today's code makes (the tree
    here holds HEAD's code); a spec its code cannot run is a one-line error, and the next still runs."""
    from ibbench.errors import IbbenchError
    from ibbench.reproduction.attest import base_runner, hash_at, repository_root, rerun
    from ibbench.store.fingerprint import file_hash, module_file

    if _code_differs_from_head():
        pytest.skip("this working tree's ibbench code differs from HEAD's: the two runs need not agree")
    root = repository_root()
    head = subprocess_head(root)
    unknown = stale[1].model_copy(
        update={
            "spec": stale[1].spec.model_copy(
                update={"estimator": stale[1].spec.estimator.model_copy(update={"name": "no-such"})}
            )
        }
    )
    with base_runner(head) as run:
        first = run(stale[0])
        with pytest.raises(IbbenchError, match="the base commit's code could not run .*no-such"):
            run(unknown)
        second = run(stale[1])
    for base, record in ((first, stale[0]), (second, stale[1])):
        assert differences(measured(base), measured(rerun(record, REGISTRY))) == []
        assert base.provenance["git"]["commit"] == head
    assert hash_at(head, "ibbench.running.runner") == file_hash(module_file("ibbench.running.runner"))
    assert hash_at(head, "ibbench.no_such_module") == "-"


def subprocess_head(root) -> str:
    import subprocess

    return subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def test_since_without_attest_or_with_an_unknown_commit_is_refused_in_one_line(capsys):
    from ibbench.cli import main
    from ibbench.reproduction.reproduce import _resolve_commit

    assert main(["reproduce", "--since", "HEAD"]) != 0
    assert "--since goes with --attest" in capsys.readouterr().err
    with pytest.raises(IbbenchError, match="--since nosuchcommit: no such commit"):
        _resolve_commit("nosuchcommit")
