"""Training a critic: batches of joint and shuffled pairs, Adam, the precision a step runs in, and
``CriticTrainer``, one update per ``step`` and resumable."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import torch

from ..api import RunContext
from .bounds import Objective, dv_bound
from .models import Critic
from .params import CriticParams, Precision

Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@contextlib.contextmanager
def precision_scope(precision: Precision, device: torch.device):
    """bf16: autocast matmuls to bfloat16 (CPU with AVX512-BF16/AMX, or CUDA); tf32: TF32 matmuls on CUDA."""
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    elif precision == "tf32" and device.type == "cuda":
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old
    else:
        yield


def draw(
    sample: Sampler,
    members: int,
    n: int,
    generator: torch.Generator,
    device: torch.device,
    shared: bool = False,
):
    """n pairs per member as (K, n, .) tensors on ``device``, from one call to the sampler:
    K n pairs, or (``shared``) the same n pairs for every member."""
    if shared:
        u, y = sample(n, generator)
        return (
            u.to(device).unsqueeze(0).expand(members, -1, -1),
            y.to(device).unsqueeze(0).expand(members, -1, -1),
        )
    u, y = sample(members * n, generator)
    return u.to(device).view(members, n, -1), y.to(device).view(members, n, -1)


def permutations(members: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """K independent permutations of range(n), (K, n)."""
    if members == 1:
        return torch.randperm(n, generator=generator).unsqueeze(0).to(device)
    return torch.argsort(torch.rand(members, n, generator=generator), dim=1).to(device)


def make_adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam, fused into one kernel where torch has it (CPU and CUDA): the update is memory-bound."""
    return torch.optim.Adam(params, lr=lr, fused=device.type in ("cpu", "cuda"))


class CriticTrainer:
    """Maximises the DV bound (or ``objective``) on batches from ``sample`` (the paper's Algorithm 1),
    one update per ``step``; can be resumed (warm start).  How long to train and what to report is
    the protocol's (``ibbench.critics.protocol``)."""

    def __init__(
        self,
        critic: Critic,
        sample: Sampler,
        p: CriticParams,
        ctx: RunContext,
        name: str,
        objective: Objective | None = None,
    ) -> None:
        self.critic, self.sample, self.p, self.ctx, self.name = critic.to(ctx.device), sample, p, ctx, name
        self.objective = objective
        self.data_gen, self.perm_gen = ctx.generator("critic.batches"), ctx.generator("critic.perm")
        self.opt = make_adam(critic.parameters(), p.lr, ctx.device)
        self.log_ema: torch.Tensor | None = None  # log of the moving average of E_Q[e^T], per member
        self.trace: list[list[float]] = []
        self.steps_done = 0
        self._loss = torch.compile(self._loss_and_bound, dynamic=False) if p.compile else self._loss_and_bound

    def _loss_and_bound(self, u: torch.Tensor, y: torch.Tensor, perm: torch.Tensor, log_ema):
        """The loss to minimise (summed over members), the members' DV bounds and the updated EMA."""
        with precision_scope(self.p.precision, self.ctx.device):
            t_joint, t_marg = self.critic.joint_and_marginal(u, y, perm)
        bound = dv_bound(t_joint, t_marg)
        if self.p.ema is None:
            return -bound.sum(), bound, None
        # MINE's bias correction: grad log E[e^T] = E[grad T e^T] / E[e^T], with the
        # denominator replaced by a moving average; the surrogate below has that gradient.
        ema = self.p.ema
        log_mean = torch.logsumexp(t_marg, -1) - math.log(t_marg.shape[-1])
        lm = log_mean.detach()
        new_ema = lm if log_ema is None else torch.logaddexp(log_ema + math.log1p(-ema), lm + math.log(ema))
        return -(t_joint.mean(-1) - torch.exp(log_mean - new_ema)).sum(), bound, new_ema

    def step(self) -> torch.Tensor:
        """One update of every member; returns the members' bounds on the batch, (K,)."""
        p, device, k = self.p, self.ctx.device, self.critic.members
        u, y = draw(self.sample, k, p.batch_size, self.data_gen, device, shared=p.ensemble_data == "shared")
        if self.objective is not None:
            with precision_scope(p.precision, device):
                surrogate, bound = self.objective(self.critic, u, y)
            loss = -surrogate.sum()
        else:
            perm = permutations(k, p.batch_size, self.perm_gen, device)
            loss, bound, self.log_ema = self._loss(u, y, perm, self.log_ema)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.steps_done += 1
        return bound.detach()

    def state_dict(self) -> dict[str, Any]:
        """Weights, Adam moments, random streams, EMA and trace: a loaded trainer steps on exactly as
        this one would."""
        return {
            "critic": self.critic.state_dict(),
            "opt": self.opt.state_dict(),
            "data_gen": self.data_gen.get_state(),
            "perm_gen": self.perm_gen.get_state(),
            "log_ema": self.log_ema,
            "trace": self.trace,
            "steps_done": self.steps_done,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.opt.load_state_dict(state["opt"])
        self.data_gen.set_state(state["data_gen"])
        self.perm_gen.set_state(state["perm_gen"])
        self.log_ema = None if state["log_ema"] is None else state["log_ema"].to(self.ctx.device)
        self.trace, self.steps_done = state["trace"], state["steps_done"]
