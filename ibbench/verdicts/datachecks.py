"""What a finite sample says about itself before any estimator reads it: duplicated rows, constant,
near-constant and discrete columns.

``inspect(x, y)`` looks at the pairs as they arrived (float64, before the preprocessing map).  Its
``DataReport`` lists findings, each a one-line warning with a level (``caution``): the runner prints
them on stderr, keeps them under ``extras["data"]`` and counts them in the record's reliability.

**Duplicated rows.**  A pair (x, y) that repeats an earlier one exactly is, in continuous data, a
repeated record, not a draw: k-NN estimators read it as a neighbour at distance 0 (KSG gave 7.04 nats
for 0.51 with every row four times; Kraskov et al. 2004 assume no ties) and a critic's held-out pairs
then share points with its training pairs.  Where every column is continuous (more than
``sqrt(N)`` distinct values), the repeats are dropped and each distinct pair counted once, for every
estimator alike, and the record says how many.  This is the dedupe of the k-NN literature (each
repeat is weight 1, the repeated record's; under equal repetition it equals weighting by counts).
Gao, Kannan, Oh & Viswanath 2017's tie-aware KSG reads repeats the other way, as atoms of a
discrete-continuous mixture: then I(X; Y) is that of the atoms, and ties are real.  Data with a
discrete column (at most ``sqrt(N)`` distinct values) is that case: its repeats are kept and the
column is named, because k-NN and critic estimators assume continuous coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: a column whose most common value holds at least this share of the rows is near-constant
NEAR_CONSTANT = 0.9


@dataclass(frozen=True)
class Finding:
    """One thing worth a warning: its short code, its level and its one-line text."""

    code: str  # duplicates | constant | near-constant | discrete
    level: str  # caution | unreliable
    text: str


@dataclass
class DataReport:
    """What ``inspect`` found in N pairs; ``keep`` is the rows an estimator should see (all, or the
    first occurrence of each distinct pair)."""

    n: int
    x_dim: int
    y_dim: int
    duplicates: int = 0  # rows that repeat an earlier row exactly
    dropped: bool = False  # whether those rows were dropped
    keep: np.ndarray | None = None  # row indices kept, in stored order (None: every row)
    findings: list[Finding] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """What the record keeps under ``extras["data"]``."""
        return {
            "pairs": self.n,
            "distinct_pairs": self.n - self.duplicates,
            "duplicates": self.duplicates,
            "duplicates_dropped": self.dropped,
            "findings": [{"code": f.code, "level": f.level, "text": f.text} for f in self.findings],
        }


def _columns(a: np.ndarray, side: str) -> list[tuple[str, np.ndarray]]:
    return [(f"{side} column {j}", a[:, j]) for j in range(a.shape[1])]


def inspect(x: np.ndarray, y: np.ndarray) -> DataReport:
    """Check N pairs, (N, x_dim) and (N, y_dim) float arrays in their stored order."""
    n = x.shape[0]
    report = DataReport(n, x.shape[1], y.shape[1])
    discrete_limit = math.isqrt(n)
    constant, near, discrete = [], [], []
    for name, column in _columns(x, "X") + _columns(y, "Y"):
        values, counts = np.unique(column, return_counts=True)
        if values.size == 1:
            constant.append(name)
        elif counts.max() >= NEAR_CONSTANT * n:
            near.append(f"{name} ({counts.max() / n:.0%} one value)")
        elif values.size <= discrete_limit:
            discrete.append(f"{name} ({values.size} values)")
    if constant:
        report.findings.append(
            Finding("constant", "caution", f"{_listed(constant)} constant: no information there; drop it")
        )
    if near:
        report.findings.append(
            Finding(
                "near-constant",
                "caution",
                f"{_listed(near)} nearly constant: few pairs carry its information; the estimate rests on them",
            )
        )
    if discrete:
        report.findings.append(
            Finding(
                "discrete",
                "caution",
                f"{_listed(discrete)} discrete: k-NN and critic estimators assume continuous coordinates "
                f"(ties bias them); for discrete data use binning, or add the noise the data was rounded by",
            )
        )
    joint = np.ascontiguousarray(np.concatenate([x, y], axis=1))
    _, first = np.unique(
        joint.view(np.dtype((np.void, joint.dtype.itemsize * joint.shape[1]))), return_index=True
    )
    report.duplicates = n - first.size
    if report.duplicates:
        report.dropped = not (discrete or constant or near)
        if report.dropped:
            report.keep = np.sort(first)
            text = (
                f"{report.duplicates} of {n} pairs repeat an earlier pair exactly: dropped as repeated records, "
                f"{first.size} distinct pairs estimated (k-NN estimators would read a repeat as a neighbour at "
                f"distance 0)"
            )
        else:
            text = (
                f"{report.duplicates} of {n} pairs repeat an earlier pair exactly; kept, since a column is "
                f"discrete or constant (atoms of the distribution, not repeated records)"
            )
        report.findings.append(Finding("duplicates", "caution", text))
    return report


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return shown + (" is" if len(names) == 1 else " are")
