"""The plugin contracts: what a task, an estimator, a trainer and an executor are, and the parameter
model every plugin's settings validate against (``ibbench.api.params.Params``, with per-budget presets)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import pluggy

from .context import RunContext
from .data import TaskInstance
from .params import BUDGETS, Budget, Params
from .reliability import ReliabilityTraits
from .values import Estimate

if TYPE_CHECKING:
    from .classification import ClassificationInstance
    from .probe import Probe
    from .records import TrainingResult

hookimpl = pluggy.HookimplMarker("ibbench")

__all__ = [
    "BUDGETS",
    "Budget",
    "Estimator",
    "Executor",
    "Meter",
    "Params",
    "RestartingMeter",
    "Task",
    "Trainer",
    "hookimpl",
]


class _Plugin(ABC):  # noqa: B024 (its subclasses declare the abstract methods)
    """Shared by tasks, estimators and trainers: a parameter model and budget presets."""

    Params: ClassVar[type[Params]] = Params
    #: budget name -> parameter overrides; what ``--budget`` expands to
    budgets: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def params_for(cls, budget: str, overrides: dict[str, Any] | None = None) -> Params:
        """Defaults, then the budget's preset, then the user's overrides; validated."""
        values = dict(cls.budgets.get(budget, {}))
        values.update(overrides or {})
        return cls.Params(**values)


class Task(_Plugin):
    """A family of ground-truth (or real-data) problems, configured by ``Params``."""

    #: a network task (one with a net to train) names the trainer ``ibbench run --estimator E`` uses;
    #: a task without one takes no trainer, and naming one for it is a spec error
    default_trainer: ClassVar[str | None] = None

    @abstractmethod
    def build(self, params: Params, ctx: RunContext) -> TaskInstance:
        """Make the task instance for these parameters and this run's seed."""

    @classmethod
    def closed_form_truth(cls, params: Params) -> float | None:
        """I(X;Y) in nats of the task these parameters define, where a closed form gives it without
        building the task (no data, no sampling); None otherwise.  ``ibbench list`` shows it."""
        return None


class Meter(ABC):
    """Re-estimates I(X;Y) of a task whose distribution drifts (a layer in training), call after call."""

    @abstractmethod
    def measure(self) -> Estimate:
        """The estimate for the task as it is now."""

    def state_dict(self) -> dict[str, Any]:
        """What the meter carries from one measurement to the next (a warm critic), for checkpoints.
        Stateless meters keep the default; one that carries state must override both methods, or a
        resumed training run measures differently from an uninterrupted one."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional: stateless meters keep it)
        """Restore what ``state_dict`` returned."""


class RestartingMeter(Meter):
    """The default meter: a fresh ``estimate`` every time (right for KSG, binning, the mixture)."""

    def __init__(self, estimator: Estimator, task: TaskInstance, params: Params, ctx: RunContext) -> None:
        self.estimator, self.task, self.params, self.ctx = estimator, task, params, ctx

    def measure(self) -> Estimate:
        return self.estimator.estimate(self.task, self.params, self.ctx)


class Estimator(_Plugin):
    """A mutual-information estimator, in nats."""

    #: True when the estimator needs ``task.channel`` (y = F(x) + known noise)
    needs_channel: ClassVar[bool] = False
    #: a channel estimator's partner for the information plane's I(Y; L_i), which has no channel:
    #: the registered name of an estimator that needs none (AA-MINE and the mixture name MINE, as the
    #: paper measures I(Y; L_i)); required where ``needs_channel``
    label_estimator: ClassVar[str | None] = None
    #: what the verdict rules need to know of how it reads (``ibbench.verdicts.judgement``)
    reliability: ClassVar[ReliabilityTraits] = ReliabilityTraits()

    @abstractmethod
    def estimate(self, task: TaskInstance, params: Params, ctx: RunContext) -> Estimate:
        """Estimate I(X;Y) of the task; raise DivergenceError on NaN/inf, NotApplicableError
        when the task lacks what the estimator needs."""

    def meter(self, task: TaskInstance, params: Params, ctx: RunContext) -> Meter:
        """A meter for repeated estimates while ``task`` drifts; critic-based estimators override
        this to warm-start their critic from the previous measurement."""
        return RestartingMeter(self, task, params, ctx)


class Trainer(_Plugin):
    """Trains a task's network (cross-entropy, IB, ...) and reports accuracy and information planes."""

    @abstractmethod
    def train(
        self, task: ClassificationInstance, params: Params, ctx: RunContext, probe: Probe | None = None
    ) -> TrainingResult | dict[str, Any]:
        """Train ``task``'s network and return its numbers: a ``TrainingResult`` (``test_acc`` required;
        the fields tables read are typed there, other fields are kept), or a dict that validates as one.
        ``probe``, when the run names an estimator, measures the information plane: ``probe.attach``
        the net before training, ``probe.measure(step)`` during it, and put ``probe.result()`` under
        ``info_plane``."""


class Executor(_Plugin):
    """Runs suite cells: this process, a process pool, a cluster.  Cells and records are plain JSON
    data; ``ibbench.executors.cells.run_cell`` turns one into the other wherever the cell lands."""

    @abstractmethod
    def map(self, cells: list[dict[str, Any]], params: Params):
        """Yield (index into ``cells``, record data) as each cell finishes, in any order."""
