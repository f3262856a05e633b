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
from ibbench.running.plugins import load_registry
from ibbench.running.runner import run
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec, TrainerSpec

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


#: what "trains" means on digits at the smoke budget: test accuracy this far (in accuracy points) above
#: always answering the commonest test class (10 classes; the commonest is ~10 % of the test set)
MARGIN_OVER_CHANCE = 0.30


@pytest.mark.parametrize("name", REGISTRY.names("trainer"))
def test_every_trainer_trains_at_smoke(name):
    _, digits = build("digits-mlp")
    chance = float(torch.bincount(digits.data.test_y).max()) / len(digits.data.test_y)
    spec = RunSpec(
        task=TaskSpec(name="digits-mlp"), trainer=TrainerSpec(name=name), seed=0, budget="smoke", device="cpu"
    )
    record = run(spec, REGISTRY)
    assert record.status == "ok", record.error
    assert record.training is not None and chance + MARGIN_OVER_CHANCE < record.training.test_acc <= 1.0, (
        f"{name}: test accuracy {record.training.test_acc:.3f}, chance {chance:.3f} + {MARGIN_OVER_CHANCE}"
    )


def test_not_applicable_is_what_a_channel_estimator_raises_without_a_channel():
    with pytest.raises(NotApplicableError):
        estimator = REGISTRY.entries["estimator"]["aa-mine"].load()
        _, instance = build("gaussian", dim=2, mi=1.0, structure="dense")
        instance.channel = None
        estimator.estimate(instance, estimator.params_for("smoke"), CTX)


@pytest.mark.parametrize("name", REGISTRY.names("estimator"))
def test_every_channel_estimator_names_a_label_partner_that_needs_no_channel(name):
    """The information plane's I(Y; L_i) has no channel: a channel estimator declares who measures it."""
    plugin = REGISTRY.entries["estimator"][name].load()
    if plugin.needs_channel:
        partner = REGISTRY.entries["estimator"][plugin.label_estimator].load()
        assert not partner.needs_channel


def test_a_channel_estimator_without_a_label_partner_is_refused_before_training(monkeypatch):
    from ibbench.errors import SpecError
    from ibbench.estimators.aa_mine import AAMINE
    from ibbench.running.runner import resolve

    monkeypatch.setattr(AAMINE, "label_estimator", None)
    spec = RunSpec(
        task=TaskSpec(name="digits-mlp"),
        trainer=TrainerSpec(name="ce"),
        estimator=EstimatorSpec(name="aa-mine"),
        seed=0,
        budget="smoke",
        device="cpu",
    )
    with pytest.raises(SpecError, match="names no label_estimator"):
        resolve(spec, REGISTRY)
