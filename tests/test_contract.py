"""The plugin contract, registry-wide: every registered task builds from its defaults and draws pairs,
every estimator estimates at the smoke budget, every trainer trains at the smoke budget.  Plugins
installed from ``plugins/`` are held to it as the built-ins are."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ibbench.api import RunContext
from ibbench.errors import DataError, NotApplicableError
from ibbench.plugins import load_registry
from ibbench.runner import run
from ibbench.specs import EstimatorSpec, RunSpec, TaskSpec, TrainerSpec

REGISTRY = load_registry()
CTX = RunContext(seed=0, device=torch.device("cpu"), budget="smoke")
#: tasks that are the user's own data: built from two small files instead of defaults
USER_DATA = {"arrays"}
#: the ground-truth task each estimator is run on: one with a channel for those that need it
CHANNEL_TASK = TaskSpec(name="gaussian-channel", params={"x_dim": 2, "z_dim": 2})
PLAIN_TASK = TaskSpec(name="gaussian", params={"dim": 2, "mi": 1.0})


def build(name: str, **params):
    entry = REGISTRY.entries["task"][name]
    task = entry.load()
    return task, task.build(task.params_for("smoke", {**entry.defaults, **params}), CTX)


@pytest.mark.parametrize("name", sorted(set(REGISTRY.names("task")) - USER_DATA))
def test_every_task_builds_from_its_defaults(name, with_mnist, monkeypatch, request):
    if name.startswith("cifar"):  # the shared JPEG copy, imported once (skipped where it is absent)
        monkeypatch.setenv("IBBENCH_DATA", str(request.getfixturevalue("cifar_dir")))
    try:
        task, instance = build(name)
    except DataError as exc:  # a dataset not fetched here (CIFAR-10 without the shared copy)
        pytest.skip(f"{name}: {exc}")
    if task.default_trainer is not None:  # a network task: its trainer is run below
        return
    x, y = instance.sample(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, instance.x_dim) and y.shape == (16, instance.y_dim)
    assert x.dtype == y.dtype == torch.float32 and bool(torch.isfinite(x).all() and torch.isfinite(y).all())
    truth = instance.truth(CTX)
    assert truth is None or (math.isfinite(truth.value) and truth.value >= 0)
    closed = task.closed_form_truth(task.params_for("smoke", REGISTRY.entries["task"][name].defaults))
    assert closed is None or closed == pytest.approx(truth.value, rel=1e-9)


def test_the_user_data_task_builds_from_files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(50, 2)))
    np.save(tmp_path / "y.npy", rng.normal(size=(50, 1)))
    _, instance = build("arrays", x=str(tmp_path / "x.npy"), y=str(tmp_path / "y.npy"))
    assert instance.n_pairs == 50 and instance.sample(50, torch.Generator())[0].shape == (50, 2)


@pytest.mark.parametrize("name", REGISTRY.names("estimator"))
def test_every_estimator_estimates_at_smoke(name):
    spec = RunSpec(task=PLAIN_TASK, estimator=EstimatorSpec(name=name), seed=0, budget="smoke", device="cpu")
    record = run(spec, REGISTRY)
    if record.status != "ok" and "NotApplicableError" in (record.error or ""):  # needs a channel
        record = run(spec.model_copy(update={"task": CHANNEL_TASK}), REGISTRY)
    assert record.status == "ok", record.error
    assert math.isfinite(record.estimate) and record.truth is not None


#: ib-e2e's smoke budget (60 steps) ends at chance with the paper's (a, b, g) = (1, 1, 1e-3): the critics
#: standardise their inputs, which scales the gradient of I(Y; Yhat) on the logits by 1 / their spread
#: (about 0.1 at init), so it swamps cross-entropy's; with critic_standardise = "none" 150 steps reach
#: 43 %.  Standardising by the batch's own statistics (gradient through them) did not help either: I(Y; Yhat)
#: is invariant to the logits' scale and to permuting classes, so it can grow while CE stays at log 10.  At
#: 2000 steps on MNIST it trains (results/README, Table 3).  Strict: the mark cannot outlive a fix.
KNOWN_SMOKE_FAILURES = {
    "ib-e2e": "I(Y; Yhat)'s gradient through standardised critic inputs swamps CE at smoke"
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_SMOKE_FAILURES[n], strict=True))
        if n in KNOWN_SMOKE_FAILURES
        else n
        for n in REGISTRY.names("trainer")
    ],
)
def test_every_trainer_trains_at_smoke(name):
    spec = RunSpec(
        task=TaskSpec(name="digits-mlp"), trainer=TrainerSpec(name=name), seed=0, budget="smoke", device="cpu"
    )
    record = run(spec, REGISTRY)
    assert record.status == "ok", record.error
    assert record.training is not None and 0.3 < record.training.test_acc <= 1.0  # digits: well above chance


def test_not_applicable_is_what_a_channel_estimator_raises_without_a_channel():
    with pytest.raises(NotApplicableError):
        estimator = REGISTRY.entries["estimator"]["aa-mine"].load()
        _, instance = build("gaussian", dim=2, mi=1.0, structure="dense")
        instance.channel = None
        estimator.estimate(instance, estimator.params_for("smoke"), CTX)
