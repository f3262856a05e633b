"""Kill a real suite with SIGKILL mid-run, cut its last record in half, re-run: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from ibbench.store.results import ResultStore

SUITE = """name = "kill-test"
budget = "smoke"
seeds = [0, 1, 2, 3]
tasks = [{ name = "gaussian", params = { dim = 1, mi = 1.0 } }, { name = "gaussian", params = { dim = 2 } }]
estimators = [{ name = "mixture" }, { name = "mine", params = { steps = 150 } }]
"""
CELLS = 2 * 2 * 4


def _lines(path):
    return path.read_bytes().split(b"\n") if path.exists() else []


def test_sigkilled_suite_resumes_without_loss_or_duplicates(tmp_path):
    suite, out = tmp_path / "s.toml", tmp_path / "runs.jsonl"
    suite.write_text(SUITE)
    cmd = [sys.executable, "-m", "ibbench.cli", "suite", "run", str(suite), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len([line for line in _lines(out) if line.strip()]) < 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()  # must still be running when we kill it
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = [line for line in _lines(out) if line.strip()]
    assert 3 <= len(finished) < CELLS, "the kill should land mid-suite"
    # a crash in the middle of a write: half a record, no newline
    with open(out, "ab") as fh:
        fh.write(finished[-1][: len(finished[-1]) // 2])

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "removed a half-written last record" in rerun.stderr
    assert f"{len(finished)} already in" in rerun.stderr
    lines = [line for line in _lines(out) if line.strip()]
    assert lines[: len(finished)] == finished  # what was measured before the kill is untouched
    records = ResultStore(out).records()
    keys = [json.dumps(r.spec.model_dump(mode="json"), sort_keys=True) for r in records]
    assert len(records) == CELLS and len(set(keys)) == CELLS  # every cell exactly once
    assert all(r.status == "ok" for r in records)


def test_committed_suites_are_valid_and_fig2_suite_is_the_figure_grid():
    from pathlib import Path

    from ibbench.paper.fig2 import fig2_cells
    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import resolve
    from ibbench.running.specs import load_suite

    suites = Path(__file__).resolve().parents[1] / "suites"
    registry = load_registry()
    for path in sorted(suites.glob("*.toml")):
        suite = load_suite(path)
        for cell in suite.cells():
            if cell.estimator is None or cell.estimator.name in registry.names("estimator"):
                resolve(cell, registry)  # every name and parameter of every committed suite is valid
    suite_keys = {c.model_dump_json() for c in load_suite(suites / "fig2-quick.toml").cells()}
    figure_keys = {
        c.model_dump_json()
        for c in fig2_cells("quick", [0, 1, 2], (1e-3, 1e-2, 1e-1, 1.0, 10.0), "mnist", "cpu")
    }
    assert suite_keys == figure_keys


def test_fig2_finds_its_stored_cells_as_resolved(tmp_path, registry):
    """The figure reads back the records of its cells by their resolved key: a spec the runner completes
    (the default preprocessing filled in) is still the figure's cell, so a second call only draws."""
    from ibbench.paper.fig2 import make_fig2

    kw = dict(out_dir=tmp_path, budget="smoke", seeds=[0], noise_vars=[1.0], dataset="digits", device="cpu")
    make_fig2(**kw, registry=registry)
    store = tmp_path / "runs.jsonl"
    before = store.read_text()
    table, png = make_fig2(**kw, registry=registry)
    assert store.read_text() == before  # nothing ran again
    assert png.is_file() and "mixture" in table.read_text()
