"""The bounds, written against ibbench's public interface (``ibbench.api``) and critic toolkit
(``ibbench.critics``).

For a batch of n pairs the critic scores every (x_i, y_j): S = (K, n, n), the diagonal holding the
joint pairs and the n(n-1) off-diagonal entries standing in for the product of marginals.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import Field

from ibbench.api import Estimate, Estimator, ReliabilityTraits, RunContext, TaskInstance
from ibbench.critics import CRITIC_BUDGETS, Critic, CriticParams, SeparableCritic, train_critic

# n^2 pairs per step: half the DV critics' batch keeps a step's cost near theirs times n/2
BUDGETS = {name: {**preset, "batch_size": 128} for name, preset in CRITIC_BUDGETS.items()}


def _diag_and_off(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The diagonal (K, n) and the off-diagonal entries (K, n(n-1)) of (K, n, n) scores."""
    k, n, _ = scores.shape
    off = ~torch.eye(n, dtype=torch.bool, device=scores.device)
    return scores.diagonal(dim1=1, dim2=2), scores[:, off]


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """mean_i [S_ii - logsumexp_j S_ij + log n], (K,)."""
    n = scores.shape[-1]
    return (scores.diagonal(dim1=1, dim2=2) - torch.logsumexp(scores, dim=2)).mean(1) + math.log(n)


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """mean_i S_ii - mean_{i != j} e^{S_ij - 1}, (K,)."""
    joint, marg = _diag_and_off(scores)
    return joint.mean(1) - torch.exp(marg - 1.0).mean(1)


def js_fgan(scores: torch.Tensor) -> torch.Tensor:
    """The Jensen-Shannon f-GAN objective E_P[-softplus(-S)] - E_Q[softplus(S)] (Poole et al.)."""
    joint, marg = _diag_and_off(scores)
    return -torch.nn.functional.softplus(-joint).mean(1) - torch.nn.functional.softplus(marg).mean(1)


def smile(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """mean_i S_ii - log mean_{i != j} e^{clip(S_ij, -tau, tau)}, (K,)."""
    joint, marg = _diag_and_off(scores)
    clipped = marg.clamp(-tau, tau)
    return joint.mean(1) - (torch.logsumexp(clipped, 1) - math.log(clipped.shape[1]))


class VariationalParams(CriticParams):
    # "concat": T(x, y) = g([x, y]), the MINE-style joint MLP, run on all n^2 pairs; "separable":
    # T(x, y) = f(x) . g(y) (Poole et al. 2019), all n^2 scores in one matmul
    critic: Literal["concat", "separable"] = "concat"
    embed: int = Field(32, ge=1)  # separable: the dimension of f(x) and g(y)


class SeparableByDefaultParams(VariationalParams):
    # the default where it was measured not to cost bias: on the 20-d staircase (3 seeds, quick) InfoNCE
    # read the same with either critic at 1/17 of the time, SMILE came closer to the truth; NWJ lost
    # 0.4-3 nats from 4 nats up with it and keeps "concat" (results/README.md, bias/variational-separable)
    critic: Literal["concat", "separable"] = "separable"


class InfoNCEParams(SeparableByDefaultParams):
    pass


class SMILEParams(SeparableByDefaultParams):
    clip: float = Field(5.0, gt=0)  # tau: e^T clipped to [e^-tau, e^tau] in the marginal term


class _AllPairsBound(Estimator):
    """Scores all n^2 pairs of a batch; subclasses give the bound to report and, where training
    should follow another objective (SMILE), the one to maximise."""

    Params: ClassVar = VariationalParams
    budgets: ClassVar = BUDGETS
    name: ClassVar[str] = ""
    # InfoNCE and NWJ are lower bounds on I(X;Y) for every critic; SMILE's clipping of e^T breaks that
    # (Song & Ermon, ICLR 2020, trade this bias for bounded variance), so its estimate may exceed the truth.
    lower_bound: ClassVar[bool] = True

    def bound(self, scores: torch.Tensor, params) -> torch.Tensor:
        raise NotImplementedError

    def training_objective(self, scores: torch.Tensor, params) -> torch.Tensor:
        return self.bound(scores, params)

    def estimate(self, task: TaskInstance, params, ctx: RunContext) -> Estimate:
        def objective(critic, u, y):
            scores = critic.scores(u, y)
            return self.training_objective(scores, params), self.bound(scores, params)

        critic = (
            SeparableCritic(task.x_dim, task.y_dim, params, params.embed)
            if params.critic == "separable"
            else Critic(task.x_dim, task.y_dim, params)
        )
        est = train_critic(
            critic,
            task.sample,
            params,
            ctx,
            self.name,
            objective=objective,
            n_pairs=task.n_pairs,
            ceiling=self.ceiling(task, params),
        )
        est.extras["lower_bound"] = self.lower_bound
        return est

    def ceiling(self, task: TaskInstance, params) -> float | None:
        """A known upper bound on the estimate (nats): the task's, where it has one."""
        return task.mi_ceiling


class InfoNCE(_AllPairsBound):
    Params: ClassVar = InfoNCEParams
    name: ClassVar[str] = "infonce"
    reliability: ClassVar = ReliabilityTraits(
        label="InfoNCE",
        ceiling=(
            "eval_batch_size",
            "InfoNCE reads at most log b = {ceiling:.2f} nats (batch {n}) and this is {value:.2f}: the truth may be "
            "far above; raise estimator.batch_size or use smile",
        ),
    )

    def bound(self, scores, params):
        return infonce(scores)

    def ceiling(self, task: TaskInstance, params) -> float | None:
        """InfoNCE on a batch of n pairs is at most log n (held-out batches are never larger)."""
        cap = math.log(params.batch_size)
        return cap if task.mi_ceiling is None else min(cap, task.mi_ceiling)


class NWJ(_AllPairsBound):
    name: ClassVar[str] = "nwj"

    def bound(self, scores, params):
        return nwj(scores)


class SMILE(_AllPairsBound):
    Params: ClassVar = SMILEParams
    name: ClassVar[str] = "smile"
    lower_bound: ClassVar[bool] = False
    # a clipped DV estimate: it reads low unless the clip cuts off a heavy tail (Song & Ermon 2020)
    reliability: ClassVar = ReliabilityTraits(interval="lower reading")

    def bound(self, scores, params):
        return smile(scores, params.clip)

    def training_objective(self, scores, params):
        return js_fgan(scores)
