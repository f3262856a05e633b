"""The public plugin API of ibbench: every contract between the core and a plugin, in one package.

- ``plugins``: what a task, an estimator, a trainer and an executor are (``Task``, ``Estimator``,
  ``Trainer``, ``Executor``, ``Meter``), their parameter model ``Params`` and budgets;
- ``context``: what the runner hands a plugin (``RunContext``: seed, device, named random streams,
  progress, checkpoints);
- ``data``: a built task (``TaskInstance``) and the structure it may reveal (``Channel``);
- ``values``: what tasks and estimators answer (``Truth``, ``Estimate``, in nats; ``check_finite``);
- ``classification``: what a trainer is handed (``ClassificationInstance``, ``ClassificationData``);
- ``probe``: the information-plane ``Probe`` a trainer calls;
- ``reliability``: what an estimator declares for the verdict rules (``ReliabilityTraits``);
- ``records``: what a trainer returns (``TrainingResult``), the ``training`` part of a run record.

Built-in and third-party plugins import from here alike (``ibbench.running.hookspecs`` holds the registration
hooks).  What plugins are built from lives in two public toolkits: ``ibbench.critics`` (critic networks,
bounds, training and the estimation protocol) and ``ibbench.training`` (batches, model selection,
accuracy, checkpoints of a network trainer).  Importing this package imports neither, nor torch: the
torch-backed ``ClassificationInstance`` and ``ClassificationData`` load on first use.

A *task* is a seeded sampler of pairs (x, y) plus, where known, the true mutual information I(X;Y) in
nats.  An *estimator* turns a task instance into an estimate in nats.  Every plugin's parameters are its
own pydantic model, with per-budget overrides, so ``--set estimator.hidden=512`` is validated with a
message that names the field.
"""

from __future__ import annotations

from typing import Any

from ..errors import DivergenceError, NotApplicableError
from .context import TASK_SAMPLE_STREAM, RunContext
from .data import Channel, TaskInstance
from .plugins import (
    BUDGETS,
    Budget,
    Estimator,
    Executor,
    Meter,
    Params,
    RestartingMeter,
    Task,
    Trainer,
    hookimpl,
)
from .probe import Probe, ProbeParams
from .records import TrainingResult
from .reliability import ReliabilityTraits
from .values import Estimate, Truth, check_finite

__all__ = [
    "BUDGETS",
    "TASK_SAMPLE_STREAM",
    "Budget",
    "Channel",
    "ClassificationData",
    "ClassificationInstance",
    "DivergenceError",
    "Estimate",
    "Estimator",
    "Executor",
    "Meter",
    "NotApplicableError",
    "Params",
    "Probe",
    "ProbeParams",
    "ReliabilityTraits",
    "RestartingMeter",
    "RunContext",
    "Task",
    "TaskInstance",
    "Trainer",
    "TrainingResult",
    "Truth",
    "check_finite",
    "hookimpl",
]

_LAZY = {"ClassificationData", "ClassificationInstance"}  # torch-backed: loaded on first use


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import classification

        return getattr(classification, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
