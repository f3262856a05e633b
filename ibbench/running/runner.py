"""Turn a RunSpec into a RunRecord.

Bad input (unknown name, bad parameter) raises before anything runs.  A
scientific failure inside a plugin (NaN, divergence, an estimator that
raises) never escapes: it becomes a record with ``status="failed"`` and the
reason, the way bmi records a failed estimator, and a sweep goes on.
"""

from __future__ import annotations

import functools
import math
import random
import time
import traceback
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from pydantic import ValidationError

from ..api import Params, RunContext, check_finite
from ..api.probe import ProbeParams
from ..api.records import TrainingResult
from ..errors import DataError, DivergenceError, NotApplicableError, PluginError, SpecError
from ..store.cells import PARTS, CellKey
from ..store.fingerprint import source_fingerprint
from ..store.provenance import provenance
from ..store.results import ResultStore, RunRecord
from ..verdicts.reliability import run_check
from .checkpoints import CheckpointPolicy
from .plugins import Registry
from .progress import MIN_PHASE_S, phase_line
from .specs import DEFAULT_PREPROCESS, PluginSpec, RunSpec, TrainerSpec, describe_validation_error


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError("--device cuda: no CUDA device is visible to torch; use --device cpu or auto")
    return torch.device(name)


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (minGPT's set_seed)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class ProbeUnusedWarning(UserWarning):
    """A run named an estimator for the information plane and its trainer never used the probe."""


@dataclass
class ResolvedPlugin:
    kind: str
    name: str
    plugin: Any
    params: Params
    distribution: str


@dataclass
class ResolvedRun:
    spec: RunSpec
    task: ResolvedPlugin
    estimator: ResolvedPlugin | None
    trainer: ResolvedPlugin | None
    #: measures I(Y; L_i) in a training run whose estimator needs a channel (AA-MINE, mixture)
    label_estimator: ResolvedPlugin | None = None
    #: the half-sample fit behind the reliability verdict (``--set estimator.check=false``: skipped)
    check: bool = True
    #: the registry it was resolved with (``_older_spelling`` resolves an older key with it)
    registry: Registry | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return task_label(self.spec.task)


def task_label(task: PluginSpec) -> str:
    if not task.params:
        return task.name
    inner = ",".join(f"{k}={v}" for k, v in sorted(task.params.items()))
    return f"{task.name}[{inner}]"


def expanded_parts(resolved: ResolvedRun) -> dict[str, Any]:
    """Each part's name, distribution and validated parameters with the budget applied: the record's
    ``expanded`` field, and what its key is made of."""
    out: dict[str, Any] = {"budget": resolved.spec.budget}
    if resolved.spec.preprocess is not None:  # estimation runs: a different map is a different cell
        out["preprocess"] = resolved.spec.preprocess
    if resolved.estimator is not None and resolved.trainer is None and not resolved.check:
        out["reliability_check"] = False  # only when off: the cells of earlier stores keep their keys
    for key in PARTS:
        part = getattr(resolved, key)
        if part is not None:
            out[key] = {
                "name": part.name,
                "distribution": part.distribution,
                "params": part.params.model_dump(mode="json"),
            }
    return out


def cell_of(resolved: ResolvedRun) -> CellKey:
    """The cell a resolved spec will fill (defaults filled in, the budget applied): its suite cell, its
    record's key, its claim and snapshot."""
    return CellKey.of(expanded_parts(resolved), resolved.spec)


def _resolve_plugin(
    registry: Registry, kind: str, spec: PluginSpec | None, budget: str
) -> ResolvedPlugin | None:
    if spec is None:
        return None
    entry = registry.get(kind, spec.name)
    plugin = entry.load()
    try:
        params = plugin.params_for(budget, {**entry.defaults, **spec.params})
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, f"{kind} {spec.name!r}")) from None
    return ResolvedPlugin(kind, spec.name, plugin, params, entry.distribution)


def resolve(spec: RunSpec, registry: Registry) -> ResolvedRun:
    """Look every name up and validate every parameter; raises SpecError / UnknownNameError.

    A network task run with an estimator and no trainer trains with the task's
    default trainer (cross-entropy) and uses the estimator for its information
    plane; the spec is completed accordingly, so the record says so.
    """
    task = _resolve_plugin(registry, "task", spec.task, spec.budget)
    default_trainer = getattr(task.plugin, "default_trainer", None)
    if spec.trainer is not None and default_trainer is None:
        networks = ", ".join(
            n
            for n in registry.names("task")
            if getattr(registry.get("task", n).load(), "default_trainer", None)
        )
        raise SpecError(
            f"trainer {spec.trainer.name!r} needs a network task and task {spec.task.name!r} has no "
            f"network; use one of {networks}, or put ground-truth tasks in a run or suite "
            f"without trainers"
        )
    if spec.trainer is None and default_trainer is not None:
        if spec.preprocess is not None:
            raise SpecError(
                f"task {spec.task.name!r} trains a network ({default_trainer}); preprocess maps the pairs "
                f"of an estimation run, not a training run: drop it"
            )
        spec = spec.model_copy(update={"trainer": TrainerSpec(name=default_trainer)})
    if spec.trainer is None and spec.preprocess is None:  # the record names the map it ran with
        spec = spec.model_copy(update={"preprocess": DEFAULT_PREPROCESS})
    check, estimator_spec = _reliability_switch(spec.estimator)
    estimator = _resolve_plugin(registry, "estimator", estimator_spec, spec.budget)
    trainer = _resolve_plugin(registry, "trainer", spec.trainer, spec.budget)
    label = None
    if trainer is not None and estimator is not None and estimator.plugin.needs_channel:
        partner = estimator.plugin.label_estimator
        if partner is None:
            raise SpecError(
                f"estimator {estimator.name!r} needs a channel and names no label_estimator for the "
                f"information plane's I(Y; L_i); set its label_estimator class attribute to an estimator that needs no channel"
            )
        label = _resolve_plugin(registry, "estimator", PluginSpec(name=partner), spec.budget)
    return ResolvedRun(
        spec=spec,
        task=task,
        estimator=estimator,
        trainer=trainer,
        label_estimator=label,
        check=check and trainer is None,
        registry=registry,
    )


def _reliability_switch(spec: PluginSpec | None) -> tuple[bool, PluginSpec | None]:
    """``estimator.check`` (runner-level, not the estimator's own parameter) and the spec without it."""
    if spec is None or "check" not in spec.params:
        return True, spec
    value = spec.params["check"]
    if not isinstance(value, bool):
        raise SpecError(
            f"estimator.check must be true or false, not {value!r}: it turns the reliability check off"
        )
    params = {k: v for k, v in spec.params.items() if k != "check"}
    return value, spec.model_copy(update={"params": params})


def run_plugins(resolved: ResolvedRun) -> list[Any]:
    """The plugin classes a run executes: its task, estimator, trainer and label estimator."""
    parts = (resolved.task, resolved.estimator, resolved.trainer, resolved.label_estimator)
    return [part.plugin for part in parts if part is not None]


def make_probe(resolved: ResolvedRun, ctx: RunContext):
    """The information-plane probe a trainer calls, when the run names an estimator."""
    if resolved.estimator is None or resolved.trainer is None:
        return None
    from ..methods.infoplane import InfoPlaneProbe, MeasuringEstimator

    tp = resolved.trainer.params if isinstance(resolved.trainer.params, ProbeParams) else ProbeParams()
    steps = {"steps": tp.probe_first_steps, "refresh_steps": tp.probe_refresh_steps}

    def measuring(part: ResolvedPlugin | None):
        if part is None:
            return None
        fields = type(part.params).model_fields  # only critic estimators have these
        update = {k: v for k, v in steps.items() if v is not None and k in fields}
        return MeasuringEstimator(part.name, part.plugin, part.params.model_copy(update=update))

    return InfoPlaneProbe(
        measuring(resolved.estimator),
        measuring(resolved.label_estimator),
        ctx,
        n_points=tp.probe_points,
        truth=tp.probe_truth,
    )


def _failure_summary(exc: BaseException) -> tuple[str, list[str]]:
    reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return reason, [f"{f.filename}:{f.lineno} in {f.name}" for f in frames]


def _older_spelling(cell: CellKey, resolved: ResolvedRun):
    """Does a snapshot's stored key spell this cell as a RunSpec written before keys were canonical?
    (resolved with the registry this run was; None without one)"""
    registry = resolved.registry
    if registry is None:
        return None
    return functools.partial(cell.spelled_by, key_of=lambda spec: cell_of(resolve(spec, registry)))


def execute(
    resolved: ResolvedRun,
    *,
    show_progress: bool | str = False,
    checkpoints: CheckpointPolicy | None = None,
    bad_input_raises: bool = False,
) -> RunRecord:
    """Run one resolved spec; with ``checkpoints``, a trainer snapshots its state as it goes and a
    snapshot left by a killed run of the same spec is resumed (the record says from where).

    An estimator that cannot run on the task (NotApplicableError: AA-MINE without a known network)
    is a failed record in a sweep; with ``bad_input_raises`` (one run asked for on the command line)
    it is raised instead: bad input, not a result."""
    spec = resolved.spec
    device = resolve_device(spec.device)
    cell = cell_of(resolved)
    checkpoint = (
        checkpoints.checkpointer(cell, _older_spelling(cell, resolved)) if checkpoints is not None else None
    )
    ctx = RunContext(
        seed=spec.seed, device=device, budget=spec.budget, show_progress=show_progress, checkpoint=checkpoint
    )
    expanded = expanded_parts(resolved)
    # taken now: the commit, versions and source of the code this run executes, not of a tree edited
    # meanwhile (ibbench.store.fingerprint: what decides later whether today's code would reproduce it)
    origin = provenance(device)
    origin["source"] = source_fingerprint(run_plugins(resolved))
    fields: dict[str, Any] = {"extras": {}}
    status, error = "ok", None
    start = time.perf_counter()
    try:
        instance = _build_task(resolved, ctx, fields, start)
        if resolved.estimator is not None and resolved.trainer is None:
            _estimate(instance, resolved, ctx, fields)
        if resolved.trainer is not None:  # with an estimator, the estimator measures the information plane
            _train(instance, resolved, ctx, fields)
        fields["extras"] = plain_json(fields["extras"], "the run's extras")  # numpy / torch values included
    except (KeyboardInterrupt, DataError):
        raise  # Ctrl-C stops (resumably); missing or corrupt data is the user's to fix: a one-line error
    except SystemExit as exc:  # sys.exit() inside a plugin ends this cell, not the suite
        status, error = "failed", f"SystemExit: the plugin called sys.exit({exc.code!r})"
    except Exception as exc:  # a plugin failure is data, not a crash
        if bad_input_raises and isinstance(exc, NotApplicableError):
            raise
        status = "failed"
        error, frames = _failure_summary(exc)
        fields["extras"]["traceback"] = frames
        if getattr(exc, "extras", None):  # what a diverged estimator measured on the way (its curve)
            fields["extras"]["estimator"] = exc.extras
    if status == "failed":  # whatever the plugin left, the record is written
        fields["extras"] = plain_json(fields["extras"], "the run's extras", lenient=True)
    wall_time = time.perf_counter() - start
    if checkpoint is not None and checkpoint.resumed is not None:
        fields["extras"]["resumed"] = checkpoint.resumed  # where the killed run's snapshot left off
        wall_time += checkpoint.resumed["wall_time_before_s"]
    return RunRecord(
        id=uuid.uuid4().hex,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        status=status,
        error=error,
        spec=spec,
        task_label=resolved.label,
        expanded=expanded,
        device=str(device),
        provenance=origin,
        wall_time_s=round(wall_time, 4),
        **fields,
    )


def _build_task(resolved: ResolvedRun, ctx: RunContext, fields: dict[str, Any], start: float) -> Any:
    """The task instance, its description and (where it has one) its ground truth into ``fields``."""
    set_seed(resolved.spec.seed)
    instance = resolved.task.plugin.build(resolved.task.params, ctx)
    if ctx.show_progress == "lines" and time.perf_counter() - start >= MIN_PHASE_S:
        # after the build, not before: bad data found while building stays the only line on stderr
        phase_line(
            f"{resolved.label}: task built (data, ground truth) in {time.perf_counter() - start:.0f} s"
        )
    fields["extras"]["task"] = instance.describe()
    truth = instance.truth(ctx)
    if truth is not None:
        fields.update(truth=truth.value, truth_stderr=truth.stderr)
        if truth.extras:
            fields["extras"]["truth"] = truth.extras
    return instance


def _estimate(instance: Any, resolved: ResolvedRun, ctx: RunContext, fields: dict[str, Any]) -> None:
    """An estimation run: the estimate on the task as preprocessed, its data checks and reliability
    verdict (warned about) into ``fields``; a NaN or inf estimate raises DivergenceError."""
    set_seed(resolved.spec.seed)  # the estimate does not depend on how much randomness the truth used
    seen, fields["extras"]["preprocess"] = estimator_view(instance, resolved, ctx)
    data = getattr(seen, "data", None)  # a finite sample's checks (ibbench.verdicts.datachecks)
    if data is not None:
        fields["extras"]["data"] = data.record()
        for finding in data.findings:
            warn_reliability(resolved, finding.level, finding.text)
    est = resolved.estimator.plugin.estimate(seen, resolved.estimator.params, ctx)
    name = resolved.estimator.name
    check_finite(est.value, f"{name}'s estimate")  # a NaN or inf is a failed run, never ok
    if est.stderr is not None:
        check_finite(est.stderr, f"{name}'s standard error")
    fields.update(
        estimate=float(est.value), estimate_stderr=None if est.stderr is None else float(est.stderr)
    )
    fields["extras"]["estimator"] = est.extras
    # after the estimate: the half fit draws its own streams, the estimate is unchanged
    verdict = run_check(
        resolved.estimator.plugin, name, seen, resolved.estimator.params, est, ctx, data, resolved.check
    )
    fields["reliability"] = plain_json(verdict.record(), "the reliability verdict")
    for reason in verdict.reasons:
        if data is None or reason.code not in {f.code for f in data.findings}:
            warn_reliability(resolved, reason.level, reason.text)


def _train(instance: Any, resolved: ResolvedRun, ctx: RunContext, fields: dict[str, Any]) -> None:
    """A training run: the trainer's validated result into ``fields["training"]``, the information plane
    measured by the run's estimator where it names one; a net at chance raises (the record is kept)."""
    set_seed(resolved.spec.seed)
    probe = make_probe(resolved, ctx)
    result = resolved.trainer.plugin.train(instance, resolved.trainer.params, ctx, probe=probe)
    fields["extras"]["invalid_training_result"] = result  # kept, as plain JSON, only if it fails to validate
    fields["training"] = training_result(result, resolved.trainer.name)
    del fields["extras"]["invalid_training_result"]
    if probe is not None and fields["training"].info_plane is None:
        warnings.warn(
            f"trainer {resolved.trainer.name} never measured with the information-plane probe, so "
            "the record has none; call probe.measure(step) in its loop, or drop the estimator",
            ProbeUnusedWarning,
            stacklevel=3,
        )
    check_above_chance(fields["training"], instance, resolved.trainer.name)  # kept if it fails


class ReliabilityWarning(UserWarning):
    """A data check or the reliability verdict found something (``ibbench.verdicts.datachecks``, ``ibbench.verdicts.judgement``)."""


def warn_reliability(resolved: ResolvedRun, level: str, text: str) -> None:
    warnings.warn(
        f"{resolved.estimator.name} on {resolved.label}: {level}: {text}",
        ReliabilityWarning,
        stacklevel=4,  # execute's caller (warn_reliability, _estimate, execute)
    )


def estimator_view(instance, resolved: ResolvedRun, ctx: RunContext):
    """The task as the estimator sees it, through the run's preprocessing, and what the record says of
    it.  An estimator that uses a known channel y = F(x) + eps (AA-MINE, the mixture) gets the task as
    it is: a per-coordinate map of y would change the noise it relies on."""
    from ..methods.preprocess import Preprocessed

    method = resolved.spec.preprocess
    if resolved.estimator.plugin.needs_channel:
        return instance, {
            "method": "not applied",
            "asked": method,
            "why": f"{resolved.estimator.name} uses the task's channel y = F(x) + eps as it is",
        }
    view = Preprocessed(instance, method, ctx)
    return view, view.record()


def training_result(result: Any, trainer: str) -> TrainingResult:
    """A trainer's returned ``TrainingResult`` or dict, made plain JSON and validated; PluginError names
    a field that is missing or of the wrong type (the cell fails; its record keeps the result under
    ``extras["invalid_training_result"]``)."""
    if isinstance(result, TrainingResult):
        result = result.model_dump()
    if not isinstance(result, dict):
        raise PluginError(
            f"trainer {trainer} returned {type(result).__name__}, not a TrainingResult or a dict of its results"
        )
    try:
        return TrainingResult.model_validate(plain_json(result, f"{trainer}'s result"))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PluginError(
            f"trainer {trainer} returned an invalid result: {'.'.join(map(str, first['loc']))}: "
            f"{first['msg']} (see ibbench.api.TrainingResult)"
        ) from None


def check_above_chance(result: TrainingResult, instance: Any, trainer: str) -> None:
    """Raise DivergenceError when a trained net's test accuracy is no better than always answering
    the commonest test class (within 3 binomial standard errors): training diverged or did nothing."""
    data = getattr(instance, "data", None)
    if data is None or len(data.test_y) == 0:
        return
    counts = data.test_y.bincount()  # a torch tensor: no torch import here
    chance = float(counts.max()) / len(data.test_y)
    margin = 3 * math.sqrt(chance * (1 - chance) / len(data.test_y))
    if result.test_acc <= chance + margin:
        raise DivergenceError(
            f"{trainer} ended at chance: test accuracy {100 * result.test_acc:.2f} % against "
            f"{100 * chance:.2f} % for always answering the commonest class; training diverged "
            f"or did nothing (lower trainer.lr, or train longer)"
        )


def plain_json(value: Any, what: str, lenient: bool = False) -> Any:
    """``value`` with numpy and torch scalars and arrays, tuples and paths turned into JSON types
    (dict keys into strings); anything else that JSON cannot hold raises TypeError naming it, or
    with ``lenient`` (a failed run's record, which must be written) becomes its ``repr``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):  # numpy's float64 is one: stored as a plain float
        return float(value)
    if isinstance(value, dict):
        return {str(k): plain_json(v, f"{what}[{k!r}]", lenient) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v, what, lenient) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays, torch tensors
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        return plain_json(value.tolist(), what, lenient)
    if lenient:
        return repr(value)
    raise TypeError(
        f"{what} holds a {type(value).__name__}, which a JSON record cannot store; "
        f"return numbers, strings, lists or dicts"
    )


def crashed_record(resolved: ResolvedRun, error: str) -> RunRecord:
    """A failed record for a cell whose process died before it could report (killed, out of memory,
    ``os._exit`` in a plugin): what ran and why it has no result."""
    return RunRecord(
        id=uuid.uuid4().hex,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        status="failed",
        error=error,
        spec=resolved.spec,
        task_label=resolved.label,
        expanded=expanded_parts(resolved),
        device=resolved.spec.device,
        provenance=provenance(resolve_device("cpu")),
        wall_time_s=0.0,
    )


def store_record(store: ResultStore, record: RunRecord, checkpoints: CheckpointPolicy | None) -> None:
    """Append the record, then drop the cell's snapshot: from here on the record is what survives."""
    store.append(record)
    if checkpoints is not None:
        checkpoints.clear(CellKey.of_record(record))


def run(
    spec: RunSpec,
    registry: Registry,
    *,
    store: ResultStore | None = None,
    show_progress: bool | str = False,
    checkpoint_every_s: float | None = None,
    bad_input_raises: bool = False,
) -> RunRecord:
    """Resolve, execute and store one run; with a store and ``checkpoint_every_s``, training snapshots
    go next to the store and a killed run of the same spec resumes from its last one."""
    checkpoints = None
    if store is not None and checkpoint_every_s is not None:
        checkpoints = CheckpointPolicy.for_store(store.path, checkpoint_every_s)
    record = execute(
        resolve(spec, registry),
        show_progress=show_progress,
        checkpoints=checkpoints,
        bad_input_raises=bad_input_raises,
    )
    if store is not None:
        store_record(store, record, checkpoints)
    return record
