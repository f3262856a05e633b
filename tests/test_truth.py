"""Closed-form and Monte-Carlo truths against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ibbench.methods.gaussian_mixture import _block_shape, mixture_mi, mixture_mi_terms, pairwise_bounds
from ibbench.tasks.gaussian import Gaussian, GaussianParams
from ibbench.tasks.gaussian_channel import GaussianChannel, GaussianChannelParams


def gaussian_mi_from_cov(cov: np.ndarray, dx: int) -> float:
    """1/2 log(det Sx det Sy / det S): the textbook formula, computed with numpy."""
    _, ld = np.linalg.slogdet(cov)
    _, ldx = np.linalg.slogdet(cov[:dx, :dx])
    _, ldy = np.linalg.slogdet(cov[dx:, dx:])
    return 0.5 * (ldx + ldy - ld)


@pytest.mark.parametrize("dim", [1, 5, 20])
@pytest.mark.parametrize("structure", ["sparse", "dense"])
@pytest.mark.parametrize("mi", [0.5, 2.0, 10.0])
def test_gaussian_truth_matches_covariance_formula(dim, structure, mi, ctx):
    inst = Gaussian().build(GaussianParams(dim=dim, mi=mi, structure=structure), ctx)
    truth = inst.truth(ctx).value
    assert truth == pytest.approx(mi, rel=1e-9)
    assert gaussian_mi_from_cov(inst.joint_covariance().numpy(), dim) == pytest.approx(mi, rel=1e-6)


def test_gaussian_sampler_has_the_stated_covariance(ctx):
    inst = Gaussian().build(GaussianParams(dim=3, rho=0.6, structure="dense"), ctx)
    x, y = inst.sample(200_000, torch.Generator().manual_seed(1))
    empirical = np.cov(torch.cat([x, y], 1).double().numpy(), rowvar=False)
    np.testing.assert_allclose(empirical, inst.joint_covariance().numpy(), atol=0.02)
    # dense: every x_i correlates with some y_j off the diagonal
    assert np.abs(empirical[:3, 3:] - np.diag(np.diag(empirical[:3, 3:]))).max() > 0.05


def test_sparse_partial_correlation(ctx):
    inst = Gaussian().build(GaussianParams(dim=10, rho=0.8, correlated=3), ctx)
    assert inst.truth(ctx).value == pytest.approx(-1.5 * math.log(1 - 0.64))


def test_gaussian_params_reject_both_mi_and_rho():
    with pytest.raises(Exception, match="mi or rho"):
        GaussianParams(mi=1.0, rho=0.5)


def test_channel_truth_matches_joint_covariance(ctx):
    inst = GaussianChannel().build(GaussianChannelParams(x_dim=6, z_dim=4, noise_var=0.5), ctx)
    w, sx = inst.weight.numpy(), inst.sx.numpy()
    sz = w @ sx @ w.T + 0.5 * np.eye(4)
    cov = np.block([[sx, sx @ w.T], [w @ sx, sz]])
    assert inst.truth(ctx).value == pytest.approx(gaussian_mi_from_cov(cov, 6), rel=1e-9)


def test_channel_1d_is_paper_equation_4(ctx):
    """I = 1/2 log(1 + a^2 sx^2 / s^2), the paper's Eq. (4)."""
    inst = GaussianChannel().build(
        GaussianChannelParams(x_dim=1, z_dim=1, noise_var=0.3, input_cov="identity"), ctx
    )
    a = inst.weight.item()
    assert inst.truth(ctx).value == pytest.approx(0.5 * math.log1p(a * a / 0.3), rel=1e-12)


def test_monte_carlo_truth_matches_closed_form_on_a_linear_layer():
    """X uniform over many Gaussian draws, Z = W X + eps: the mixture MI tends to the Gaussian formula.

    With N = 20000 support points in 2-d and about 0.9 nats, the finite-support gap is
    far below the Monte-Carlo error; the tolerance is 4 standard errors + 0.01.
    """
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([[1.2, 0.3], [-0.4, 0.8]], dtype=torch.float64)
    s = 0.7
    support = torch.randn(20000, 2, generator=g, dtype=torch.float64)
    centres = support @ w.T
    value, se = mixture_mi(centres, s, 20000, g)
    closed = 0.5 * torch.linalg.slogdet(torch.eye(2, dtype=torch.float64) + w @ w.T / s**2).logabsdet.item()
    assert abs(value - closed) < 4 * se + 0.01, (value, se, closed)


def test_mixture_mi_is_log_n_for_separated_centres():
    centres = torch.arange(8, dtype=torch.float64)[:, None] * 100.0
    value, se = mixture_mi(centres, 1.0, 4000, torch.Generator().manual_seed(0))
    assert value == pytest.approx(math.log(8), abs=1e-6)


def test_mixture_mi_is_zero_for_identical_centres():
    centres = torch.zeros(50, 3, dtype=torch.float64)
    value, _ = mixture_mi(centres, 1.0, 2000, torch.Generator().manual_seed(0))
    assert value == pytest.approx(0.0, abs=1e-9)


def test_chunking_does_not_change_the_answer():
    g = torch.Generator().manual_seed(3)
    centres = torch.randn(3000, 5, generator=g, dtype=torch.float64)
    a = mixture_mi(centres, 0.5, 1000, torch.Generator().manual_seed(7))
    b = mixture_mi(centres, 0.5, 1000, torch.Generator().manual_seed(7), row_chunk=97, col_chunk=211)
    assert a[0] == pytest.approx(b[0], abs=1e-9)


def test_block_budget_does_not_change_the_answer():
    """float32: blocks from tiny to whole, or explicit chunks, agree to float rounding (1e-5 relative)."""
    g = torch.Generator().manual_seed(4)
    centres = torch.randn(3000, 16, generator=g)
    ref = mixture_mi(centres, 0.7, 1500, torch.Generator().manual_seed(8))
    for chunks in (
        {"max_block_bytes": 4096},
        {"max_block_bytes": 300_000},
        {"max_block_bytes": 2**30},
        {"row_chunk": 97, "col_chunk": 211},
        {"row_chunk": 1500},
    ):
        value, se = mixture_mi(centres, 0.7, 1500, torch.Generator().manual_seed(8), **chunks)
        assert value == pytest.approx(ref[0], rel=1e-5), chunks
        assert se == pytest.approx(ref[1], rel=1e-4), chunks
    bounds = pairwise_bounds(centres, 0.7, 500, torch.Generator().manual_seed(9))
    small = pairwise_bounds(centres, 0.7, 500, torch.Generator().manual_seed(9), max_block_bytes=4096)
    assert small == pytest.approx(bounds, rel=1e-5)


@pytest.mark.parametrize("max_block_bytes", [1, 4096, 16 * 2**20])
@pytest.mark.parametrize("itemsize", [4, 8])
def test_block_shape_fits_the_budget(max_block_bytes, itemsize):
    m, n, d = 4096, 60000, 512
    rows, cols = _block_shape(m, n, d, itemsize, None, None, max_block_bytes)
    budget = max(1, max_block_bytes // itemsize)
    assert 1 <= rows <= m and 1 <= cols <= n
    assert rows * cols <= budget
    assert rows * d <= max(budget, d) and cols * d <= max(budget, d)
    assert _block_shape(m, n, d, itemsize, 97, 211, max_block_bytes) == (97, 211)


def _float32_vs_float64(n, d, m, spread, offset, noise, seed=0, **chunks):
    """Mixture terms on float32 data vs an exact float64 reference on the very same (float32) numbers.

    The reference takes |u - a_j| as a difference (cdist without the matmul expansion): no cancellation.
    """
    g = torch.Generator().manual_seed(seed)
    c32 = (torch.randn(n, d, generator=g, dtype=torch.float64) * spread + offset).float()
    s = float(torch.tensor(noise, dtype=torch.float32))
    idx = torch.randint(n, (m,), generator=g)
    z32 = (c32[idx].double() + s * torch.randn(m, d, generator=g, dtype=torch.float64)).float()
    c64, z64 = c32.double(), z32.double()
    dist = torch.cdist(z64 / s, c64 / s, compute_mode="donot_use_mm_for_euclid_dist")
    own = -0.5 * ((z64 - c64[idx]) / s).square().sum(1)
    ref = own - (torch.logsumexp(-0.5 * dist.square(), 1) - math.log(n))
    terms = mixture_mi_terms(z32, c32[idx], c32, s, **chunks)
    assert terms.dtype == torch.float32
    return terms.double(), ref


def test_float32_truth_survives_a_large_common_offset():
    """Centres + 1000 with noise 0.03: whitened norms ~ 3e4, squared ~ 1e9 per coordinate, so the
    uncentred float32 expansion was off by nats; centred, it agrees with float64 to < 1e-4 nats."""
    terms, ref = _float32_vs_float64(2000, 8, 1000, spread=0.05, offset=1000.0, noise=0.03)
    assert 1.0 < ref.mean().item() < math.log(2000) - 1.0  # a case between 0 and log N
    assert abs(terms.mean().item() - ref.mean().item()) < 1e-4
    assert (terms - ref).abs().max().item() < 1e-3


def test_float32_truth_where_the_spread_dwarfs_the_noise():
    """Centres spread 1 in 64-d, noise 0.03: k |u|^2 ~ 4e4, past CANCEL_TOL, so the blocks go float64."""
    terms, ref = _float32_vs_float64(2000, 64, 500, spread=1.0, offset=0.0, noise=0.03)
    assert abs(terms.mean().item() - ref.mean().item()) < 1e-4
    assert (terms - ref).abs().max().item() < 1e-3
    forced, _ = _float32_vs_float64(
        2000, 64, 500, spread=1.0, offset=0.0, noise=0.03, work_dtype=torch.float64
    )
    assert torch.equal(terms, forced)  # the automatic choice was float64


def test_kolchinsky_tracey_bounds_sandwich_the_truth():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(500, 4, generator=g, dtype=torch.float64) * 2
    value, se = mixture_mi(centres, 1.0, 20000, g)
    b = pairwise_bounds(centres, 1.0, 10_000, g)
    assert b["kt_lower"] - 4 * se <= value <= b["kt_upper"] + 4 * se
    assert b["kt_lower"] < b["kt_upper"] <= math.log(500) + 1e-9


def test_mixture_channel_truth_is_below_log_n(ctx):
    from ibbench.tasks.mixture_channel import MixtureChannel

    task = MixtureChannel()
    inst = task.build(task.params_for("smoke", {"dataset": "digits", "noise_var": 0.01}), ctx)
    truth = inst.truth(ctx)
    assert 0 < truth.value <= math.log(1797) + 4 * truth.stderr
    assert (
        truth.extras["kt_lower"] - 4 * truth.stderr
        <= truth.value
        <= truth.extras["kt_upper"] + 4 * truth.stderr
    )
