"""Binning (Shwartz-Ziv & Tishby 2017), with a range adapted to the data and robust to outliers.

Each variable is discretised coordinate-wise into ``n_bins`` equal-width bins; a
sample's bin tuple is its symbol.  The plug-in estimate is

    I(X;Y) = H(Bx) + H(By) - H(Bx, By)      (nats).

The original code clipped to [-1, 1], right for tanh and wrong for ReLU.  The
range here comes from the sample itself (over all units, or per unit):

* ``edges="robust"`` (default): from the 0.5 % to the 99.5 % quantile, values
  outside going to the end bins.  With min..max one extreme value (a ReLU unit
  that fires hugely once) stretches the range so far that every other value
  lands in one bin and the estimate collapses to 0; a quantile range ignores
  up to 0.5 % of values on each side.  Equal-width bins are kept, rather than
  equal-mass (quantile) edges, because the information plane reads H(T) of a
  layer as how concentrated its activations are: equal-mass bins would make
  every unit's binned marginal uniform by construction and erase that.
  Where the quantile range is empty (over 99 % of the values equal, e.g. a
  mostly silent ReLU unit) the rule falls back to min..max.
* ``edges="minmax"``: the sample's min..max, the rule of earlier versions.

Both rules are invariant to a positive scaling and a shift of the data.  When
(nearly) every sample has a bin tuple of its own the estimate is H of the
other variable (log n when both saturate) whatever the dependence: the
estimator then warns (``BinningSaturationWarning``) and sets
``extras["saturated"]``.  For layer measurements with X uniform over the
sample, I(X;T) = H(T) and I(Y;T) = H(T) - H(T|Y): ``layer_information``.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ..api import (
    TASK_SAMPLE_STREAM,
    Estimate,
    Estimator,
    Meter,
    Params,
    ReliabilityTraits,
    RunContext,
    TaskInstance,
)

#: quantile cut off at each end by the robust range (0.5 %: one outlier in 200 samples is ignored)
ROBUST_TAIL = 0.005
#: a variable is saturated when its distinct bin tuples reach this fraction of the samples
SATURATION = 0.99
#: the plug-in is undersampled when this fraction of the pairs have a joint bin of their own
UNDERSAMPLED = 0.5
#: pairs drawn from a sampler task per budget (a finite task gives every pair it has)
DEFAULT_PAIRS = {"smoke": 2000, "quick": 4096, "paper": 10000}


class BinningSaturationWarning(UserWarning):
    """Nearly every sample has a bin of its own: the estimate no longer reflects the dependence."""


class BinningParams(Params):
    n_bins: int = Field(30, ge=2)  # Shwartz-Ziv & Tishby used 30
    range: Literal["global", "per-unit"] = "global"  # one range over all units, or each unit's own
    edges: Literal["robust", "minmax"] = "robust"  # 0.5 %..99.5 % quantiles, or min..max
    #: pairs to use; None: every pair of a finite task, else the budget's DEFAULT_PAIRS
    n_samples: int | None = Field(None, ge=2)


def _range(t: np.ndarray, mode: str, edges: str) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the bins: scalars for ``mode="global"``, (d,) arrays per unit."""
    axis = None if mode == "global" else 0
    lo, hi = t.min(axis=axis), t.max(axis=axis)
    if edges == "robust":
        qlo, qhi = np.quantile(t, [ROBUST_TAIL, 1 - ROBUST_TAIL], axis=axis)
        robust = qhi > qlo  # an empty quantile range keeps min..max
        lo, hi = np.where(robust, qlo, lo), np.where(robust, qhi, hi)
    return lo, hi


def discretise(t: np.ndarray, n_bins: int, mode: str = "global", edges: str = "robust") -> np.ndarray:
    """Integer symbol per row of t, (n,) or (n, d): the index of the row's bin tuple among the distinct
    tuples, an (n,) int64 array.  ``mode`` and ``edges`` are those of ``BinningParams``."""
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == 1:
        t = t[:, None]
    lo, hi = _range(t, mode, edges)
    t = np.clip(t, lo, hi)  # values beyond a robust range go to the end bins
    # halves: exact for normal floats, and hi - lo cannot overflow even for values near 1.8e308
    width = np.where(hi > lo, hi / 2 - lo / 2, 1.0)
    bins = np.clip(np.floor((t / 2 - lo / 2) / width * n_bins), 0, n_bins - 1).astype(np.int64)
    return np.unique(bins, axis=0, return_inverse=True)[1].reshape(-1)


def entropy(symbols: np.ndarray) -> float:
    """Plug-in entropy of integer symbols (nats)."""
    counts = np.bincount(symbols)
    p = counts[counts > 0] / symbols.size
    return float(-(p * np.log(p)).sum())


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in I(A;B) of two symbol arrays (nats)."""
    joint = a.astype(np.int64) * (int(b.max()) + 1) + b
    return entropy(a) + entropy(b) - entropy(np.unique(joint, return_inverse=True)[1].reshape(-1))


def saturated(symbols: np.ndarray) -> bool:
    """True when at least 99 % of the samples have a bin tuple of their own."""
    return int(symbols.max()) + 1 >= SATURATION * symbols.size


def layer_information(
    activations: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    n_bins: int = 30,
    mode: str = "global",
    edges: str = "robust",
) -> dict[str, float]:
    """I(X;T) = H(T) (X uniform over the sample, T deterministic) and I(Y;T), in nats."""
    t = activations.detach().cpu().numpy() if torch.is_tensor(activations) else np.asarray(activations)
    y = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
    symbols = discretise(t, n_bins, mode, edges)
    return {"ixt": entropy(symbols), "iyt": mutual_information(symbols, np.unique(y, return_inverse=True)[1])}


class Binning(Estimator):
    Params = BinningParams
    # an upward plug-in bias with no standard error to scale (results/coverage/: a two-sided bias-aware
    # interval held on 10 % of bmi's tasks): no interval, and the occupied bins estimate the bias
    reliability = ReliabilityTraits(interval="none", plug_in_bins=True)

    def estimate(self, task: TaskInstance, params: BinningParams, ctx: RunContext) -> Estimate:
        n = params.n_samples or task.n_pairs or DEFAULT_PAIRS[ctx.budget]
        x, y = task.sample(n, ctx.generator(TASK_SAMPLE_STREAM))
        bx = discretise(x.cpu().numpy(), params.n_bins, params.range, params.edges)
        by = discretise(y.cpu().numpy(), params.n_bins, params.range, params.edges)
        value = mutual_information(bx, by)
        full = [name for name, b in (("x", bx), ("y", by)) if saturated(b)]
        joint = np.unique(bx.astype(np.int64) * (int(by.max()) + 1) + by).size
        # most joint bins hold a single pair: H(Bx, By) is near log n and the plug-in estimate is its
        # bias, not the dependence (2-d Gaussian pairs, truth 0.69 nats, 5000 pairs: 4.10 nats)
        undersampled = joint >= UNDERSAMPLED * n
        if undersampled and not full:
            warnings.warn(
                f"binning undersampled: {joint} of {n} pairs have a joint bin of their own, so the "
                f"plug-in estimate ({value:.3f} nats) is mostly its own upward bias; use fewer bins or "
                f"dimensions, or ksg",
                BinningSaturationWarning,
                stacklevel=2,
            )
        if full:
            # H(Bx, By) = H(Bx) = log n when Bx is injective, so I = H(By): nothing about the dependence
            warnings.warn(
                f"binning saturated: {' and '.join(full)} put nearly every one of the {n} samples in "
                f"a bin of its own, so the estimate ({value:.3f} nats; log n = {math.log(n):.3f}) is "
                f"an entropy, not the dependence; use fewer bins or dimensions, or ksg",
                BinningSaturationWarning,
                stacklevel=2,
            )
        return Estimate(
            value,
            None,
            {
                "distinct_x": int(bx.max()) + 1,
                "distinct_y": int(by.max()) + 1,
                "distinct_pairs": int(joint),
                "log_n": float(np.log(n)),
                "pairs_used": n,
                "edges": params.edges,
                "saturated": bool(full),
                "undersampled": bool(undersampled),
            },
        )

    def meter(self, task: TaskInstance, params: BinningParams, ctx: RunContext) -> Meter:
        from ..methods.infoplane import LabelLayerTask, NoisyLayerTask

        if isinstance(task, (NoisyLayerTask, LabelLayerTask)):
            return LayerBinningMeter(task, params)
        return super().meter(task, params, ctx)


class LayerBinningMeter(Meter):
    """The information plane the binning way: bin L_i itself over the probe's points (no noise).

    With X uniform over the points, I(X;T) = H(T) (a noisy-layer task) and
    I(Y;T) = H(T) - H(T|Y) (a label task): Shwartz-Ziv & Tishby's quantities,
    not the noise-regularised I(X; L_i + eps) the other estimators measure.
    ``extras["saturated"]`` says H(T) has reached log n (no warning: a
    wide layer does so at every measurement).
    """

    def __init__(self, task, params: BinningParams) -> None:
        self.task, self.params = task, params

    def measure(self) -> Estimate:
        from ..tasks.networks import features

        p = self.params
        t = features(self.task.layer, self.task.points.to(self.task.device))
        symbols = discretise(t.cpu().numpy(), p.n_bins, p.range, p.edges)
        if hasattr(self.task, "onehot"):
            labels = np.unique(self.task.onehot.argmax(1).cpu().numpy(), return_inverse=True)[1]
            value = mutual_information(symbols, labels)
        else:
            value = entropy(symbols)
        return Estimate(value, None, {"quantity": "binned, noise-free", "saturated": saturated(symbols)})
