"""Multivariate Student-t pairs with closed-form MI (Czyz et al. 2023, "Beyond Normal", bmi).

(X, Y) in R^(2d) is multivariate t with ``dof`` = nu degrees of freedom, location 0 and
dispersion Sigma, the joint covariance of the ``gaussian`` task (sparse or dense, same fields):

    (X, Y) = G / sqrt(W / nu),   G ~ N(0, Sigma),  W ~ chi^2_nu,  independent.

The shared scale W makes X and Y dependent even where G's blocks are not (rho = 0), and the
MI (Arellano-Valle, Contreras-Reyes & Genton 2013) is the Gaussian part plus a correction that
depends only on nu and the block sizes:

    I(X;Y) = I_Gauss(Sigma) + c(nu, dx, dy),   I_Gauss = 1/2 log(det Sxx det Syy / det Sigma),
    c = f(nu) + f(nu + dx + dy) - f(nu + dx) - f(nu + dy),   f(z) = log Gamma(z/2) - (z/2) psi(z/2).

(From the t entropy h = 1/2 log det S + log[(nu pi)^(d/2) Gamma(nu/2) / Gamma((nu+d)/2)]
+ (nu+d)/2 [psi((nu+d)/2) - psi(nu/2)] and I = h_x + h_y - h_xy.)  c > 0 (f is convex),
c ~ dx dy / (2 nu^2) as nu -> infinity (the Gaussian limit).

``mi`` is the *total* MI: since c does not depend on Sigma, rho is set so that I_Gauss = mi - c,
which needs mi > c (an error says so otherwise).  ``rho`` instead fixes the Gaussian part and
the truth is I_Gauss(rho) + c; rho = 0 gives the pure-correction task.  There is no channel:
Y is not F(X) + Gaussian noise.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, model_validator

from ..api import RunContext, Task, TaskInstance, Truth
from .gaussian import GaussianInstance, GaussianParams

#: B_2k / (2k - 1) for k = 1..5: f(z) = -x - 1/2 log x + 1/2 (1 + log 2 pi) + sum_k a_k x^(1-2k), x = z/2
_F_SERIES = (1 / 6, -1 / 90, 1 / 210, -1 / 210, 5 / 594)
_SERIES_FROM = 50.0  # nu at which c switches from the direct formula to the asymptotic series


def _f(z: float) -> float:
    """log Gamma(z/2) - (z/2) psi(z/2)."""
    x = torch.tensor(z / 2.0, dtype=torch.float64)
    return math.lgamma(z / 2.0) - (z / 2.0) * torch.special.digamma(x).item()


def _correction_direct(nu: float, dx: int, dy: int) -> float:
    return _f(nu) + _f(nu + dx + dy) - _f(nu + dx) - _f(nu + dy)


def _correction_series(nu: float, dx: int, dy: int) -> float:
    """The same c with the large terms of f cancelled by hand: the -x terms cancel exactly, the
    log terms give 1/2 log1p(dx dy / (nu (nu + dx + dy))), and the 1/(6x) term's second difference
    is written in closed form; the rest is Stirling's series (error < 1e-15 for nu >= 50)."""
    a, b, c, d = nu, nu + dx, nu + dy, nu + dx + dy
    value = 0.5 * math.log1p(dx * dy / (a * d))
    value += (1 / 3) * dx * dy * (2 * nu + dx + dy) / (a * b * c * d)  # (1/6)(2/z) second difference
    for k, coef in enumerate(_F_SERIES[1:], start=2):
        p = 2 * k - 1
        value += coef * 2.0**p * (a**-p + d**-p - b**-p - c**-p)
    return value


def student_t_correction(dof: float, dx: int, dy: int) -> float:
    """c(nu, dx, dy) >= 0 in nats: I(X;Y) of a multivariate t minus that of its Gaussian
    with the same dispersion.  Stable for any nu > 0 (no cancellation of large terms)."""
    if dof >= _SERIES_FROM:
        return _correction_series(dof, dx, dy)
    return _correction_direct(dof, dx, dy)


class StudentTParams(GaussianParams):
    # total MI in nats (Gaussian part + t correction); sets rho.  Default 1.0 when rho is unset.
    mi: float | None = Field(None, gt=0)
    # degrees of freedom nu; small nu = heavy tails.  Below 0.5, float32 samples would overflow
    # (|x| > 3e38 with probability ~ 3e38^-nu per draw), so that is the floor.
    dof: float = Field(5.0, ge=0.5, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check_total(self) -> StudentTParams:
        c = student_t_correction(self.dof, self.dim, self.dim)
        target = 1.0 if (self.mi is None and self.rho is None) else self.mi
        if target is not None and target <= c:
            raise ValueError(
                f"mi={target:g} nats is the total MI, but the t correction alone (rho = 0, dof={self.dof:g}, "
                f"dim={self.dim}) is already {c:.6g} nats: ask for mi > {c:.6g}, a larger dof, or give rho"
            )
        return self

    def gaussian_params(self) -> GaussianParams:
        """The Gaussian part: same structure, rho given or set so that I_Gauss = mi - c."""
        fields = self.model_dump(exclude={"dof", "mi"})
        if self.rho is None:
            total = 1.0 if self.mi is None else self.mi
            fields["mi"] = total - student_t_correction(self.dof, self.dim, self.dim)
        return GaussianParams(**fields)


class StudentTInstance(TaskInstance):
    channel = None

    def __init__(self, p: StudentTParams) -> None:
        self.p = p
        self.dof = float(p.dof)
        self.gaussian = GaussianInstance(p.gaussian_params())
        self.rho, self.k = self.gaussian.rho, self.gaussian.k
        self.x_dim = self.y_dim = p.dim
        self.correction = student_t_correction(self.dof, self.x_dim, self.y_dim)
        self.gaussian_mi = -0.5 * self.k * math.log(self.gaussian.one_minus_rho2) + 0.0  # no -0.0 at rho = 0

    def _draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) in float64: the Gaussian task's pair divided by sqrt(W / nu), W = 2 Gamma(nu / 2)."""
        gx, _, gy = self.gaussian._draw(n, generator)
        half = torch.full((n, 1), self.dof / 2.0, dtype=torch.float64)
        w = 2.0 * torch._standard_gamma(half, generator=generator)
        scale = torch.sqrt(self.dof / w)
        return gx * scale, gy * scale

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._draw(n, generator)
        return x.float(), y.float()

    def dispersion(self) -> torch.Tensor:
        """Sigma, the dispersion (scale) matrix of (X, Y) in float64; Cov = nu/(nu-2) Sigma for nu > 2."""
        return self.gaussian.joint_covariance()

    def truth(self, ctx: RunContext) -> Truth:
        return Truth(
            self.gaussian_mi + self.correction,
            0.0,
            {
                "dof": self.dof,
                "rho": self.rho,
                "correlated": self.k,
                "gaussian_mi": self.gaussian_mi,
                "correction": self.correction,
            },
        )

    def describe(self) -> dict:
        return {
            "dof": self.dof,
            "rho": self.rho,
            "correlated": self.k,
            "structure": self.p.structure,
            "gaussian_mi": self.gaussian_mi,
            "correction": self.correction,
        }


class StudentT(Task):
    Params = StudentTParams

    def build(self, params: StudentTParams, ctx: RunContext) -> StudentTInstance:
        return StudentTInstance(params)

    @classmethod
    def closed_form_truth(cls, params: StudentTParams) -> float:
        return StudentTInstance(params).truth(None).value
