"""Your own data: pairs (x_i, y_i) from two arrays in .npy, .npz or .csv files, truth unknown.

``x`` and ``y`` are paths; ``file.npz:key`` picks an array from an .npz (a one-array .npz needs no
key).  A CSV is numbers separated by commas, one row per sample, with an optional header line.
1-d arrays are one feature; arrays of more dimensions are flattened per row.

``sample`` instead is one CSV in the layout of bmi's ``save_sample`` (benchmark-mi, Czyz et al.
2023): a header ``X0,...,X{dx-1},Y0,...,Y{dy-1}`` and one row per sample; columns go to X and Y by
name, ordered by their number, whatever their order in the file.

Precision: each column is centred and scaled in float64 on the whole file, and only then cast to the
float32 the estimators see.
Casting first loses the signal: float32 has 24 bits, so x = 1.7e9 + t with t ~ N(0, 10^2) keeps
nothing of t (the spacing of float32 numbers near 1.7e9 is 128), and 1e300 overflows to inf.  MI is
invariant under per-coordinate affine maps, so standardising does not change the target.

Outliers (``robust``, the default): each raw column is centred on its median, scaled by its
interquartile range and given doubly logarithmic asinh tails, so a few extreme values, even 1e300, cannot squeeze every
other value into a point (the kind of fault binning's robust edges fix for binning); ``robust=False``
centres by the mean and divides by the std instead.  Both maps are invertible per coordinate: the MI
is unchanged.

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

TAIL = 4.0  # robust standard deviations where the asinh tails take over


class ArraysParams(Params):
    x: str | None = None  # path to X: .npy, .npz[:key] or .csv
    y: str | None = None  # path to Y, same row order as X
    sample: str | None = None  # instead of x and y: one CSV in bmi's save_sample layout (X0,...,Y0,...)
    # centre each raw column on its median (float64), scale it by its
    # interquartile range / 1.349 and soften its tails (TAIL * asinh(asinh(z / TAIL))): one value of 1e6
    # among N(0, 1) data otherwise inflates the std ~14000-fold and squeezes every other value to 0
    # for KSG's neighbours and a critic's inputs alike (MINE 0.81 -> 0.00, KSG 0.82 -> 0.005 nats).
    # Both maps are invertible per coordinate, so the MI is unchanged.  False: mean and std only
    robust: bool = True

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


def standardise(a: np.ndarray) -> tuple[np.ndarray, list[float], list[float | None]]:
    """Each column of a (n, d) float64 array centred by its mean and divided by its std, in float64.

    Returns the standardised (n, d) float64 array and the column means and stds used (std 0: a
    constant column, only centred; None: a std beyond the float64 range, for values near 1.8e308).
    Each column is first divided by a power of two at least its largest magnitude (exact, no
    rounding), so the sums and squares behind the mean and std cannot overflow, even for 1e300.
    """
    _, exponent = np.frexp(np.abs(a).max(axis=0))  # max|a| = m * 2**e with 0.5 <= m < 1
    scaled = np.ldexp(a, -exponent)  # |scaled| < 1
    constant = a.max(axis=0) == a.min(axis=0)
    # a constant column's mean is its value exactly (a float sum would leave rounding noise to amplify)
    mean = np.where(constant, scaled[0], scaled.mean(axis=0))
    centred = scaled - mean
    std = np.where(constant, 0.0, np.sqrt((centred**2).mean(axis=0)))
    z = centred / np.where(constant, 1.0, std)
    with np.errstate(over="ignore"):
        stds = np.ldexp(std, exponent)
    means = np.ldexp(mean, exponent)  # |mean| <= max|a|: always finite
    return z, [float(m) for m in means], [float(s) if np.isfinite(s) else None for s in stds]


def robust_standardise(a: np.ndarray) -> tuple[np.ndarray, list[float | None], list[float | None]]:
    """Columns of a raw (n, d) float64 array centred on their median, divided by their interquartile
    range / 1.349 (the std of a Gaussian; the column's std where the IQR is 0, e.g. a mostly constant
    column; 1 for a constant one), then softened: TAIL * asinh(asinh(z / TAIL)), the identity within
    about 2 robust stds and growing like log log beyond, so that even 1e300 lands about 29 robust stds
    out (a single log left it at 2750, which still inflated a critic's own std 55-fold and took MINE
    from 2.06 to 0.01 nats).  Returns the array and the medians and scales used.

    On the raw values, not after a mean/std standardisation: one 1e300 among N(1.7e9, 10^2) values
    has a std of 1.4e298, and dividing by it maps every other value to the same float.  The column is
    halved first (exact), so x - median cannot overflow; where (x - median) / scale would, the tail is
    taken in logs: asinh(u / TAIL) = sign(u) (log(2 |u| / TAIL) + O(u^-2)).
    """
    h = 0.5 * a
    median = np.median(h, axis=0)
    q1, q3 = np.percentile(h, [25, 75], axis=0)
    scale = (q3 - q1) / 1.349
    with np.errstate(over="ignore", invalid="ignore"):
        fallback = np.nan_to_num(h.std(axis=0), posinf=np.finfo(np.float64).max)
    scale = np.where(scale > 0, scale, np.where(fallback > 0, fallback, 0.5))  # 0.5: 1 in the data's units
    d = h - median
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        u = d / scale
        inner_far = np.sign(d) * (
            np.log(2 / TAIL) + np.log(np.abs(d)) - np.log(scale)
        )  # asinh(u / TAIL), u = inf
    inner = np.where(np.isfinite(u), np.arcsinh(np.where(np.isfinite(u), u, 0.0) / TAIL), inner_far)
    z = TAIL * np.arcsinh(inner)
    with np.errstate(over="ignore"):
        medians, scales = 2 * median, 2 * scale
    return z, _finite_or_none(medians), _finite_or_none(scales)


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    """For the record: None where a statistic in the data's units is beyond the float64 range."""
    return [float(v) if np.isfinite(v) else None for v in values]


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


def load_sample(spec: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """X and Y of one CSV in bmi's layout (``bmi.utils.save_sample``), as float64 (rows, features), and a
    description for the record: the file's path, shape and sha256, and which columns went to X and Y.

    Columns named ``X<int>`` are X and ``Y<int>`` are Y, each ordered by its integer (not by the file's
    order).  Raises DataError for a missing or unreadable file, a column of neither kind, no X or no Y
    column, a repeated name, and the checks of ``load_array`` on the numbers."""
    path = Path(spec).expanduser()
    if not path.is_file():
        raise DataError(f"sample file {path} not found; give a CSV in {BMI_LAYOUT}")
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
    columns: dict[str, list[tuple[int, int, str]]] = {"X": [], "Y": []}  # side -> (number, file column, name)
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": _as_rows says so
            array = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (ValueError, OSError) as exc:
        why = " ".join(str(exc).split(";")[0].split()).rstrip(
            "."
        )  # numpy's own hint (usecols) does not apply
        raise DataError(
            f"{path} is not a CSV of numbers below its header ({why}); re-export it with "
            f"bmi.utils.save_sample (numbers only, no missing values)"
        ) from None
    if array.shape[0] < 2:
        raise DataError(f"{path} holds {array.shape[0]} rows below its header; give at least 2 samples")
    if array.shape[1] != len(names):
        raise DataError(
            f"{path}: the header names {len(names)} columns but the rows hold {array.shape[1]}; "
            f"re-export it with bmi.utils.save_sample"
        )
    rows = _as_rows(array, spec)
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ArraysInstance(TaskInstance):
    """The N pairs of two files (or of one bmi CSV), standardised in float64 and then held as float32
    (N, d) tensors."""

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
        self.standardised = {}
        tensors = []
        for name, a in (("x", x), ("y", y)):  # float64 throughout; float32 only once centred and scaled
            if p.robust:
                z, medians, scales = robust_standardise(a)
                self.standardised[name] = {
                    "median": medians,
                    "scale": scales,
                    "tails": f"{TAIL:g} asinh(asinh(z / {TAIL:g}))",
                }
            else:
                z, means, stds = standardise(a)
                self.standardised[name] = {"mean": means, "std": stds}
            tensors.append(torch.from_numpy(z).float())
        self.x, self.y = tensors

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n distinct pairs as float32 (n, x_dim), (n, y_dim); DataError for n > n_pairs."""
        if n > self.n_pairs:
            raise too_many_pairs(n, self.n_pairs, self.x_name)
        idx = torch.randperm(self.n_pairs, generator=generator)[:n]
        return self.x[idx], self.y[idx]

    def describe(self) -> dict[str, Any]:
        return {
            **self.sources,
            "pairs": self.n_pairs,
            "standardised": {"precision": "float64", "then": "float32", **self.standardised},
        }


class Arrays(Task):
    description = "your own pairs from .npy / .npz / .csv files or one bmi sample CSV (no ground truth)"
    Params = ArraysParams

    def build(self, params: ArraysParams, ctx: RunContext) -> ArraysInstance:
        return ArraysInstance(params)
