"""The multivariate Student-t task: closed-form MI against Monte Carlo, the correction's limits,
the sampler's marginals, determinism and parameter errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from ibbench.tasks.student_t import (
    StudentT,
    StudentTParams,
    _correction_direct,
    _correction_series,
    student_t_correction,
)


def correction_scipy(nu: float, dx: int, dy: int) -> float:
    """c = f(nu) + f(nu+dx+dy) - f(nu+dx) - f(nu+dy), f(z) = log Gamma(z/2) - z/2 psi(z/2), in scipy."""

    def f(z):
        return special.gammaln(z / 2) - (z / 2) * special.digamma(z / 2)

    return float(f(nu) + f(nu + dx + dy) - f(nu + dx) - f(nu + dy))


def monte_carlo_mi(inst, n: int, seed: int) -> tuple[float, float]:
    """E[log p(x,y) - log p(x) - log p(y)] over the task's own samples, with scipy's t densities:
    the marginals of a multivariate t are t with the same dof and the sub-block dispersion."""
    x, y = inst.sample(n, torch.Generator().manual_seed(seed))
    x, y = x.double().numpy(), y.double().numpy()
    sigma, d, nu = inst.dispersion().numpy(), inst.x_dim, inst.dof
    joint = stats.multivariate_t(np.zeros(2 * d), sigma, df=nu).logpdf(np.concatenate([x, y], 1))
    px = stats.multivariate_t(np.zeros(d), sigma[:d, :d], df=nu).logpdf(x)
    py = stats.multivariate_t(np.zeros(d), sigma[d:, d:], df=nu).logpdf(y)
    ratio = np.asarray(joint - px - py).reshape(-1)
    return float(ratio.mean()), float(ratio.std(ddof=1) / math.sqrt(n))


@pytest.mark.parametrize(
    "params",
    [
        {"dim": 1, "rho": 0.0, "dof": 3.0},  # the correction alone
        {"dim": 3, "mi": 1.0, "dof": 5.0, "structure": "dense"},
        {"dim": 2, "mi": 0.8, "dof": 2.5, "correlated": 1},
        {"dim": 5, "mi": 1.0, "dof": 1.0},  # Cauchy-tailed
    ],
)
def test_closed_form_matches_monte_carlo(params, ctx):
    inst = StudentT().build(StudentTParams(**params), ctx)
    truth = inst.truth(ctx).value
    value, se = monte_carlo_mi(inst, 100_000, seed=7)
    assert abs(value - truth) < 4 * se + 1e-3, (params, truth, value, se)


def test_total_mi_is_gaussian_part_plus_correction(ctx):
    inst = StudentT().build(StudentTParams(dim=5, mi=1.0, dof=5.0), ctx)
    t = inst.truth(ctx)
    assert t.value == pytest.approx(1.0, rel=1e-12)
    c = correction_scipy(5.0, 5, 5)
    assert t.extras["correction"] == pytest.approx(c, rel=1e-10)
    assert t.extras["gaussian_mi"] == pytest.approx(1.0 - c, rel=1e-10)
    assert -2.5 * math.log(1 - inst.rho**2) == pytest.approx(1.0 - c, rel=1e-9)
    assert inst.describe()["dof"] == 5.0 and inst.channel is None
    # rho instead of mi: the truth is I_Gauss(rho) + c
    inst = StudentT().build(StudentTParams(dim=2, rho=0.5, dof=4.0), ctx)
    assert inst.truth(ctx).value == pytest.approx(-math.log(0.75) + correction_scipy(4.0, 2, 2), rel=1e-10)


@pytest.mark.parametrize("d", [1, 3, 20])
def test_correction_positive_and_vanishing(d):
    nus = [0.5, 1, 2, 3, 5, 10, 30, 49.99, 50, 100, 1e3, 1e4, 1e6, 1e9]
    cs = [student_t_correction(nu, d, d) for nu in nus]
    assert all(c > 0 for c in cs)
    assert all(a > b for a, b in itertools.pairwise(cs))  # decreasing in nu
    for nu in (1e4, 1e6, 1e9):  # c ~ dx dy / (2 nu^2) in the Gaussian limit
        assert student_t_correction(nu, d, d) * 2 * nu**2 / d**2 == pytest.approx(1.0, rel=1e-2)
    for nu in (0.5, 3.0, 10.0, 30.0):  # the direct formula agrees with scipy's
        assert student_t_correction(nu, d, d) == pytest.approx(correction_scipy(nu, d, d), rel=1e-10)
    for nu in (50.0, 80.0, 200.0):  # the asymptotic branch agrees with the direct one where both are good
        assert _correction_series(nu, d, d) == pytest.approx(_correction_direct(nu, d, d), rel=1e-8)


@pytest.mark.parametrize("structure", ["sparse", "dense"])
def test_sampler_marginal_is_student_t(structure, ctx):
    """Each coordinate is t_nu with unit scale: variance nu/(nu-2), excess kurtosis 6/(nu-4)."""
    nu = 10.0
    inst = StudentT().build(StudentTParams(dim=3, mi=1.0, dof=nu, structure=structure), ctx)
    x, y = inst.sample(200_000, torch.Generator().manual_seed(3))
    assert x.dtype == torch.float32 and x.shape == y.shape == (200_000, 3)
    z = torch.cat([x, y], 1).double().numpy()
    np.testing.assert_allclose(z.var(0), nu / (nu - 2), rtol=0.03)
    np.testing.assert_allclose(stats.kurtosis(z, axis=0), 6 / (nu - 4), atol=0.3)
    for j in range(z.shape[1]):
        assert stats.kstest(z[:50_000, j], stats.t(nu).cdf).pvalue > 1e-3
    # and the covariance is nu/(nu-2) times the dispersion
    np.testing.assert_allclose(np.cov(z, rowvar=False), nu / (nu - 2) * inst.dispersion().numpy(), atol=0.03)


def test_sampler_is_deterministic(ctx):
    inst = StudentT().build(StudentTParams(dim=4, mi=1.0, structure="dense"), ctx)
    a = inst.sample(1000, torch.Generator().manual_seed(5))
    b = inst.sample(1000, torch.Generator().manual_seed(5))
    c = inst.sample(1000, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert torch.isfinite(a[0]).all() and torch.isfinite(a[1]).all()


def test_params_errors():
    with pytest.raises(Exception, match="t correction alone"):
        StudentTParams(dim=20, mi=1.0, dof=2.0)  # c(2, 20, 20) ~ 1.01 nats
    with pytest.raises(Exception, match="t correction alone"):
        StudentTParams(dim=20, dof=2.0)  # the default mi = 1.0 too
    with pytest.raises(Exception, match="mi or rho"):
        StudentTParams(mi=1.0, rho=0.5)
    with pytest.raises(Exception, match="dof"):
        StudentTParams(dof=0.0)
    with pytest.raises(Exception, match="dof"):
        StudentTParams(dof=float("inf"))
    StudentTParams(dim=20, rho=0.0, dof=2.0)  # rho fixes the Gaussian part: any correction is fine


def test_registered(registry):
    assert "student-t" in registry.names("task")
