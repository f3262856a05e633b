"""Integration on MNIST from ../shared/data: the paper's quantity I(X; L_i + eps) with ground truth."""

from __future__ import annotations

import math

import pytest

from ibbench.running.runner import run
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec

pytestmark = pytest.mark.integration

TASK = {"dataset": "mnist", "n_points": 5000, "noise_var": 0.1}


def cell(registry, estimator, task=TASK, est_params=None, seed=0):
    spec = RunSpec(
        task=TaskSpec(name="mixture-channel", params=task),
        estimator=EstimatorSpec(name=estimator, params=est_params or {}),
        seed=seed,
        budget="smoke",
    )
    return run(spec, registry)


def test_mnist_truth_is_bounded_and_sandwiched(registry, with_mnist):
    record = cell(registry, "mixture")
    assert record.status == "ok", record.error
    extras = record.extras["truth"]
    assert 0 < record.truth <= math.log(5000) + 4 * record.truth_stderr
    assert (
        extras["kt_lower"] - 4 * record.truth_stderr
        <= record.truth
        <= extras["kt_upper"] + 4 * record.truth_stderr
    )
    assert "MNIST" in record.extras["task"]["source"]
    assert record.extras["task"]["network"] == [784, 512, 512, 10]


def test_mixture_on_the_full_support_is_the_truth(registry, with_mnist):
    record = cell(registry, "mixture", est_params={"use_support": True, "n_samples": 4000})
    combined = math.hypot(record.truth_stderr, record.estimate_stderr)
    assert abs(record.estimate - record.truth) < 4 * combined + 0.01


def test_aa_mine_and_mine_run_on_a_hidden_layer(registry, with_mnist):
    task = {**TASK, "layer": 1, "n_points": 2000}
    for estimator in ("aa-mine", "mine"):
        record = cell(registry, estimator, task=task, est_params={"steps": 100})
        assert record.status == "ok", record.error
        assert record.extras["task"]["layer"] == 1
        assert math.isfinite(record.estimate)
