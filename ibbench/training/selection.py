"""Model selection on the validation split: the test accuracy at the best validation accuracy."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .metrics import accuracy


class Selection:
    """Model selection on the validation split: the test accuracy at the best validation accuracy.

    Ties go to the later evaluation (more training).  Without a validation
    split the final evaluation is selected.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None

    def evaluate(
        self, model: nn.Module, data, device: torch.device, step: int, **tags: Any
    ) -> dict[str, Any]:
        point = {
            "step": step,
            **tags,
            "val_acc": accuracy(model, data.val_x, data.val_y, device),
            "test_acc": accuracy(model, data.test_x, data.test_y, device),
        }
        self.history.append(point)
        val = point["val_acc"]
        if self.best is None or math.isnan(val) or val >= self.best["val_acc"]:
            self.best = point
        return point

    def state_dict(self) -> dict[str, Any]:
        best = next((i for i, point in enumerate(self.history) if point is self.best), None)
        return {"history": self.history, "best": best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self.best = None if state["best"] is None else self.history[state["best"]]

    def summary(self) -> dict[str, Any]:
        assert self.history, "evaluate at least once"
        final = self.history[-1]
        return {
            "test_acc": self.best["test_acc"],
            "val_acc": self.best["val_acc"],
            "selected_step": self.best["step"],
            "test_acc_final": final["test_acc"],
            "val_acc_final": final["val_acc"],
            "evals": self.history,
        }
