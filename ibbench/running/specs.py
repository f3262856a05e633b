"""Pydantic specs: what to run.  Unknown fields and bad values are errors naming the field.

A ``RunSpec`` is one cell (task + estimator and/or trainer + seed + budget +
device); a ``SuiteSpec`` is a grid of cells, loadable from TOML.  Plugin
parameters stay plain dicts here and are validated against each plugin's own
``Params`` model when the run is resolved (``ibbench.running.runner.resolve``).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..api import Budget
from ..errors import SpecError

Device = Literal["auto", "cpu", "cuda"]
Preprocess = Literal["robust", "standard", "none"]  # ibbench.methods.preprocess
#: the preprocessing of a run that names none; chosen by measurement on bmi's 40 tasks and the 20-d
#: staircase (results/README, "One route for the data")
DEFAULT_PREPROCESS: Preprocess = "robust"


# numpy's seeds are 32-bit: a larger seed would alias a smaller one (2**32 gave seed 0's numbers)
MAX_SEED = 2**32 - 1


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginSpec(_Spec):
    name: str = Field(min_length=1)  # a registered name, see `ibbench list`
    params: dict[str, Any] = Field(default_factory=dict)  # validated by the plugin's Params model


class TaskSpec(PluginSpec):
    """Which task to run and its parameters."""


class EstimatorSpec(PluginSpec):
    """Which MI estimator and its parameters."""


class TrainerSpec(PluginSpec):
    """Which trainer and its parameters (trainers arrive with the trainer issue)."""


class RunSpec(_Spec):
    task: TaskSpec
    estimator: EstimatorSpec | None = None
    trainer: TrainerSpec | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED)
    budget: Budget = (
        "quick"  # smoke: seconds (tests); quick: minutes on 2 CPU cores; paper: the paper's protocol
    )
    device: Device = "auto"
    # how an estimator's pairs are mapped per coordinate before it sees them, on every route
    # (ibbench.methods.preprocess); None: the default, filled in when the run is resolved.  Training runs take none
    preprocess: Preprocess | None = None

    @model_validator(mode="after")
    def _needs_work(self) -> RunSpec:
        if self.estimator is None and self.trainer is None:
            raise ValueError("a run needs an estimator, a trainer or both")
        if self.trainer is not None and self.preprocess is not None:
            raise ValueError(
                "preprocess maps an estimator's pairs; a training run has none to map (drop preprocess)"
            )
        return self


class TuneCheck(_Spec):
    """A one-factor check of a space's budget (``ibbench.sweeps.checks``): its selected setting with
    ``params`` changed (e.g. the paper's iteration count where the suite runs fewer), trained on
    ``seeds`` (evaluation seeds, so each pairs with the selected setting's own run) into the store's
    checks file, ``runs.checks.jsonl``."""

    params: dict[str, Any] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)


class TuneSpace(_Spec):
    """One trainer's search space: its fixed ``params`` and the ``grid`` of values searched (each key a
    parameter of the trainer, each value the list of values tried; the grid is their product); with
    ``check``, a one-factor check of its selected setting's budget."""

    trainer: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(min_length=1)
    check: TuneCheck | None = None

    @field_validator("grid")
    @classmethod
    def _values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [k for k, v in grid.items() if not v]
        if empty:
            raise ValueError(f"grid {', '.join(empty)}: give at least one value")
        return grid

    @model_validator(mode="after")
    def _apart(self) -> TuneSpace:
        both = sorted(set(self.params) & set(self.grid))
        if both:
            raise ValueError(f"{', '.join(both)} both fixed (params) and searched (grid): keep one")
        searched = sorted(set(self.check.params) & set(self.grid)) if self.check else []
        if searched:
            raise ValueError(
                f"check changes {', '.join(searched)}, which the selection sets: a check changes what the "
                f"space fixes (params), the selected values held"
            )
        return self


class TuneSpec(_Spec):
    """A fair tuning protocol (``ibbench.sweeps.tuning``): every trainer setting gets the same number of
    ``configurations``, each trained on the tuning ``seeds``; the one with the highest mean validation
    accuracy is selected and only then trained on the suite's evaluation seeds, whose test accuracy is
    the one reported."""

    configurations: int = Field(ge=1)
    seeds: list[int] = Field(min_length=1)
    metric: Literal["val_acc"] = "val_acc"  # the selection reads validation accuracy only
    spaces: list[TuneSpace] = Field(min_length=1)

    @model_validator(mode="after")
    def _budgets(self) -> TuneSpec:
        from math import prod

        small = [
            f"{s.trainer} has {prod(map(len, s.grid.values()))}"
            for s in self.spaces
            if prod(map(len, s.grid.values())) < self.configurations
        ]
        if small:
            raise ValueError(
                f"every trainer gets {self.configurations} configurations, but {'; '.join(small)}: widen its grid "
                f"or lower configurations"
            )
        return self


class SuiteSpec(_Spec):
    """A grid: every task x every estimator (x every trainer) x every seed; with ``tune``, the trainers
    of its spaces are tuned first (``ibbench.sweeps.tuning``) and their selected settings join the grid."""

    name: str = Field(min_length=1)
    description: str = ""
    tasks: list[TaskSpec] = Field(min_length=1)
    estimators: list[EstimatorSpec] = Field(default_factory=list)
    trainers: list[TrainerSpec] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    budget: Budget = "quick"
    device: Device = "auto"
    #: seconds a cell may run before it is stopped and stored as failed (``--cell-timeout`` overrides)
    cell_timeout: float | None = Field(None, gt=0)
    #: the estimators' preprocessing (ibbench.methods.preprocess); a list makes it an axis of the grid
    preprocess: list[Preprocess] | None = None
    #: tune these trainers on validation accuracy before the evaluation seeds run (ibbench.sweeps.tuning)
    tune: TuneSpec | None = None

    @field_validator("preprocess", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs_work(self) -> SuiteSpec:
        if not self.estimators and not self.trainers and self.tune is None:
            raise ValueError("a suite needs at least one estimator or trainer")
        if any(not 0 <= s <= MAX_SEED for s in self.seeds + (self.tune.seeds if self.tune else [])):
            raise ValueError(f"seeds must be integers in [0, {MAX_SEED}]")
        if self.tune is not None and set(self.tune.seeds) & set(self.seeds):
            shared = sorted(set(self.tune.seeds) & set(self.seeds))
            raise ValueError(
                f"tune.seeds and seeds share {shared}: a run that selected a setting cannot also report its "
                f"test accuracy; use other tuning seeds"
            )
        for space in self.tune.spaces if self.tune else []:
            unpaired = sorted(set(space.check.seeds) - set(self.seeds)) if space.check else []
            if unpaired:
                raise ValueError(
                    f"{space.trainer}'s check seeds {unpaired} are not among the suite's seeds: a check "
                    f"pairs each seed with the selected setting's run on it"
                )
        return self

    def cells(self) -> list[RunSpec]:
        """The grid's cells (a tuned trainer's cells come from ``ibbench.sweeps.tuning`` once it is selected)."""
        if not self.estimators and not self.trainers:
            return []
        estimators = self.estimators or [None]
        trainers = self.trainers or [None]
        return [
            RunSpec(
                task=t, estimator=e, trainer=tr, seed=s, budget=self.budget, device=self.device, preprocess=p
            )
            for t in self.tasks
            for tr in trainers
            for e in estimators
            for s in self.seeds
            for p in self.preprocess or [None]  # innermost: a partial store holds both arms of a cell
        ]


SHOWN_ERRORS = 4  # fields named in one error line; the rest are counted


def describe_validation_error(exc: ValidationError, where: str) -> str:
    """One line: ``where: field 'a.b': message (got value); field 'c': ...`` naming each wrong field
    (the first few, then ``(+N more)``), so two typos are both shown at once; a check of several fields
    together (no field to name) reads as its message.  A field with several errors (a union's
    alternatives) is named once, with its first."""
    errors, seen = [], set()
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"])
        if loc not in seen:
            seen.add(loc)
            errors.append((loc, error))
    parts = [_describe_one(loc, error) for loc, error in errors[:SHOWN_ERRORS]]
    more = f" (+{len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
    return f"{where}: {'; '.join(parts)}{more}"


def _describe_one(loc: str, error: dict[str, Any]) -> str:
    got = error.get("input")
    got_text = ""
    if error["type"] != "missing" and not isinstance(got, dict):
        text = repr(got)
        got_text = f" (got {text if len(text) <= 80 else text[:77] + '...'})"
    msg = error["msg"].replace("\n", " ")
    if not loc:  # a model validator: its message names the fields itself
        return msg.removeprefix("Value error, ")
    return f"field {loc!r}: {msg}{got_text}"


def read_toml(path: str | Path, what: str, missing_hint: str) -> Any:
    """The parsed TOML file ``what`` (e.g. "suite file") at ``path``; a one-line SpecError naming it for a
    missing (``missing_hint`` says what to do), unreadable, non-UTF-8 or invalid file."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{what} {path} not found; {missing_hint}") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{what} {path} is not UTF-8 text (byte {exc.start}); give a .toml file") from None
    except OSError as exc:
        raise SpecError(f"{what} {path} cannot be read ({exc.strerror}); give a .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{what} {path} is not valid TOML: {exc}".replace("\n", " ")) from None


def load_suite(path: str | Path) -> SuiteSpec:
    data = read_toml(path, "suite file", "give the path of a .toml suite (see suites/)")
    return suite_from_data(data, f"suite {path}")


def suite_from_data(data: Any, label: str) -> SuiteSpec:
    """Validate parsed suite data; a one-line SpecError naming every bad field (the first few) otherwise."""
    try:
        return SuiteSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, label)) from None


def parse_value(text: str) -> Any:
    """--set values: JSON where it parses (numbers, true, lists), else the raw string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(
    items: list[str], scopes: tuple[str, ...] = ("task", "estimator", "trainer"), command: str = ""
) -> dict[str, dict[str, Any]]:
    """``["task.dim=5", "estimator.hidden=64"]`` -> ``{"task": {"dim": 5}, "estimator": {...}}``, one
    dict per scope of ``scopes``; SpecError naming the scopes ``command`` takes for any other."""
    parsed: dict[str, dict[str, Any]] = {scope: {} for scope in scopes}
    for item in items:
        key, sep, value = item.partition("=")
        scope, dot, field = key.strip().partition(".")
        if not sep or not dot or not field or scope not in parsed:
            forms = ", ".join(f"{s}.FIELD=VALUE" for s in scopes[:-1])
            forms = f"{forms} or {scopes[-1]}.FIELD=VALUE" if forms else f"{scopes[-1]}.FIELD=VALUE"
            raise SpecError(f"--set {item!r}: {command + ' takes' if command else 'expected'} {forms}")
        parsed[scope][field] = parse_value(value.strip())
    return parsed
