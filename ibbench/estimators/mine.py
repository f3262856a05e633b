"""MINE (Belghazi et al. 2018): a DV critic on the concatenation [x, y], estimated by the protocol
of ``ibbench.critics.protocol`` (held-out pairs, standardised inputs, training to a plateau)."""

from __future__ import annotations

from ..api import Estimate, Estimator, RunContext, TaskInstance
from ..critics import CRITIC_BUDGETS, Critic, CriticMeter, CriticParams, train_critic


class MINEParams(CriticParams):
    pass


class MINE(Estimator):
    description = "MINE: Donsker-Varadhan bound, MLP critic on [x, y] (optional EMA-corrected gradient)"
    Params = MINEParams
    budgets = CRITIC_BUDGETS

    def estimate(self, task: TaskInstance, params: MINEParams, ctx: RunContext) -> Estimate:
        critic = Critic(task.x_dim, task.y_dim, params)
        return train_critic(
            critic, task.sample, params, ctx, "mine", n_pairs=task.n_pairs, ceiling=task.mi_ceiling
        )

    def meter(self, task: TaskInstance, params: MINEParams, ctx: RunContext) -> CriticMeter:
        return CriticMeter(
            Critic(task.x_dim, task.y_dim, params),
            task.sample,
            params,
            ctx,
            "mine",
            n_pairs=task.n_pairs,
            ceiling=task.mi_ceiling,
        )
