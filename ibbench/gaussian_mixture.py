"""Mutual information of a Gaussian channel with a finite input set, by Monte Carlo.

With X uniform over N points and Z = F(X) + eps, eps ~ N(0, diag(s^2)), Z is
an equal-weight Gaussian mixture with centres c_j = F(x_j), so

    I(X;Z) = E_{i, eps}[ log N(z; c_i, s^2) - log (1/N) sum_j N(z; c_j, s^2) ]

and in whitened coordinates u = z/s, a_j = c_j/s the normalising constants cancel:

    term_i = -|u - a_i|^2 / 2  -  ( logsumexp_j(-|u - a_j|^2 / 2) - log N ).

Averaging term_i over M draws gives I with standard error std/sqrt(M); it lies
in [0, log N].  The sum over j is a chunked logsumexp over squared distances
computed as a matmul, so N = 60000 needs no N x N matrix.

Kolchinsky & Tracey (2017) sandwich I in closed form with pairwise distances:
Bhattacharyya (d^2/8) below, KL (d^2/2) above:
    -mean_i log mean_j exp(-|a_i - a_j|^2 / 8) <= I <= -mean_i log mean_j exp(-|a_i - a_j|^2 / 2).
"""

from __future__ import annotations

import math

import torch


def _whiten(t: torch.Tensor, noise_std: float | torch.Tensor) -> torch.Tensor:
    return t / torch.as_tensor(noise_std, dtype=t.dtype, device=t.device)


def log_mean_kernel(u: torch.Tensor, centres: torch.Tensor, scale: float, *,
                    row_chunk: int = 2048, col_chunk: int = 16384) -> torch.Tensor:
    """For each row u_i: log (1/N) sum_j exp(-scale * |u_i - a_j|^2), chunked in rows and columns."""
    n = centres.shape[0]
    c_sq = (centres * centres).sum(1)
    out = torch.empty(u.shape[0], dtype=u.dtype, device=u.device)
    for r0 in range(0, u.shape[0], row_chunk):
        rows = u[r0:r0 + row_chunk]
        r_sq = (rows * rows).sum(1, keepdim=True)
        running = torch.full((rows.shape[0],), -math.inf, dtype=u.dtype, device=u.device)
        for c0 in range(0, n, col_chunk):
            cols = centres[c0:c0 + col_chunk]
            sq = (r_sq + c_sq[c0:c0 + col_chunk] - 2.0 * rows @ cols.T).clamp_min_(0.0)
            running = torch.logaddexp(running, torch.logsumexp(-scale * sq, dim=1))
        out[r0:r0 + row_chunk] = running - math.log(n)
    return out


def mixture_mi_terms(z: torch.Tensor, own_centre: torch.Tensor, centres: torch.Tensor,
                     noise_std: float | torch.Tensor, **chunks) -> torch.Tensor:
    """Per-sample terms log p(z|x_i) - log p(z) of the Gaussian-mixture MI (nats)."""
    u, a_own, a = (_whiten(t, noise_std) for t in (z, own_centre, centres))
    own = -0.5 * ((u - a_own) ** 2).sum(1)
    return own - log_mean_kernel(u, a, 0.5, **chunks)


def mixture_mi(centres: torch.Tensor, noise_std: float | torch.Tensor, samples: int,
               generator: torch.Generator, **chunks) -> tuple[float, float]:
    """Monte-Carlo I(X; F(X)+eps) for X uniform over the rows of ``centres`` = F(x_j): (mean, stderr)."""
    n = centres.shape[0]
    idx = torch.randint(n, (samples,), generator=generator).to(centres.device)
    eps = torch.randn(samples, centres.shape[1], generator=generator, dtype=centres.dtype).to(centres.device)
    own = centres[idx]
    z = own + eps * torch.as_tensor(noise_std, dtype=centres.dtype, device=centres.device)
    terms = mixture_mi_terms(z, own, centres, noise_std, **chunks)
    return terms.mean().item(), (terms.std() / math.sqrt(samples)).item()


def pairwise_bounds(centres: torch.Tensor, noise_std: float | torch.Tensor, rows: int,
                    generator: torch.Generator) -> dict[str, float]:
    """Kolchinsky-Tracey bounds, averaged over ``rows`` random i (all rows when rows >= N)."""
    n = centres.shape[0]
    a = _whiten(centres, noise_std)
    if rows >= n:
        chosen = a
    else:
        chosen = a[torch.randint(n, (rows,), generator=generator).to(a.device)]
    lower = -log_mean_kernel(chosen, a, 1.0 / 8.0)
    upper = -log_mean_kernel(chosen, a, 1.0 / 2.0)
    m = chosen.shape[0]
    se = (lambda t: 0.0 if m >= n or m < 2 else (t.std() / math.sqrt(m)).item())
    return {
        "kt_lower": lower.mean().item(), "kt_lower_stderr": se(lower),
        "kt_upper": upper.mean().item(), "kt_upper_stderr": se(upper),
    }
