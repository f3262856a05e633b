"""Your own data: pairs (x_i, y_i) from two arrays in .npy, .npz or .csv files, truth unknown.

``x`` and ``y`` are paths; ``file.npz:key`` picks an array from an .npz (a one-array .npz needs no
key).  A CSV is numbers separated by commas, one row per sample, with an optional header line.
1-d arrays are one feature; arrays of more dimensions are flattened per row.

``sample`` instead is one CSV in the layout of bmi's ``save_sample`` (benchmark-mi, Czyz et al.
2023): a header ``X0,...,X{dx-1},Y0,...,Y{dy-1}`` and one row per sample; columns go to X and Y by
name, ordered by their number, whatever their order in the file.

Precision: the pairs are held in float64 (``fixed_pairs``); the run's preprocessing
(``ibbench.methods.preprocess``, the same for every route a sample enters by) maps each column in float64 and
only then casts to the float32 the estimators see.  Casting first loses the signal: float32 has 24
bits, so x = 1.7e9 + t with t ~ N(0, 10^2) keeps nothing of t (the spacing of float32 numbers near
1.7e9 is 128), and 1e300 overflows to inf.

The task is a finite set of N pairs (``n_pairs = N``): ``sample(n)`` returns n distinct pairs for
n <= N (so k-NN estimators see no duplicate points) and raises ``DataError`` beyond.
"""

from __future__ import annotations

import csv
import hashlib
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import model_validator

from ..api import Params, RunContext, Task, TaskInstance
from ..errors import DataError


class ArraysParams(Params):
    x: str | None = None  # path to X: .npy, .npz[:key] or .csv
    y: str | None = None  # path to Y, same row order as X
    sample: str | None = None  # instead of x and y: one CSV in bmi's save_sample layout (X0,...,Y0,...)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, values: Any) -> Any:
        if isinstance(values, dict) and "robust" in values:
            raise ValueError(
                "task.robust is gone: the preprocessing is the run's, the same on every route; "
                "use --preprocess robust|standard|none"
            )
        return values

    @model_validator(mode="after")
    def _check(self) -> ArraysParams:
        if self.sample is not None and (self.x is not None or self.y is not None):
            raise ValueError("give x and y (two files) or sample (one bmi CSV), not both")
        if self.sample is None and (self.x is None or self.y is None):
            raise ValueError(
                "give both x and y (two files), or sample (one bmi CSV with columns X0,...,Y0,...)"
            )
        return self


FORMAT_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}  # a .npz is a zip archive


def load_array(spec: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The array a path (or ``file.npz:key``) names, as (rows, features) float64, with a description for
    the record.  Raises DataError for a missing or unreadable file, a 0-d, complex, object or non-numeric
    array, fewer than 2 rows, and NaN, inf or values beyond the float64 range."""
    path_text, _, key = spec.partition(":") if ".npz:" in spec else (spec, "", "")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise DataError(f"array file {path} not found; give a .npy, .npz or .csv path")
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(6)
    if suffix in FORMAT_MAGIC and not head.startswith(FORMAT_MAGIC[suffix]):  # else np.load tries pickle
        raise DataError(
            f"{path} is not a {suffix} file (it does not start with {suffix}'s signature); "
            f"save it with np.save / np.savez, or give a .csv"
        )
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if not key:
                    if len(names) != 1:
                        raise DataError(
                            f"{path} holds {len(names)} arrays ({', '.join(names)}); pick one as {path}:NAME"
                        )
                    key = names[0]
                if key not in names:
                    raise DataError(f"{path} has no array {key!r}; it holds {', '.join(names)}")
                array = archive[key]
        elif suffix == ".csv":
            array = _load_csv(path)
        else:
            raise DataError(f"{path}: unknown array format {suffix!r}; use .npy, .npz or .csv")
    except DataError:
        raise
    except (ValueError, OSError, EOFError) as exc:  # truncated or not an array file
        if "pickled data" in str(exc) or "Object arrays" in str(exc):  # np.load(allow_pickle=False)
            raise DataError(
                f"{spec}: an array of Python objects, not numbers; save a numeric array "
                f"(e.g. np.save(path, a.astype(float)))"
            ) from None
        raise DataError(f"{path} is not a readable {suffix} array ({exc}); re-export it") from None
    rows = _as_rows(array, spec)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return rows, {"path": str(path), "key": key or None, "shape": list(rows.shape), "sha256": digest}


def _as_rows(array: np.ndarray, spec: str) -> np.ndarray:
    """A numeric array as finite float64 (rows, features); DataError naming ``spec`` otherwise."""
    if np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(
            f"{spec}: an array of complex numbers; give the real and imaginary parts as separate columns"
        )
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise DataError(
            f"{spec}: an array of {array.dtype}, not numbers; save numbers (e.g. a.astype(float))"
        )
    if array.ndim == 0:
        raise DataError(f"{spec}: a single number (a 0-d array); give one row per sample")
    if array.shape[0] < 2 or array.size == 0:
        raise DataError(f"{spec}: shape {array.shape} has fewer than 2 samples or no features")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int((~np.isfinite(array.reshape(array.shape[0], -1))).any(axis=1).sum())
        raise DataError(f"{spec}: {bad} rows hold NaN or inf; drop or impute them first")
    with np.errstate(over="ignore"):  # a float128 beyond the float64 range: inf, reported below
        rows = np.asarray(array, dtype=np.float64)
    rows = rows.reshape(-1, 1) if rows.ndim == 1 else rows.reshape(rows.shape[0], -1)
    if rows.shape[0] < 2 or rows.shape[1] == 0:
        raise DataError(f"{spec}: shape {rows.shape} has fewer than 2 samples or no features")
    if not np.isfinite(rows).all():
        raise DataError(f"{spec}: values beyond the float64 range (about 1.8e308); rescale them first")
    return rows


def too_many_pairs(n: int, rows: int, name: str) -> DataError:
    """The error for asking a finite set of ``rows`` pairs (from file ``name``) for n of them."""
    return DataError(f"asked for {n} pairs but {name} has {rows} rows; drop n_samples or give at most {rows}")


def _load_csv(path: Path) -> np.ndarray:
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    try:
        [float(v) for v in first.strip().split(",") if v.strip()]
        skip = 0
    except ValueError:
        skip = 1  # a header line
    return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)


BMI_LAYOUT = "bmi's save_sample layout: a header X0,...,X{dx-1},Y0,...,Y{dy-1} and one row per sample"
BMI_COLUMN = re.compile(r"([XY])(\d+)")


def _check_numbering(path: Path, side: str, columns: list[tuple[int, int, str]]) -> None:
    """DataError unless the ``side`` columns (sorted by number) are numbered 0, 1, ..., n-1 once each:
    a gap (X0,X2) or a number written twice (X1,X01) means a column was lost or mislabelled."""
    numbers = [number for number, *_ in columns]
    twice = next((n for n, m in zip(numbers, numbers[1:], strict=False) if n == m), None)
    if twice is not None:
        same = [name for number, _, name in columns if number == twice]
        raise DataError(
            f"{path}: columns {same[0]!r} and {same[1]!r} are both {side}{twice}; give each {side} column "
            f"one number, {side}0 to {side}{len(columns) - 1} ({BMI_LAYOUT})"
        )
    missing = next((n for n in range(len(numbers)) if n not in numbers), None)
    if missing is not None:
        raise DataError(
            f"{path}: column {side}{missing} is missing ({side} columns are "
            f"{', '.join(name for *_, name in columns)}); number the {side} columns {side}0 to "
            f"{side}{len(columns) - 1} without a gap, as bmi.utils.save_sample writes them"
        )


def load_sample(spec: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """X and Y of one CSV in bmi's layout (``bmi.utils.save_sample``), as float64 (rows, features), and a
    description for the record: the file's path, shape and sha256, and which columns went to X and Y.

    Columns named ``X<int>`` are X and ``Y<int>`` are Y, each ordered by its integer (not by the file's
    order).  Raises DataError for a missing or unreadable file, a column of neither kind, no X or no Y
    column, a repeated name or number, a gap in the numbering (X0,X2), and the checks of ``load_array``
    on the numbers."""
    path = Path(spec).expanduser()
    if not path.is_file():
        raise DataError(f"sample file {path} not found; give a CSV in {BMI_LAYOUT}")
    names = _read_header(path)
    columns = _bmi_columns(path, names)
    rows = _as_rows(_read_numbers(path, len(names)), spec)
    x = rows[:, [i for _, i, _ in columns["X"]]]
    y = rows[:, [i for _, i, _ in columns["Y"]]]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return (
        x,
        y,
        {
            "path": str(path),
            "layout": "bmi",
            "shape": list(rows.shape),
            "sha256": digest,
            "x_columns": [name for *_, name in columns["X"]],
            "y_columns": [name for *_, name in columns["Y"]],
        },
    )


def _read_header(path: Path) -> list[str]:
    """The CSV's column names (stripped); DataError for an unreadable, empty or header-less file."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        raise DataError(
            f"{path} is not a text CSV; give a CSV in {BMI_LAYOUT} (bmi.utils.save_sample)"
        ) from None
    except (OSError, csv.Error) as exc:
        raise DataError(f"{path} is not a readable CSV ({exc}); give a CSV in {BMI_LAYOUT}") from None
    if not header:
        raise DataError(f"{path} is empty or has an empty first line; give a CSV in {BMI_LAYOUT}")
    names = [name.strip() for name in header]
    if all(_is_number(name) for name in names):
        raise DataError(
            f"{path} has no header line; --sample needs {BMI_LAYOUT} "
            f"(or give X and Y as two files with --x/--y)"
        )
    return names


def _bmi_columns(path: Path, names: list[str]) -> dict[str, list[tuple[int, int, str]]]:
    """{"X": [(number, file column, name), ...], "Y": [...]}, each side ordered by its number;
    DataError for a column of neither kind, a repeated name, a side without columns or a gap."""
    columns: dict[str, list[tuple[int, int, str]]] = {"X": [], "Y": []}
    for i, name in enumerate(names):
        match = BMI_COLUMN.fullmatch(name)
        if match is None:
            what = (
                f"column {i + 1} has no name (a pandas index? save with index=False)"
                if not name
                else f"column {name!r} is neither X<int> nor Y<int>"
            )
            raise DataError(f"{path}: {what}; --sample needs {BMI_LAYOUT}")
        columns[match.group(1)].append((int(match.group(2)), i, name))
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{path}: column {twice[0]!r} appears more than once; --sample needs {BMI_LAYOUT}")
    for side in ("X", "Y"):
        if not columns[side]:
            raise DataError(
                f"{path} has no {side} column ({side}0, {side}1, ...); --sample needs {BMI_LAYOUT}"
            )
        columns[side].sort()
        _check_numbering(path, side, columns[side])
    return columns


def _read_numbers(path: Path, width: int) -> np.ndarray:
    """The numbers below the header, (rows, ``width``); DataError for text, a ragged file or < 2 rows."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": _as_rows says so
            array = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (ValueError, OSError) as exc:
        # numpy's own hint (usecols) does not apply
        why = " ".join(str(exc).split(";")[0].split()).rstrip(".")
        raise DataError(
            f"{path} is not a CSV of numbers below its header ({why}); re-export it with "
            f"bmi.utils.save_sample (numbers only, no missing values)"
        ) from None
    if array.shape[0] < 2:
        raise DataError(f"{path} holds {array.shape[0]} rows below its header; give at least 2 samples")
    if array.shape[1] != width:
        raise DataError(
            f"{path}: the header names {width} columns but the rows hold {array.shape[1]}; "
            f"re-export it with bmi.utils.save_sample"
        )
    return array


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ArraysInstance(TaskInstance):
    """The N pairs of two files (or of one bmi CSV), held in float64; estimators see them through the
    run's preprocessing (``ibbench.methods.preprocess.Preprocessed``)."""

    def __init__(self, p: ArraysParams) -> None:
        if p.sample is not None:
            x, y, self.sample_source = load_sample(p.sample)
            self.sources = {"sample": self.sample_source}
            self.x_name = Path(p.sample).name  # what the error for too many pairs calls the data
        else:
            x, self.x_source = load_array(p.x)
            y, self.y_source = load_array(p.y)
            if x.shape[0] != y.shape[0]:
                raise DataError(
                    f"x has {x.shape[0]} rows but y has {y.shape[0]}; the i-th rows must be a pair"
                )
            self.sources = {"x": self.x_source, "y": self.y_source}
            self.x_name = Path(p.x).name
        self.n_pairs, self.x_dim, self.y_dim = x.shape[0], x.shape[1], y.shape[1]
        self.x64, self.y64 = x, y

    def fixed_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every pair in the files' row order, float64 (N, x_dim), (N, y_dim)."""
        return self.x64, self.y64

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n distinct pairs as float32 (n, x_dim), (n, y_dim), cast without a map (the runner's
        preprocessing maps them first); DataError for n > n_pairs."""
        if n > self.n_pairs:
            raise too_many_pairs(n, self.n_pairs, self.x_name)
        idx = torch.randperm(self.n_pairs, generator=generator)[:n].numpy()
        return torch.from_numpy(self.x64[idx]).float(), torch.from_numpy(self.y64[idx]).float()

    def describe(self) -> dict[str, Any]:
        return {**self.sources, "pairs": self.n_pairs}


class Arrays(Task):
    Params = ArraysParams

    def build(self, params: ArraysParams, ctx: RunContext) -> ArraysInstance:
        return ArraysInstance(params)
