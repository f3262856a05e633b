"""The Beyond Normal heatmap: log2(estimate / truth) per cell, the converged-only view, and the CLI."""

from __future__ import annotations

import json

import pytest

from ibbench.cli import main
from ibbench.reports.figures.heatmap import CLIP, _colour_value, _label, converged_runs, plot_heatmap
from ibbench.reports.tables import aggregate

from .test_tables import record

RECORDS = [
    record("mine", 0, 1.0, converged=True),  # truth 2.0: log2(1/2) = -1
    record("mine", 1, 1.0, converged=False),
    record("ksg", 0, 8.0),  # log2(4) = 2, at the clip
    record("ksg", 1, 16.0),  # mean 12: beyond the clip
    record("nwj", 0, -0.1, converged=True),  # a mean below 0 has no log ratio
    record("smile", 0, None, converged=False),
]
ROW = "gaussian[dim=5,mi=2.0]"


def test_cells_are_coloured_by_the_log2_ratio_clipped():
    cells = aggregate(RECORDS)
    assert _colour_value(cells[(ROW, "mine")]) == pytest.approx(-1.0)
    assert _colour_value(cells[(ROW, "ksg")]) == CLIP
    assert _colour_value(cells[(ROW, "nwj")]) == -CLIP  # the bottom colour, its estimate printed
    assert _colour_value(cells[(ROW, "smile")]) is None  # grey
    assert _label(cells[(ROW, "smile")], cells[(ROW, "smile")], False) == "failed"
    assert _label(cells[(ROW, "nwj")], cells[(ROW, "nwj")], False) == "-0.10"
    assert _label(None, None, False) == "not run"


def test_the_converged_view_keeps_converged_critics_and_every_critic_free_run():
    kept = converged_runs(RECORDS)
    assert [(r.spec.estimator.name, r.spec.seed) for r in kept] == [
        ("mine", 0),
        ("ksg", 0),
        ("ksg", 1),
        ("nwj", 0),
    ]
    full, shown = aggregate(RECORDS), aggregate(kept)
    assert _label(shown[(ROW, "mine")], full[(ROW, "mine")], True) == "1.00 (1)"  # 1 of its 2 runs shown
    assert _label(shown.get((ROW, "smile")), full[(ROW, "smile")], True) == "failed"


def test_the_cli_writes_both_views(tmp_path):
    store = tmp_path / "runs.jsonl"
    store.write_text("".join(r.model_dump_json() + "\n" for r in RECORDS))
    assert main(["plot", "heatmap", "--store", str(store)]) == 0
    assert main(["plot", "heatmap", "--store", str(store), "--converged-only"]) == 0
    for name in ("heatmap.png", "heatmap-converged.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_store_without_truths_is_a_one_line_error(tmp_path, capsys):
    store = tmp_path / "runs.jsonl"
    lone = json.loads(RECORDS[0].model_dump_json())
    lone["truth"] = None
    store.write_text(json.dumps(lone) + "\n")
    assert main(["plot", "heatmap", "--store", str(store)]) == 2
    assert "no estimator runs on tasks with a known truth" in capsys.readouterr().err
    with pytest.raises(ValueError):
        plot_heatmap([], tmp_path / "x.png")
