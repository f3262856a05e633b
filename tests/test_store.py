"""The results store never loses, duplicates or fakes a record: concurrent appends, a lost newline,
a device instead of a file, an unwritable location, a record id stored twice."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from ibbench.errors import StoreError
from ibbench.results import ResultStore, StoreWarning

from .conftest import run_cli
from .test_cli import make_record


def _append_many(path: str, worker: int, count: int, pad: int) -> None:
    store = ResultStore(path)
    for i in range(count):
        record = make_record("t", "a", worker * 10_000 + i, 1.0, 2.0)
        record.extras["pad"] = "x" * pad  # large records take several write() calls to land
        store.append(record)


@pytest.mark.parametrize("pad", [0, 200_000], ids=["small", "large"])
def test_concurrent_appends_keep_every_record(tmp_path, pad):
    path = str(tmp_path / "runs.jsonl")
    count = 150 if pad == 0 else 25
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(path, w, count, pad)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        assert w.exitcode == 0
    ids = [r.id for r in ResultStore(path).records()]
    assert len(ids) == len(set(ids)) == 4 * count


def test_a_complete_last_record_without_its_newline_is_kept(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    store.append(make_record("t", "a", 0, 1.0, 2.0))
    with open(store.path, "rb+") as fh:  # an editor dropped the final newline
        fh.truncate(os.path.getsize(store.path) - 1)
    store.append(make_record("t", "a", 1, 1.0, 2.0))
    assert [r.spec.seed for r in store.records()] == [0, 1]


def test_a_record_id_stored_twice_counts_once(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = make_record("t", "a", 0, 1.0, 2.0)
    store.append(record)
    store.append(record)
    with pytest.warns(StoreWarning, match="appears twice"):
        assert len(store.records()) == 1


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_device_is_not_a_store():
    with pytest.raises(StoreError, match="not a regular file"):
        ResultStore("/dev/full")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["table", "bias", "--store", "/dev/full"],
                                  ["run", "--task", "gaussian", "--estimator", "mixture", "--budget", "smoke",
                                   "--out", "/dev/full"]], ids=["table", "run"])
def test_the_cli_refuses_a_device_store_at_once(args):
    proc = run_cli(*args)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_store_is_refused_before_any_work(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(StoreError, match="cannot write"):
        ResultStore(locked / "runs.jsonl").check_writable()


def test_a_failed_write_prints_the_record_and_says_why(tmp_path, monkeypatch, capsys):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = make_record("t", "a", 0, 1.0, 2.0)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(StoreError, match="No space left"):
        store.append(record)
    monkeypatch.undo()
    assert record.model_dump_json() in capsys.readouterr().err  # nothing measured is lost


def _misbehaving(estimator: str, store=None):
    from ibbench.plugins import load_registry
    from ibbench.runner import run
    from ibbench.specs import EstimatorSpec, RunSpec, TaskSpec
    from tests.plugin_fixtures import nan_plugin

    reg = load_registry(extra_plugins=(("nan-plugin", nan_plugin),))
    return run(RunSpec(task=TaskSpec(name="test-plain"), estimator=EstimatorSpec(name=estimator), budget="smoke"),
               reg, store=store)


def test_a_nan_estimate_is_a_failed_run_not_an_ok_one():
    record = _misbehaving("test-nan-estimate")
    assert record.status == "failed" and "estimate is nan" in record.error and record.estimate is None


def test_numpy_and_torch_values_in_extras_are_stored_as_json(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = _misbehaving("test-numpy-extras", store)
    assert record.status == "ok", record.error
    (stored,) = store.records()
    assert stored.estimate == 0.25 and stored.estimate_stderr == 0.5
    assert stored.extras["estimator"] == {"curve": [0.0, 1.0, 2.0], "best": 2, "flag": True, "tensor": [1.0, 1.0],
                                          "3": [1, 2]}


def test_sys_exit_inside_a_plugin_is_a_failed_cell(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = _misbehaving("test-exit", store)
    assert record.status == "failed" and "sys.exit(3)" in record.error
    assert len(store.records()) == 1


def _suite(tmp_path, text: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text('name = "t"\nbudget = "smoke"\nseeds = [0, 1]\nestimators = [{ name = "mixture" }]\n' + text)
    return path


def test_reordered_or_respelled_parameters_are_the_same_cell(tmp_path, registry, capsys):
    from ibbench.suite import run_suite

    out = tmp_path / "runs.jsonl"
    run_suite(_suite(tmp_path, 'tasks = [{ name = "gaussian", params = { dim = 5, mi = 2.0 } }]\n'), out=out,
              registry=registry)
    assert len(ResultStore(out).records()) == 2
    again = _suite(tmp_path, 'tasks = [{ name = "gaussian", params = { mi = 2, dim = 5 } }]\n', "t.toml")
    run_suite(again, out=out, registry=registry)
    assert "2 already in" in capsys.readouterr().err and len(ResultStore(out).records()) == 2


def test_a_cell_claimed_by_a_live_run_is_left_to_it_and_a_stale_claim_is_taken_over(tmp_path, registry, capsys):
    import json as _json

    from ibbench.claims import Claims
    from ibbench.runner import resolve, spec_key
    from ibbench.specs import load_suite
    from ibbench.suite import run_suite

    suite = _suite(tmp_path, 'tasks = [{ name = "gaussian" }]\n')
    out = tmp_path / "runs.jsonl"
    first, second = (spec_key(resolve(c, registry)) for c in load_suite(suite).cells())
    live = Claims(out)
    assert live.take(first)  # this (live) process holds seed 0
    stale = Claims(out)._path(second)
    stale.write_text(_json.dumps({"host": __import__("socket").gethostname(), "pid": 2 ** 22 + 12345}))
    run_suite(suite, out=out, registry=registry)
    assert "1 claimed by another run" in capsys.readouterr().err
    assert [r.spec.seed for r in ResultStore(out).records()] == [1]  # the stale claim was taken over
    live.release_all()


def test_a_trainer_that_ends_at_chance_is_a_failed_run_that_keeps_its_result(registry):
    from ibbench.runner import run
    from ibbench.specs import RunSpec

    spec = RunSpec.model_validate({"task": {"name": "digits-mlp"}, "trainer": {"name": "ce", "params": {"lr": 1e9}},
                                   "budget": "smoke", "device": "cpu"})
    record = run(spec, registry)
    assert record.status == "failed" and "ended at chance" in record.error
    assert record.extras["trainer"]["test_acc"] < 0.2  # what it measured is kept


def test_a_cell_finished_by_another_run_while_claiming_is_not_run_again(tmp_path, registry, monkeypatch):
    from ibbench.claims import Claims
    from ibbench.suite import run_suite

    suite = _suite(tmp_path, 'tasks = [{ name = "gaussian" }]\n')
    other = tmp_path / "other.jsonl"
    run_suite(suite, out=other, registry=registry)  # what the other run stores for seed 0
    theirs = next(r for r in ResultStore(other).records() if r.spec.seed == 0)
    out = tmp_path / "runs.jsonl"
    take = Claims.take

    def take_after_the_other_run_finished(self, key):
        if not ResultStore(out).records():  # the other run stores seed 0 and releases it just now
            ResultStore(out).append(theirs)
        return take(self, key)

    monkeypatch.setattr(Claims, "take", take_after_the_other_run_finished)
    run_suite(suite, out=out, registry=registry)
    assert sorted(r.spec.seed for r in ResultStore(out).records()) == [0, 1]  # seed 0 not run twice


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux sysfs")
def test_a_store_in_sysfs_is_refused_even_for_root():
    with pytest.raises(StoreError, match="cannot write"):
        ResultStore("/sys/kernel/ibbench-test.jsonl").check_writable()


def test_a_worker_that_dies_is_a_failed_cell_and_the_suite_goes_on(tmp_path):
    from .conftest import REPO
    from .test_plugins import make_distribution

    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "ibbench-nan", "ibbench_nan_test", "from tests.plugin_fixtures.nan_plugin import *\n")
    suite = tmp_path / "s.toml"
    suite.write_text('name = "t"\nbudget = "smoke"\nseeds = [0, 1]\ntasks = [{ name = "test-plain" }]\n'
                     'estimators = [{ name = "test-die" }, { name = "binning" }]\n')
    out = tmp_path / "runs.jsonl"
    proc = run_cli("suite", "run", str(suite), "--out", str(out), "--jobs", "2", env={"PYTHONPATH": f"{site}:{REPO}"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    records = ResultStore(out).records()
    assert sorted((r.spec.estimator.name, r.status) for r in records) == [
        ("binning", "ok"), ("binning", "ok"), ("test-die", "failed"), ("test-die", "failed")]
    assert all("worker process running this cell died" in r.error for r in records if r.status == "failed")
