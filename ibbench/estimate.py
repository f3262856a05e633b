"""Estimating I(X; Y) of your own pairs: the one route behind ``ibbench estimate`` and ``ibbench.estimate_mi``.

Both build the same run spec on the ``arrays`` task (``ibbench.tasks.arrays``), validate it the same
way, map the pairs through the same preprocessing (``ibbench.methods.preprocess``) and run the same
estimator through ``ibbench.running.runner.execute``.  ``estimate_mi`` takes arrays in memory (numpy, torch,
pandas, nested lists): it checks them with the arrays task's own checks, writes them as float64
``.npy`` files (lossless: the task holds its pairs in float64 anyway) and hands the files to
``estimate_files``, so a sample gives the same estimate, to the last digit, whichever way it enters
(``tests/test_python_api.py`` checks it for every estimator).
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, IbbenchError
from .store.results import ResultStore, RunRecord


@dataclass(frozen=True)
class Result:
    """One run's outcome, read from its record (``.record``, the same ``RunRecord`` the command line
    stores).  Estimates are in nats; ``None`` where the run has none (a training run, a failed run)."""

    record: RunRecord

    @property
    def ok(self) -> bool:
        return self.record.status == "ok"

    @property
    def estimate(self) -> float | None:
        """The held-out estimate of I(X; Y), nats."""
        return self.record.estimate

    @property
    def stderr(self) -> float | None:
        """Its standard error, nats."""
        return self.record.estimate_stderr

    @property
    def truth(self) -> float | None:
        """The true MI where the task knows it (nats), else None."""
        return self.record.truth

    @property
    def converged(self) -> bool | None:
        """Whether a critic's training reached its held-out plateau (None: no critic, e.g. KSG)."""
        return self.record.extras.get("estimator", {}).get("converged")

    @property
    def reliability(self) -> str | None:
        """The estimate's verdict: "ok", "caution" or "unreliable" (``ibbench.verdicts.judgement``; the reasons
        are in ``record.reliability["reasons"]``), None where the check did not run."""
        return (self.record.reliability or {}).get("verdict")

    @property
    def error(self) -> str | None:
        """Why the run failed (one line), None if it did not."""
        return self.record.error

    def __str__(self) -> str:
        if not self.ok:
            return f"FAILED: {self.record.error}"
        if self.estimate is None:
            acc = self.record.training.test_acc if self.record.training else None
            return f"{self.record.task_label}: test accuracy {100 * acc:.2f} %" if acc is not None else "ok"
        se = f" ± {self.stderr:.4f}" if self.stderr is not None else ""
        verdict = f", reliability {self.reliability}" if self.reliability else ""
        return f"I(X;Y) = {self.estimate:.4f}{se} nats{verdict}"


@contextlib.contextmanager
def warnings_at_caller(rename: tuple[str, str] | None = None) -> Iterator[None]:
    """Re-issue the warnings raised inside (reliability, data checks) as if from the first line outside
    ibbench that led here, so Python shows the user's line, not ibbench's internals; each is filtered,
    shown or raised by the user's warning filters as usual.  ``rename`` = (old, new) replaces a label
    in their text (the temporary files' names of in-memory arrays)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        message = w.message
        if rename is not None and rename[0] in str(message):
            message = w.category(str(message).replace(*rename))
        warnings.warn_explicit(message, w.category, *_caller())


def _caller() -> tuple[str, int]:
    import sys

    package, frame = str(Path(__file__).parent), sys._getframe(1)
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(package) or frame.f_code.co_filename == contextlib.__file__
    ):
        frame = frame.f_back
    return frame.f_code.co_filename, frame.f_lineno


def run_spec(**fields: Any):
    """A ``RunSpec`` of these fields; a field pydantic refuses is a one-line ``SpecError``, as on the
    command line."""
    from pydantic import ValidationError

    from .errors import SpecError
    from .running.specs import RunSpec, describe_validation_error

    try:
        return RunSpec(**fields)
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, "run")) from None


def estimate_files(
    files: dict[str, str],
    estimator: str,
    params: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    budget: str = "quick",
    device: str = "auto",
    preprocess: str | None = None,
    threads: int | None = None,
    show_progress: bool = True,
    store: ResultStore | None = None,
    confirm: Callable[[Any], None] | None = None,
    label: str | None = None,
) -> RunRecord:
    """Estimate I(X; Y) of the pairs in ``files`` ({"x": path, "y": path} or {"sample": bmi CSV}) with
    ``estimator`` (its ``params`` validated by the plugin) and return the record, also appended to
    ``store`` when given.  ``confirm(resolved_run)`` is called before any work (the command line asks
    there before a run of the paper's budget).  ``label``: for pairs written to temporary files, the
    record's ``task_label``; the files' paths are then replaced by "(in memory)" throughout the record
    (its spec, expanded spec and data description, which keeps each array's shape and sha256).

    Raises ``SpecError`` / ``DataError`` (``IbbenchError``) for an unknown estimator, a bad parameter,
    unreadable or invalid arrays and ``n_samples`` above the number of rows, before any estimator work.
    """
    from .running.plugins import load_registry
    from .running.runner import execute, resolve, store_record
    from .running.specs import EstimatorSpec, TaskSpec
    from .running.threads import use_threads
    from .tasks.arrays import load_array, load_sample, too_many_pairs

    params = dict(params or {})
    spec = run_spec(
        task=TaskSpec(name="arrays", params=files),
        estimator=EstimatorSpec(name=estimator, params=params),
        seed=seed,
        budget=budget,
        device=device,
        preprocess=preprocess,
    )
    if store is not None:
        store.check_writable()  # before any work: a result that cannot be stored is not run
    resolved = resolve(spec, load_registry())  # validated parameters, before any work
    if confirm is not None:
        confirm(resolved)
    use_threads(threads)
    asked = getattr(resolved.estimator.params, "n_samples", None)
    if "n_samples" in params and asked is not None:
        data = files.get("sample") or files["x"]
        rows = (load_sample(data) if "sample" in files else load_array(data))[0].shape[0]
        if asked > rows:
            raise too_many_pairs(asked, rows, Path(data).name)
    record = execute(resolved, show_progress=show_progress, bad_input_raises=True)
    if label is not None:  # in-memory pairs: the label names them, and no temporary path is kept
        record = _forget_paths(record, files, label)
    if store is not None:
        store_record(store, record, None)
    return record


def _forget_paths(record: RunRecord, files: dict[str, str], label: str) -> RunRecord:
    """``record`` with every occurrence of the ``files``' paths replaced by "(in memory)" and ``label``
    as its task label."""
    import json

    text = record.model_dump_json()
    for path in files.values():
        text = text.replace(json.dumps(path)[1:-1], "(in memory)")  # the path as JSON spells it
    return RunRecord.model_validate_json(text).model_copy(update={"task_label": label})


def as_rows(values: Any, name: str) -> np.ndarray:
    """``values`` (a numpy array, torch tensor, pandas Series or DataFrame, or nested lists) as finite
    float64 (rows, features), by the arrays task's own checks; DataError naming ``name`` otherwise."""
    from .tasks.arrays import _as_rows

    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        values = values.detach().cpu().numpy()
    elif hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    try:
        array = np.asarray(values)
    except ValueError as exc:  # ragged nested lists
        raise DataError(f"{name}: not a rectangular array ({exc}); give one row per sample") from None
    return _as_rows(array, name)


def _columns(data: Any, names: Any, side: str) -> Any:
    """The columns ``names`` (one name or a list) of DataFrame ``data``, with an error naming the missing."""
    wanted = [names] if isinstance(names, str) else list(names)
    missing = [n for n in wanted if n not in data.columns]
    if missing:
        raise IbbenchError(
            f"{side}: no column {missing[0]!r} in the DataFrame (it has {', '.join(map(str, data.columns))})"
        )
    return data[wanted]


def estimate_mi(
    x: Any = None,
    y: Any = None,
    estimator: str = "ksg",
    *,
    data: Any = None,
    budget: str = "quick",
    seed: int = 0,
    preprocess: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    store: str | Path | None = None,
    progress: bool = True,
    **params: Any,
) -> Result:
    """Estimate I(X; Y) in nats from paired samples, by the route of ``ibbench estimate``.

    x, y: (n, d_x) and (n, d_y) samples, row i of each a pair (1-d: one feature; more dimensions are
    flattened per row) as numpy arrays, torch tensors, pandas objects or nested lists; or, with
    ``data`` a pandas DataFrame, the column name (or list of names) of each side.  ``estimator``: a
    name from ``ibbench list`` (e.g. "ksg", "mine", "infonce"); ``params``: its parameters (as
    ``--set estimator.F=V``).  ``budget``, ``seed``, ``preprocess`` ("robust", "standard" or "none"; None: the default, robust),
    ``device``, ``threads``: as on the command line.  ``store``: also append the record to this JSON
    Lines file.  ``progress``: tqdm bars (False: silent).

    Returns a ``Result``: ``.estimate``, ``.stderr``, ``.converged``, ``.reliability``, ``.record``.
    A run that fails while estimating (e.g. NaN in a critic's training) returns a Result with
    ``ok`` False and ``error`` set; bad input raises ``IbbenchError`` (``SpecError``, ``DataError``)
    with a one-line message before any work.

        >>> r = np.random.default_rng(0); x = r.normal(size=(2000, 2))
        >>> estimate_mi(x, x + r.normal(size=(2000, 2)), "ksg", progress=False).estimate  # truth log 2
    """
    if data is not None:
        if not hasattr(data, "columns"):
            raise IbbenchError("data= takes a pandas DataFrame; give x and y as arrays otherwise")
        if x is None or y is None:
            raise IbbenchError("with data=DataFrame, name the columns: x='a' (or a list), y=['b', 'c']")
        x, y = _columns(data, x, "x"), _columns(data, y, "y")
    elif x is None or y is None:
        raise IbbenchError("estimate_mi needs both x and y (arrays), or data=DataFrame with column names")
    xs, ys = as_rows(x, "x"), as_rows(y, "y")
    if xs.shape[0] != ys.shape[0]:
        raise DataError(f"x has {xs.shape[0]} rows but y has {ys.shape[0]}; the i-th rows must be a pair")
    from .running.runner import task_label
    from .running.specs import TaskSpec

    label = f"arrays[in memory: x {_shape(xs)}, y {_shape(ys)}]"  # not the temporary files' paths
    with tempfile.TemporaryDirectory(prefix="ibbench-arrays-") as folder:
        files = {side: str(Path(folder) / f"{side}.npy") for side in ("x", "y")}
        np.save(files["x"], xs), np.save(files["y"], ys)
        with warnings_at_caller(rename=(task_label(TaskSpec(name="arrays", params=files)), label)):
            record = estimate_files(
                files,
                estimator,
                params,
                seed=seed,
                budget=budget,
                device=device,
                preprocess=preprocess,
                threads=threads,
                show_progress=progress,
                store=ResultStore(store) if store is not None else None,
                label=label,
            )
    return Result(record)


def run(
    task: str,
    *,
    estimator: str | None = None,
    trainer: str | None = None,
    seed: int = 0,
    budget: str = "quick",
    device: str = "auto",
    preprocess: str | None = None,
    task_params: dict[str, Any] | None = None,
    estimator_params: dict[str, Any] | None = None,
    trainer_params: dict[str, Any] | None = None,
    threads: int | None = None,
    store: str | Path | None = None,
    progress: bool = True,
) -> Result:
    """One cell, as ``ibbench run``: ``task`` (with its ``task_params``) x ``estimator`` and/or ``trainer``
    (names from ``ibbench list``, with their parameters), seed, budget, device, the preprocessing of an
    estimation run.  Returns a ``Result`` (``.estimate``, ``.truth``, ``.record.training``, ...), the
    record also appended to ``store`` when given.  Raises ``IbbenchError`` for an unknown name, a bad
    parameter or missing data before any work; a run that fails while running returns ``ok`` False."""
    from .running.plugins import load_registry
    from .running.runner import run as run_cell
    from .running.specs import EstimatorSpec, TaskSpec, TrainerSpec
    from .running.threads import use_threads

    if estimator is None and trainer is None:
        raise IbbenchError("name an estimator (estimator='ksg') or a trainer (trainer='ce'), or both")
    spec = run_spec(
        task=TaskSpec(name=task, params=task_params or {}),
        estimator=EstimatorSpec(name=estimator, params=estimator_params or {}) if estimator else None,
        trainer=TrainerSpec(name=trainer, params=trainer_params or {}) if trainer else None,
        seed=seed,
        budget=budget,
        device=device,
        preprocess=preprocess,
    )
    target = ResultStore(store) if store is not None else None
    if target is not None:
        target.check_writable()
    use_threads(threads)
    with warnings_at_caller():
        record = run_cell(spec, load_registry(), store=target, show_progress=progress, bad_input_raises=True)
    return Result(record)


def _shape(rows: np.ndarray) -> str:
    return f"({rows.shape[0]} x {rows.shape[1]})"


__all__: Sequence[str] = ["Result", "estimate_files", "estimate_mi", "run"]
