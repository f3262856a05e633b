"""The budgets and the base of every plugin's parameter model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Budget = Literal["smoke", "quick", "paper"]
BUDGETS: tuple[str, ...] = ("smoke", "quick", "paper")


class Params(BaseModel):
    """Base of every plugin's parameter model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
