"""A network's training loss that is NaN or inf fails the run, naming the step and what to lower."""

from __future__ import annotations

import torch

from ..api import check_finite

NET_DIVERGED = "training diverged; lower the learning rate (trainer.lr) or the IB coefficients"


def check_loss(loss: torch.Tensor, step: int, what: str = "training loss") -> float:
    return check_finite(loss.item(), f"{what} at step {step}", hint=NET_DIVERGED)
