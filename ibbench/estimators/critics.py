"""Donsker-Varadhan critics, shared by MINE and AA-MINE (Belghazi et al. 2018).

    I(X;Y) >= E_P[T(x,y)] - log E_{P_X x P_Y}[exp T(x,y)]          (DV bound)

The critic is T(x, y) = g([phi(x), y]) with g an MLP (the paper: 2 hidden
layers of 1500, LeakyReLU) and phi the identity for MINE or a frozen copy of
the network's layers 1..i for AA-MINE.  phi(x) is computed once per batch and
reused for the joint pairs and the shuffled marginal pairs, which go through g
in one forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from pydantic import Field
from torch import nn

from ..api import Estimate, Meter, Params, RunContext, check_finite


class CriticParams(Params):
    hidden: int = Field(1500, ge=1)  # width of g's hidden layers; the paper's 1500
    depth: int = Field(2, ge=1)  # hidden layers of g; the paper's 2
    lr: float = Field(1e-4, gt=0)  # Adam; the paper's 1e-4
    batch_size: int = Field(512, ge=2)  # not given in the paper
    steps: int = Field(10000, ge=1)  # critic updates; the paper trains "to convergence"
    eval_samples: int = Field(16384, ge=2)  # fresh pairs for the final DV estimate
    ema: float | None = Field(None, gt=0, lt=1)  # rate of MINE's bias-corrected gradient; None: plain DV
    trace_points: int = Field(20, ge=0)  # how many training-curve points to record
    refresh_steps: int = Field(1000, ge=0)  # warm-started updates per re-measurement of a drifting layer


CRITIC_BUDGETS = {
    "smoke": {"hidden": 64, "steps": 300, "batch_size": 256, "lr": 1e-3, "eval_samples": 4096,
              "refresh_steps": 50},
    # quick keeps the paper's lr and depth and shrinks width and steps: at lr 5e-4 AA-MINE's DV
    # bound oscillated between -12 and +26 nats at noise var 1e-3 on MNIST; at 1e-4 it climbed steadily
    "quick": {"hidden": 256, "steps": 2000, "batch_size": 256, "lr": 1e-4, "eval_samples": 8192,
              "refresh_steps": 200},
    "paper": {},  # the defaults are the paper's critic (widths, lr); steps and batch are our choice
}


def mlp_head(in_dim: int, hidden: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class Critic(nn.Module):
    """T(x, y) = head([embed(x), y]); ``embed`` has no trainable parameters of the critic."""

    def __init__(self, embed: nn.Module, embed_dim: int, y_dim: int, p: CriticParams) -> None:
        super().__init__()
        self.embed = embed
        self.head = mlp_head(embed_dim + y_dim, p.hidden, p.depth)

    def joint_and_marginal(self, x: torch.Tensor, y: torch.Tensor, perm: torch.Tensor):
        """T on the n joint pairs (x_i, y_i) and the n marginal pairs (x_i, y_perm(i)), one pass."""
        with torch.no_grad():
            u = self.embed(x)
        n = u.shape[0]
        t = self.head(torch.cat([torch.cat([u, y], 1), torch.cat([u, y[perm]], 1)], 0)).squeeze(1)
        return t[:n], t[n:]


def dv_bound(t_joint: torch.Tensor, t_marg: torch.Tensor) -> torch.Tensor:
    """E_P[T] - log E_Q[e^T] with logsumexp for the second term."""
    return t_joint.mean() - (torch.logsumexp(t_marg, 0) - math.log(t_marg.shape[0]))


def dv_estimate_with_stderr(t_joint: torch.Tensor, t_marg: torch.Tensor) -> tuple[float, float]:
    """The DV bound on a large evaluation set and its delta-method standard error."""
    m = t_joint.shape[0]
    w = torch.exp(t_marg - t_marg.max())  # e^T / e^max: the ratio is all the delta method needs
    var = t_joint.var() / m + w.var() / (m * w.mean() ** 2)
    return dv_bound(t_joint, t_marg).item(), math.sqrt(var.item())


Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


class CriticTrainer:
    """Maximises the DV bound on fresh batches (the paper's Algorithm 1); can be resumed (warm start)."""

    def __init__(self, critic: Critic, sample: Sampler, p: CriticParams, ctx: RunContext, name: str) -> None:
        self.critic, self.sample, self.p, self.ctx, self.name = critic.to(ctx.device), sample, p, ctx, name
        self.data_gen, self.perm_gen = ctx.generator(stream=1), ctx.generator(stream=2)
        self.opt = torch.optim.Adam(critic.head.parameters(), lr=p.lr)
        self.log_ema: torch.Tensor | None = None  # log of the moving average of E_Q[e^T]
        self.trace: list[list[float]] = []
        self.steps_done = 0

    def step(self) -> torch.Tensor:
        p, device = self.p, self.ctx.device
        x, y = self.sample(p.batch_size, self.data_gen)
        perm = torch.randperm(p.batch_size, generator=self.perm_gen)
        t_joint, t_marg = self.critic.joint_and_marginal(x.to(device), y.to(device), perm.to(device))
        bound = dv_bound(t_joint, t_marg)
        if p.ema is None:
            loss = -bound
        else:
            # MINE's bias correction: grad log E[e^T] = E[grad T e^T] / E[e^T], with the
            # denominator replaced by a moving average; the surrogate below has that gradient.
            log_mean = torch.logsumexp(t_marg, 0) - math.log(t_marg.shape[0])
            lm = log_mean.detach()
            self.log_ema = lm if self.log_ema is None else torch.logaddexp(
                self.log_ema + math.log1p(-p.ema), lm + math.log(p.ema))
            loss = -(t_joint.mean() - torch.exp(log_mean - self.log_ema))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.steps_done += 1
        return bound.detach()

    def fit(self, steps: int, trace_points: int | None = None) -> None:
        points = self.p.trace_points if trace_points is None else trace_points
        every = max(1, steps // points) if points else 0
        bar = self.ctx.progress(steps, f"{self.name} critic")
        for i in range(steps):
            bound = self.step()
            if every and (i % every == 0 or i == steps - 1):
                step = self.steps_done - 1
                self.trace.append([step, check_finite(bound.item(), f"{self.name} DV bound at step {step}")])
            bar.update(1)
        bar.close()

    def evaluate(self) -> Estimate:
        return evaluate_critic(self.critic, self.sample, self.p, self.ctx, self.name, self.trace)


def train_critic(critic: Critic, sample: Sampler, p: CriticParams, ctx: RunContext, name: str) -> Estimate:
    """Train a fresh critic for ``p.steps`` and evaluate it on fresh pairs."""
    trainer = CriticTrainer(critic, sample, p, ctx, name)
    trainer.fit(p.steps)
    return trainer.evaluate()


class CriticMeter(Meter):
    """Warm-started re-estimates: ``p.steps`` the first time, ``p.refresh_steps`` after (sync first).

    Before each measurement y is re-centred per coordinate and divided by one
    overall scale (the RMS of the centred sample), both from a fresh sample:
    an invertible map, so the MI is unchanged, but a layer whose scale grows
    during training (logits under cross-entropy) then looks the same to the
    warm-started critic instead of driving it off the range it was fit on
    (DV bounds of -4 nats without it).  One scale, not one per unit: a nearly
    dead ReLU unit divided by its own tiny std gave outliers of 1e4 and
    bounds of -30 nats.
    """

    def __init__(self, critic: Critic, sample: Sampler, p: CriticParams, ctx: RunContext, name: str,
                 sync: Callable[[], None] | None = None, standardise_samples: int = 4096) -> None:
        self.raw_sample, self.sync, self.n_stats = sample, sync, standardise_samples
        self.stats_gen = ctx.generator(stream=5)
        self.mean = self.std = None
        self.trainer = CriticTrainer(critic, self._standardised, p, ctx, name)

    def _standardised(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.raw_sample(n, generator)
        return x, (y - self.mean) / self.std

    def measure(self) -> Estimate:
        if self.sync is not None:
            self.sync()
        _, y = self.raw_sample(self.n_stats, self.stats_gen)
        self.mean = y.mean(0)
        self.std = (y - self.mean).pow(2).mean().sqrt().clamp_min(1e-12)
        first = self.trainer.steps_done == 0
        self.trainer.fit(self.trainer.p.steps if first else self.trainer.p.refresh_steps, trace_points=2)
        est = self.trainer.evaluate()
        return Estimate(est.value, est.stderr, {**est.extras, "y_standardised": True})


@torch.no_grad()
def evaluate_critic(critic: Critic, sample: Sampler, p: CriticParams, ctx: RunContext, name: str,
                    trace: list) -> Estimate:
    gen, perm_gen = ctx.generator(stream=3), ctx.generator(stream=4)
    joints, margs = [], []
    for start in range(0, p.eval_samples, p.batch_size):
        n = min(p.batch_size, p.eval_samples - start)
        if n < 2:
            break
        x, y = sample(n, gen)
        perm = torch.randperm(n, generator=perm_gen)
        tj, tm = critic.joint_and_marginal(x.to(ctx.device), y.to(ctx.device), perm.to(ctx.device))
        joints.append(tj)
        margs.append(tm)
    value, se = dv_estimate_with_stderr(torch.cat(joints).double(), torch.cat(margs).double())
    check_finite(value, f"{name} estimate")
    return Estimate(value, se, {"trace": trace, "final_train_bound": trace[-1][1] if trace else None})
