"""One route for the data: a task's sample, the same sample saved as arrays, as a bmi CSV, by ``ibbench
sample`` (CSV and .npz) and handed to ``ibbench.estimate_mi`` in memory give every estimator the same numbers, so the same estimate to the
last digit (issues 25 and 30).

Before the preprocessing became the run's (``ibbench.methods.preprocess``), only the arrays route applied the
robust map: KSG read student-identity-2-2-1 (truth 0.432) as 0.250 through the task and 0.357 through
its saved arrays at seed 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibbench.api import RunContext
from ibbench.methods.preprocess import FIT_PAIRS, PREPROCESS
from ibbench.running.plugins import load_registry
from ibbench.running.runner import cell_of, resolve, run
from ibbench.running.specs import DEFAULT_PREPROCESS, EstimatorSpec, RunSpec, TaskSpec

REGISTRY = load_registry()
TASK = TaskSpec(name="student-identity-2-2-1", params={"n_pairs": 600})  # heavy tails: the maps differ most
PAIR_ESTIMATORS = [
    n
    for n in REGISTRY.names("estimator")
    if not getattr(REGISTRY.get("estimator", n).load(), "needs_channel", False)
]


def estimate(task: TaskSpec, estimator: str, preprocess: str | None = None, seed: int = 1):
    spec = RunSpec(
        task=task,
        estimator=EstimatorSpec(name=estimator),
        seed=seed,
        budget="smoke",
        device="cpu",
        preprocess=preprocess,
    )
    record = run(spec, REGISTRY)
    assert record.status == "ok", record.error
    return record


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The task's fixed sample (seed 1), as float32 .npy files and as a bmi CSV."""
    resolved = resolve(RunSpec(task=TASK, estimator=EstimatorSpec(name="ksg"), seed=1), REGISTRY)
    instance = resolved.task.plugin.build(resolved.task.params, RunContext(1, torch.device("cpu")))
    x, y = (a.astype(np.float32) for a in instance.fixed_pairs())
    folder = tmp_path_factory.mktemp("route")
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    header = ",".join([f"X{i}" for i in range(x.shape[1])] + [f"Y{i}" for i in range(y.shape[1])])
    # %.17g round-trips every float64 exactly (the float32 values widened): the same numbers as text
    np.savetxt(
        folder / "sample.csv",
        np.hstack([x, y]).astype(np.float64),
        delimiter=",",
        header=header,
        comments="",
        fmt="%.17g",
    )
    from ibbench.cli import main

    for out in ("command.csv", "command.npz"):  # `ibbench sample` writes the same pairs, both formats
        assert main(["sample", "--task", TASK.name, "--set", "task.n_pairs=600", "--seed", "1",
                     "--out", str(folder / out)]) == 0  # fmt: skip
    return {
        "arrays": TaskSpec(name="arrays", params={"x": str(folder / "x.npy"), "y": str(folder / "y.npy")}),
        "bmi-csv": TaskSpec(name="arrays", params={"sample": str(folder / "sample.csv")}),
        "python": (x, y),  # ibbench.estimate_mi on the arrays in memory
        "folder": folder,
    }


def through(route, estimator: str, seed: int = 1):
    """The record of ``estimator`` on a saved route: a task spec, or arrays in memory (``estimate_mi``)."""
    if isinstance(route, TaskSpec):
        return estimate(route, estimator, seed=seed)
    import ibbench

    result = ibbench.estimate_mi(*route, estimator, budget="smoke", seed=seed, device="cpu", progress=False)
    assert result.ok, result.error
    return result.record


@pytest.mark.filterwarnings("ignore::UserWarning")  # binning's saturation warning, on every route alike
@pytest.mark.parametrize("estimator", PAIR_ESTIMATORS)
def test_every_route_gives_every_estimator_the_same_estimate(estimator, saved):
    through_task = estimate(TASK, estimator)
    for route, task in saved.items():
        if route == "folder":
            continue
        other = through(task, estimator)
        assert (other.estimate, other.estimate_stderr) == (
            through_task.estimate,
            through_task.estimate_stderr,
        ), route
        assert other.extras["preprocess"] == through_task.extras["preprocess"], route
        verdict = {k: v for k, v in other.reliability.items() if k != "consistency"}
        assert verdict == {k: v for k, v in through_task.reliability.items() if k != "consistency"}, route
        for key in ("half_estimate", "drift"):  # the half-sample check reads the same pairs too
            assert other.reliability["consistency"][key] == through_task.reliability["consistency"][key], (
                route
            )


@pytest.mark.parametrize("preprocess", PREPROCESS)
def test_each_map_is_the_same_on_both_routes(preprocess, saved):
    a, b = estimate(TASK, "ksg", preprocess), estimate(saved["arrays"], "ksg", preprocess)
    assert a.estimate == b.estimate and a.expanded["preprocess"] == preprocess == a.spec.preprocess


def test_the_maps_give_different_data_so_the_choice_is_recorded():
    values = {p: estimate(TASK, "ksg", p).estimate for p in PREPROCESS}
    # KSG rescales each coordinate by its std itself, so standard and none agree for it; the robust
    # map's tails are a nonlinear (invertible) change that it sees
    assert values["robust"] != values["none"] == values["standard"], values
    record = estimate(TASK, "ksg")
    assert record.spec.preprocess == record.expanded["preprocess"] == DEFAULT_PREPROCESS


def test_a_sampler_is_mapped_with_statistics_of_a_stream_of_its_own():
    record = estimate(TaskSpec(name="gaussian", params={"dim": 2, "mi": 1.0}), "ksg", "standard")
    kept = record.extras["preprocess"]
    assert kept["fitted_on"].startswith(f"{FIT_PAIRS} pairs")
    assert all(abs(m) < 0.05 for m in kept["x"]["mean"]) and all(abs(s - 1) < 0.05 for s in kept["x"]["std"])


def test_a_channel_estimator_sees_the_channel_as_it_is():
    record = estimate(TaskSpec(name="gaussian-channel"), "mixture")
    assert record.extras["preprocess"]["method"] == "not applied"


def test_a_training_run_takes_no_preprocessing():
    from ibbench.errors import SpecError

    with pytest.raises(SpecError, match="preprocess"):
        resolve(
            RunSpec(
                task=TaskSpec(name="digits-mlp"), estimator=EstimatorSpec(name="mine"), preprocess="robust"
            ),
            REGISTRY,
        )


def test_a_suite_with_two_maps_has_twice_the_cells(tmp_path):
    from ibbench.running.specs import suite_from_data

    suite = suite_from_data(
        {
            "name": "s",
            "tasks": [{"name": "gaussian"}],
            "estimators": [{"name": "ksg"}],
            "preprocess": ["robust", "none"],
        },
        "suite",
    )
    keys = {cell_of(resolve(cell, REGISTRY)) for cell in suite.cells()}
    assert len(keys) == 2  # the map is part of a cell's identity: the store holds both arms


def test_the_guide_example_saves_the_sample_both_routes_read_alike(tmp_path, monkeypatch):
    """The user guide's Tasks page (docs/guide/tasks.md): the snippet that saves a task's own sample as
    arrays runs as written, and the two commands it names read the same estimate."""
    from .conftest import REPO

    text = (REPO / "docs" / "guide" / "tasks.md").read_text(encoding="utf-8")
    block = text[text.index("A task's own sample, as arrays") :]
    start = block.index("```python") + len("```python")
    monkeypatch.chdir(tmp_path)
    exec(block[start : block.index("```", start)], {})  # noqa: S102 (the guide's own example)
    arrays = TaskSpec(name="arrays", params={"x": str(tmp_path / "x.npy"), "y": str(tmp_path / "y.npy")})
    task = TaskSpec(name="student-identity-2-2-1")
    assert estimate(arrays, "ksg", seed=0).estimate == estimate(task, "ksg", seed=0).estimate


@pytest.mark.parametrize("kind", ["torch", "pandas", "columns", "list"])
def test_estimate_mi_reads_tensors_pandas_and_lists_as_the_same_numbers(kind, saved):
    import ibbench

    x, y = saved["python"]
    if kind == "torch":
        args, kwargs = (torch.from_numpy(x), torch.from_numpy(y)), {}
    elif kind == "list":
        args, kwargs = (x.tolist(), y.tolist()), {}
    else:
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(np.hstack([x, y]), columns=["a", "b", "c", "d"])
        if kind == "pandas":
            args, kwargs = (frame[["a", "b"]], frame[["c", "d"]]), {}
        else:
            args, kwargs = (), {"data": frame, "x": ["a", "b"], "y": ["c", "d"]}
    result = ibbench.estimate_mi(
        *args, estimator="ksg", **kwargs, budget="smoke", seed=1, device="cpu", progress=False
    )
    assert result.estimate == through(saved["python"], "ksg").estimate


def test_the_sample_command_writes_the_pairs_a_run_reads_bit_for_bit(saved):
    """`ibbench sample` (CSV and .npz) hands `ibbench estimate` the very numbers the task holds, so
    every estimator reads them as on the routes above (the same pairs in: the same estimate out)."""
    from ibbench.tasks.arrays import load_array, load_sample

    x, y = saved["python"]
    folder = saved["folder"]
    cx, cy, _ = load_sample(str(folder / "command.csv"))
    nx, _ = load_array(f"{folder / 'command.npz'}:x")
    ny, _ = load_array(f"{folder / 'command.npz'}:y")
    for a, b in ((cx, x), (cy, y), (nx, x), (ny, y)):
        assert a.dtype == np.float64 and np.array_equal(a, b.astype(np.float64))
    record = estimate(TaskSpec(name="arrays", params={"sample": str(folder / "command.csv")}), "ksg")
    assert record.estimate == estimate(TASK, "ksg").estimate
