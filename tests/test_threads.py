"""torch's thread count: what --threads asks for, shared among a suite's workers."""

from __future__ import annotations

import os

import pytest

from ibbench.running import threads
from ibbench.store.results import ResultStore

from .conftest import run_cli
from .test_store import _fault_suite


def test_available_cpus_honours_a_cgroup_quota(monkeypatch, tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # 1.5 CPUs
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", cpu_max)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert threads.available_cpus() == 2
    cpu_max.write_text("max 100000\n")
    assert threads.available_cpus() == 8


def test_workers_share_the_threads():
    assert threads.share(4, 2) == 2 and threads.share(2, 4) == 1 and threads.share(3, 2) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--jobs", "2", "--threads", "2"], 1), (["--jobs", "2", "--threads", "4"], 2), (["--threads", "1"], 1)],
)
def test_a_cells_torch_thread_count_is_the_one_asked_for(tmp_path, args, expected):
    suite, env = _fault_suite(tmp_path, '{ name = "test-threads" }', seeds="[0, 1]")
    env = {**env, "OMP_NUM_THREADS": ""}  # unset: --threads decides
    out = tmp_path / "runs.jsonl"
    proc = run_cli("suite", "run", str(suite), "--out", str(out), *args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r.extras["estimator"]["threads"] for r in ResultStore(out).records()] == [expected, expected]


def test_idle_openmp_threads_spin_briefly_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    threads.spin_briefly()
    assert os.environ["GOMP_SPINCOUNT"] == threads.SPIN_COUNT
    monkeypatch.setenv("GOMP_SPINCOUNT", "50")
    threads.spin_briefly()
    assert os.environ["GOMP_SPINCOUNT"] == "50"
    monkeypatch.delenv("GOMP_SPINCOUNT")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    threads.spin_briefly()
    assert "GOMP_SPINCOUNT" not in os.environ


def test_the_command_line_sets_it_before_torch_loads():
    import subprocess
    import sys

    code = (
        "import os, sys; os.environ.pop('GOMP_SPINCOUNT', None); os.environ.pop('OMP_WAIT_POLICY', None); "
        "from ibbench import cli; cli.spin_briefly(); "
        "print(os.environ['GOMP_SPINCOUNT'], 'torch' in sys.modules)"
    )
    value, torch_loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert value == threads.SPIN_COUNT and torch_loaded == "False"  # set while OpenMP can still read it
