"""The tour notebook (examples/tour.ipynb) runs as written, and what it shows agrees with the library:
its estimates carry the verdicts they should, and its pandas route to the paired CE-vs-IB comparison
gives the numbers `ibbench table verdict` prints."""

from __future__ import annotations

import json
import math

import pytest

from ibbench.reports.verdict import comparisons
from ibbench.store.results import ResultStore

from .conftest import REPO

NOTEBOOK = REPO / "examples" / "tour.ipynb"


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """The namespace the notebook's code cells leave, run in order from the repository root."""
    pytest.importorskip("pandas")
    import matplotlib

    matplotlib.use("Agg")  # plt.show() draws nothing, headless
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    namespace: dict = {"__name__": "__tour__"}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), f"{NOTEBOOK.name} cell {i}", "exec"), namespace)
    return namespace


def test_the_notebook_is_stored_without_outputs():
    """Outputs would be numbers no command regenerates: the notebook is committed as source."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_mine_is_usable_and_binning_is_flagged(tour):
    mine, binning = tour["mine_result"], tour["binning_result"]
    assert mine.reliability == "ok" and abs(mine.estimate - math.log(2)) <= 3 * mine.stderr
    assert binning.reliability != "ok" and binning.estimate > 2 * math.log(2)  # its upward bias, said


def test_known_truths_and_the_information_plane(tour):
    known, plane = tour["known"], tour["plane"]
    assert list(known.truth.round(6)) == [0.5, 2.0, 4.0]
    assert (known.error - (known.estimate - known.truth)).abs().max() < 1e-12
    assert set(plane.layer) == {1, 2, 3} and plane.ixt_truth.notna().all()


def test_the_pandas_route_gives_the_published_paired_verdict(tour):
    """Mean paired difference and seed count per fraction, as `ibbench table verdict` computes them."""
    records = ResultStore(REPO / "results" / "table1-tuned" / "runs.jsonl").records()
    ib = {c.fraction: c for c in comparisons(records, "ce") if c.setting.startswith("ib-layerwise")}
    paired = tour["paired"].set_index("train fraction")
    assert set(paired.index) == set(ib) == {0.01, 1.0}
    for fraction, c in ib.items():
        assert paired.loc[fraction, "seeds"] == len(c.differences) >= 5
        assert paired.loc[fraction, "IB - CE (points)"] == pytest.approx(c.difference, abs=1e-9)
        assert paired.loc[fraction, "sign test p"] == pytest.approx(c.sign_p(), rel=1e-9)
