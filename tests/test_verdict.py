"""The Table 1 verdict and the accuracy table on hand-made training records."""

from __future__ import annotations

import pytest

from ibbench.results import RunRecord
from ibbench.tables import accuracy_table
from ibbench.verdict import comparisons, verdict_table, verdict_text


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
    by_setting = {c.setting: c for c in comparisons(CE + far + near)}
    assert by_setting["ib-layerwise"].verdict() == "worse"
    assert by_setting["ib-layerwise"].difference == pytest.approx(-7.0)
    lo, hi = by_setting["ce-wd"].interval()
    assert lo < 0 < hi and by_setting["ce-wd"].verdict().startswith("on par")


def test_the_gap_table_has_a_row_per_setting_with_the_verdict_numbers():
    far = [trained("ib-layerwise", s, a) for s, a in enumerate((0.800, 0.810, 0.805))]
    one = [trained("ib-layerwise", 0, 0.86, params={"steps": 1000}, steps=1000)]
    lines = verdict_table(CE + far + one).splitlines()[2:]
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("|")]  # not the provenance line
    by_setting = {cells[2].strip(): [c.strip() for c in cells] for cells in rows}
    lo, hi = comparisons(CE + far)[0].interval()
    assert by_setting["ib-layerwise"][5:] == [
        "80.50 ± 0.50",
        "87.50 ± 0.50",
        "-7.00",
        f"[{lo:+.2f}, {hi:+.2f}]",
        "worse",
    ]
    assert by_setting["ib-layerwise[steps=1000]"][4:] == [
        "1",
        "86.00",
        "87.50 ± 0.50",
        "-1.50",
        "-",
        "too few seeds",
    ]


def test_one_seed_has_no_interval_and_says_so():
    text = verdict_text(CE + [trained("greedy-ce", 0, 0.95)])
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
    from ibbench.tables import layer_table

    table = layer_table(CE + runs)
    assert "1.000 -> 2.100" in table and "20% -> 25%" in table and "3.00e-06" in table
    assert "| ce " not in table  # CE runs have no layer-wise critics
