"""Correlated Gaussians with closed-form MI (Poole et al. 2019; Czyz et al. 2023, bmi).

Sparse: X ~ N(0, I_d) and, for the first k coordinates,
    Y_i = rho X_i + sqrt(1 - rho^2) e_i,     the rest Y_i = e_i,
so I(X;Y) = -k/2 log(1 - rho^2).  A target MI sets rho = sqrt(1 - exp(-2 I / k)).
Dense: the same pair seen through fixed random rotations, X = R1 X', Y = R2 Y'
(all k = d coordinates correlated), so every x_i is correlated with every y_j
and the MI is unchanged (invertible maps).  Both are channels Y = A X + noise
with known diagonal noise, which AA-MINE and the mixture estimator may use.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field, model_validator

from ..api import Channel, Params, RunContext, Task, TaskInstance, Truth

# I = -1/2 log(1 - rho^2) per pair; at 15 nats the noise sqrt(1 - rho^2) = e^-15 = 3e-7 is 2.5 float32
# ulps of 1: beyond it a sampled Y is X to float32 precision and the task has no finite MI left to estimate
MAX_MI_PER_PAIR = 15.0


class GaussianParams(Params):
    dim: int = Field(1, ge=1, le=4096)  # dimension of X and of Y
    mi: float | None = Field(None, gt=0)  # target MI in nats; sets rho (default 1.0 when rho is unset)
    rho: float | None = Field(None, gt=-1, lt=1)  # per-coordinate correlation, instead of mi
    structure: Literal["sparse", "dense"] = "sparse"
    correlated: int | None = Field(
        None, ge=1
    )  # sparse: how many coordinate pairs are correlated (default all)
    structure_seed: int = 0  # seeds the rotations of "dense": the same task for every run seed

    @model_validator(mode="after")
    def _check(self) -> GaussianParams:
        if self.mi is not None and self.rho is not None:
            raise ValueError("give mi or rho, not both")
        if self.correlated is not None and self.correlated > self.dim:
            raise ValueError(f"correlated={self.correlated} exceeds dim={self.dim}")
        if self.structure == "dense" and self.correlated not in (None, self.dim):
            raise ValueError("dense correlates every coordinate: leave 'correlated' unset")
        pairs = self.correlated or self.dim
        per_pair = (
            self.mi / pairs
            if self.mi is not None
            else (-0.5 * math.log1p(-(self.rho**2)) if self.rho is not None else 0.0)
        )
        if per_pair > MAX_MI_PER_PAIR:
            raise ValueError(
                f"{per_pair:.4g} nats per correlated pair is above {MAX_MI_PER_PAIR:g}: the noise "
                f"sqrt(1 - rho^2) would fall below float32 resolution and Y would equal X; lower mi "
                f"(or rho) or raise dim"
            )
        return self


def random_rotation(dim: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


class LinearMap(torch.nn.Module):
    """x -> x A^T + b, a fixed (non-trainable) linear network."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(weight.float(), requires_grad=False)
        self.bias = torch.nn.Parameter(
            (bias if bias is not None else torch.zeros(weight.shape[0])).float(), requires_grad=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.weight, self.bias)


class GaussianInstance(TaskInstance):
    def __init__(self, p: GaussianParams) -> None:
        self.p = p
        d = p.dim
        k = d if (p.structure == "dense" or p.correlated is None) else p.correlated
        if p.rho is not None:
            rho, one_minus_rho2 = p.rho, 1.0 - p.rho * p.rho
        else:  # keep 1 - rho^2 exact: at 10 nats in 1-d it is e^-20, lost in 1 - rho*rho
            target = 1.0 if p.mi is None else p.mi
            one_minus_rho2 = math.exp(-2.0 * target / k)
            rho = math.sqrt(-math.expm1(-2.0 * target / k))
        self.rho, self.k, self.one_minus_rho2 = rho, k, one_minus_rho2
        self.x_dim = self.y_dim = d
        gains = torch.zeros(d, dtype=torch.float64)
        gains[:k] = rho
        noise = torch.ones(d, dtype=torch.float64)
        noise[:k] = math.sqrt(one_minus_rho2)
        weight = torch.diag(gains)
        if (
            p.structure == "dense"
        ):  # Y = R2 diag(rho) R1^T X + sqrt(1-rho^2) R2 e; R2 keeps isotropic noise isotropic
            g = torch.Generator().manual_seed(p.structure_seed)
            r1, r2 = random_rotation(d, g), random_rotation(d, g)
            weight = r2 @ weight @ r1.T
            self.rotations = (r1, r2)
        self.weight = weight
        self.noise_std = noise
        self.channel = Channel(network=LinearMap(weight), noise_std=noise.float())

    def _draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, A x, A x + noise), float64."""
        x = torch.randn(n, self.x_dim, generator=generator, dtype=torch.float64)
        e = torch.randn(n, self.y_dim, generator=generator, dtype=torch.float64)
        signal = x @ self.weight.T
        return x, signal, signal + e * self.noise_std

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, _, y = self._draw(n, generator)
        return x.float(), y.float()

    def sample_features(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        _, signal, y = self._draw(n, generator)
        return signal.float(), y.float()

    def joint_covariance(self) -> torch.Tensor:
        """Cov of (X, Y) in float64, for an independent check of the truth."""
        a, s2 = self.weight, torch.diag(self.noise_std**2)
        top = torch.cat([torch.eye(self.x_dim, dtype=torch.float64), a.T], 1)
        bottom = torch.cat([a, a @ a.T + s2], 1)
        return torch.cat([top, bottom], 0)

    def truth(self, ctx: RunContext) -> Truth:
        value = -0.5 * self.k * math.log(self.one_minus_rho2)
        return Truth(value, 0.0, {"rho": self.rho, "correlated": self.k})

    def describe(self) -> dict:
        return {"rho": self.rho, "correlated": self.k, "structure": self.p.structure}


class Gaussian(Task):
    Params = GaussianParams

    def build(self, params: GaussianParams, ctx: RunContext) -> GaussianInstance:
        return GaussianInstance(params)

    @classmethod
    def closed_form_truth(cls, params: GaussianParams) -> float:
        return GaussianInstance(params).truth(None).value
