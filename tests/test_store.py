"""The results store never loses, duplicates or fakes a record: concurrent appends, a lost newline,
a device instead of a file, an unwritable location, a record id stored twice."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from ibbench.errors import IbbenchError, StoreError
from ibbench.store.cells import CellKey
from ibbench.store.results import ResultStore, RunRecord, StoreWarning

from .conftest import run_cli
from .test_cli import make_record

CELL = CellKey("cell")


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
@pytest.mark.parametrize(
    "args",
    [
        ["table", "bias", "--store", "/dev/full"],
        ["run", "--task", "gaussian", "--estimator", "mixture", "--budget", "smoke", "--out", "/dev/full"],
    ],
    ids=["table", "run"],
)
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
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import run
    from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec
    from tests.plugin_fixtures import nan_plugin

    reg = load_registry(extra_plugins=(("nan-plugin", nan_plugin),))
    return run(
        RunSpec(task=TaskSpec(name="test-plain"), estimator=EstimatorSpec(name=estimator), budget="smoke"),
        reg,
        store=store,
    )


def test_a_nan_estimate_is_a_failed_run_not_an_ok_one():
    record = _misbehaving("test-nan-estimate")
    assert record.status == "failed" and "estimate is nan" in record.error and record.estimate is None


def test_numpy_and_torch_values_in_extras_are_stored_as_json(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = _misbehaving("test-numpy-extras", store)
    assert record.status == "ok", record.error
    (stored,) = store.records()
    assert stored.estimate == 0.25 and stored.estimate_stderr == 0.5
    assert stored.extras["estimator"] == {
        "curve": [0.0, 1.0, 2.0],
        "best": 2,
        "flag": True,
        "tensor": [1.0, 1.0],
        "3": [1, 2],
    }


def _untyped_trainer(trainer: str, store=None):
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import run
    from ibbench.running.specs import RunSpec
    from tests.plugin_fixtures import nan_plugin

    reg = load_registry(extra_plugins=(("nan-plugin", nan_plugin),))
    spec = RunSpec.model_validate(
        {"task": {"name": "digits-mlp"}, "trainer": {"name": trainer}, "budget": "smoke", "device": "cpu"}
    )
    return run(spec, reg, store=store)


@pytest.mark.parametrize(("trainer", "field"), [("test-acc-text", "test_acc"), ("test-no-acc", "test_acc")])
def test_a_training_result_of_the_wrong_shape_is_a_failed_cell_naming_the_field(tmp_path, trainer, field):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = _untyped_trainer(trainer, store)
    assert record.status == "failed" and record.training is None
    assert f"trainer {trainer} returned an invalid result: {field}:" in record.error
    (stored,) = store.records()  # stored, with what the trainer returned as plain JSON
    assert isinstance(stored.extras["invalid_training_result"], dict)


def test_a_trainers_own_fields_are_kept_beside_the_typed_ones(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = _untyped_trainer("test-extra-fields", store)
    assert record.status == "ok", record.error
    (stored,) = store.records()
    assert stored.training.test_acc == 0.75 and stored.training.linear_probes == []
    assert stored.training.get("my_diagnostic") == {"norms": [1.0, 1.0]}
    assert "invalid_training_result" not in stored.extras


V1_TRAINING = {
    "schema_version": 1,
    "id": "v1run",
    "created": "2026-11-01T00:00:00+00:00",
    "status": "ok",
    "error": None,
    "spec": {
        "task": {"name": "digits-mlp", "params": {}},
        "trainer": {"name": "ce"},
        "seed": 0,
        "budget": "smoke",
        "device": "cpu",
    },
    "task_label": "digits-mlp",
    "device": "cpu",
    "wall_time_s": 1.0,
    "extras": {
        "task": {"dataset": "digits"},
        "trainer": {
            "test_acc": 0.9,
            "val_acc": 0.88,
            "evals": [{"step": 5, "val_acc": 0.88, "test_acc": 0.9, "loss": 0.3}],
            "linear_probes": [{"layer": 1, "dims": 64, "test_acc": 0.85}],
            "layers": [{"layer": 1}],
            "info_plane": {
                "estimator": "mine",
                "iyt_estimator": "mine",
                "noise_var": 2.0,
                "n_points": 100,
                "log_n": 4.6,
                "points": [{"step": 0, "layer": 1, "ixt": 1.0, "iyt": 0.5}],
            },
        },
    },
}


def test_a_schema_1_store_is_read_as_schema_2_and_never_rewritten(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps(V1_TRAINING) + "\n")
    before = path.read_bytes()
    (record,) = ResultStore(path).records()
    assert record.schema_version == 2 and record.training.test_acc == 0.9
    assert record.training.evals[0].val_acc == 0.88 and record.training.linear_probes[0].dims == 64
    assert record.training.info_plane.points[0].ixt == 1.0 and record.training.layers == [{"layer": 1}]
    assert "trainer" not in record.extras and record.extras["task"] == {"dataset": "digits"}
    assert path.read_bytes() == before
    ResultStore(path).append(
        record.model_copy(update={"id": "v2run"})
    )  # a v1 store takes v2 records after it
    assert path.read_bytes().startswith(before)
    assert [(r.id, r.training.test_acc) for r in ResultStore(path).records()] == [
        ("v1run", 0.9),
        ("v2run", 0.9),
    ]
    assert json.loads(path.read_text().splitlines()[1])["schema_version"] == 2


def test_a_store_of_a_newer_schema_is_refused_with_one_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps({**V1_TRAINING, "schema_version": 3}) + "\n")
    with pytest.raises(StoreError, match="schema_version 3, this ibbench reads 1, 2"):
        ResultStore(path).records()


def test_a_v1_record_whose_training_does_not_fit_names_the_line_and_field(tmp_path):
    bad = json.loads(json.dumps(V1_TRAINING))
    bad["extras"]["trainer"]["test_acc"] = 1.5
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(StoreError, match=r"runs.jsonl:1 is not a valid run record: training.test_acc"):
        ResultStore(path).records()


def test_every_committed_store_reads_with_typed_training_results():
    from ibbench.reproduction.attestations import ATTESTATIONS

    root = Path(__file__).parents[1]
    # every JSON Lines file under results/ is a record store but the canary attestations (ibbench.reproduction.attest)
    stores = sorted(p for p in (root / "results").rglob("*.jsonl") if p != root / ATTESTATIONS)
    assert stores
    for path in stores:
        for record in ResultStore(path).records():
            assert record.schema_version == 2 and "trainer" not in record.extras
            if record.spec.trainer is None:
                assert record.training is None
            elif record.status == "ok":
                assert 0 <= record.training.test_acc <= 1


def test_sys_exit_inside_a_plugin_is_a_failed_cell(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    record = _misbehaving("test-exit", store)
    assert record.status == "failed" and "sys.exit(3)" in record.error
    assert len(store.records()) == 1


def _suite(tmp_path, text: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text(
        'name = "t"\nbudget = "smoke"\nseeds = [0, 1]\nestimators = [{ name = "mixture" }]\n' + text
    )
    return path


def test_reordered_or_respelled_parameters_are_the_same_cell(tmp_path, registry, capsys):
    from ibbench.sweeps.suite import run_suite

    out = tmp_path / "runs.jsonl"
    run_suite(
        _suite(tmp_path, 'tasks = [{ name = "gaussian", params = { dim = 5, mi = 2.0 } }]\n'),
        out=out,
        registry=registry,
    )
    assert len(ResultStore(out).records()) == 2
    again = _suite(tmp_path, 'tasks = [{ name = "gaussian", params = { mi = 2, dim = 5 } }]\n', "t.toml")
    run_suite(again, out=out, registry=registry)
    assert "2 already in" in capsys.readouterr().err and len(ResultStore(out).records()) == 2


def test_a_cell_claimed_by_a_live_run_is_left_to_it_and_a_stale_claim_is_taken_over(
    tmp_path, registry, capsys
):
    import json as _json

    from ibbench.running.runner import cell_of, resolve
    from ibbench.running.specs import load_suite
    from ibbench.sweeps.claims import Claims
    from ibbench.sweeps.suite import run_suite

    suite = _suite(tmp_path, 'tasks = [{ name = "gaussian" }]\n')
    out = tmp_path / "runs.jsonl"
    first, second = (cell_of(resolve(c, registry)) for c in load_suite(suite).cells())
    live = Claims(out)
    assert live.take(first)  # this (live) process holds seed 0
    stale = Claims(out)._path(second)
    stale.write_text(_json.dumps({"host": __import__("socket").gethostname(), "pid": 2**22 + 12345}))
    run_suite(suite, out=out, registry=registry)
    assert "1 claimed by another run" in capsys.readouterr().err
    assert [r.spec.seed for r in ResultStore(out).records()] == [1]  # the stale claim was taken over
    live.release_all()


def test_a_trainer_that_ends_at_chance_is_a_failed_run_that_keeps_its_result(registry):
    from ibbench.running.runner import run
    from ibbench.running.specs import RunSpec

    spec = RunSpec.model_validate(
        {
            "task": {"name": "digits-mlp"},
            "trainer": {"name": "ce", "params": {"lr": 1e9}},
            "budget": "smoke",
            "device": "cpu",
        }
    )
    record = run(spec, registry)
    assert record.status == "failed" and "ended at chance" in record.error
    assert record.training.model_dump()["test_acc"] < 0.2  # what it measured is kept


def test_a_cell_finished_by_another_run_while_claiming_is_not_run_again(tmp_path, registry, monkeypatch):
    from ibbench.sweeps.claims import Claims
    from ibbench.sweeps.suite import run_suite

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
    make_distribution(
        site, "ibbench-nan", "ibbench_nan_test", "from tests.plugin_fixtures.nan_plugin import *\n"
    )
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "t"\nbudget = "smoke"\nseeds = [0, 1]\ntasks = [{ name = "test-plain" }]\n'
        'estimators = [{ name = "test-die" }, { name = "binning" }]\n'
    )
    out = tmp_path / "runs.jsonl"
    proc = run_cli(
        "suite", "run", str(suite), "--out", str(out), "--jobs", "2", env={"PYTHONPATH": f"{site}:{REPO}"}
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    records = ResultStore(out).records()
    assert sorted((r.spec.estimator.name, r.status) for r in records) == [
        ("binning", "ok"),
        ("binning", "ok"),
        ("test-die", "failed"),
        ("test-die", "failed"),
    ]
    assert all("worker process running this cell died" in r.error for r in records if r.status == "failed")


def test_plot_last_takes_the_newest_run_with_an_information_plane_not_a_later_estimate(tmp_path):
    from ibbench.reports.figures.info_plane import find_record

    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps(V1_TRAINING) + "\n")
    ResultStore(path).append(make_record("gaussian", "ksg", 0, 1.0, 1.0))
    records = ResultStore(path).records()
    assert records[-1].spec.estimator.name == "ksg"
    assert find_record(records, "last").id == "v1run"
    with pytest.raises(IbbenchError, match="no training run with an information plane"):
        find_record(records[1:], "last")


def _fault_suite(tmp_path, estimators: str, extra: str = "", seeds: str = "[0]") -> tuple[Path, dict]:
    from .conftest import REPO
    from .test_plugins import make_distribution

    site = tmp_path / "site"
    site.mkdir()
    make_distribution(
        site, "ibbench-nan", "ibbench_nan_test", "from tests.plugin_fixtures.nan_plugin import *\n"
    )
    suite = tmp_path / "s.toml"
    suite.write_text(
        f'name = "t"\nbudget = "smoke"\nseeds = {seeds}\n{extra}tasks = [{{ name = "test-plain" }}]\n'
        f"estimators = [{estimators}]\n"
    )
    return suite, {"PYTHONPATH": f"{site}:{REPO}"}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_cell_past_its_time_limit_is_a_failed_record_and_the_suite_goes_on(tmp_path, jobs):
    suite, env = _fault_suite(tmp_path, '{ name = "test-hang" }, { name = "binning" }')
    out = tmp_path / "runs.jsonl"
    proc = run_cli(
        "suite", "run", str(suite), "--out", str(out), "--jobs", jobs, "--cell-timeout", "3", env=env
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    records = {r.spec.estimator.name: r for r in ResultStore(out).records()}
    assert records["binning"].status == "ok"
    assert records["test-hang"].status == "failed" and "time limit of 3 s" in records["test-hang"].error


def test_a_cell_stuck_in_native_code_is_ended_by_the_watchdog(tmp_path):
    """The suite file's cell_timeout; the cell blocks SIGALRM, so only the worker's watchdog ends it."""
    suite, env = _fault_suite(
        tmp_path, '{ name = "test-hang-native" }, { name = "binning" }', "cell_timeout = 1\n"
    )
    out = tmp_path / "runs.jsonl"
    proc = run_cli("suite", "run", str(suite), "--out", str(out), "--jobs", "2", env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    records = {r.spec.estimator.name: r for r in ResultStore(out).records()}
    assert records["binning"].status == "ok"
    error = records["test-hang-native"].error
    assert "time limit of 1 s" in error and "native code" in error


def _children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_exit_when_the_suite_process_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    suite, env = _fault_suite(tmp_path, '{ name = "test-hang" }', seeds="[0, 1]")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ibbench.cli",
            "suite",
            "run",
            str(suite),
            "--out",
            str(tmp_path / "runs.jsonl"),
            "--jobs",
            "2",
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:  # the pool's workers (and its resource tracker)
        time.sleep(0.5)
        workers = {
            c
            for c in _children(proc.pid)
            if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")
        }
    assert len(workers) >= 2, "the pool never started"
    time.sleep(3)  # let the workers reach their initialiser's watch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.5)
    alive = [
        w
        for w in workers
        if Path(f"/proc/{w}").exists() and "Z" not in Path(f"/proc/{w}/stat").read_text().split(")")[1][:3]
    ]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert not alive, "workers outlived the suite process"


def test_a_training_result_with_nan_is_stored_and_read_back(tmp_path):
    """NaN (an undefined separation, accuracy without validation rows) is JSON null: read back as None."""
    store = ResultStore(tmp_path / "runs.jsonl")
    data = json.loads(json.dumps(V1_TRAINING))
    data["extras"]["trainer"].update(separation=[1.8, float("nan")], val_acc=float("nan"))
    data["extras"]["trainer"]["evals"][0]["val_acc"] = float("nan")
    data["extras"]["trainer"]["info_plane"]["points"][0]["ixt"] = float("nan")
    from ibbench.store.results import migrate

    record = RunRecord.model_validate(migrate(data))
    store.append(record)
    (back,) = store.records()
    assert back.training.separation == [1.8, None] and back.training.val_acc is None
    assert back.training.evals[0].val_acc is None and back.training.info_plane.points[0].ixt is None


def test_a_diverged_trainer_leaves_a_store_every_table_still_reads(tmp_path):
    out = tmp_path / "runs.jsonl"
    proc = run_cli(
        "run",
        "--task",
        "digits-mlp",
        "--trainer",
        "ce",
        "--budget",
        "smoke",
        "--set",
        "trainer.lr=1e9",
        "--out",
        str(out),
    )
    assert proc.returncode == 1
    for table in ("failures", "accuracy", "separation"):
        shown = run_cli("table", table, "--store", str(out))
        assert shown.returncode == 0, shown.stderr


def test_a_claim_is_never_empty_and_a_claim_that_is_no_object_is_stale(tmp_path, monkeypatch):
    from ibbench.sweeps import claims as claims_mod

    holder = claims_mod.Claims(tmp_path / "runs.jsonl")
    assert holder.take(CELL) and json.loads(holder._path(CELL).read_text())["pid"] == os.getpid()
    assert [p.name for p in holder.directory.iterdir()] == [holder._path(CELL).name]  # no temporary left
    holder.release_all()

    def full_disk(self, data, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(StoreError, match="cannot claim cells .*No space left on device"):
        claims_mod.Claims(tmp_path / "runs.jsonl").take(CELL)
    monkeypatch.undo()
    assert not claims_mod.Claims(tmp_path / "runs.jsonl")._path(CELL).exists()  # nothing half made

    odd = claims_mod.Claims(tmp_path / "runs.jsonl")
    odd.directory.mkdir(exist_ok=True)
    odd._path(CELL).write_text("null")
    assert odd.take(CELL)
    odd.release_all()


def test_an_empty_claim_left_by_an_older_ibbench_goes_stale(tmp_path):
    from ibbench.sweeps import claims as claims_mod

    first = claims_mod.Claims(tmp_path / "runs.jsonl")
    path = first._path(CELL)
    path.parent.mkdir(parents=True)
    path.write_text("")  # created, never written
    assert not claims_mod.Claims(tmp_path / "runs.jsonl").take(CELL)  # maybe being written right now
    old = time.time() - 2 * claims_mod.UNREADABLE_STALE_S
    os.utime(path, (old, old))
    taker = claims_mod.Claims(tmp_path / "runs.jsonl")
    assert taker.take(CELL)
    taker.release_all()


def test_info_plane_figure_marks_readings_whose_critic_stopped_short(tmp_path):
    from ibbench.reports.figures.info_plane import plateau_note, plot_info_plane, short_of_plateau, trajectory

    data = json.loads(json.dumps(V1_TRAINING))
    data["extras"]["trainer"]["info_plane"]["points"] = [
        {"step": 0, "layer": 1, "ixt": 1.0, "iyt": 0.5, "ixt_converged": True, "iyt_converged": True},
        {"step": 5, "layer": 1, "ixt": 1.5, "iyt": 0.7, "ixt_converged": False, "iyt_converged": True},
        {"step": 5, "layer": 2, "ixt": 0.5, "iyt": 0.4},  # a reading without flags (e.g. binning)
    ]
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps(data) + "\n")
    (record,) = ResultStore(path).records()
    points, _, _ = trajectory(record)
    assert [short_of_plateau(p) for p in points] == [False, True, False]
    assert plateau_note(points) == "; 3 of 4 critic readings on a held-out plateau"
    assert plateau_note([points[2]]) == ""
    png = plot_info_plane(record, tmp_path / "plane.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
