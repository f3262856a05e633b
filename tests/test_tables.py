"""The bias table on hand-made records: converged share, steps, time, and estimator settings kept apart."""

from __future__ import annotations

import json

import pytest

from ibbench.reports.tables import aggregate, bias_table, protocol_table
from ibbench.store.results import RunRecord


def record(
    estimator: str,
    seed: int,
    estimate: float | None,
    *,
    params: dict | None = None,
    converged: bool | None = None,
    steps: int = 0,
    seconds: float = 1.0,
) -> RunRecord:
    extras = {} if converged is None else {"estimator": {"converged": converged, "steps_used": steps}}
    return RunRecord.model_validate(
        {
            "id": f"{estimator}{seed}{params}",
            "created": "2026-11-30T00:00:00+00:00",
            "status": "ok" if estimate is not None else "failed",
            "error": None if estimate is not None else "diverged",
            "spec": {
                "task": {"name": "gaussian", "params": {"dim": 5, "mi": 2.0}},
                "estimator": {"name": estimator, "params": params or {}},
                "seed": seed,
                "budget": "quick",
                "device": "cpu",
            },
            "task_label": "gaussian[dim=5,mi=2.0]",
            "device": "cpu",
            "wall_time_s": seconds,
            "estimate": estimate,
            "truth": 2.0,
            "extras": extras,
        }
    )


RECORDS = [
    record("mine", 0, 1.8, converged=True, steps=1000, seconds=4.0),
    record("mine", 1, 1.9, converged=False, steps=5000, seconds=9.0),
    record("mine", 2, None, converged=False, steps=300, seconds=2.0),
    record("ksg", 0, 1.5),
    record("ksg", 1, 1.6),
    record("ksg", 2, 1.7),
]


def test_converged_share_counts_failures_as_not_converged():
    cell = aggregate(RECORDS)[("gaussian[dim=5,mi=2.0]", "mine")]
    assert cell.converged == [True, False, False] and cell.failed == 1 and cell.steps == [1000, 5000, 300]
    table = protocol_table(RECORDS)
    mine = next(line for line in table.splitlines() if line.startswith("| mine"))
    assert "1/3 (33%)" in mine and "1000 / 5000" in mine and "4.00" in mine
    ksg = next(line for line in table.splitlines() if line.startswith("| ksg"))
    assert "n/a" in ksg  # no critic, no convergence to report


def test_the_bias_cell_flags_unconverged_runs():
    row = next(line for line in bias_table(RECORDS).splitlines() if line.startswith("| gaussian"))
    assert "1.850 ± 0.071" in row and "[failed 1/3]" in row and "[converged 1/3]" in row


def test_two_settings_of_one_estimator_are_two_columns():
    records = [record("mine", s, 1.0 + s, params={"patience": 50}) for s in range(2)] + [
        record("mine", s, 3.0, params={"min_delta_se": 0.0}) for s in range(2)
    ]
    cells = aggregate(records)
    assert {est for _, est in cells} == {"mine[patience=50]", "mine[min_delta_se=0.0]"}
    assert cells[("gaussian[dim=5,mi=2.0]", "mine[patience=50]")].mean() == 1.5


def test_runs_whose_spec_reads_the_same_but_ran_other_parameters_are_two_columns():
    """A spec of `ksg` on seeds 0-1 with k expanding to 3, and on seed 0 with k = 10 (a default that
    changed, or --set estimator.k=10 spelled as the default): two cells, never one mean."""
    runs = [record("ksg", s, 1.0 + 0.1 * s) for s in range(2)] + [record("ksg", 5, 2.0)]
    for r in runs:
        r.expanded = {
            "task": {"name": "gaussian", "params": {"dim": 5, "mi": 2.0}},
            "estimator": {"name": "ksg", "params": {"k": 10 if r.spec.seed == 5 else 3}},
        }
    cells = aggregate(runs)
    assert set(cells) == {("gaussian[dim=5,mi=2.0]", "ksg {k=3}"), ("gaussian[dim=5,mi=2.0]", "ksg {k=10}")}
    assert cells[("gaussian[dim=5,mi=2.0]", "ksg {k=3}")].mean() == 1.05
    row = next(line for line in bias_table(runs).splitlines() if line.startswith("| gaussian"))
    assert "2.000 (+0.00, n=1)" in row and "1.050 ± 0.071 (-0.93, n=2)" in row


def test_the_protocol_table_gives_the_critics_median_update_rate():
    fast, slow = record("mine", 0, 1.8, converged=True), record("mine", 1, 1.9, converged=True)
    fast.extras["estimator"]["steps_per_s"], slow.extras["estimator"]["steps_per_s"] = 300.0, 100.0
    third = record("mine", 2, 1.9, converged=True)
    third.extras["estimator"]["steps_per_s"] = 200.0
    mine = next(
        line for line in protocol_table([fast, slow, third]).splitlines() if line.startswith("| mine")
    )
    assert "| 200 " in mine


def test_a_critic_run_records_its_update_rate():
    import torch

    from ibbench.api import RunContext
    from ibbench.running.plugins import load_registry

    registry = load_registry()
    task = registry.entries["task"]["1v1-normal-0.75"].load()
    instance = task.build(
        task.params_for("smoke", {"n_pairs": 2000}), RunContext(0, torch.device("cpu"), "smoke")
    )
    mine = registry.entries["estimator"]["mine"].load()
    est = mine.estimate(instance, mine.params_for("smoke"), RunContext(0, torch.device("cpu"), "smoke"))
    extras = est.extras
    assert extras["fit_seconds"] > 0 and extras["steps_per_s"] == pytest.approx(
        extras["steps_used"] / extras["fit_seconds"], rel=0.5
    )


def test_the_across_tasks_summary_scores_each_estimator_over_the_tasks():
    def at_four_nats(r):
        data = json.loads(r.model_dump_json())
        data["spec"]["task"]["params"]["mi"] = 4.0
        data.update(task_label="gaussian[dim=5,mi=4.0]", truth=4.0, id=r.id + "b")
        return RunRecord.model_validate(data)

    other = [at_four_nats(r) for r in RECORDS]
    text = bias_table(RECORDS + other)
    summary = text[text.index("Across tasks") :]
    ksg = next(line for line in summary.splitlines() if line.startswith("| ksg"))
    # ksg's mean 1.6 on both tasks: |bias| 0.4 and 2.4 -> 1.4; |log2| 0.322 and 1.322 -> median 0.822
    assert "| 2/2 " in ksg and "| 1.400 " in ksg and "| 0.822 " in ksg
    mine = next(line for line in summary.splitlines() if line.startswith("| mine"))
    assert mine.rstrip(" |").endswith("2")  # one failed run per task
