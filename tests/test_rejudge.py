"""A verdict is a function of what the run measured: changed rules re-judge a store without re-running
it (``ibbench.rejudge``), and the currency check counts verdicts made by other rules."""

from __future__ import annotations

import math

import numpy as np

from ibbench.attest import measured
from ibbench.cli import main
from ibbench.currency import classify
from ibbench.judgement import rules_version
from ibbench.plugins import load_registry
from ibbench.rejudge import outdated, rejudge_store
from ibbench.results import ResultStore


def _store(tmp_path, estimator: str, dims: int = 6):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((600, dims))
    y = 0.7 * x + math.sqrt(1 - 0.49) * rng.standard_normal((600, dims))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    store = tmp_path / "runs.jsonl"
    argv = [
        "estimate",
        "--x",
        str(tmp_path / "x.npy"),
        "--y",
        str(tmp_path / "y.npy"),
        "--estimator",
        estimator,
    ]
    assert main([*argv, "--budget", "smoke", "--threads", "1", "--quiet", "--out", str(store)]) == 0
    return store


def test_rejudging_an_old_verdict_restores_todays_and_leaves_the_measurement_alone(tmp_path):
    store = _store(tmp_path, "ksg")
    (fresh,) = ResultStore(store).records()
    assert not outdated(fresh) and fresh.reliability["interval"]["kind"] == "lower reading"
    # the same record as older rules left it: another verdict and interval, no dimensions kept
    old_verdict = {
        **fresh.reliability,
        "verdict": "ok",
        "reasons": [],
        "interval": {"low": 0.0, "high": 9.0, "kind": "bias-aware"},
        "dims": None,
        "rules": "000000000000",
    }
    store.write_text(fresh.model_copy(update={"reliability": old_verdict}).model_dump_json() + "\n")
    (old,) = ResultStore(store).records()
    assert outdated(old) and classify([old]).old_rules == 1 and not classify([old]).all_current

    changes = rejudge_store(store, load_registry())
    (rejudged,) = ResultStore(store).records()
    transition = f"ok (bias-aware) -> {fresh.reliability['verdict']} (lower reading)"
    assert fresh.reliability["verdict"] != "ok" and changes["rejudged"] == 1 and changes[transition] == 1
    assert rejudged.reliability == fresh.reliability  # the dimensions came from the task itself
    assert measured(rejudged) == measured(fresh) and rejudged.provenance == fresh.provenance
    assert rejudged.reliability["rules"] == rules_version() and classify([rejudged]).old_rules == 0
    # a second pass finds nothing to do and does not rewrite the store
    before = store.stat().st_mtime_ns
    assert rejudge_store(store, load_registry())["rejudged"] == 0 and store.stat().st_mtime_ns == before
