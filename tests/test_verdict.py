"""The Table 1 verdict (paired by seed) and the accuracy table on hand-made training records."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from scipy import stats

from ibbench.reports.tables import accuracy_table
from ibbench.reports.verdict import (
    comparisons,
    minimum_detectable_difference,
    seeds_needed,
    verdict_table,
    verdict_text,
)
from ibbench.store.results import RunRecord


def trained(
    trainer: str,
    seed: int,
    acc: float,
    params: dict | None = None,
    steps: int = 300,
    readout: dict | None = None,
    layers: list | None = None,
) -> RunRecord:
    params = params or {}
    result = {"test_acc": acc, "val_acc": acc, **({"layers": layers} if layers else {})}
    if readout is not None:
        result["readout"] = readout
    else:
        result["test_acc_final"] = acc
    return RunRecord.model_validate(
        {
            "id": f"{trainer}{seed}{params}",
            "created": "2026-11-30T00:00:00+00:00",
            "status": "ok",
            "error": None,
            "spec": {
                "task": {"name": "mnist-mlp", "params": {"train_fraction": 0.01}},
                "trainer": {"name": trainer, "params": params},
                "seed": seed,
                "budget": "quick",
                "device": "cpu",
            },
            "expanded": {
                "task": {"name": "mnist-mlp", "params": {"train_fraction": 0.01}},
                "trainer": {"name": trainer, "params": {"steps": steps, **params}},
            },
            "task_label": "mnist-mlp[train_fraction=0.01]",
            "device": "cpu",
            "wall_time_s": 1.0,
            "training": result,
            "extras": {"task": {"dataset": "mnist"}},
        }
    )


CE = [trained("ce", s, a) for s, a in enumerate((0.870, 0.880, 0.875))]


def test_a_clear_gap_is_worse_and_a_small_one_on_par():
    far = [trained("ib-layerwise", s, a) for s, a in enumerate((0.800, 0.810, 0.805))]
    near = [trained("ce-wd", s, a) for s, a in enumerate((0.872, 0.879, 0.870))]
    by_setting = {c.setting: c for c in comparisons(CE + far + near, "ce")}
    assert by_setting["ib-layerwise"].verdict() == "worse"
    assert by_setting["ib-layerwise"].difference == pytest.approx(-7.0)
    lo, hi = by_setting["ce-wd"].interval()
    assert lo < 0 < hi and by_setting["ce-wd"].verdict().startswith("on par")


def _rows(table: str) -> dict[str, list[str]]:
    """The table's cells by trainer setting (the header and the provenance line left out)."""
    lines = [line for line in table.splitlines()[2:] if line.startswith("|")]
    return {cells[2]: cells for cells in ([c.strip() for c in line.split("|")[1:-1]] for line in lines)}


def test_the_gap_table_has_a_row_per_setting_with_the_verdict_numbers():
    far = [trained("ib-layerwise", s, a) for s, a in enumerate((0.800, 0.810, 0.805))]
    one = [trained("ib-layerwise", 0, 0.86, params={"steps": 1000}, steps=1000)]
    table = verdict_table(CE + far + one, "ce")
    assert [h.strip() for h in table.splitlines()[0].split("|")[5:-1]] == [
        "seeds paired",
        "test acc %",
        "ce %",
        "vs ce (points)",
        "95 % interval",
        "Wilcoxon p",
        "sign p",
        "MDD (points)",
        "verdict",
    ]
    by_setting = _rows(table)
    # every seed is 7.00 points below ce: no spread, a point interval, MDD 0, both tests at their n = 3 floor
    assert by_setting["ib-layerwise"][4:] == [
        "3",
        "80.50 ± 0.50",
        "87.50 ± 0.50",
        "-7.00",
        "[-7.00, -7.00]",
        "0.25",
        "0.25",
        "0.00",
        "worse",
    ]
    # one run, paired with ce's seed 0 only (87.00): no interval, no test, no MDD
    assert by_setting["ib-layerwise[steps=1000]"][4:] == [
        "1 (+2 unpaired)",
        "86.00",
        "87.00",
        "-1.00",
        "-",
        "-",
        "-",
        "-",
        "too few seeds",
    ]


def test_one_seed_has_no_interval_and_says_so():
    text = verdict_text(CE + [trained("greedy-ce", 0, 0.95)], "ce")
    assert (
        "too few seeds" in text
        and "no interval" in text
        and "95.00 % (1 seed)" in text
        and "± 0.00" not in text
    )


def test_the_accuracy_table_states_the_budget_as_run_and_the_readout_fit():
    ib = [
        trained(
            "ib-layerwise",
            s,
            0.8,
            {"steps": 5000},
            steps=5000,
            readout={"converged": s != 2, "loss": 0.1, "grad_norm": 1e-6},
            layers=[{"layer": 1}],  # a layer-by-layer trainer says so by its per-layer summary
        )
        for s in range(3)
    ]
    table = accuracy_table(CE + ib)
    assert "quick: 5000 it/layer" in table and "quick: 300 steps" in table
    assert "fitted, converged 2/3" in table


def test_the_layer_table_shows_what_the_critics_read_against_the_truth():
    layer = {
        "iyt": 2.1,
        "ixt": 0.5,
        "ixt_truth": 2.0,
        "ixt_truth_se": 0.01,
        "ixt_fraction_of_truth": 0.25,
        "grad_ratio_median": 3e-6,
        "at_start": {
            "iyt": 1.0,
            "ixt": 0.2,
            "ixt_truth": 1.0,
            "ixt_truth_se": 0.01,
            "ixt_fraction_of_truth": 0.2,
        },
    }
    runs = [trained("ib-layerwise", s, 0.8, layers=[layer]) for s in range(2)]
    from ibbench.reports.tables import layer_table

    table = layer_table(CE + runs)
    assert "1.000 -> 2.100" in table and "20% -> 25%" in table and "3.00e-06" in table
    assert "| ce " not in table  # CE runs have no layer-wise critics


# Paired by seed.  The seed sets ce's accuracy to within +-5 points (the data subset, the initialisation,
# the batch order); the other trainer sits 0.4 points above ce on every seed, give or take 0.05.
OFFSETS = (0.80, 0.85, 0.90, 0.83, 0.88)
NOISE = (0.0005, -0.0004, 0.0003, -0.0005, 0.0001)
CE_SPREAD = [trained("ce", s, a) for s, a in enumerate(OFFSETS)]
ABOVE = [trained("ce-wd", s, a + 0.004 + e) for s, (a, e) in enumerate(zip(OFFSETS, NOISE, strict=True))]


def test_pairing_by_seed_sees_a_small_steady_gain_that_welch_calls_on_par():
    (c,) = comparisons(CE_SPREAD + ABOVE, "ce")
    paired, welch = c.interval(), c.welch_interval()
    assert c.paired and c.verdict() == "better" and paired[0] > 0
    assert welch[0] < 0 < welch[1]  # the unpaired interval drowns the 0.4 points in the seed spread
    assert (paired[1] - paired[0]) < (welch[1] - welch[0]) / 20
    assert c.difference == pytest.approx(0.4 + 100 * statistics.fmean(NOISE))
    # the same accuracies under seeds ce never ran: nothing to pair, and Welch calls it on par
    shifted = [trained("ce-wd", 100 + r.spec.seed, r.training.test_acc) for r in ABOVE]
    (u,) = comparisons(CE_SPREAD + shifted, "ce")
    assert not u.paired and u.interval() == welch and u.verdict().startswith("on par")


def test_the_paired_interval_tests_and_mdd_are_scipys_by_hand():
    ce = [trained("ce", s, a) for s, a in enumerate((0.870, 0.880, 0.875, 0.862, 0.891))]
    mine = [trained("ce-wd", s, a) for s, a in enumerate((0.876, 0.879, 0.885, 0.866, 0.893))]
    (c,) = comparisons(ce + mine, "ce")
    a = [100 * r.training.test_acc for r in mine]
    b = [100 * r.training.test_acc for r in ce]
    d = [x - y for x, y in zip(a, b, strict=True)]
    lo, hi = stats.ttest_rel(a, b).confidence_interval(0.95)  # scipy's own paired t interval
    assert c.interval() == pytest.approx((lo, hi))
    assert c.sd_difference == pytest.approx(statistics.stdev(d))
    assert c.wilcoxon_p() == pytest.approx(stats.wilcoxon(a, b, method="exact").pvalue)
    assert c.sign_p() == pytest.approx(stats.binomtest(4, 5).pvalue)  # 4 of 5 seeds above ce
    by_hand = (stats.t.ppf(0.975, 4) + stats.t.ppf(0.8, 4)) * statistics.stdev(d) / math.sqrt(5)
    assert c.mdd() == pytest.approx(by_hand)
    row = _rows(verdict_table(ce + mine, "ce"))["ce-wd"]
    assert row[7:12] == [
        f"{c.difference:+.2f}",
        f"[{lo:+.2f}, {hi:+.2f}]",
        f"{c.wilcoxon_p():.3g}",
        f"{c.sign_p():.3g}",
        f"{by_hand:.2f}",
    ]


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30])
def test_the_mdd_is_detected_with_about_the_stated_power(n):
    """The t-quantile formula against the exact power of the paired t test (noncentral t): close to
    0.8 from 10 seeds on, somewhat below it at two or three, as the docstring says."""
    df, crit = n - 1, stats.t.ppf(0.975, n - 1)
    shift = minimum_detectable_difference(1.0, n) * math.sqrt(n)  # the noncentrality at sd_d = 1
    power = stats.nct.sf(crit, df, shift) + stats.nct.cdf(-crit, df, shift)
    assert 0.72 < power <= 0.801 and (n < 10 or power == pytest.approx(0.8, abs=0.002))


def test_seeds_needed_meets_the_target_with_the_fewest_seeds():
    counts = [seeds_needed(0.8, target) for target in (2.0, 1.0, 0.5, 0.3)]
    assert counts == sorted(counts) and counts[0] < counts[-1]  # a smaller MDD asks for more seeds
    by_sd = [seeds_needed(sd, 0.5) for sd in (0.2, 0.4, 0.8)]
    assert by_sd == sorted(by_sd) and by_sd[0] < by_sd[-1]  # a noisier pilot asks for more seeds
    for target, n in zip((2.0, 1.0, 0.5, 0.3), counts, strict=True):
        assert minimum_detectable_difference(0.8, n) <= target
        assert n == 2 or minimum_detectable_difference(0.8, n - 1) > target
    assert seeds_needed(0.0, 0.3) == 2
    assert seeds_needed(5.0, 0.1) is None  # about 20 000 seeds: past max_seeds
    assert seeds_needed(0.1, 0.3, max_seeds=3) is None and seeds_needed(0.1, 0.3, max_seeds=4) == 4


def test_the_mdd_target_adds_the_seed_count_from_the_pilot():
    near = [trained("ce-wd", s, a) for s, a in enumerate((0.872, 0.879, 0.870))]
    (c,) = comparisons(CE + near, "ce")
    needed = seeds_needed(c.sd_difference, 0.3)
    assert needed > 3 and minimum_detectable_difference(c.sd_difference, needed) <= 0.3 < c.mdd()
    table = verdict_table(CE + near, "ce", mdd_target=0.3)
    assert "seeds for MDD <= 0.3" in table.splitlines()[0]
    assert _rows(table)["ce-wd"][12:] == [str(needed), "on par (the interval includes 0)"]
    by_fraction = _rows(verdict_table(CE + near, "ce", mdd_target={0.01: 1.0, 1.0: 0.3}))["ce-wd"]
    assert by_fraction[12] == f"{seeds_needed(c.sd_difference, 1.0)} (<= 1)"
    assert (
        _rows(verdict_table(CE + near, "ce", mdd_target={1.0: 0.3}))["ce-wd"][12] == "-"
    )  # not this fraction
    assert f"{needed} seeds would give an MDD of at most 0.3 points" in verdict_text(
        CE + near, "ce", mdd_target=0.3
    )


def test_the_cli_takes_mdd_targets_per_fraction(tmp_path, capsys):
    from ibbench.cli import main
    from ibbench.store.results import ResultStore

    store = ResultStore(tmp_path / "runs.jsonl")
    near = [trained("ce-wd", s, a) for s, a in enumerate((0.872, 0.879, 0.870))]
    for record in CE + near:
        store.append(record)
    (c,) = comparisons(CE + near, "ce")
    argv = ["table", "gaps", "--store", str(tmp_path / "runs.jsonl"), "--mdd-target", "1%=1"]
    assert main(argv + ["--mdd-target", "100%=0.3"]) == 0
    assert _rows(capsys.readouterr().out)["ce-wd"][12] == f"{seeds_needed(c.sd_difference, 1.0)} (<= 1)"
    assert main(argv[:-2] + ["--mdd-target", "0.3"]) == 0
    assert _rows(capsys.readouterr().out)["ce-wd"][12] == str(seeds_needed(c.sd_difference, 0.3))
    assert main(argv + ["--mdd-target", "0.3"]) == 2  # one for all and per fraction at once: refused
    assert main(["table", "accuracy", "--store", str(tmp_path / "runs.jsonl"), "--mdd-target", "1"]) == 2


def test_seeds_that_do_not_match_fall_back_to_welch_and_say_unpaired():
    other = [trained("ce-wd", s, a) for s, a in zip((10, 11, 12), (0.800, 0.810, 0.805), strict=True)]
    (c,) = comparisons(CE + other, "ce")
    assert not c.paired and c.interval() == c.welch_interval() and c.verdict() == "worse"
    assert c.difference == pytest.approx(-7.0) and c.mdd() is None and c.wilcoxon_p() is None
    row = _rows(verdict_table(CE + other, "ce"))["ce-wd"]
    lo, hi = c.welch_interval()
    assert row[4] == "unpaired (3, ce 3)" and row[8] == f"[{lo:+.2f}, {hi:+.2f}]" and row[9:12] == ["-"] * 3
    assert "no seed in common with ce" in verdict_text(CE + other, "ce")
    assert "unpaired Welch 95 % interval" in verdict_text(CE + other, "ce")


def test_one_shared_seed_is_too_few_even_where_welch_would_give_an_interval():
    mine = [trained("ce-wd", s, a) for s, a in zip((0, 7, 8), (0.800, 0.810, 0.805), strict=True)]
    (c,) = comparisons(CE + mine, "ce")
    assert c.paired and c.paired_seeds == [0] and c.welch_interval() is not None
    assert c.interval() is None and c.verdict() == "too few seeds" and c.mdd() is None
    assert _rows(verdict_table(CE + mine, "ce"))["ce-wd"][4] == "1 (+4 unpaired)"


def test_the_reference_is_data_any_trainer_can_be_it():
    """The verdict names no trainer itself: pairing every setting with greedy-ce reads the same way."""
    greedy = [trained("greedy-ce", s, a - 0.01) for s, a in enumerate(OFFSETS)]
    (c,) = [c for c in comparisons(CE_SPREAD + greedy, "greedy-ce") if c.setting == "ce"]
    assert c.reference_name == "greedy-ce" and c.difference == pytest.approx(1.0)
    text = verdict_text(CE_SPREAD + greedy, "greedy-ce")
    assert "against greedy-ce's" in text and "greedy-ce %" in verdict_table(CE_SPREAD + greedy, "greedy-ce")


def test_a_table_says_what_its_runs_cost():
    from ibbench.reports.tables import compute_note

    runs = CE_SPREAD + ABOVE  # 5 + 5 runs of 1 s each
    assert compute_note(runs) == "Compute: 10 runs, 0.00 hours of wall time (ce 0.00 h, ce-wd 0.00 h)."
    long = [r.model_copy(update={"wall_time_s": 5400.0}) for r in CE_SPREAD[:2]]
    assert compute_note(long) == "Compute: 2 runs, 3.00 hours of wall time (ce 3.00 h)."
    assert "Compute: 10 runs" in verdict_table(runs, "ce")


def test_failed_runs_are_left_out_and_said():
    """A run that failed (e.g. its critic diverged) has no accuracy to pair; the verdict says it left it
    out, so a setting that fails on some seeds is not read as if it had run them all."""
    failed = trained("ce-wd", 4, 0.9).model_copy(update={"status": "failed", "training": None})
    mine = [trained("ce-wd", s, a + 0.004) for s, a in enumerate(OFFSETS[:4])] + [failed]
    (c,) = comparisons(CE_SPREAD + mine, "ce")
    assert c.failed == 1 and c.reference_failed == 0 and len(c.accuracies) == 4
    assert "1 failed run of ce-wd left out" in verdict_text(CE_SPREAD + mine, "ce")
    assert (
        _rows(verdict_table(CE_SPREAD + mine, "ce"))["ce-wd"][4]
        == "4 (+1 unpaired, 1 failed run of ce-wd left out)"
    )


def test_the_signed_rank_p_is_exact_with_ties_and_the_same_by_every_route():
    """Accuracies are counts over a test set, so paired differences tie; float noise in how a difference
    was computed must neither make nor break a tie (it once moved a p value 46-fold: 8.8e-05 by one
    route, 1.9e-06 by another, for 20 seeds all below CE)."""
    import itertools

    from ibbench.reports.verdict import signed_rank_p

    rng = np.random.default_rng(3)
    for n in (2, 5, 11, 25):  # distinct differences: scipy's exact test
        d = list(rng.normal(0.3, 1.0, n))
        assert signed_rank_p(d) == pytest.approx(stats.wilcoxon(d, method="exact").pvalue, rel=1e-12)

    def enumerated(d):  # the conditional distribution by brute force: every sign assignment
        d = [x for x in d if x != 0]
        ranks = stats.rankdata(np.abs(d))
        t = sum(r for r, x in zip(ranks, d, strict=True) if x > 0)
        t = min(t, ranks.sum() - t)
        hits = sum(
            sum(r for r, s in zip(ranks, signs, strict=True) if s) <= t + 1e-9
            for signs in itertools.product((0, 1), repeat=len(d))
        )
        return min(1.0, 2 * hits / 2 ** len(d))

    for d in (
        [1, 1, -1, 2, 2, 0, 3],
        [0.5, 0.5, 0.5, -0.5, 1.5, 2, 2, -2, 3],
        [-1, -1, -1, -1, 2, 2, -3, 0.1],
    ):
        assert signed_rank_p(d) == pytest.approx(enumerated(d), rel=1e-12)
    # the same accuracies, two float routes to the differences: one p
    acc_a = rng.integers(8400, 8700, 20) / 10_000
    acc_c = acc_a + rng.choice([0.0210, 0.0300, 0.0150, 0.0260], 20)
    route_1 = [100 * a - 100 * c for a, c in zip(acc_a, acc_c, strict=True)]
    route_2 = list(100 * (acc_a - acc_c))
    assert route_1 != route_2  # the routes differ in the last bits ...
    assert signed_rank_p(route_1) == signed_rank_p(route_2) == 2 / 2**20  # ... not in the p: all 20 below
