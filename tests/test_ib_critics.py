"""The IB trainers' critics: the shared update, its precision, the running input map (digits, smoke)."""

from __future__ import annotations

import copy

import pytest
import torch

from ibbench.api import RunContext
from ibbench.methods.infoplane import layer_network
from ibbench.tasks.network_tasks import DigitsMLP
from ibbench.trainers import ib_critics
from ibbench.trainers.ib_critics import IBCritics
from ibbench.trainers.ib_layerwise import LayerwiseIB

CPU = torch.device("cpu")


def digits_critics(**params) -> IBCritics:
    ctx = RunContext(seed=0, device=CPU, budget="smoke")
    task = DigitsMLP().build(DigitsMLP.params_for("smoke", {"hidden": [64, 32]}), ctx)
    p = LayerwiseIB.params_for("smoke", params)
    f = layer_network(task.network(seed=0), 1)
    return IBCritics(f, task.data, task.noise_std, p, ctx, with_y=True, with_x=True, name="layer-1")


def weights(critics: IBCritics) -> list[torch.Tensor]:
    return [w.detach().clone() for t in critics.trainers() for w in t.critic.parameters()]


def test_shared_update_steps_each_critic_on_its_own_loss():
    """One backward pass over D_y's + D_x's losses moves each critic as its own step on the same pairs would."""
    critics = digits_critics(critic_precision="fp32")
    critics.update(2)  # Adam's moments exist
    saved = copy.deepcopy(critics.state_dict())
    critics.update(1)
    together = weights(critics)

    critics.load_state_dict(copy.deepcopy(saved))
    (u_y, v_y), (u_x, v_x) = critics._shared_batches(critics.critic_params.batch_size)
    for t, (u, v) in ((critics.y, (u_y, v_y)), (critics.x, (u_x, v_x))):
        loss = t.loss_on(u, v)
        t.opt.zero_grad(set_to_none=True)
        loss.backward()
        t.apply()
    apart = weights(critics)
    assert len(together) == len(apart) > 0
    for a, b in zip(together, apart, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)
    assert critics.y.steps_done == critics.x.steps_done == 3


def test_update_runs_the_network_once_for_its_k_steps():
    critics = digits_critics()
    rows: list[int] = []
    handle = critics.f.register_forward_hook(lambda _m, args, _out: rows.append(args[0].shape[0]))
    try:
        critics.update(5)
    finally:
        handle.remove()
    assert rows == [5 * critics.critic_params.batch_size]
    assert critics.y.steps_done == critics.x.steps_done == 5


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_where_the_hardware_has_it(monkeypatch, native, expected):
    monkeypatch.setattr(ib_critics, "native_bf16", lambda device: native)
    p = LayerwiseIB.params_for("smoke", {})
    assert p.critic_precision == "auto"
    assert p.critic_params(CPU).precision == expected
    assert (
        LayerwiseIB.params_for("smoke", {"critic_precision": "fp32"}).critic_params(CPU).precision == "fp32"
    )


def test_held_out_estimates_are_taken_in_fp32_whatever_the_critics_train_in():
    critics = digits_critics(critic_precision="bf16")
    critics.update(3)
    in_bf16_training = critics.estimates()
    for t in critics.trainers():
        t.p = t.p.model_copy(update={"precision": "fp32"})
    assert critics.estimates() == in_bf16_training


def test_a_diverged_reading_fails_strictly_and_is_a_note_otherwise(monkeypatch):
    """An impossible held-out bound (here forced: -5 nats) raises during training; read after training
    (``strict=False``) it is no estimate: its key is absent and the error and value are kept beside."""
    from ibbench.errors import DivergenceError

    critics = digits_critics()
    monkeypatch.setattr(ib_critics, "combine", lambda members: (-5.0, 0.01))
    with pytest.raises(DivergenceError, match="below 0"):
        critics.estimates()
    noted = critics.estimates(strict=False)
    assert "iyt" not in noted and "ixt" not in noted
    assert noted["ixt_diverged_value"] == -5.0 and "below 0" in noted["ixt_diverged"]


@pytest.mark.parametrize("trainer", ["ib-e2e", "ib-layerwise"])
def test_a_critic_that_diverges_after_training_keeps_the_run(monkeypatch, registry, trainer):
    """Table 3's seed 1 at 100 %: D_x's final reading was -1.08 nats after all 5000 steps, and the whole
    run failed.  The net is trained by then; the run is ok, its accuracy kept, the reading noted."""
    from tests.test_trainers import digits_run

    real_combine, after_training = ib_critics.combine, []

    def combine(members):  # the readings after training read -5 nats; those during training are real
        return (-5.0, 0.01) if after_training else real_combine(members)

    real = IBCritics.estimates

    def diverging_after_training(self, strict=True):
        after_training[:] = [] if strict else [True]
        return real(self, strict=strict)

    monkeypatch.setattr(ib_critics, "combine", combine)
    monkeypatch.setattr(IBCritics, "estimates", diverging_after_training)
    record = digits_run(trainer, registry)
    assert record.status == "ok", record.error
    out = record.training.model_dump()
    assert out["test_acc"] > 0.2
    readings = out["final"] if trainer == "ib-e2e" else out["layers"][0]
    assert "ixt" not in readings and readings["ixt_diverged_value"] == -5.0
