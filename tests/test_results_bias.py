"""The committed bias stores (results/bias) meet the estimation protocol's promises on the quick budget:
on the 5-d and 20-d Gaussians and the 5-d Student-t pairs, no estimate of a lower bound (MINE, AA-MINE,
InfoNCE, NWJ) sits above the truth by more than 2 of its standard errors, and at least 90 % of each
critic estimator's runs ended on a held-out plateau.

The variational staircase ran first with at most 1500 critic steps (variational.jsonl); the cells that
left runs unconverged were rerun with a larger maximum (variational-long.jsonl, variational-smile-long.jsonl).
The stopping rule does not depend on the maximum, so a run that converged under 1500 steps comes back
identical (checked below), and each (estimator, task, seed) counts once, at its largest maximum.
SMILE's clipped estimate is not a bound: trained to convergence it overestimates at 8 and 10 nats,
which results/README.md reports; that finding is pinned here too."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibbench.store.results import ResultStore

BIAS = Path(__file__).resolve().parent.parent / "results" / "bias"
DV_STORE = BIAS / "runs.jsonl"
VARIATIONAL = [
    BIAS / "variational.jsonl",
    BIAS / "variational-long.jsonl",
    BIAS / "variational-smile-long.jsonl",
]
CRITICS = {"mine", "aa-mine", "infonce", "nwj", "smile"}
NOT_BOUNDS = {"smile"}  # records made before the lower_bound flag existed; newer ones carry it


def _critic_runs(store: Path):
    if not store.exists():
        pytest.skip(f"{store} is not committed")
    runs = []
    for r in ResultStore(store).records():
        critic = (
            r.spec.estimator is not None and r.spec.estimator.name in CRITICS and r.spec.budget == "quick"
        )
        pair = r.spec.task.name in ("gaussian", "student-t") or r.spec.task.name.startswith("gaussian-20d")
        if critic and pair and r.expanded["task"]["params"].get("dim") in (5, 20):
            runs.append(r)
    assert runs, f"no quick critic runs on 5-d / 20-d tasks in {store}"
    return runs


def _protocol(r) -> dict:
    return r.extras.get("estimator") or {}


def _cell(r) -> tuple:
    return r.spec.estimator.name, r.task_label, r.spec.seed


def _final_variational_runs() -> list:
    """One run per (estimator, task, seed): the one with the largest step maximum."""
    best: dict[tuple, object] = {}
    for store in VARIATIONAL:
        for r in _critic_runs(store):
            old = best.get(_cell(r))
            if old is None or _protocol(r)["max_steps"] > _protocol(old)["max_steps"]:
                best[_cell(r)] = r
    return list(best.values())


def _is_bound(r) -> bool:
    return _protocol(r).get("lower_bound", r.spec.estimator.name not in NOT_BOUNDS)


@pytest.mark.parametrize("source", ["dv", "variational"])
def test_no_lower_bound_estimate_above_the_truth_by_two_standard_errors(source):
    runs = _critic_runs(DV_STORE) if source == "dv" else _final_variational_runs()
    over = [
        (r.task_label, r.spec.estimator.name, r.spec.seed, r.estimate, r.estimate_stderr, r.truth)
        for r in runs
        if r.status == "ok" and _is_bound(r) and r.estimate > r.truth + 2 * r.estimate_stderr
    ]
    assert not over, over


def _converged_share(runs: list, estimator: str) -> float:
    mine = [r for r in runs if r.spec.estimator.name == estimator]
    assert mine, f"no {estimator} runs"
    return sum(r.status == "ok" and bool(_protocol(r).get("converged")) for r in mine) / len(mine)


@pytest.mark.parametrize("estimator", ["mine", "aa-mine"])
def test_nine_in_ten_dv_critic_runs_converged(estimator):
    assert _converged_share(_critic_runs(DV_STORE), estimator) >= 0.9


@pytest.mark.parametrize("estimator", ["infonce", "nwj", "smile"])
def test_nine_in_ten_variational_runs_converged_at_their_largest_maximum(estimator):
    assert _converged_share(_final_variational_runs(), estimator) >= 0.9


def test_a_larger_step_maximum_leaves_converged_runs_unchanged():
    short = {_cell(r): r for r in _critic_runs(VARIATIONAL[0]) if _protocol(r).get("converged")}
    reran = [
        (short[_cell(r)], r) for store in VARIATIONAL[1:] for r in _critic_runs(store) if _cell(r) in short
    ]
    assert reran, "no converged 1500-step run was rerun with a larger maximum"
    for a, b in reran:
        assert (b.estimate, _protocol(b)["steps_used"]) == (a.estimate, _protocol(a)["steps_used"]), _cell(a)


def test_converged_smile_overestimates_at_high_mi_as_results_say():
    smile = [
        r for r in _final_variational_runs() if r.spec.estimator.name == "smile" and _protocol(r)["converged"]
    ]
    above = [r for r in smile if r.estimate > r.truth + 2 * r.estimate_stderr]
    # results/README.md: 7 of the 12 long runs (4-10 nats), every one at 10 nats, none at 4
    ten = [r for r in smile if r.truth == 10]
    assert len(ten) == 3 and all(r in above for r in ten)
    assert len([r for r in above if r.truth >= 6]) == 7 and not [r for r in above if r.truth < 6]
