"""What tasks and estimators answer: a ``Truth`` and an ``Estimate`` (nats), and the check that an
answer is a number."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import DivergenceError


@dataclass(frozen=True)
class Truth:
    """The true MI in nats; ``stderr`` > 0 when it is itself a Monte-Carlo figure."""

    value: float
    stderr: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    """An estimator's answer in nats, with its standard error where it has one."""

    value: float
    stderr: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def check_finite(
    value: float,
    what: str,
    hint: str = "no finite answer: a trained estimator diverged (lower its learning rate) or "
    "the input has none (check for constant or degenerate columns)",
) -> float:
    """Raise DivergenceError naming ``what`` (and what to do) when value is NaN or inf."""
    if not math.isfinite(value):
        raise DivergenceError(f"{what} is {value}: {hint}")
    return value
