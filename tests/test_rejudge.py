"""A verdict is a function of what the run measured: changed rules re-judge a store without re-running
it (``ibbench.reproduction.rejudge``), and the currency check counts verdicts made by other rules."""

from __future__ import annotations

import dataclasses

import numpy as np

from ibbench.reports.currency import classify
from ibbench.reproduction.attest import measured
from ibbench.reproduction.rejudge import outdated, rejudge_store, traits_of
from ibbench.running.plugins import load_registry
from ibbench.store.results import ResultStore
from ibbench.verdicts.judgement import rules_version

from .test_verdicts import estimate, gaussian


def test_rejudging_an_old_verdict_restores_todays_and_leaves_the_measurement_alone(tmp_path, capsys):
    x, y = gaussian(np.random.default_rng(21), 600, 0.7, dims=6)
    rc, _, _, _ = estimate(
        tmp_path, capsys, x, y, "ksg"
    )  # tests/test_verdicts.py's `ibbench estimate` helper
    assert rc == 0
    store = tmp_path / "runs.jsonl"
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
    declared = traits_of(rejudged)
    assert rejudged.reliability["rules"] == rules_version(declared) and classify([rejudged]).old_rules == 0
    # the version covers the traits KSG declares: editing one of them re-judges its verdicts
    assert rules_version(dataclasses.replace(declared, reads_low_above_dims=20)) != rules_version(declared)
    # a second pass finds nothing to do and does not rewrite the store
    before = store.stat().st_mtime_ns
    assert rejudge_store(store, load_registry())["rejudged"] == 0 and store.stat().st_mtime_ns == before
