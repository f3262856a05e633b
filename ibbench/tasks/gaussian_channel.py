"""A linear layer with additive Gaussian noise: the paper's Sec. 3 example in d dimensions.

X ~ N(0, Sx), Z = W X + b + eps, eps ~ N(0, s^2 I):
    I(X;Z) = 1/2 log det(I + W Sx W^T / s^2)        (nats)
In one dimension this is the paper's Eq. (4), 1/2 log(1 + a^2 sx^2 / s^2).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ..api import Channel, Params, RunContext, Task, TaskInstance, Truth
from .gaussian import LinearMap


class GaussianChannelParams(Params):
    x_dim: int = Field(10, ge=1, le=4096)
    z_dim: int = Field(10, ge=1, le=4096)
    noise_var: float = Field(1.0, gt=0)  # s^2, the variance of eps
    weight_scale: float = Field(1.0, gt=0)  # W_ij ~ N(0, weight_scale^2 / x_dim)
    input_cov: Literal["identity", "random"] = "random"  # random: Sx = L L^T / x_dim + 0.1 I
    structure_seed: int = 0  # draws W, b and Sx: the same task for every run seed


class GaussianChannelInstance(TaskInstance):
    def __init__(self, p: GaussianChannelParams) -> None:
        g = torch.Generator().manual_seed(p.structure_seed)
        dx, dz = p.x_dim, p.z_dim
        self.x_dim, self.y_dim = dx, dz
        self.weight = torch.randn(dz, dx, generator=g, dtype=torch.float64) * p.weight_scale / dx**0.5
        self.bias = torch.randn(dz, generator=g, dtype=torch.float64)
        if p.input_cov == "random":
            lower = torch.randn(dx, dx, generator=g, dtype=torch.float64)
            self.sx = lower @ lower.T / dx + 0.1 * torch.eye(dx, dtype=torch.float64)
        else:
            self.sx = torch.eye(dx, dtype=torch.float64)
        self.sx_chol = torch.linalg.cholesky(self.sx)
        self.noise_std = p.noise_var**0.5
        self.channel = Channel(network=LinearMap(self.weight, self.bias), noise_std=self.noise_std)

    def _draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, W x + b, W x + b + eps), float64."""
        x = torch.randn(n, self.x_dim, generator=generator, dtype=torch.float64) @ self.sx_chol.T
        eps = torch.randn(n, self.y_dim, generator=generator, dtype=torch.float64)
        signal = x @ self.weight.T + self.bias
        return x, signal, signal + self.noise_std * eps

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, _, z = self._draw(n, generator)
        return x.float(), z.float()

    def sample_features(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        _, signal, z = self._draw(n, generator)
        return signal.float(), z.float()

    def truth(self, ctx: RunContext) -> Truth:
        w = self.weight
        m = torch.eye(self.y_dim, dtype=torch.float64) + w @ self.sx @ w.T / self.noise_std**2
        return Truth(0.5 * torch.linalg.slogdet(m).logabsdet.item())


class GaussianChannel(Task):
    Params = GaussianChannelParams

    def build(self, params: GaussianChannelParams, ctx: RunContext) -> GaussianChannelInstance:
        return GaussianChannelInstance(params)
