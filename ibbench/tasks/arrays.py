"""Your own data: pairs (x_i, y_i) from two arrays in .npy, .npz or .csv files, truth unknown.

``x`` and ``y`` are paths; ``file.npz:key`` picks an array from an .npz (a one-array .npz needs no
key).  A CSV is numbers separated by commas, one row per sample, with an optional header line.
1-d arrays are one feature; arrays of more dimensions are flattened per row.

Sampling: n pairs without replacement while n <= N (so k-NN estimators see no duplicate points),
with replacement beyond (critic minibatches over many steps cycle through the data).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..api import Params, RunContext, Task, TaskInstance
from ..errors import DataError


class ArraysParams(Params):
    x: str  # path to X: .npy, .npz[:key] or .csv
    y: str  # path to Y, same row order as X


def load_array(spec: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The array a path (or ``file.npz:key``) names, as float64 rows, with a description for the record."""
    path_text, _, key = spec.partition(":") if ".npz:" in spec else (spec, "", "")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise DataError(f"array file {path} not found; give a .npy, .npz or .csv path")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if not key:
                    if len(names) != 1:
                        raise DataError(f"{path} holds {len(names)} arrays ({', '.join(names)}); "
                                        f"pick one as {path}:NAME")
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
        raise DataError(f"{path} is not a readable {suffix} array ({exc}); re-export it") from None
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise DataError(f"{spec}: array of {array.dtype}, not numbers")
    array = np.asarray(array, dtype=np.float64)
    array = array.reshape(-1, 1) if array.ndim == 1 else array.reshape(array.shape[0], -1)
    if array.shape[0] < 2 or array.shape[1] == 0:
        raise DataError(f"{spec}: shape {array.shape} has fewer than 2 samples or no features")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise DataError(f"{spec}: {bad} rows hold NaN or inf; drop or impute them first")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return array, {"path": str(path), "key": key or None, "shape": list(array.shape), "sha256": digest}


def _load_csv(path: Path) -> np.ndarray:
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    try:
        [float(v) for v in first.strip().split(",") if v.strip()]
        skip = 0
    except ValueError:
        skip = 1  # a header line
    return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)


class ArraysInstance(TaskInstance):
    def __init__(self, p: ArraysParams) -> None:
        x, self.x_source = load_array(p.x)
        y, self.y_source = load_array(p.y)
        if x.shape[0] != y.shape[0]:
            raise DataError(f"x has {x.shape[0]} rows but y has {y.shape[0]}; the i-th rows must be a pair")
        self.x, self.y = torch.from_numpy(x).float(), torch.from_numpy(y).float()
        self.n, self.x_dim, self.y_dim = x.shape[0], x.shape[1], y.shape[1]

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if n <= self.n:
            idx = torch.randperm(self.n, generator=generator)[:n]
        else:
            idx = torch.randint(self.n, (n,), generator=generator)
        return self.x[idx], self.y[idx]

    def describe(self) -> dict[str, Any]:
        return {"x": self.x_source, "y": self.y_source, "pairs": self.n}


class Arrays(Task):
    description = "your own pairs from .npy / .npz / .csv files (no ground truth)"
    Params = ArraysParams

    def build(self, params: ArraysParams, ctx: RunContext) -> ArraysInstance:
        return ArraysInstance(params)
