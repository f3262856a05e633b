"""The Python entry points (issue 30): ``ibbench.estimate_mi`` on arrays, ``ibbench.run`` for one cell,
``ibbench.load_results`` for a store as a DataFrame; the same route, validation and errors as the
command line (the routes' equality for every estimator: ``tests/test_routes.py``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ibbench
from ibbench.errors import DataError, IbbenchError, SpecError
from ibbench.store.results import ResultStore


def pairs(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """y = x + noise with x, noise ~ N(0, I_2): I(X; Y) = 2 x (1/2) log 2 = log 2 nats."""
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 2))
    return x, x + r.normal(size=(n, 2))


def test_the_issues_example_reads_log_2_within_its_error():
    result = ibbench.estimate_mi(*pairs(), estimator="ksg", progress=False)
    assert result.ok and result.reliability == "ok" and result.converged is None  # KSG has no critic
    assert abs(result.estimate - math.log(2)) < 3 * result.stderr + 0.02, str(result)
    assert result.record.spec.task.name == "arrays" and result.record.spec.preprocess == "robust"
    assert str(result).startswith(f"I(X;Y) = {result.estimate:.4f} ± ")


def test_a_critic_estimate_says_whether_it_converged_and_stores_the_same_record(tmp_path):
    store = tmp_path / "runs.jsonl"
    result = ibbench.estimate_mi(
        *pairs(600), "mine", budget="smoke", device="cpu", store=store, progress=False
    )
    assert result.converged in (True, False) and result.stderr > 0
    (kept,) = ResultStore(store).records()
    assert kept.id == result.record.id and kept.estimate == result.estimate
    assert kept.task_label == "arrays[in memory: x (600 x 2), y (600 x 2)]"  # not the temporary files
    assert "ibbench-arrays-" not in store.read_text() and kept.spec.task.params["x"] == "(in memory)"
    assert len(kept.extras["task"]["x"]["sha256"]) == 64  # the data stays identified


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda x, y: ibbench.estimate_mi(x, y, "no-such"), IbbenchError, "unknown estimator .no-such."),
        (lambda x, y: ibbench.estimate_mi(x, y, "ksg", k=0), SpecError, "k"),
        (lambda x, y: ibbench.estimate_mi(x[:10], y, "ksg"), DataError, "rows"),
        (lambda x, y: ibbench.estimate_mi(np.where(x > 2, np.nan, x), y, "ksg"), DataError, "NaN"),
        (lambda x, y: ibbench.estimate_mi(x, None, "ksg"), IbbenchError, "both x and y"),
        (lambda x, y: ibbench.estimate_mi(x, y, "ksg", n_samples=5000), DataError, "5000 pairs"),
        (lambda x, y: ibbench.estimate_mi([[1, 2], [3]], y, "ksg"), DataError, "rectangular"),
    ],
)
def test_bad_input_is_a_one_line_error_before_any_work(call, error, words, tmp_path):
    x, y = pairs(100)
    with pytest.raises(error, match=words) as caught:
        call(x, y)
    assert "\n" not in str(caught.value)


def test_a_warning_points_at_the_callers_line_and_names_the_arrays_not_temporary_files():
    r = np.random.default_rng(0)
    x = r.normal(size=(500, 2))
    with pytest.warns(ibbench.running.runner.ReliabilityWarning) as caught:
        result = ibbench.estimate_mi(x, np.round(x[:, :1]), "ksg", progress=False)  # y discrete
    assert result.reliability == "caution"
    assert all(w.filename == __file__ for w in caught), [w.filename for w in caught]
    assert "discrete" in str(caught[0].message) and "ibbench-arrays" not in str(caught[0].message)
    assert result.record.task_label == "arrays[in memory: x (500 x 2), y (500 x 1)]"


def test_a_dataframe_by_column_names_and_a_missing_column_named():
    pd = pytest.importorskip("pandas")
    x, y = pairs(500)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": y[:, 0], "d": y[:, 1]})
    by_name = ibbench.estimate_mi(data=frame, x=["a", "b"], y=["c", "d"], estimator="ksg", progress=False)
    assert by_name.estimate == ibbench.estimate_mi(x, y, "ksg", progress=False).estimate
    with pytest.raises(IbbenchError, match="no column 'e'"):
        ibbench.estimate_mi(data=frame, x=["a", "e"], y="c")


def test_run_is_one_cell_of_the_command_line(tmp_path):
    store = tmp_path / "runs.jsonl"
    result = ibbench.run(
        "gaussian",
        estimator="ksg",
        task_params={"dim": 2, "mi": 1.0},
        budget="smoke",
        store=store,
        progress=False,
    )
    assert result.truth == pytest.approx(1.0) and abs(result.estimate - 1.0) < 0.3
    trained = ibbench.run("digits-mlp", trainer="ce", budget="smoke", store=store, progress=False)
    assert trained.estimate is None and trained.record.training.test_acc > 0.5
    assert "test accuracy" in str(trained)
    with pytest.raises(IbbenchError, match="estimator"):
        ibbench.run("gaussian")
    frame = ibbench.load_results(store)
    assert frame["trainer"].isna().tolist() == [True, False] and frame["trainer"].iloc[1] == "ce"
    assert frame["task.mi"].iloc[0] == 1.0
    assert (
        frame["estimate"].iloc[0] == result.estimate
        and frame["test_acc"].iloc[1] == trained.record.training.test_acc
    )


def test_load_results_has_one_row_per_record_from_paths_and_globs(tmp_path):
    pytest.importorskip("pandas")
    from .conftest import REPO

    path = REPO / "results" / "readme-example" / "runs.jsonl"
    frame = ibbench.load_results(path)
    records = ResultStore(path).records()
    assert len(frame) == len(records) and list(frame["id"]) == [r.id for r in records]
    assert {"estimate", "stderr", "truth", "test_acc", "commit", "record"} <= set(frame.columns)
    assert str(frame["created"].dtype).startswith("datetime64")
    both = ibbench.load_results(str(REPO / "results" / "readme-*" / "runs.jsonl"))
    assert len(both) == len(records) and set(both["store"]) == {str(path)}
    with pytest.raises(IbbenchError, match="not found"):
        ibbench.load_results(tmp_path / "none.jsonl")
    with pytest.raises(IbbenchError, match="no store matches"):
        ibbench.load_results(str(tmp_path / "*.jsonl"))


def test_the_readme_python_example_runs_as_written(monkeypatch, capsys):
    pytest.importorskip("pandas")
    from .conftest import REPO

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## In Python") :]
    start = block.index("```python") + len("```python")
    monkeypatch.chdir(REPO)
    exec(block[start : block.index("```", start)], {})  # noqa: S102 (the README's own example)
    printed = capsys.readouterr().out
    assert printed.startswith("I(X;Y) = ") and "ksg" not in printed.splitlines()[0]


def test_task_sample_gives_a_tasks_fixed_pairs_and_refuses_a_sampler(tmp_path):
    x, y = ibbench.task_sample("student-identity-2-2-1", seed=2, params={"n_pairs": 300})
    assert x.shape == y.shape == (300, 2) and x.dtype == np.float64
    again, _ = ibbench.task_sample("student-identity-2-2-1", seed=2, params={"n_pairs": 300})
    other, _ = ibbench.task_sample("student-identity-2-2-1", seed=3, params={"n_pairs": 300})
    assert np.array_equal(x, again) and not np.array_equal(x, other)  # the seed draws the sample
    with pytest.raises(IbbenchError, match="draws fresh pairs"):
        ibbench.task_sample("gaussian")
    with pytest.raises(IbbenchError, match="unknown task 'no-such-task'"):
        ibbench.task_sample("no-such-task")
    with pytest.raises(SpecError, match="seed"):  # a task parameter, not the run's seed: refused, one line
        ibbench.task_sample("student-identity-2-2-1", params={"seed": 1})
