"""What a classification task hands a trainer: its data (``ClassificationData``: a class-balanced
training subset, a validation split carved from it, the full official test set) and an instance that
builds its network on demand as an ``nn.Sequential`` of layers L_1..L_n, states each layer's kind and
the noise of the paper's I(X; L_i + eps) (``ClassificationInstance``), with the parameters every
classification task shares (``ClassificationParams``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from .data import TaskInstance
from .params import Params

Init = Literal["glorot", "torch"]  # TensorFlow's default (the paper's code) or PyTorch's


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
