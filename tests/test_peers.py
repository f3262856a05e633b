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


def test_robust_for_both_maps_the_files_once_so_ibbench_reads_them_as_it_would_raw(tmp_path):
    """--preprocess robust maps the sampled files for both sides; ibbench then runs with preprocess none
    on them, which must equal its own robust run on the raw files (the same map, applied once)."""
    import numpy as np

    from ibbench.running.plugins import load_registry
    from ibbench.running.runner import run
    from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec

    rng = np.random.default_rng(3)
    x = rng.standard_t(1.0, size=(400, 2))
    y = x + rng.standard_t(1.0, size=(400, 2))
    raw, mapped = tmp_path / "raw", tmp_path / "mapped"
    for folder in (raw, mapped):
        folder.mkdir()
        np.save(folder / "t-0-x.npy", x)
        np.save(folder / "t-0-y.npy", y)
    peers.map_files(mapped, "robust")

    def ksg(folder, preprocess):
        params = {"x": str(folder / "t-0-x.npy"), "y": str(folder / "t-0-y.npy")}
        spec = RunSpec(
            task=TaskSpec(name="arrays", params=params),
            estimator=EstimatorSpec(name="ksg"),
            budget="smoke",
            device="cpu",
            preprocess=preprocess,
        )
        return run(spec, load_registry()).estimate

    assert not np.array_equal(np.load(mapped / "t-0-x.npy"), x)
    assert ksg(mapped, "none") == pytest.approx(ksg(raw, "robust"), abs=1e-6)
