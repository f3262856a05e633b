"""The peer benchmark's bookkeeping (the timing itself is a committed table, not a test)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from .conftest import REPO

spec = importlib.util.spec_from_file_location("peer_benchmark", REPO / "scripts" / "peer_benchmark.py")
peers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peers)


def test_the_table_compares_both_sides_on_the_same_tasks():
    bmi = [
        {
            "task": "t",
            "seed": s,
            "estimator": e,
            "estimate": 1.2 if e == "ksg" else None,
            "truth": 1.0,
            "seconds": 2.0,
        }
        for s in (0, 1)
        for e in peers.ESTIMATORS
    ]
    ours = [
        {"task": "t", "seed": s, "estimator": e, "estimate": 0.9, "seconds": 0.5}
        for s in (0, 1)
        for e in peers.ESTIMATORS
    ]
    text, summary = peers.table(bmi, ours)
    assert summary[("bmi", "ksg")]["mean_abs_bias"] == pytest.approx(0.2)
    assert summary[("ibbench", "mine")]["mean_abs_bias"] == pytest.approx(0.1)
    assert summary[("bmi", "mine")]["mean_abs_bias"] is None and summary[("bmi", "mine")]["seconds"] == 4.0
    assert "1.200 / 4.0 s" in text and "0.900 / 1.0 s" in text and "failed" in text


def test_without_bmi_it_is_skipped_with_a_message():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "peer_benchmark.py")], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "peer benchmark skipped" in proc.stdout
