"""Binning (Shwartz-Ziv & Tishby 2017), with a range adapted to the data.

Each variable is discretised coordinate-wise into ``n_bins`` equal bins; a
sample's bin tuple is its symbol.  The plug-in estimate is

    I(X;Y) = H(Bx) + H(By) - H(Bx, By)      (nats).

The original code clipped to [-1, 1], right for tanh and wrong for ReLU; here
the range is the sample's own min..max (over all units, or per unit).  For
layer measurements with X uniform over the sample, I(X;T) = H(T) and
I(Y;T) = H(T) - H(T|Y): ``layer_information``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ..api import Estimate, Estimator, Meter, Params, RunContext, TaskInstance


class BinningParams(Params):
    n_bins: int = Field(30, ge=2)  # Shwartz-Ziv & Tishby used 30
    range: Literal["global", "per-unit"] = "global"  # min..max over all units, or each unit's own
    n_samples: int = Field(4096, ge=2)


def discretise(t: np.ndarray, n_bins: int, mode: str = "global") -> np.ndarray:
    """Integer symbol per row: the index of the row's bin tuple among the distinct tuples."""
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == 1:
        t = t[:, None]
    lo, hi = (t.min(), t.max()) if mode == "global" else (t.min(0), t.max(0))
    width = np.where(np.asarray(hi - lo) > 0, hi - lo, 1.0)
    bins = np.clip(np.floor((t - lo) / width * n_bins), 0, n_bins - 1).astype(np.int64)
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


def layer_information(activations: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                      n_bins: int = 30, mode: str = "global") -> dict[str, float]:
    """I(X;T) = H(T) (X uniform over the sample, T deterministic) and I(Y;T), in nats."""
    t = activations.detach().cpu().numpy() if torch.is_tensor(activations) else np.asarray(activations)
    y = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
    symbols = discretise(t, n_bins, mode)
    return {"ixt": entropy(symbols), "iyt": mutual_information(symbols, np.unique(y, return_inverse=True)[1])}


class Binning(Estimator):
    description = "binning plug-in estimator with a data-adaptive range (Shwartz-Ziv & Tishby 2017)"
    Params = BinningParams
    budgets = {"smoke": {"n_samples": 2000}, "quick": {"n_samples": 4096}, "paper": {"n_samples": 10000}}

    def estimate(self, task: TaskInstance, params: BinningParams, ctx: RunContext) -> Estimate:
        x, y = task.sample(params.n_samples, ctx.generator(stream=1))
        bx = discretise(x.cpu().numpy(), params.n_bins, params.range)
        by = discretise(y.cpu().numpy(), params.n_bins, params.range)
        value = mutual_information(bx, by)
        return Estimate(value, None, {"distinct_x": int(bx.max()) + 1, "distinct_y": int(by.max()) + 1,
                                      "log_n": float(np.log(params.n_samples))})

    def meter(self, task: TaskInstance, params: BinningParams, ctx: RunContext) -> Meter:
        from ..infoplane import LabelLayerTask, NoisyLayerTask

        if isinstance(task, (NoisyLayerTask, LabelLayerTask)):
            return LayerBinningMeter(task, params)
        return super().meter(task, params, ctx)


class LayerBinningMeter(Meter):
    """The information plane the binning way: bin L_i itself over the probe's points (no noise).

    With X uniform over the points, I(X;T) = H(T) (a noisy-layer task) and
    I(Y;T) = H(T) - H(T|Y) (a label task): Shwartz-Ziv & Tishby's quantities,
    not the noise-regularised I(X; L_i + eps) the other estimators measure.
    """

    def __init__(self, task, params: BinningParams) -> None:
        self.task, self.params = task, params

    def measure(self) -> Estimate:
        from ..tasks.networks import features

        t = features(self.task.layer, self.task.points.to(self.task.device))
        if hasattr(self.task, "onehot"):
            value = layer_information(t, self.task.onehot.argmax(1), self.params.n_bins, self.params.range)["iyt"]
        else:
            value = entropy(discretise(t.cpu().numpy(), self.params.n_bins, self.params.range))
        return Estimate(value, None, {"quantity": "binned, noise-free"})
