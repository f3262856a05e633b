"""AA-MINE, the paper's architecture-aware MINE (Sec. 4, App. A, C).

For I(X; F_i(X) + eps) the critic is T(x, z) = g([F_i(x), z]): it is told
the network's noise-free output F_i(x), with no gradient flowing back into
F_i.  That turns its task into "is z close to F_i(x) up to noise?", which it
can learn; plain MINE must learn F_i itself and saturates as the noise
shrinks (paper Fig. 2).

The paper feeds x to a frozen copy of layers 1..i kept in sync with the live
weights.  Here the task hands the critic F_i(x) from the same forward pass
that made z = F_i(x) + eps (``TaskInstance.sample_features``), under no_grad:
the same numbers as a synced copy, with F_i computed once per batch instead
of twice.  The critic's inputs are standardised after F_i (the protocol's standardisation sees
the pairs (F_i(x), z)).
"""

from __future__ import annotations

from ..api import Estimate, Estimator, NotApplicableError, RunContext, TaskInstance
from ..critics import CRITIC_BUDGETS, Critic, CriticMeter, CriticParams, train_critic


class AAMINEParams(CriticParams):
    pass


class AAMINE(Estimator):
    Params = AAMINEParams
    budgets = CRITIC_BUDGETS
    needs_channel = True
    label_estimator = "mine"  # the paper measures I(Y; L_i) with plain MINE

    def critic_for(self, task: TaskInstance, params: CriticParams, ctx: RunContext) -> Critic:
        """A critic on (F(x), z) pairs; train it with ``task.sample_features``."""
        if task.channel is None:
            raise NotApplicableError(
                "aa-mine needs a task whose y = F(x) + noise with a known network F "
                "(gaussian, gaussian-channel, mixture-channel, a network layer); use mine for this task"
            )
        signal, _ = task.sample_features(2, ctx.generator("aa-mine.signal-scale"))
        return Critic(signal.shape[1], task.y_dim, params)

    def estimate(self, task: TaskInstance, params: AAMINEParams, ctx: RunContext) -> Estimate:
        return train_critic(
            self.critic_for(task, params, ctx),
            task.sample_features,
            params,
            ctx,
            "aa-mine",
            n_pairs=task.n_pairs,
            ceiling=task.mi_ceiling,
        )

    def meter(self, task: TaskInstance, params: AAMINEParams, ctx: RunContext) -> CriticMeter:
        return CriticMeter(
            self.critic_for(task, params, ctx),
            task.sample_features,
            params,
            ctx,
            "aa-mine",
            n_pairs=task.n_pairs,
            ceiling=task.mi_ceiling,
        )
