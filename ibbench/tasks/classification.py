"""Classification tasks whose network is trained: MNIST MLPs, CIFAR-10 conv-nets, the 8x8 digits MLP.

A task instance holds the data (a class-balanced, seeded training subset, a
validation split carved from it, and the full official test set), builds its
network on demand as an ``nn.Sequential`` of *layers* L_1..L_n (each block is
one layer whose output the information plane measures), and states the noise
variance of the paper's I(X; L_i + eps).

Its ``sample`` draws (x, one-hot y) pairs from the training subset, so an
estimator can also be pointed at I(X;Y) of the data itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ..api import Params, RunContext, Task, TaskInstance
from .networks import Init


class ClassificationParams(Params):
    train_fraction: float = Field(
        1.0, gt=0, le=1
    )  # class-balanced share of the training set (paper: 0.01, 1)
    val_fraction: float = Field(
        0.1, ge=0, lt=1
    )  # carved from the subset, class-balanced; model selection only
    subset_seed: int | None = None  # which subset and split; default: the run's seed
    noise_var: float = Field(2.0, gt=0)  # s^2 of I(X; L_i + eps); the paper's 2
    init: Init = "torch"  # PyTorch's default init, or "glorot" (TensorFlow's, the paper's code)


@dataclass
class ClassificationData:
    """Float inputs as flat rows, int64 labels; the test set is always the full official one."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int
    source: dict[str, Any] = field(default_factory=dict)


def balanced_split(
    labels: np.ndarray, fraction: float, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-balanced subset (``fraction`` of each class, at least 1) and its validation part.

    Each class contributes round(fraction * n_c) examples, of which
    round(val_fraction * that) (at least 1 when val_fraction > 0 and the class
    has 2 or more) go to validation.  Sorted indices, so order is the dataset's.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = max(1, int(round(fraction * members.size)))
        chosen = rng.permutation(members)[:take]
        n_val = int(round(val_fraction * take))
        if val_fraction > 0 and take >= 2:
            n_val = min(max(1, n_val), take - 1)
        else:
            n_val = 0
        val.append(chosen[:n_val])
        train.append(chosen[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def make_data(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    p: ClassificationParams,
    seed: int,
    source: dict[str, Any],
) -> ClassificationData:
    train_idx, val_idx = balanced_split(train_y, p.train_fraction, p.val_fraction, seed)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    return ClassificationData(
        train_x=t(train_x[train_idx]),
        train_y=t(train_y[train_idx]).long(),
        val_x=t(train_x[val_idx]),
        val_y=t(train_y[val_idx]).long(),
        test_x=t(test_x),
        test_y=t(test_y).long(),
        n_classes=int(train_y.max()) + 1,
        source=source,
    )


class ClassificationInstance(TaskInstance):
    """The data, a network factory and the layer structure of one classification task."""

    channel = None

    def __init__(
        self,
        data: ClassificationData,
        p: ClassificationParams,
        build_network,
        layer_kinds: list[str],
        architecture: str,
    ) -> None:
        self.data, self.p = data, p
        self._build_network = build_network
        self.layer_kinds = layer_kinds  # "conv" or "fc" per layer L_i
        self.architecture = architecture
        self.noise_std = math.sqrt(p.noise_var)
        self.x_dim = int(data.train_x.shape[1])
        self.y_dim = data.n_classes

    def network(self, seed: int) -> nn.Sequential:
        """A fresh network whose blocks are the layers L_1..L_n; the last block gives logits."""
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # the weights depend on the seed only, not on the global RNG's history
        try:
            net = self._build_network()
            if self.p.init == "glorot":  # TensorFlow's default: Glorot-uniform weights, zero biases
                for m in net.modules():
                    if isinstance(m, (nn.Linear, nn.Conv2d)):
                        nn.init.xavier_uniform_(m.weight)
                        nn.init.zeros_(m.bias)
        finally:
            torch.random.set_rng_state(state)
        assert len(net) == len(self.layer_kinds), "one layer kind per block"
        return net

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(self.data.train_x.shape[0], (n,), generator=generator)
        onehot = nn.functional.one_hot(self.data.train_y[idx], self.data.n_classes).float()
        return self.data.train_x[idx], onehot

    def describe(self) -> dict[str, Any]:
        d = self.data
        return {
            "dataset": d.source.get("dataset", ""),
            "source": d.source.get("description", ""),
            "lossy_data": bool(d.source.get("lossy", False)),
            "architecture": self.architecture,
            "layers": len(self.layer_kinds),
            "layer_kinds": self.layer_kinds,
            "n_train": int(d.train_x.shape[0]),
            "n_val": int(d.val_x.shape[0]),
            "n_test": int(d.test_x.shape[0]),
            "noise_var": self.p.noise_var,
        }


class ClassificationTask(Task):
    """Base of the network tasks: loads arrays, splits them, and defers the net to ``build_network``."""

    Params = ClassificationParams
    #: what `ibbench run --task NAME --estimator E` trains when no trainer is named
    default_trainer: ClassVar[str] = "ce"
    architecture: ClassVar[str] = ""

    def load_arrays(self, p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """(train_x, train_y, test_x, test_y, source) with x float32 flat rows."""
        raise NotImplementedError

    def build_network(self, p: Params) -> nn.Sequential:
        raise NotImplementedError

    def layer_kinds(self, p: Params) -> list[str]:
        raise NotImplementedError

    def build(self, params: ClassificationParams, ctx: RunContext) -> ClassificationInstance:
        from ..progress import fetch_progress

        with fetch_progress(ctx.show_progress):  # a download of the data says so as the run's progress does
            train_x, train_y, test_x, test_y, source = self.load_arrays(params)
        seed = ctx.seed if params.subset_seed is None else params.subset_seed
        data = make_data(train_x, train_y, test_x, test_y, params, seed, source)
        return ClassificationInstance(
            data, params, lambda: self.build_network(params), self.layer_kinds(params), self.architecture
        )
