"""The command line as a user meets it: records, tables, and one-line errors with non-zero exits."""

from __future__ import annotations

import json
import os

import pytest

from ibbench.reports.tables import aggregate, bias_table
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec
from ibbench.store.results import SCHEMA_VERSION, ResultStore, RunRecord, StoreWarning

from .conftest import run_cli, stderr_lines


def run_ok(*args, tmp_path):
    out = tmp_path / "runs.jsonl"
    proc = run_cli("run", *args, "--budget", "smoke", "--json", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out


def assert_one_line_error(proc, *fragments, code=2):
    """Exit ``code`` and one line on stderr holding every fragment (skip warnings about plugins
    installed in the environment aside: they are not this command's output)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = stderr_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_run_json_record_holds_provenance_and_is_stored(tmp_path):
    record, out = run_ok(
        "--task", "gaussian", "--set", "task.dim=2", "--estimator", "mixture", tmp_path=tmp_path
    )
    assert record["schema_version"] == SCHEMA_VERSION and record["status"] == "ok"
    assert record["truth"] == pytest.approx(1.0) and record["estimate"] > 0 and record["estimate_stderr"] > 0
    assert record["expanded"]["budget"] == "smoke"
    assert record["expanded"]["estimator"]["params"]["n_samples"] is None  # a sampler: the budget's count
    assert record["extras"]["estimator"]["pairs_used"] == 1024  # what smoke draws
    assert record["expanded"]["task"]["params"]["dim"] == 2
    prov = record["provenance"]
    assert {"torch", "numpy", "pydantic", "ibbench"} <= set(prov["versions"])
    assert "commit" in prov["git"] and prov["device"].startswith("cpu")
    assert record["wall_time_s"] > 0
    stored = ResultStore(out).records()
    assert len(stored) == 1 and stored[0].id == record["id"]


def test_run_with_the_ksg_plugin(tmp_path):
    record, _ = run_ok("--task", "gaussian", "--estimator", "ksg", tmp_path=tmp_path)
    assert record["expanded"]["estimator"]["distribution"] == "ibbench-ksg"
    assert abs(record["estimate"] - 1.0) < 0.15


def test_same_seed_same_record_numbers(tmp_path):
    a, _ = run_ok("--task", "gaussian", "--estimator", "mine", "--seed", "3", tmp_path=tmp_path)
    b, _ = run_ok("--task", "gaussian", "--estimator", "mine", "--seed", "3", tmp_path=tmp_path)
    assert a["estimate"] == b["estimate"]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--task", "nope", "--estimator", "mine"], ["unknown task 'nope'", "ibbench list"]),
        (["--task", "gaussian", "--estimator", "nope"], ["unknown estimator 'nope'", "mine"]),
        (
            ["--task", "gaussian", "--estimator", "mine", "--set", "task.dimm=3"],
            ["task 'gaussian'", "'dimm'"],
        ),
        (
            ["--task", "gaussian", "--estimator", "mine", "--set", "task.dim=-1"],
            ["field 'dim'", "greater than"],
        ),
        (["--task", "gaussian", "--estimator", "mine", "--set", "task.dim=abc"], ["field 'dim'", "'abc'"]),
        (
            ["--task", "gaussian", "--estimator", "mine", "--set", "estimator.hidden=0"],
            ["estimator 'mine'", "'hidden'"],
        ),
        (
            ["--task", "gaussian", "--estimator", "mine", "--set", "dim=3"],
            ["--set 'dim=3'", "task.FIELD=VALUE"],
        ),
        (["--task", "gaussian", "--estimator", "mine", "--set", "model.x=1"], ["model.x=1"]),
        (
            ["--task", "gaussian", "--estimator", "mine", "--set", "task.mi=1", "--set", "task.rho=0.5"],
            ["mi or rho"],
        ),
        (["--task", "gaussian"], ["--estimator"]),
        (["--task", "gaussian", "--set", "estimator.hidden=3", "--trainer", "x"], ["without --estimator"]),
    ],
)
def test_bad_run_input_is_one_line_and_exit_2(args, fragments, tmp_path):
    proc = run_cli("run", *args, "--out", str(tmp_path / "r.jsonl"))
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "r.jsonl").exists()


def test_bad_budget_is_rejected_by_the_parser():
    proc = run_cli("run", "--task", "gaussian", "--estimator", "mine", "--budget", "huge")
    assert proc.returncode == 2 and "invalid choice: 'huge'" in proc.stderr


def test_nan_in_training_exits_1_and_the_failure_is_stored(tmp_path):
    from .conftest import REPO
    from .test_plugins import make_distribution

    site = tmp_path / "site"
    site.mkdir()
    make_distribution(
        site, "ibbench-nan", "ibbench_nan_test", "from tests.plugin_fixtures.nan_plugin import *\n"
    )
    out = tmp_path / "r.jsonl"
    proc = run_cli(
        "run",
        "--task",
        "test-nan",
        "--estimator",
        "mine",
        "--budget",
        "smoke",
        "--out",
        str(out),
        env={"PYTHONPATH": f"{site}:{REPO}"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "FAILED: DivergenceError" in proc.stdout
    (record,) = ResultStore(out).records()
    assert record.status == "failed" and "nan" in record.error
    view = run_cli("table", "failures", "--store", str(out))
    assert view.returncode == 0, view.stderr
    assert record.id[:12] in view.stdout and "DivergenceError" in view.stdout and "1/1" in view.stdout


def test_missing_mnist_is_a_data_error(tmp_path):
    proc = run_cli(
        "data", "get", "mnist", "--from", str(tmp_path / "nothing"), "--data-dir", str(tmp_path / "d")
    )
    assert_one_line_error(proc, "nothing")


def test_a_data_dir_that_is_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "f").write_text("")
    proc = run_cli("data", "get", "mnist", "--verify", "--data-dir", str(tmp_path / "f"))
    assert_one_line_error(proc, "--data-dir", "is a file")


def test_a_missing_data_dir_is_said_before_datasets_are_fetched_into_it(tmp_path, capsys, monkeypatch):
    from ibbench.cli import _use_data_dir

    monkeypatch.setenv("IBBENCH_DATA", "elsewhere")
    _use_data_dir(tmp_path / "typo")
    assert f"--data-dir {tmp_path / 'typo'} does not exist yet" in capsys.readouterr().err
    assert os.environ["IBBENCH_DATA"] == str(tmp_path / "typo")
    _use_data_dir(tmp_path)  # an existing folder: nothing to say
    assert capsys.readouterr().err == ""


def test_table_without_store_is_an_error(tmp_path):
    assert_one_line_error(run_cli("table", "bias", "--store", str(tmp_path / "none.jsonl")), "not found")


def test_store_from_another_schema_version_is_refused(tmp_path):
    store = tmp_path / "old.jsonl"
    store.write_text(json.dumps({"schema_version": 0, "id": "x"}) + "\n")
    assert_one_line_error(run_cli("table", "bias", "--store", str(store)), "schema_version 0", "reads 1")


def make_record(task_label, estimator, seed, estimate, truth, status="ok"):
    return RunRecord(
        id=f"{task_label}-{estimator}-{seed}",
        created="2026-01-01T00:00:00+00:00",
        status=status,
        error=None if status == "ok" else "DivergenceError: nan",
        spec=RunSpec(
            task=TaskSpec(name=task_label), estimator=EstimatorSpec(name=estimator), seed=seed, budget="smoke"
        ),
        task_label=task_label,
        device="cpu",
        wall_time_s=1.0,
        estimate=estimate if status == "ok" else None,
        truth=truth,
    )


def test_bias_table_aggregation_on_six_hand_made_records():
    records = [
        make_record("t1", "a", 0, 1.0, 2.0),
        make_record("t1", "a", 1, 3.0, 2.0),
        make_record("t1", "b", 0, 4.0, 2.0),
        make_record("t1", "b", 1, None, 2.0, status="failed"),
        make_record("t2", "a", 0, 0.5, 1.0),
        make_record("t2", "a", 1, 0.5, 1.0),
    ]
    cells = aggregate(records)
    assert cells[("t1", "a")].mean() == 2.0 and cells[("t1", "a")].std() == pytest.approx(2**0.5)
    assert cells[("t1", "a")].log2_ratio() == 0.0
    assert cells[("t1", "b")].failed == 1 and cells[("t1", "b")].log2_ratio() == 1.0
    assert cells[("t2", "a")].log2_ratio() == -1.0
    text = bias_table(records, fmt="plain")
    assert (
        "2.000 ± 1.414 (+0.00, n=2)" in text
        and "[failed 1/2]" in text
        and "0.500 ± 0.000 (-1.00, n=2)" in text
    )
    assert "4.000 (+1.00, n=1)" in text  # one run: no spread shown


def test_table_cli_renders_the_store(tmp_path):
    _, out = run_ok("--task", "gaussian", "--estimator", "mixture", tmp_path=tmp_path)
    proc = run_cli("table", "bias", "--store", str(out), "--format", "github")
    assert proc.returncode == 0 and "| gaussian" in proc.stdout and "mixture" in proc.stdout


def test_half_written_last_line_is_repaired_with_a_warning(tmp_path):
    store = ResultStore(tmp_path / "runs.jsonl")
    good = make_record("t1", "a", 0, 1.0, 2.0)
    store.append(good)
    with open(store.path, "a") as fh:
        fh.write('{"schema_version": 1, "id": "cut')  # a crash mid-write
    with pytest.warns(StoreWarning, match="half-written"):
        assert [r.id for r in store.records()] == [good.id]
    with pytest.warns(StoreWarning, match="removed a half-written"):
        store.append(make_record("t1", "a", 1, 1.0, 2.0))
    assert len(store.records()) == 2


def test_suite_runs_missing_cells_only(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "t"\nbudget = "smoke"\nseeds = [0, 1]\n'
        'tasks = [{ name = "gaussian" }]\nestimators = [{ name = "mixture" }]\n'
    )
    out = tmp_path / "runs.jsonl"
    first = run_cli("suite", "run", str(suite), "--out", str(out), "--quiet")
    assert first.returncode == 0, first.stderr
    assert len(ResultStore(out).records()) == 2
    # each finished cell's one line is the command's output, on stdout, --quiet or not
    lines = first.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("gaussian x mixture (seed ") for line in lines), lines
    second = run_cli("suite", "run", str(suite), "--out", str(out))
    assert "2 already in" in second.stderr and len(ResultStore(out).records()) == 2


@pytest.mark.parametrize(
    "text,fragment",
    [
        ('name = "t"\ntasks = []\nestimators = [{ name = "mine" }]\n', "field 'tasks'"),
        ('name = "t"\ntasks = [{ name = "gaussian" }]\n', "needs at least one estimator"),
        (
            'name = "t"\nbudget = "huge"\ntasks = [{ name = "gaussian" }]\nestimators = [{ name = "mine" }]\n',
            "field 'budget'",
        ),
        (
            'name = "t"\ntasks = [{ name = "gaussian", colour = 1 }]\nestimators = [{ name = "mine" }]\n',
            "colour",
        ),
        ('name = = "t"', "not valid TOML"),
        (
            'name = "t"\ntasks = [{ name = "gaussian", params = { dim = 0 } }]\nestimators = [{ name = "mine" }]\n',
            "field 'dim'",
        ),
    ],
)
def test_bad_suite_file_is_one_line_and_exit_2(text, fragment, tmp_path):
    suite = tmp_path / "bad.toml"
    suite.write_text(text)
    assert_one_line_error(run_cli("suite", "run", str(suite), "--out", str(tmp_path / "r.jsonl")), fragment)


def test_a_suite_file_with_two_typos_names_both(tmp_path):
    suite = tmp_path / "typos.toml"
    suite.write_text(
        'name = "t"\nbudgt = "quick"\ntasks = [{ name = "gaussian" }]\n'
        'estimators = [{ name = "mine", parms = { steps = 5 } }]\n'
    )
    proc = run_cli("suite", "run", str(suite), "--out", str(tmp_path / "r.jsonl"))
    assert_one_line_error(proc, "field 'budgt'", "(got 'quick')", "field 'estimators.0.parms'")
    assert "more)" not in proc.stderr


def test_a_suite_with_many_wrong_fields_names_the_first_few_then_counts():
    from ibbench.errors import SpecError
    from ibbench.running.specs import SHOWN_ERRORS, suite_from_data

    typos = {f"typo{i}": i for i in range(SHOWN_ERRORS + 2)}
    with pytest.raises(SpecError) as err:
        suite_from_data(
            {"name": "t", "tasks": [{"name": "gaussian"}], "estimators": [{"name": "mine"}], **typos}, "s"
        )
    message = str(err.value)
    assert "\n" not in message and message.endswith("(+2 more)")
    assert [f"field 'typo{i}'" in message for i in range(SHOWN_ERRORS + 2)] == [True] * SHOWN_ERRORS + [
        False
    ] * 2


def test_corrupt_mnist_in_the_data_dir_is_one_line_naming_the_file(mnist_dir, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(mnist_dir, data)
    victim = data / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    blob = bytearray(victim.read_bytes())
    blob[100] ^= 0xFF
    victim.write_bytes(bytes(blob))
    out = tmp_path / "r.jsonl"
    proc = run_cli(
        "run",
        "--task",
        "mixture-channel",
        "--estimator",
        "mixture",
        "--budget",
        "smoke",
        "--data-dir",
        str(data),
        "--out",
        str(out),
    )
    assert_one_line_error(proc, "t10k-labels-idx1-ubyte", "ibbench data get mnist")
    assert not out.exists()  # no half-made record


def test_data_get_imports_and_verifies(tmp_path):
    from .conftest import SHARED_MNIST

    if not SHARED_MNIST.is_dir():
        pytest.skip(f"no MNIST copy at {SHARED_MNIST} (set IBBENCH_TEST_DATA or IBBENCH_DATA)")
    proc = run_cli(
        "data", "get", "mnist", "--from", str(SHARED_MNIST), "--data-dir", str(tmp_path), "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    assert "verified" in proc.stdout and (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["run", "--task", "gaussian", "--estimator", "ksg", "--seed", "-1"],
            ["--seed", "seeds are integers from 0 to 4294967295"],
        ),
        (
            ["run", "--task", "gaussian", "--estimator", "ksg", "--set", "task.mi=1e6"],
            ["task 'gaussian': 1e+06 nats per correlated pair is above 15", "lower mi"],
        ),
        (
            ["run", "--task", "student-t", "--estimator", "ksg", "--set", "task.mi=1e6"],
            ["per correlated pair"],
        ),
    ],
)
def test_bad_run_input_is_one_line_exit_2_and_nothing_stored(tmp_path, args, fragments):
    out = tmp_path / "runs.jsonl"
    assert_one_line_error(run_cli(*args, "--budget", "smoke", "--out", str(out)), *fragments)
    assert not out.exists()


@pytest.mark.parametrize("estimator", ["aa-mine", "mixture"])
def test_an_estimator_that_cannot_run_on_arrays_is_bad_input_not_a_failed_record(tmp_path, estimator):
    import numpy as np

    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).normal(size=(200, 2)))
    out = tmp_path / "runs.jsonl"
    proc = run_cli(
        "estimate",
        "--x",
        str(x),
        "--y",
        str(x),
        "--estimator",
        estimator,
        "--budget",
        "smoke",
        "--out",
        str(out),
    )
    assert_one_line_error(proc, f"{estimator} needs a task whose y = F(x)")
    assert not out.exists() or not out.read_text()


def test_a_file_that_is_not_npy_says_so_not_pickle(tmp_path):
    bad = tmp_path / "x.npy"
    bad.write_bytes(b"hello, this is not numpy\n" * 10)
    proc = run_cli(
        "estimate",
        "--x",
        str(bad),
        "--y",
        str(bad),
        "--estimator",
        "ksg",
        "--out",
        str(tmp_path / "runs.jsonl"),
    )
    assert_one_line_error(proc, "is not a .npy file")
    assert "pickle" not in proc.stderr


def test_a_paper_run_on_the_cpu_says_its_cost_and_needs_yes(tmp_path):
    out = tmp_path / "runs.jsonl"
    proc = run_cli(
        "run",
        "--task",
        "gaussian",
        "--estimator",
        "mine",
        "--budget",
        "paper",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert_one_line_error(
        proc, "the paper budget on the CPU: up to 10,000 critic updates at width 1500", "pass --yes"
    )
    assert not out.exists()


def test_the_paper_cost_counts_every_critic_update_the_run_may_make(registry, capsys):
    from ibbench.cli import confirm_paper_cost
    from ibbench.paper.cost import critic_updates
    from ibbench.running.runner import resolve
    from ibbench.running.specs import RunSpec

    spec = RunSpec.model_validate(
        {"task": {"name": "mnist-mlp"}, "estimator": {"name": "aa-mine"}, "budget": "paper", "device": "cpu"}
    )
    resolved = resolve(spec, registry)
    # ce's probe: I(X; L) and I(Y; L) of 3 layers, 10000 steps at the start, 1000 at each of 20 points
    assert critic_updates(resolved).updates == 2 * 3 * (10000 + 20 * 1000)
    confirm_paper_cost([resolved], yes=True)
    err = capsys.readouterr().err
    assert "up to 180,000 critic updates at width 1500" in err and err.rstrip().endswith("starting (--yes)")


@pytest.mark.parametrize(
    ("rows", "fragments"), [(0, ["fewer than 2 samples"]), (3, ["KSG with k=3 needs at least 5"])]
)
def test_too_few_pairs_is_bad_input_not_a_failed_record(tmp_path, rows, fragments):
    import numpy as np

    x = tmp_path / "x.npy"
    np.save(x, np.zeros((rows, 2)) + np.arange(rows)[:, None])
    out = tmp_path / "runs.jsonl"
    proc = run_cli("estimate", "--x", str(x), "--y", str(x), "--estimator", "ksg", "--out", str(out))
    assert_one_line_error(proc, *fragments)
    assert not out.exists() or not out.read_text()


def test_a_seed_numpy_cannot_hold_is_refused():
    assert_one_line_error(
        run_cli("run", "--task", "gaussian", "--estimator", "ksg", "--seed", str(2**32)), "above 4294967295"
    )
