"""One suite with every kind of faulty plugin at once completes, with a record and a reason per cell.

The full campaign (concurrent writers, two suites at once, SIGKILL and resume, bad inputs) is
``scripts/reliability_trials.py``; each of its faults also has its own test in tests/test_store.py.
"""

from __future__ import annotations

import importlib.util

from .conftest import REPO

spec = importlib.util.spec_from_file_location(
    "reliability_trials", REPO / "scripts" / "reliability_trials.py"
)
trials_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(trials_mod)


def test_a_suite_of_faulty_plugins_completes_with_a_reason_for_every_cell(tmp_path):
    trials = trials_mod.Trials()
    trials_mod.fault_suite(trials, tmp_path)
    failed = [row for row in trials.rows if not row["passed"]]
    assert not failed, failed
    assert trials.lost == 0 and trials.duplicated == 0
    assert {row["trial"].split(" (")[0] for row in trials.rows} >= {
        "estimator test-nan-estimate",
        "estimator test-inf-estimate",
        "estimator test-raise",
        "estimator test-exit",
        "estimator test-hang",
        "estimator test-die",
        "a plugin registering a function as its estimator",
    }
