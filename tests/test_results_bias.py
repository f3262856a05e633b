"""The committed bias stores (results/bias) meet the estimation protocol's promises on the quick budget:
on the 5-d and 20-d Gaussians and the 5-d Student-t pairs, no critic estimate sits above the truth by
more than 2 of its standard errors, and (MINE, AA-MINE) at least 90 % of the critic runs ended on a
held-out plateau.  The variational staircase, run with a 1500-step maximum, does not reach 90 %
(results/README.md says how far it got); its share is pinned so a regression shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibbench.results import ResultStore

BIAS = Path(__file__).resolve().parent.parent / "results" / "bias"
STORES = [BIAS / "runs.jsonl", BIAS / "variational.jsonl"]
CRITICS = {"mine", "aa-mine", "infonce", "nwj", "smile"}
VARIATIONAL_CONVERGED = 0.68  # 31 of 45 runs in the committed store (SMILE: 4 of 15); see results/README.md


def _critic_runs(store: Path):
    if not store.exists():
        pytest.skip(f"{store} is not committed")
    runs = []
    for r in ResultStore(store).records():
        critic = r.spec.estimator is not None and r.spec.estimator.name in CRITICS and r.spec.budget == "quick"
        pair = r.spec.task.name in ("gaussian", "student-t") or r.spec.task.name.startswith("gaussian-20d")
        if critic and pair and r.expanded["task"]["params"].get("dim") in (5, 20):
            runs.append(r)
    assert runs, f"no quick critic runs on 5-d / 20-d tasks in {store}"
    return runs


@pytest.mark.parametrize("store", STORES, ids=lambda p: p.name)
def test_no_critic_estimate_above_the_truth_by_two_standard_errors(store):
    over = [(r.task_label, r.spec.estimator.name, r.spec.seed, r.estimate, r.estimate_stderr, r.truth)
            for r in _critic_runs(store)
            if r.status == "ok" and r.estimate > r.truth + 2 * r.estimate_stderr]
    assert not over, over


def _converged_share(store: Path) -> float:
    runs = _critic_runs(store)
    converged = [r for r in runs if r.status == "ok" and (r.extras.get("estimator") or {}).get("converged")]
    return len(converged) / len(runs)


def test_nine_in_ten_dv_critic_runs_converged():
    assert _converged_share(BIAS / "runs.jsonl") >= 0.9


def test_the_variational_staircase_converged_share_is_what_results_say():
    assert _converged_share(BIAS / "variational.jsonl") >= VARIATIONAL_CONVERGED
