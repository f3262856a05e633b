"""The Donsker-Varadhan bound a critic maximises and reports, and the signature of any other
objective (InfoNCE, NWJ, ...) a plugin trains a critic with.

    I(X;Y) >= E_P[T(u,y)] - log E_{P_U x P_Y}[exp T(u,y)]          (DV bound)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .models import Critic


def dv_bound(t_joint: torch.Tensor, t_marg: torch.Tensor) -> torch.Tensor:
    """E_P[T] - log E_Q[e^T] along the last axis, with logsumexp for the second term."""
    return t_joint.mean(-1) - (torch.logsumexp(t_marg, -1) - math.log(t_marg.shape[-1]))


def dv_estimate_with_stderr(t_joint: torch.Tensor, t_marg: torch.Tensor) -> tuple[float, float]:
    """The DV bound on a large evaluation set (1-d) and its delta-method standard error."""
    m = t_joint.shape[0]
    w = torch.exp(t_marg - t_marg.max())  # e^T / e^max: the ratio is all the delta method needs
    var = t_joint.var() / m + w.var() / (m * w.mean() ** 2)
    return dv_bound(t_joint, t_marg).item(), math.sqrt(var.item())


#: (critic, u (K, n, d_u), y (K, n, d_y)) -> (what training maximises, the bound to report), each (K,).
#: The default objective is the DV bound on joint and shuffled pairs; plugins pass others (InfoNCE, NWJ).
Objective = Callable[["Critic", torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
