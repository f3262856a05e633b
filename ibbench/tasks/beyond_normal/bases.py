"""The base distributions of the "Beyond Normal" catalogue (Czyz et al. 2023, bmi), each with its exact MI.

Every base draws (x, y) as float64 tensors of shape (n, dim_x), (n, dim_y) from a torch generator:

- **multinormal**: (X, Y) ~ N(0, Sigma), drawn as L z with Sigma = L L^T (Cholesky), and
      I(X;Y) = 1/2 (log det Sigma_xx + log det Sigma_yy - log det Sigma).
  bmi's bivariate normal (1 x 1, correlation rho: -1/2 log(1 - rho^2)), its "dense" tasks (every
  off-diagonal entry of Sigma, within and across X and Y, equals ``off_diag``) and its "sparse"
  tasks are all of this kind.  Sparse: bmi's latent-variable model with alpha = beta = 0, unit
  noise and lambda = eta = ``strength``: X_i and Y_i share a latent Z_i of weight lambda for
  i < k, so after scaling to unit variance corr(X_i, Y_i) = lambda^2 / (1 + lambda^2) and every
  other pair is uncorrelated (k = 2, lambda = 2: two pairs at 0.8, I = -log(0.36) = 1.0217).
- **Student-t**: (X, Y) = G / sqrt(W / nu), G ~ N(0, Sigma), W ~ chi^2_nu; the Gaussian MI of Sigma
  plus the closed-form correction c(nu, dim_x, dim_y) of ``ibbench.tasks.student_t``.  bmi's
  "student-identity" tasks have Sigma = I, so their MI is the correction alone.
- **additive uniform**: X ~ U(0, 1), Y = X + N, N ~ U(-eps, eps); I = eps - log(2 eps) for
  eps <= 1/2 and 1 / (4 eps) above (bmi's ``AdditiveUniformSampler``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..student_t import student_t_correction


def gaussian_mi(covariance: torch.Tensor, dim_x: int) -> float:
    """I(X;Y) in nats of (X, Y) ~ N(., covariance), X the first ``dim_x`` coordinates (float64 logdets)."""
    logdet = lambda m: torch.linalg.slogdet(m.double())[1].item()  # noqa: E731
    return 0.5 * (
        logdet(covariance[:dim_x, :dim_x]) + logdet(covariance[dim_x:, dim_x:]) - logdet(covariance)
    )


def dense_covariance(dim_x: int, dim_y: int, off_diag: float) -> torch.Tensor:
    """bmi's dense Sigma: unit diagonal, every other entry ``off_diag``."""
    d = dim_x + dim_y
    return torch.full((d, d), off_diag, dtype=torch.float64).fill_diagonal_(1.0)


def sparse_correlation(dim_x: int, dim_y: int, n_interacting: int, strength: float) -> torch.Tensor:
    """bmi's sparse Sigma: corr(X_i, Y_i) = strength^2 / (1 + strength^2) for i < n_interacting, else 0."""
    sigma = torch.eye(dim_x + dim_y, dtype=torch.float64)
    rho = strength**2 / (1.0 + strength**2)
    for i in range(n_interacting):
        sigma[i, dim_x + i] = sigma[dim_x + i, i] = rho
    return sigma


@dataclass
class Multinormal:
    """(X, Y) ~ N(0, covariance); ``unit_x`` / ``unit_y``: whether the variable lies in [0, 1] (never)."""

    covariance: torch.Tensor
    dim_x: int
    unit_x = unit_y = False

    def __post_init__(self) -> None:
        self.dim_y = self.covariance.shape[0] - self.dim_x
        self.cholesky = torch.linalg.cholesky(self.covariance)

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        z = (
            torch.randn(n, self.covariance.shape[0], generator=generator, dtype=torch.float64)
            @ self.cholesky.T
        )
        return z[:, : self.dim_x], z[:, self.dim_x :]

    def mi(self) -> float:
        return gaussian_mi(self.covariance, self.dim_x)


@dataclass
class SplitStudentT:
    """(X, Y) multivariate t with ``dof`` degrees of freedom and dispersion ``dispersion``."""

    dispersion: torch.Tensor
    dim_x: int
    dof: float
    unit_x = unit_y = False

    def __post_init__(self) -> None:
        self.gaussian = Multinormal(self.dispersion, self.dim_x)
        self.dim_y = self.gaussian.dim_y

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.gaussian.draw(n, generator)
        w = 2.0 * torch._standard_gamma(
            torch.full((n, 1), self.dof / 2.0, dtype=torch.float64), generator=generator
        )
        scale = torch.sqrt(self.dof / w)
        return x * scale, y * scale

    def mi(self) -> float:
        return self.gaussian.mi() + student_t_correction(self.dof, self.dim_x, self.dim_y)


@dataclass
class AdditiveUniform:
    """X ~ U(0, 1), Y = X + U(-epsilon, epsilon); X lies in [0, 1], Y does not."""

    epsilon: float
    dim_x = dim_y = 1
    unit_x, unit_y = True, False

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.rand(n, 1, generator=generator, dtype=torch.float64)
        noise = (2.0 * torch.rand(n, 1, generator=generator, dtype=torch.float64) - 1.0) * self.epsilon
        return x, x + noise

    def mi(self) -> float:
        e = self.epsilon
        # p(y) is a trapezoid; h(Y) - h(Y|X) with h(Y|X) = log(2 eps) gives these two branches
        return 0.25 / e if e > 0.5 else e - math.log(2.0 * e)
