"""Networks whose layers we measure: plain MLPs, and their prefixes F_i = layers 1..i."""

from __future__ import annotations

import itertools
from typing import Literal

import torch
from torch import nn

from ..api.classification import Init

Activation = Literal["relu", "tanh"]
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def mlp(
    widths: list[int], activation: Activation = "relu", *, seed: int | None = None, init: Init = "torch"
) -> nn.Sequential:
    """``widths = [784, 512, 512, 10]``: Linear+activation blocks, the last layer linear (logits).

    ``init="torch"`` keeps PyTorch's default initialisation; ``"glorot"`` is
    TensorFlow's Dense default (Glorot-uniform weights, zero biases), which the
    paper's TensorFlow code used.  ``seed`` makes the weights reproducible
    without touching the global RNG.
    """
    assert len(widths) >= 2, f"an MLP needs at least input and output widths, got {widths}"
    state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    try:
        blocks: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(widths)):
            linear = nn.Linear(a, b)
            if init == "glorot":
                nn.init.xavier_uniform_(linear.weight)
                nn.init.zeros_(linear.bias)
            layer: list[nn.Module] = [linear]
            if i < len(widths) - 2:
                layer.append(_ACTIVATIONS[activation]())
            blocks.append(nn.Sequential(*layer))
        return nn.Sequential(*blocks)
    finally:
        if seed is not None:
            torch.random.set_rng_state(state)


def prefix(net: nn.Sequential, layer: int) -> nn.Sequential:
    """F_i: the first ``layer`` blocks (1-based), sharing parameters with ``net``."""
    assert 1 <= layer <= len(net), f"layer must be in 1..{len(net)}, got {layer}"
    return nn.Sequential(*list(net.children())[:layer])


@torch.no_grad()
def features(net: nn.Module, x: torch.Tensor, batch: int = 8192) -> torch.Tensor:
    """net(x) in batches, without gradients."""
    if x.shape[0] <= batch:
        return net(x)  # one chunk: no concatenation copy
    return torch.cat([net(x[i : i + batch]) for i in range(0, x.shape[0], batch)])
