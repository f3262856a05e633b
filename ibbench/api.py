"""The public plugin API of ibbench: what a task, an estimator and a trainer are.

Built-in plugins and third-party plugins import the interface from this module, so both
travel the same path (see ``ibbench.hookspecs`` for the registration hooks).  What plugins are
built from lives in two public toolkits: ``ibbench.critics`` (the critic networks, bounds and
training, and the estimation protocol of every critic estimate) and ``ibbench.training`` (batches,
model selection, accuracy, checkpoints of a network trainer).  This module imports neither, nor torch.

A *task* is a seeded sampler of pairs (x, y) plus, where known, the true mutual
information I(X;Y) in nats.  An *estimator* turns a task instance into an
estimate in nats.  Every plugin's parameters are its own pydantic model, with
per-budget overrides, so ``--set estimator.hidden=512`` is validated with a
message that names the field.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pluggy
from pydantic import BaseModel, ConfigDict

from .errors import DivergenceError, NotApplicableError

if TYPE_CHECKING:  # torch is heavy: imported where it is used
    import torch

hookimpl = pluggy.HookimplMarker("ibbench")

Budget = Literal["smoke", "quick", "paper"]
BUDGETS: tuple[str, ...] = ("smoke", "quick", "paper")

__all__ = [
    "BUDGETS",
    "Budget",
    "Channel",
    "DivergenceError",
    "Estimate",
    "Estimator",
    "Executor",
    "Meter",
    "NotApplicableError",
    "Params",
    "RestartingMeter",
    "RunContext",
    "Task",
    "TaskInstance",
    "Trainer",
    "Truth",
    "check_finite",
    "hookimpl",
]


class Params(BaseModel):
    """Base of every plugin's parameter model: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


@dataclass
class Channel:
    """Z = F(X) + eps with eps ~ N(0, noise_std^2 I): the structure a task may reveal.

    AA-MINE passes x through (a frozen copy of) ``network``; the known-noise
    mixture estimator uses ``network`` and ``noise_std``.  ``support`` is the
    finite set X is uniform over, when there is one.
    """

    network: torch.nn.Module
    noise_std: float
    support: torch.Tensor | None = None


#: the stream estimators draw a task's pairs from (``RunContext.generator``): at one seed, every estimator
#: that samples the task sees the same pairs
TASK_SAMPLE_STREAM = "task.sample"


@dataclass
class RunContext:
    """What a plugin needs from the runner: seed, device, budget, progress bars, checkpoints."""

    seed: int
    device: torch.device
    budget: str = "quick"
    show_progress: bool | str = False  # True: tqdm bars; "lines": a short line per phase on stderr
    #: an ``ibbench.checkpoints.Checkpointer`` when the runner keeps snapshots of this run (suites do)
    checkpoint: Any = None
    #: the names this context was derived by (``child``), a prefix of every stream it draws
    namespace: str = ""

    def child(self, name: str, *, show_progress: bool | str | None = None) -> RunContext:
        """A context for one part of the run (a critic, a meter): the same seed, device and budget, no
        checkpoints, and random streams of its own, independent of every other name's."""
        progress = self.show_progress if show_progress is None else show_progress
        return RunContext(self.seed, self.device, self.budget, progress, None, f"{self.namespace}{name}/")

    def resume_state(self) -> dict[str, Any] | None:
        """The state a trainer last passed to ``save_state`` in a run of this spec that was killed, or None.

        Restore every part from it, then call ``ibbench.checkpoints.restore_global_rng(state["rng"])``
        last (building the parts draws from the global RNG)."""
        return self.checkpoint.load() if self.checkpoint is not None else None

    def save_state(self, progress: dict[str, Any], make_state) -> None:
        """Offer a snapshot at the end of a training step: ``make_state()`` (tensors, state dicts, plain
        data) is called and written only when one is due.  ``progress`` (e.g. {"step": 120}) goes in
        the record of a resumed run."""
        if self.checkpoint is not None:
            self.checkpoint.offer(progress, make_state)

    def generator(self, stream: str | int) -> torch.Generator:
        """A CPU generator for the random stream named ``stream`` (e.g. ``"beyond-normal.pairs"``; an
        int is the name ``str(stream)``) in this context's namespace: same seed -> same numbers.

        numpy's ``SeedSequence`` keyed by the run seed and the full name's bytes makes the streams of
        any two names independent.  Two parts that should see the same draws (CE and IB trainers their
        minibatches, estimators a task's pairs) share a name on purpose (``TASK_SAMPLE_STREAM``)."""
        import numpy as np
        import torch

        key = tuple(f"{self.namespace}{stream}".encode())
        words = np.random.SeedSequence(self.seed, spawn_key=key).generate_state(2, np.uint32)
        g = torch.Generator(device="cpu")
        g.manual_seed((int(words[0]) << 31) ^ int(words[1]))  # < 2**63: any torch seed
        return g

    def progress(self, total: int, desc: str, initial: int = 0):
        """A tqdm bar where the runner asked for bars (a terminal, not --quiet), rate-limited phase lines
        on stderr where it asked for "lines" (not a terminal), else silent (``ibbench.progress``)."""
        from .progress import progress

        return progress(total, desc, initial, self.show_progress)


class TaskInstance(ABC):
    """A built task: draws samples, knows its truth where it can."""

    x_dim: int
    y_dim: int
    channel: Channel | None = None
    #: a task that *is* a fixed, finite set of pairs (your arrays) says how many; ``sample(n)`` then
    #: returns n distinct pairs for n <= n_pairs and raises ``DataError`` beyond.  Estimators use every
    #: pair when not told otherwise, and critic estimators split them into training and held-out pairs.
    #: None: a sampler, whose fresh draws play the held-out role.
    n_pairs: int | None = None
    #: a known upper bound on I(X;Y) in nats, when there is one: log N for X uniform over N points,
    #: log C for labels of C classes.  A held-out estimate above it is impossible and fails as diverged
    mi_ceiling: float | None = None

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n i.i.d. pairs (x, y) as float32 tensors of shape (n, x_dim), (n, y_dim), on the CPU or
        on the run's device."""

    def sample_features(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """For a task with a channel, n pairs (F(x), y) with y = F(x) + eps: the noise-free signal
        beside the noisy one (what AA-MINE's critic sees), as (n, F's width), (n, y_dim) tensors.

        The default runs ``channel.network`` on the x of ``sample``, without gradients; tasks
        that compute F(x) while sampling override it so F(x) is computed once.
        """
        import torch

        if self.channel is None:
            raise NotApplicableError(
                f"{type(self).__name__} has no channel y = F(x) + noise to sample F(x) from"
            )
        x, y = self.sample(n, generator)
        net = self.channel.network
        device = next(net.parameters(), x).device
        with torch.no_grad():
            return net(x.to(device)).flatten(1), y

    def truth(self, ctx: RunContext) -> Truth | None:
        """The true I(X;Y) in nats, or None where unknown."""
        return None

    def describe(self) -> dict[str, Any]:
        """Facts worth recording with a result (data source, closed-form parameters)."""
        return {}

    def fixed_pairs(self):
        """A finite task's ``n_pairs`` pairs in their stored order, as float64 numpy arrays of shape
        (n_pairs, x_dim), (n_pairs, y_dim): what ``ibbench.preprocess`` fits its map on.  ValueError
        for a sampler.

        The default takes ``sample(n_pairs)`` under a fixed seed, in float32; a task that holds its
        pairs in more precision (your arrays) or in an order of its own returns them itself."""
        import torch

        if self.n_pairs is None:
            raise ValueError(f"{type(self).__name__} is a sampler (n_pairs is None): it has no fixed pairs")
        x, y = self.sample(self.n_pairs, torch.Generator(device="cpu").manual_seed(0))
        return x.detach().cpu().double().numpy(), y.detach().cpu().double().numpy()


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
    def train(self, task: TaskInstance, params: Params, ctx: RunContext, probe: Any = None) -> dict[str, Any]:
        """Train and return the measured numbers as a dict that validates as
        ``ibbench.training_result.TrainingResult`` (``test_acc`` required; the fields tables read are
        typed there; other keys are kept).  ``probe``, when the run names an estimator, is an
        ``ibbench.infoplane.InfoPlaneProbe`` to call during training; put ``probe.result()`` under
        ``info_plane``."""


class Executor(_Plugin):
    """Runs suite cells: this process, a process pool, a cluster.  Cells and records are plain JSON
    data; ``ibbench.executors.cells.run_cell`` turns one into the other wherever the cell lands."""

    @abstractmethod
    def map(self, cells: list[dict[str, Any]], params: Params):
        """Yield (index into ``cells``, record data) as each cell finishes, in any order."""


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
