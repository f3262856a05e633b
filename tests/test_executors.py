"""Suites on other executors: a local process pool and submitit (its local cluster: the same pickling
and job path as Slurm).  Records come back whole, once each, with the numbers an in-process run gives."""

from __future__ import annotations

import pytest

from ibbench.store.results import ResultStore

from .conftest import run_cli
from .test_cli import assert_one_line_error

SUITE = """name = "exec-test"
budget = "smoke"
seeds = [0, 1]
tasks = [{ name = "gaussian", params = { dim = 2, mi = 1.0 } }]
estimators = [{ name = "mixture" }, { name = "binning" }]
"""


def numbers(path):
    return {(r.spec.estimator.name, r.spec.seed): r.estimate for r in ResultStore(path).records()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    (d / "s.toml").write_text(SUITE)
    proc = run_cli("suite", "run", str(d / "s.toml"), "--out", str(d / "r.jsonl"))
    assert proc.returncode == 0, proc.stderr
    return numbers(d / "r.jsonl")


def test_process_pool_gives_the_in_process_numbers(tmp_path, reference):
    (tmp_path / "s.toml").write_text(SUITE)
    out = tmp_path / "r.jsonl"
    proc = run_cli("suite", "run", str(tmp_path / "s.toml"), "--out", str(out), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert "running 4 on local" in proc.stderr
    assert numbers(out) == reference and len(ResultStore(out).records()) == 4


def test_submitit_local_cluster_runs_the_cells_as_jobs(tmp_path, reference):
    pytest.importorskip("submitit")
    (tmp_path / "s.toml").write_text(SUITE)
    out, logs = tmp_path / "r.jsonl", tmp_path / "jobs"
    proc = run_cli(
        "suite",
        "run",
        str(tmp_path / "s.toml"),
        "--out",
        str(out),
        "--executor",
        "slurm",
        "--set",
        "executor.cluster=local",
        "--set",
        f"executor.folder={logs}",
        "--set",
        "executor.timeout_min=10",
    )
    assert proc.returncode == 0, proc.stderr
    assert numbers(out) == reference
    assert list(logs.glob("*_result.pkl")) or list(logs.glob("*.out"))  # submitit's job files exist


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--executor", "nope"], "unknown executor 'nope'"),
        (["--executor", "slurm", "--jobs", "2"], "--jobs is for the local executor"),
        (["--set", "executor.jobs=0"], "field 'jobs'"),
        (["--set", "task.dim=2"], "takes executor.FIELD=VALUE"),
    ],
)
def test_bad_executor_options_are_one_line_errors(tmp_path, args, fragment):
    (tmp_path / "s.toml").write_text(SUITE)
    proc = run_cli("suite", "run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "r.jsonl"), *args)
    assert_one_line_error(proc, fragment)
