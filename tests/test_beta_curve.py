"""The beta curve (issue 27 item 5): layer-wise IB's accuracy and the truth of I(X; L_i + eps) against
beta, from hand-made records; a tuning file's test accuracy is never read."""

from __future__ import annotations

import pytest

from ibbench.reports.figures.beta_curve import beta_curves, plot_beta_curve
from ibbench.reports.tables import beta_table

from .test_verdict import trained


def run(beta: float, seed: int, acc: float, truths: tuple[float, float], ratio: float, lr: float = 1e-3):
    layers = [{"ixt_truth": t, "ixt_truth_se": 0.01, "grad_ratio_median": ratio} for t in truths]
    record = trained("ib-layerwise", seed, acc, params={"beta": beta, "lr": lr}, layers=layers)
    record.training.val_acc = acc + 0.01  # validation and test differ, so the table shows which it read
    return record


RUNS = [
    run(0.0, 0, 0.86, (4.8, 3.6), 0.0),
    run(0.0, 1, 0.88, (4.6, 3.4), 0.0),
    run(0.1, 0, 0.80, (3.0, 1.0), 0.3),
    run(0.1, 1, 0.82, (2.8, 1.2), 0.5),
    run(0.1, 0, 0.70, (2.0, 0.5), 0.6, lr=3e-4),  # another setting: its own curve
]


def test_each_setting_is_a_curve_in_increasing_beta_with_means_over_seeds():
    curves = beta_curves(RUNS, with_test=True)
    assert len(curves) == 2
    (main,) = [pts for label, pts in curves.items() if "lr=0.001" in label]
    assert [p.beta for p in main] == [0.0, 0.1] and [len(p.seeds) for p in main] == [2, 2]
    assert main[1].ixt_truth[1] == [3.0, 2.8] and main[1].ixt_truth[2] == [1.0, 1.2]


def test_the_table_gives_mean_and_se_and_withholds_test_accuracy_of_a_tuning_file():
    table = beta_table(RUNS, with_test=True)
    assert "| 87.00 ± 1.00 " in table  # test accuracy of beta = 0: (86 + 88) / 2, se 1
    assert "| 2.900 ± 0.100 " in table and "4.00e-01" in table  # L1 truth at beta 0.1; median ratio
    withheld = beta_table(RUNS, with_test=False)
    assert "87.00" not in withheld and "withheld" in withheld and "| 88.00 ± 1.00 " in withheld  # val only


def test_the_figure_is_written_and_no_layerwise_run_is_said(tmp_path):
    out = plot_beta_curve(beta_curves(RUNS, with_test=True), tmp_path / "b.png")
    assert out.stat().st_size > 10_000
    assert beta_table([]) == "no ok layer-wise runs (with a summary per layer) in the store"


@pytest.mark.parametrize("store_name", ["runs.jsonl", "runs.tuning.jsonl"])
def test_the_command_reads_test_accuracy_only_outside_a_tuning_file(tmp_path, capsys, store_name):
    from ibbench.cli import main
    from ibbench.store.results import ResultStore

    store = ResultStore(tmp_path / store_name)
    for r in RUNS:
        store.append(r)
    assert main(["table", "beta", "--store", str(store.path)]) == 0
    shown = capsys.readouterr().out
    assert ("withheld" in shown) == store_name.endswith(".tuning.jsonl")
