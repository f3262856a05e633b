"""Accuracy against training steps (paper Fig. 6) from hand-made records' evaluation histories."""

from __future__ import annotations

import pytest

from ibbench.errors import IbbenchError
from ibbench.reports.figures.learning_curves import curves, plot_learning_curves
from ibbench.store.results import RunRecord

from .test_verdict import trained


def with_history(trainer: str, seed: int, accs: list[float], params: dict | None = None):
    data = trained(trainer, seed, accs[-1], params=params).model_dump()
    data["training"]["evals"] = [
        {"step": 100 * (i + 1), "test_acc": a, "val_acc": a + 0.05, "loss": 0.1} for i, a in enumerate(accs)
    ]
    return RunRecord.model_validate(data)


RUNS = [
    with_history("ce", 0, [0.5, 0.8]),
    with_history("ce", 1, [0.7, 0.9]),
    with_history("ib-e2e", 0, [0.4, 0.85], {"gamma": 0.001}),
]


def test_each_setting_gets_every_seeds_value_at_each_step():
    (panel,) = curves(RUNS).values()
    assert panel["ce"] == {100: [0.5, 0.7], 200: [0.8, 0.9]}
    assert panel["ib-e2e[gamma=0.001]"] == {100: [0.4], 200: [0.85]}
    (val,) = curves(RUNS, "val_acc").values()  # a tuning file: validation accuracy, never test
    assert val["ce"][200] == pytest.approx([0.85, 0.95])


def test_the_figure_is_written_and_a_store_without_history_is_refused(tmp_path):
    assert plot_learning_curves(RUNS, tmp_path / "f.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="evaluation history"):
        plot_learning_curves([trained("ce", 0, 0.9)], tmp_path / "g.png")


def test_several_runs_share_the_information_plane_panels(tmp_path):
    """Paper Fig. 4 over seeds: `ibbench plot info-plane all` draws each run's critic trace with its
    held-out readings and the truth at each layer's start and end."""
    from ibbench.reports.figures.info_plane import layer_ends, plot_info_planes, settings_with_planes

    def layerwise(seed: int, params: dict | None = None) -> RunRecord:
        start = {"ixt": 0.5, "iyt": 1.0, "ixt_truth": 1.2}
        layers = [
            {"layer": i, "ixt": 2.0 + seed, "iyt": 1.5, "ixt_truth": 3.0, "at_start": start} for i in (1, 2)
        ]
        data = trained("ib-layerwise", seed, 0.8, params=params, layers=layers).model_dump()
        data["training"]["trace"] = [
            {"layer": i, "iteration": it, "iyt": 2.0, "ixt": 1.0 + it / 1000}
            for i in (1, 2)
            for it in (500, 1000)
        ]
        return RunRecord.model_validate(data)

    runs = [layerwise(0), layerwise(1)]
    assert layer_ends(runs[1])[2] == [(0.5, 1.0, 1.2), (3.0, 1.5, 3.0)]
    assert list(settings_with_planes(runs, "critics").values()) == [runs]
    assert plot_info_planes(runs, tmp_path / "p.png", "critics").stat().st_size > 10_000
    groups = settings_with_planes([*runs, layerwise(0, {"beta": 0.1})], "critics")  # a figure per setting
    assert [len(g) for g in groups.values()] == [2, 1] and "beta=0.1" in list(groups)[1]
    with pytest.raises(IbbenchError, match="no training run"):
        settings_with_planes([trained("ce", 0, 0.9)], "critics")
