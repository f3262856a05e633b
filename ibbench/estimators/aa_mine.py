"""AA-MINE, the paper's architecture-aware MINE (Sec. 4, App. A, C).

For I(X; F_i(X) + eps) the critic is T(x, z) = g([F_i'(x), z]) where F_i' is a
copy of the network's layers 1..i, kept in sync with the live weights and with
no gradient from the critic loss.  Telling the critic F_i turns its task into
"is z close to F_i(x) up to noise?", which it can learn; plain MINE must learn
F_i itself and saturates as the noise shrinks (paper Fig. 2).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..api import Estimate, Estimator, NotApplicableError, RunContext, TaskInstance
from .critics import CRITIC_BUDGETS, Critic, CriticMeter, CriticParams, train_critic


class FrozenCopy(nn.Module):
    """A gradient-free copy of a network, re-synced from the live one on demand."""

    def __init__(self, live: nn.Module) -> None:
        super().__init__()
        self.live = [live]  # a list: not registered as a submodule, so its parameters stay out
        self.copy = copy.deepcopy(live).requires_grad_(False).eval()

    @torch.no_grad()
    def sync(self) -> None:
        self.copy.load_state_dict(self.live[0].state_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.copy(x)


class AAMINEParams(CriticParams):
    pass


class AAMINE(Estimator):
    description = "AA-MINE: MINE whose critic sees F_i(x) through a frozen copy of layers 1..i"
    Params = AAMINEParams
    budgets = CRITIC_BUDGETS
    needs_channel = True

    def critic_for(self, task: TaskInstance, params: AAMINEParams, ctx: RunContext) -> tuple[Critic, FrozenCopy]:
        if task.channel is None:
            raise NotApplicableError(
                "aa-mine needs a task whose y = F(x) + noise with a known network F "
                "(gaussian, gaussian-channel, mixture-channel, a network layer); use mine for this task"
            )
        embed = FrozenCopy(task.channel.network)
        with torch.no_grad():
            probe, _ = task.sample(2, ctx.generator(stream=9))
            embed_dim = embed(probe.to(next(embed.parameters(), probe).device)).shape[1]
        return Critic(embed, embed_dim, task.y_dim, params), embed

    def estimate(self, task: TaskInstance, params: AAMINEParams, ctx: RunContext) -> Estimate:
        critic, _ = self.critic_for(task, params, ctx)
        return train_critic(critic, task.sample, params, ctx, "aa-mine")

    def meter(self, task: TaskInstance, params: AAMINEParams, ctx: RunContext) -> CriticMeter:
        critic, embed = self.critic_for(task, params, ctx)  # the copy is re-synced before each measurement
        return CriticMeter(critic, task.sample, params, ctx, "aa-mine", sync=embed.sync)
