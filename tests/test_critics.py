"""The DV critic's fast paths compute what the plain formulation computes.

- the shared first layer and the one-pass joint/marginal evaluation equal an
  MLP on the concatenated pairs [u_i, y_i] and [u_i, y_perm(i)];
- an ensemble of K critics is K independent critics: member k's output and
  gradient depend on member k's weights and data only;
- ``sample_features`` hands AA-MINE the F(x) of the same draw that made y;
- the ensemble and bf16 options still estimate a known MI.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ibbench.api import RunContext
from ibbench.critics import Critic, CriticParams, critic_step_flops, dv_bound
from ibbench.running.runner import run
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec
from ibbench.tasks.gaussian_channel import GaussianChannel, GaussianChannelParams

CPU = torch.device("cpu")


def member_mlp(critic: Critic, k: int) -> nn.Sequential:
    """Member k of a stacked critic as a plain nn.Sequential on the concatenated input."""
    weights = [torch.cat([critic.w_u[k], critic.w_y[k]], 0), *(w[k] for w in critic.weights[2:])]
    layers: list[nn.Module] = []
    for i, (w, b) in enumerate(zip(weights, critic.biases, strict=True)):
        lin = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(w.T)
            lin.bias.copy_(b[k, 0])
        layers += [lin] if i == len(weights) - 1 else [lin, nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


def test_one_pass_with_a_shared_first_layer_equals_the_mlp_on_concatenated_pairs():
    torch.manual_seed(0)
    critic = Critic(3, 2, CriticParams(hidden=16, depth=2))
    u, y, perm = torch.randn(32, 3), torch.randn(32, 2), torch.randperm(32)
    t_joint, t_marg = critic.joint_and_marginal(u, y, perm)
    g = member_mlp(critic, 0)
    assert torch.allclose(t_joint, g(torch.cat([u, y], 1)).squeeze(1), atol=1e-5)
    assert torch.allclose(t_marg, g(torch.cat([u, y[perm]], 1)).squeeze(1), atol=1e-5)


def test_ensemble_members_are_independent_critics():
    torch.manual_seed(0)
    k, n = 3, 24
    critic = Critic(4, 2, CriticParams(hidden=8, depth=2, ensemble=k))
    u, y = torch.randn(k, n, 4), torch.randn(k, n, 2)
    perm = torch.stack([torch.randperm(n) for _ in range(k)])
    t_joint, t_marg = critic.joint_and_marginal(u, y, perm)
    for m in range(k):
        g = member_mlp(critic, m)
        assert torch.allclose(t_joint[m], g(torch.cat([u[m], y[m]], 1)).squeeze(1), atol=1e-5)
        assert torch.allclose(t_marg[m], g(torch.cat([u[m], y[m][perm[m]]], 1)).squeeze(1), atol=1e-5)
    dv_bound(t_joint, t_marg)[1].backward()  # member 1's bound only
    for w in critic.weights:
        assert w.grad[1].abs().sum() > 0 and w.grad[0].abs().sum() == 0 and w.grad[2].abs().sum() == 0


def test_members_start_from_different_initialisations():
    torch.manual_seed(0)
    critic = Critic(2, 2, CriticParams(hidden=8, ensemble=2))
    assert not torch.equal(critic.weights[0][0], critic.weights[0][1])


def test_flop_count_matches_the_layer_shapes():
    # u_dim 3, y_dim 2, hidden 4, depth 1, batch 10: first layer 2*10*5*4 = 400 (fwd), later 2*20*4*1 = 160
    assert critic_step_flops(3, 2, 4, 1, 10) == 2 * 400 + 3 * 160
    assert critic_step_flops(3, 2, 4, 1, 10, members=8) == 8 * (2 * 400 + 3 * 160)


def test_sample_features_is_the_signal_of_the_same_draw():
    ctx = RunContext(seed=0, device=CPU)
    inst = GaussianChannel().build(GaussianChannelParams(x_dim=4, z_dim=3, noise_var=0.5), ctx)
    x, z = inst.sample(64, torch.Generator().manual_seed(5))
    signal, z2 = inst.sample_features(64, torch.Generator().manual_seed(5))
    assert torch.equal(z, z2)
    assert torch.allclose(signal, inst.channel.network(x), atol=1e-5)
    # the API's default (no override) recomputes F(x) from sample(): the same numbers
    default_signal, z3 = type(inst).__mro__[1].sample_features(inst, 64, torch.Generator().manual_seed(5))
    assert torch.equal(z3, z) and torch.allclose(default_signal, signal, atol=1e-5)


def _estimate(registry, est_params, seed=0):
    spec = RunSpec(
        task=TaskSpec(name="gaussian", params={"dim": 1, "mi": 1.0}),
        estimator=EstimatorSpec(name="aa-mine", params=est_params),
        seed=seed,
        budget="smoke",
    )
    return run(spec, registry)


def test_ensemble_estimate_reports_the_members_and_their_spread(registry):
    record = _estimate(registry, {"ensemble": 4})
    assert record.status == "ok", record.error
    members = record.extras["estimator"]["member_values"]
    assert len(members) == 4 and len(set(members)) == 4  # independent critics, different numbers
    assert record.estimate == pytest.approx(sum(members) / 4)
    spread = torch.tensor(members, dtype=torch.float64).std().item()
    assert record.estimate_stderr == pytest.approx(spread / 2)
    assert all(abs(v - 1.0) < 0.15 for v in members)  # each is a working critic (smoke tolerance)


def test_bf16_autocast_estimates_the_known_mi(registry):
    fp32, bf16 = _estimate(registry, {}), _estimate(registry, {"precision": "bf16"})
    assert bf16.status == "ok", bf16.error
    assert abs(bf16.estimate - 1.0) < 0.15 and abs(bf16.estimate - fp32.estimate) < 0.1
    assert bf16.estimate != fp32.estimate  # the option changed the arithmetic
    assert math.isfinite(bf16.estimate_stderr)


def test_padding_units_stay_inert_through_training():
    """A 20-wide critic is stored 32 wide; the 12 padding units must stay exactly zero under Adam."""
    from ibbench.critics import CriticTrainer

    task = GaussianChannel().build(GaussianChannelParams(x_dim=3, z_dim=2), RunContext(seed=0, device=CPU))
    p = CriticParams(hidden=20, depth=2, batch_size=64, lr=1e-2)
    torch.manual_seed(0)
    critic = Critic(task.x_dim, task.y_dim, p)
    assert critic.w_u.shape == (1, 3, 32) and critic.weights[2].shape == (1, 32, 32)
    trainer = CriticTrainer(critic, task.sample, p, RunContext(seed=0, device=CPU), "mine")
    for _ in range(20):
        trainer.step()
    assert critic.w_u[..., 20:].abs().max() == 0 and critic.w_y[..., 20:].abs().max() == 0
    assert critic.weights[2][:, 20:].abs().max() == 0 and critic.weights[2][..., 20:].abs().max() == 0
    assert critic.weights[3][:, 20:].abs().max() == 0 and critic.biases[1][..., 20:].abs().max() == 0
    assert critic.w_u[..., :20].abs().max() > 0  # the real units did train


def test_shared_ensemble_data_gives_every_member_the_same_batch():
    from ibbench.critics import draw

    def sample(n, g):
        x = torch.randn(n, 2, generator=g)
        return x, 2 * x

    u, y = draw(sample, 3, 5, torch.Generator().manual_seed(0), CPU, shared=True)
    assert u.shape == (3, 5, 2) and torch.equal(u[0], u[2]) and torch.equal(y[1], 2 * u[1])
    u, _ = draw(sample, 3, 5, torch.Generator().manual_seed(0), CPU)
    assert not torch.equal(u[0], u[2])
