"""Scoring a critic on held-out pairs: each member's bound and standard error, an ensemble's
combined value, and the check that fails a value no MI can have."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..api import DivergenceError, RunContext
from .bounds import Objective, dv_estimate_with_stderr
from .models import Critic
from .pairs import Pairs
from .params import CriticParams
from .training import permutations, precision_scope

DIVERGED_TOLERANCE = 0.05  # nats: how far below 0 (or above a ceiling) a held-out bound may sit by chance
# nats: the most three standard errors may widen that tolerance.  A bound far below 0 with a standard
# error as large is no chance reading but a blown-up e^T term: NWJ on Student-t pairs (bmi's
# student-identity tasks) stored -2.6e12 +- 2.6e12 nats as a success when the slack was 3 se alone
MAX_SLACK = 0.3


@torch.no_grad()
def heldout_bound(
    critic: Critic,
    pairs: Pairs,
    p: CriticParams,
    ctx: RunContext,
    perm_stream: str,
    objective: Objective | None = None,
) -> list[tuple[float, float]]:
    """Each member's bound and standard error on the held-out pairs u (m, d_u), y (m, d_y).

    DV: the joint pairs and, in chunks of ``batch_size``, shuffled pairs of the same chunk; the
    delta-method standard error.  A batch-level bound (InfoNCE, NWJ, SMILE): its mean over the set's
    batches of min(batch_size, m / 2) pairs (the batch size is part of such a bound) and the
    standard error of that mean.
    """
    k, device = critic.members, ctx.device
    u, y = (t.to(device).float() for t in pairs)
    m = u.shape[0]

    def expand(t: torch.Tensor) -> torch.Tensor:  # every member sees the same pairs
        return t.unsqueeze(0).expand(k, -1, -1)

    perm_gen = ctx.generator(perm_stream)
    if objective is None:
        joints, margs = [], []
        for start in range(0, m, p.batch_size):
            n = min(p.batch_size, m - start)
            if n < 2:
                break
            uc, yc = expand(u[start : start + n]), expand(y[start : start + n])
            with precision_scope(p.precision, device):
                tj, tm = critic.joint_and_marginal(uc, yc, permutations(k, n, perm_gen, device))
            joints.append(tj)
            margs.append(tm)
        tj, tm = torch.cat(joints, 1).double(), torch.cat(margs, 1).double()
        return [dv_estimate_with_stderr(tj[i], tm[i]) for i in range(k)]
    b = eval_batch_size(m, p)
    values = []
    for start in range(0, m - b + 1, b):
        with precision_scope(p.precision, device):
            values.append(
                objective(critic, expand(u[start : start + b]), expand(y[start : start + b]))[1].double()
            )
    v = torch.stack(values, 1)  # (K, batches)
    batches = v.shape[1]
    se = v.std(1) / math.sqrt(batches) if batches > 1 else torch.full((k,), float("nan"), dtype=torch.float64)
    return [(v[i].mean().item(), se[i].item()) for i in range(k)]


def eval_batch_size(m: int, p: CriticParams) -> int:
    """The batch size of a batch-level bound on m held-out pairs: the training batch, or m / 2 when
    the set is smaller (two batches at least, for a standard error)."""
    return max(2, min(p.batch_size, m // 2))


def combine(members: list[tuple[float, float]]) -> tuple[float, float]:
    """One member: its value and standard error.  K members: their mean, and the standard error of
    that mean from their spread."""
    if len(members) == 1:
        return members[0]
    values = torch.tensor([v for v, _ in members], dtype=torch.float64)
    return values.mean().item(), (values.std() / math.sqrt(len(members))).item()


def check_possible(
    value: float, se: float | None, ceiling: float | None, name: str, extras: dict[str, Any] | None = None
) -> None:
    """Raise DivergenceError("diverged: ...") for a held-out bound no MI can have: below 0, or above the
    ceiling, by more than max(DIVERGED_TOLERANCE, 3 se) capped at MAX_SLACK nats."""
    noise = 3 * se if se is not None and math.isfinite(se) else 0.0
    slack = min(max(DIVERGED_TOLERANCE, noise), MAX_SLACK)
    if value < -slack:
        raise DivergenceError(
            f"diverged: {name}'s held-out bound is {value:.4g} nats, below 0 by more than "
            f"{slack:.3g}: the critic is worse than a constant on held-out pairs (it diverged, "
            f"or overfit its training pairs); lower the learning rate or evaluate more often "
            f"(eval_every)",
            extras=extras,
        )
    if ceiling is not None and value > ceiling + slack:
        raise DivergenceError(
            f"diverged: {name}'s held-out bound is {value:.4g} nats, above the ceiling "
            f"{ceiling:.4g} (log of the support size); lower the learning rate",
            extras=extras,
        )
