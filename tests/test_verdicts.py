"""Estimates that say when not to trust them (issue 26): data checks before estimating and the
reliability verdict after, one kind of fault per test, each on small seeded arrays."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ibbench.cli import main
from ibbench.running.plugins import load_registry
from ibbench.verdicts.datachecks import inspect
from ibbench.verdicts.judgement import PLAIN, interval, judge, judge_record, rules_version

REGISTRY = load_registry()

TRUTH_08 = -0.5 * math.log(1 - 0.8**2)  # 0.511 nats


def traits(name: str):
    """What a registered estimator declares for the verdict rules."""
    return REGISTRY.get("estimator", name).load().reliability


def gaussian(rng, n, rho, dims=1):
    x = rng.standard_normal((n, dims))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dims))


def estimate(tmp_path, capsys, x, y, estimator, *extra):
    """``ibbench estimate`` on the arrays: (exit code, stdout, stderr lines, the record or None)."""
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    store = tmp_path / "runs.jsonl"
    store.unlink(missing_ok=True)
    argv = [
        "estimate",
        "--x",
        str(tmp_path / "x.npy"),
        "--y",
        str(tmp_path / "y.npy"),
        "--estimator",
        estimator,
    ]
    rc = main([*argv, "--budget", "smoke", "--threads", "1", "--quiet", "--out", str(store), *extra])
    out = capsys.readouterr()
    record = json.loads(store.read_text().splitlines()[-1]) if store.exists() and store.read_text() else None
    return rc, out.out, [line for line in out.err.splitlines() if line.strip()], record


@pytest.mark.parametrize("repeat", [2, 4])
def test_repeated_rows_are_dropped_so_ksg_reads_the_distinct_pairs(tmp_path, capsys, repeat):
    x, y = gaussian(np.random.default_rng(14), 600, 0.8)
    _, _, _, distinct = estimate(tmp_path, capsys, x, y, "ksg")
    rc, out, err, record = estimate(tmp_path, capsys, np.repeat(x, repeat, 0), np.repeat(y, repeat, 0), "ksg")
    assert rc == 0 and record["estimate"] == distinct["estimate"]  # the same pairs, once each
    assert abs(record["estimate"] - TRUTH_08) < 0.1  # not a sample-size reading (7.04 before)
    assert record["extras"]["data"]["duplicates"] == 600 * (repeat - 1)
    assert record["extras"]["data"]["duplicates_dropped"] is True
    assert record["reliability"]["verdict"] == "caution"
    assert any("repeat an earlier pair exactly: dropped" in line for line in err)
    assert "reliability: caution (duplicates" in out


def test_repeats_in_discrete_data_are_kept_and_the_column_named():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (400, 1)).astype(float)
    y = x + rng.standard_normal((400, 1))
    y[:10] = y[10:20]  # repeated rows, but x is discrete: atoms, not repeated records
    x[:10] = x[10:20]
    report = inspect(x, y)
    assert report.duplicates == 10 and not report.dropped and report.keep is None
    assert {f.code for f in report.findings} == {"discrete", "duplicates"}


def test_constant_and_near_constant_columns_are_named():
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.standard_normal(500), np.ones(500)])
    y = rng.standard_normal((500, 1))
    y[:480] = 0.0
    report = inspect(x, y)
    texts = {f.code: f.text for f in report.findings}
    assert "X column 1 is constant" in texts["constant"]
    assert "Y column 0 (96% one value)" in texts["near-constant"]


def test_ksg_in_many_dimensions_is_read_as_a_lower_bound(tmp_path, capsys):
    x, y = gaussian(np.random.default_rng(1), 1000, 0.5, dims=6)
    rc, _, err, record = estimate(tmp_path, capsys, x, y, "ksg")
    assert rc == 0 and record["reliability"]["verdict"] != "ok"
    assert "dimension" in {r["code"] for r in record["reliability"]["reasons"]}
    assert any("12 joint dimensions" in line for line in err)


def test_a_critic_with_few_pairs_per_dimension_is_unreliable(tmp_path, capsys):
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((400, 20)), rng.standard_normal((400, 20))
    y[:, :2] = 0.9 * x[:, :2] + math.sqrt(0.19) * rng.standard_normal((400, 2))
    # check=false skips only the extra fit: the checks that cost nothing still warn and give a verdict
    rc, out, err, off = estimate(tmp_path, capsys, x, y, "mine", "--set", "estimator.check=false")
    assert rc == 0 and off["reliability"]["verdict"] == "unreliable"
    assert off["reliability"]["consistency"] == {"skipped": "turned off (estimator.check=false)"}
    assert any("200 training pairs for 40 dimensions" in line for line in err)
    rc, out, err, record = estimate(tmp_path, capsys, x, y, "mine")
    assert (
        record["reliability"]["verdict"] == "unreliable"
        and "half_pairs" in record["reliability"]["consistency"]
    )


def test_the_check_leaves_the_estimate_alone_and_can_be_turned_off(tmp_path, capsys):
    x, y = gaussian(np.random.default_rng(3), 800, 0.8)
    _, _, _, on = estimate(tmp_path, capsys, x, y, "ksg")
    _, _, _, off = estimate(tmp_path, capsys, x, y, "ksg", "--set", "estimator.check=false")
    assert on["estimate"] == off["estimate"] and on["estimate_stderr"] == off["estimate_stderr"]
    assert on["reliability"]["consistency"]["half_pairs"] == 400
    assert off["expanded"]["reliability_check"] is False and "reliability_check" not in on["expanded"]
    rc = main(
        [
            "estimate",
            "--x",
            str(tmp_path / "x.npy"),
            "--y",
            str(tmp_path / "y.npy"),
            "--estimator",
            "ksg",
            "--set",
            "estimator.check=3",
            "--out",
            str(tmp_path / "r.jsonl"),
        ]
    )
    assert rc == 2 and "estimator.check must be true or false" in capsys.readouterr().err


def test_a_critic_batch_below_the_minimum_is_refused_in_one_line(tmp_path, capsys):
    x, y = gaussian(np.random.default_rng(5), 400, 0.9)
    rc, _, err, record = estimate(tmp_path, capsys, x, y, "mine", "--set", "estimator.batch_size=2")
    assert rc == 2 and record is None
    assert len(err) == 1 and "batch_size 2 is below 16" in err[0]


def test_binning_on_few_pairs_says_its_bins_are_sparse(tmp_path, capsys):
    x, y = gaussian(np.random.default_rng(6), 1000, 0.8)
    rc, _, err, record = estimate(tmp_path, capsys, x, y, "binning")
    assert rc == 0 and record["estimate"] > TRUTH_08 + 0.1  # the upward bias the verdict must name
    codes = {r["code"] for r in record["reliability"]["reasons"]}
    assert "sparse-bins" in codes and record["reliability"]["verdict"] != "ok"


def test_an_estimate_at_a_ceiling_or_drifting_with_sample_size_is_unreliable():
    extras = {"converged": True, "heldout_pairs": 500, "train_pairs": 500, "max_steps": 100}
    assert judge("mine", math.log(500) - 0.5, 0.1, extras, x_dim=1, y_dim=1).level == "unreliable"
    assert judge("mine", 1.0, 0.1, extras, x_dim=1, y_dim=1).level == "ok"
    infonce = {**extras, "eval_batch_size": 128}
    at_log_b = math.log(128) - 0.5
    verdict = judge("infonce", at_log_b, 0.1, infonce, x_dim=1, y_dim=1, traits=traits("infonce"))
    assert (
        verdict.level == "unreliable"
        and "InfoNCE reads at most log b = 4.85 nats (batch 128)" in verdict.reasons[0].text
    )
    # the log b ceiling is InfoNCE's declared trait: MINE's DV bound has none (a high bound is a caution)
    assert judge("mine", at_log_b, 0.1, infonce, x_dim=1, y_dim=1, traits=traits("mine")).level == "caution"
    ksg = judge(
        "ksg", math.log(1000) - 0.5, 0.1, {"pairs_used": 1000}, x_dim=1, y_dim=1, traits=traits("ksg")
    )
    assert ksg.level == "unreliable" and ksg.reasons[0].text.startswith(
        "KSG reads at most about log N = 6.91"
    )
    assert ksg.interval["kind"] == "lower reading"
    drift = {"pairs": 1000, "half_pairs": 500, "drift": 0.5, "drift_stderr": 0.1}
    verdict = judge("mine", 1.5, 0.1, extras, x_dim=1, y_dim=1, check=drift)
    assert verdict.level == "unreliable" and "truth is likely above" in verdict.reasons[0].text
    small = {**drift, "drift": 0.15}
    assert judge("mine", 1.5, 0.1, extras, x_dim=1, y_dim=1, check=small).level == "ok"  # within 2 se
    not_converged = {**extras, "converged": False}
    assert judge("mine", 1.0, 0.1, not_converged, x_dim=1, y_dim=1).level == "caution"


def test_a_good_estimate_is_ok(tmp_path, capsys):
    x, y = gaussian(np.random.default_rng(11), 2000, 0.8)
    rc, out, err, record = estimate(tmp_path, capsys, x, y, "ksg")
    assert rc == 0 and record["reliability"]["verdict"] == "ok" and not err
    assert abs(record["estimate"] - TRUTH_08) < 2 * record["estimate_stderr"] + 0.02
    assert "reliability: ok;" in out


def test_the_coverage_table_counts_truths_inside_each_interval():
    from types import SimpleNamespace as NS

    from ibbench.reports.coverage import coverage_rows, honest_label

    def record(estimate, se, drift, verdict):
        check = {"drift": drift, "check_seconds": 0.5}
        reliability = {
            "verdict": verdict,
            "interval": interval(PLAIN, estimate, se, check),
            "consistency": check,
        }
        return NS(
            status="ok",
            wall_time_s=1.0,
            truth=1.0,
            estimate=estimate,
            estimate_stderr=se,
            reliability=reliability,
            spec=NS(estimator=NS(name="e")),
        )

    records = [
        record(1.01, 0.01, 0.0, "ok"),  # inside both
        record(0.90, 0.01, 0.2, "caution"),  # outside +-1.96 se, inside with |drift|
        record(0.50, 0.01, 0.1, "unreliable"),  # outside both
        record(1.05, 0.01, 0.0, "ok"),  # an ok estimate 5 se off
    ]
    (row,) = coverage_rows(records)
    assert row["se_coverage"] == 0.25 and row["interval_coverage"] == 0.5
    assert row["bias_aware_coverage"] == 0.5  # whatever interval the verdict gave
    assert row["one_sided_coverage"] == 0.75  # only the estimate 5 se above the truth misses
    assert row["interval_kind"] == "bias-aware"
    assert (row["ok"], row["caution"], row["unreliable"]) == (2, 1, 1)
    assert row["ok_within_2se"] == 0.5 and row["ok_bound_holds"] == 0.5
    assert honest_label(row) == "none"


def test_a_variational_bound_claims_only_the_side_it_guarantees(tmp_path, capsys):
    bound = interval(PLAIN, 1.0, 0.1, {"drift": 0.3}, lower_bound=True)
    assert bound["kind"] == "lower bound" and bound["high"] is None and abs(bound["low"] - 0.8355) < 1e-12
    x, y = gaussian(np.random.default_rng(2), 1000, 0.8)
    rc, out, _, record = estimate(tmp_path, capsys, x, y, "mine")
    assert rc == 0 and record["reliability"]["interval"]["kind"] == "lower bound"
    assert "a lower bound (I >= " in out


def test_ksg_and_smile_claim_a_lower_reading_and_binning_no_interval():
    check = {"pairs": 2000, "half_pairs": 1000, "drift": 0.01, "drift_stderr": 0.02}
    ksg = judge(
        "ksg", 0.5, 0.02, {"pairs_used": 2000}, x_dim=1, y_dim=1, check=check, traits=traits("ksg")
    ).interval
    assert (
        ksg["kind"] == "lower reading"
        and ksg["high"] is None
        and abs(ksg["low"] - (0.5 - 1.645 * 0.02)) < 1e-12
    )
    falling = {**check, "drift": -0.2}  # the estimate falls with N: the truth is likely below, not above
    assert (
        judge("ksg", 0.5, 0.02, {}, x_dim=1, y_dim=1, check=falling, traits=traits("ksg")).interval["kind"]
        == "bias-aware"
    )
    smile = {"converged": True, "lower_bound": False, "train_pairs": 4000}
    assert (
        judge("smile", 1.0, 0.05, smile, x_dim=1, y_dim=1, traits=traits("smile")).interval["kind"]
        == "lower reading"
    )
    binning = {"pairs_used": 1000, "distinct_pairs": 10, "distinct_x": 5, "distinct_y": 5}
    assert (
        judge("binning", 0.7, None, binning, x_dim=1, y_dim=1, check=check, traits=traits("binning")).interval
        is None
    )


def test_ksg_in_many_dimensions_that_still_climbs_with_n_is_unreliable():
    climbing = {"pairs": 5000, "half_pairs": 2500, "drift": 0.08, "drift_stderr": 0.01}
    high = judge(
        "ksg", 0.77, 0.01, {"pairs_used": 5000}, x_dim=16, y_dim=16, check=climbing, traits=traits("ksg")
    )
    assert high.level == "unreliable" and {"dimension", "sample-size"} <= {r.code for r in high.reasons}
    low = judge(
        "ksg", 0.77, 0.01, {"pairs_used": 5000}, x_dim=1, y_dim=1, check=climbing, traits=traits("ksg")
    )
    assert low.level == "caution"  # the same move in 2 dimensions: too few pairs, not far low


def test_a_stored_verdict_is_rederived_from_the_record_alone(tmp_path, capsys):
    from ibbench.store.results import RunRecord

    x, y = gaussian(np.random.default_rng(4), 600, 0.8, dims=6)
    for name in ("ksg", "binning"):
        _, _, _, stored = estimate(tmp_path, capsys, x, y, name)
        record = RunRecord.model_validate(stored)
        declared = traits(name)
        assert stored["reliability"]["dims"] == [6, 6] and stored["reliability"]["rules"] == rules_version(
            declared
        )
        assert judge_record(record, traits=declared).record() == stored["reliability"]
        # a record made before the dimensions were kept is judged with the dimensions given
        old = record.model_copy(update={"reliability": {**record.reliability, "dims": None}})
        assert judge_record(old, dims=(6, 6), traits=declared).record() == stored["reliability"]
        with pytest.raises(ValueError, match="dims"):
            judge_record(old)


def test_asking_for_more_pairs_than_remain_after_the_repeats_says_so(tmp_path, capsys):
    x, y = gaussian(np.random.default_rng(14), 300, 0.8)
    x, y = np.repeat(x, 4, 0), np.repeat(y, 4, 0)
    rc, _, err, record = estimate(tmp_path, capsys, x, y, "ksg", "--set", "estimator.n_samples=1000")
    assert rc != 0
    assert any("300 distinct pairs after dropping 900 repeats" in line for line in err)


def test_a_variational_bound_at_high_mi_is_not_ok_whatever_its_other_checks_say():
    # issue 26's alf#166 kind at seeds where the half-sample fit does not move: MINE 4.3-5.5 for 10 nats
    extras = {"converged": True, "heldout_pairs": 2000, "train_pairs": 2000, "max_steps": 3000}
    steady = {"pairs": 4000, "half_pairs": 2000, "drift": -0.1, "drift_stderr": 0.6}
    for value in (4.31, 4.40, 5.51):
        verdict = judge("mine", value, 0.42, extras, x_dim=5, y_dim=5, check=steady)
        assert verdict.level == "caution" and [r.code for r in verdict.reasons] == ["high-mi"]
    assert judge("mine", 1.2, 0.05, extras, x_dim=5, y_dim=5, check=steady).level == "ok"
    smile = {**extras, "lower_bound": False}  # a clipped estimate, not a bound: it can read high MI
    assert judge("smile", 5.5, 0.05, smile, x_dim=5, y_dim=5, traits=traits("smile")).level == "ok"
    at_ceiling = judge("mine", math.log(2000) - 0.5, 0.1, extras, x_dim=5, y_dim=5)
    assert [r.code for r in at_ceiling.reasons] == ["ceiling"]  # the ceiling says it; not twice
