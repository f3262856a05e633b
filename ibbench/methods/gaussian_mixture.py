"""Mutual information of a Gaussian channel with a finite input set, by Monte Carlo.

With X uniform over N points and Z = F(X) + eps, eps ~ N(0, diag(s^2)), Z is
an equal-weight Gaussian mixture with centres c_j = F(x_j), so

    I(X;Z) = E_{i, eps}[ log N(z; c_i, s^2) - log (1/N) sum_j N(z; c_j, s^2) ]

and in whitened coordinates u = z/s, a_j = c_j/s the normalising constants cancel:

    term_i = -|u - a_i|^2 / 2  -  ( logsumexp_j(-|u - a_j|^2 / 2) - log N ).

Averaging term_i over M draws gives I with standard error std/sqrt(M); it lies
in [0, log N].

The sum over j never forms an M x N matrix.  Expanding the square, for a kernel
scale k (k = 1/2 above),

    logsumexp_j(-k |u - a_j|^2) = -k |u|^2 + logsumexp_j( 2k u.a_j - k |a_j|^2 ),

so each rows x cols block of logits is one matmul with the column bias folded in
(``addmm`` into a reused buffer), and the logsumexp over j is accumulated block by
block as a running max and sum of exp(logit - max) per row.  The block shape comes
from a memory budget (``max_block_bytes``) and the centres are whitened one block
at a time, so the extra memory is a few blocks plus per-row vectors, whatever N is.

The expansion cancels catastrophically when |u|^2 and |a_j|^2 are large compared
with |u - a_j|^2: a logit of size k |u|^2 carries a rounding error ~ eps k |u|^2
(eps = 1.2e-7 in float32), and the logsumexp is decided by differences of logits
of order 1.  Two remedies:
  * I is invariant to a common shift of z and the centres, so everything is
    translated by the centres' mean before whitening: u = (z - m)/s,
    a_j = (c_j - m)/s.  A common offset b (c_j + 1000, say) then costs nothing,
    where it used to put ~ eps |b|^2/s^2 into every logit.
  * What is left grows with the spread of the centres over the noise, |u| being
    the distance from their mean in noise units.  When eps k max_i |u_i|^2 exceeds
    ``CANCEL_TOL`` the blocks are computed in float64 (about twice the matmul time
    on a CPU), otherwise in the input's dtype.

Kolchinsky & Tracey (2017) sandwich I in closed form with pairwise distances:
Bhattacharyya (d^2/8) below, KL (d^2/2) above:
    -mean_i log mean_j exp(-|a_i - a_j|^2 / 8) <= I <= -mean_i log mean_j exp(-|a_i - a_j|^2 / 2).
"""

from __future__ import annotations

import math

import torch

DEFAULT_BLOCK_BYTES = 16 * 2**20  # one rows x cols logit block; larger blocks fall out of cache on CPUs
LAST_WORK_DTYPE: list[torch.dtype | None] = [None]  # the blocks' dtype of the last call (for benchmarks)
CANCEL_TOL = 1e-4  # largest tolerated rounding of a logit, eps * k * max|u|^2, before blocks go float64


def _block_shape(
    m: int, n: int, d: int, itemsize: int, row_chunk: int | None, col_chunk: int | None, max_block_bytes: int
) -> tuple[int, int]:
    """Rows and cols of one logit block: explicit chunks win, else rows x cols, rows x d and cols x d
    each fit ``max_block_bytes``."""
    budget = max(1, max_block_bytes // itemsize)  # elements
    rows = row_chunk or min(m, math.isqrt(budget), budget // max(d, 1))
    cols = col_chunk or min(n, budget // max(rows, 1), budget // max(d, 1))
    return max(1, rows), max(1, cols)


def _log_mean_kernel(
    u: torch.Tensor,
    centres: torch.Tensor,
    scale: float,
    shift: torch.Tensor,
    std: torch.Tensor | None,
    *,
    row_chunk: int | None = None,
    col_chunk: int | None = None,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
    work_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """log (1/N) sum_j exp(-scale |u'_i - a'_j|^2) with x' = (x - shift) / std, blockwise."""
    m, n, d = u.shape[0], centres.shape[0], centres.shape[1]
    out = torch.empty(m, dtype=u.dtype, device=u.device)
    if m == 0:
        return out

    def prep(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:  # a shifted, whitened copy of a slice
        t = t.to(dtype) - shift.to(dtype)
        return t if std is None else t.div_(std.to(dtype))

    if work_dtype is None:  # float64 where the expansion would round away more than CANCEL_TOL
        work_dtype = u.dtype
        if u.dtype != torch.float64:
            step = max(1, max_block_bytes // (u.element_size() * max(d, 1)))
            max_sq = (
                torch.stack(
                    [prep(u[r0 : r0 + step], u.dtype).square_().sum(1).max() for r0 in range(0, m, step)]
                )
                .max()
                .item()
            )
            if torch.finfo(u.dtype).eps * scale * max_sq > CANCEL_TOL:
                work_dtype = torch.float64
    LAST_WORK_DTYPE[0] = work_dtype
    rows_per, cols_per = _block_shape(
        m, n, d, torch.finfo(work_dtype).bits // 8, row_chunk, col_chunk, max_block_bytes
    )

    buf = torch.empty(min(rows_per, m) * min(cols_per, n), dtype=work_dtype, device=u.device)
    for r0 in range(0, m, rows_per):
        rows = prep(u[r0 : r0 + rows_per], work_dtype)
        nr = rows.shape[0]
        run_max = torch.full((nr, 1), -math.inf, dtype=work_dtype, device=u.device)
        run_sum = torch.zeros((nr, 1), dtype=work_dtype, device=u.device)
        for c0 in range(0, n, cols_per):
            cols = prep(centres[c0 : c0 + cols_per], work_dtype)
            bias = (cols * cols).sum(1).mul_(-scale)  # -k |a_j|^2
            block = buf[: nr * cols.shape[0]].view(nr, cols.shape[0])
            torch.addmm(bias, rows, cols.T, alpha=2.0 * scale, out=block)  # 2k u.a_j - k |a_j|^2
            new_max = torch.maximum(run_max, block.amax(1, keepdim=True))
            # sum exp(logit - max), the earlier sum rescaled to the new max; exp in place on the block
            run_sum.mul_((run_max - new_max).exp_()).add_(block.sub_(new_max).exp_().sum(1, keepdim=True))
            run_max = new_max
        lse = run_sum.log_().add_(run_max).squeeze(1)
        out[r0 : r0 + nr] = lse - scale * (rows * rows).sum(1) - math.log(n)  # put back -k |u|^2
    return out


def log_mean_kernel(
    u: torch.Tensor,
    centres: torch.Tensor,
    scale: float,
    *,
    row_chunk: int | None = None,
    col_chunk: int | None = None,
    max_block_bytes: int = DEFAULT_BLOCK_BYTES,
    work_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """For each row u_i: log (1/N) sum_j exp(-scale * |u_i - a_j|^2), blockwise in rows and columns.

    Blocks are ``row_chunk`` x ``col_chunk`` where given, else sized to ``max_block_bytes``;
    ``work_dtype`` forces the blocks' dtype (default: the input's, float64 past ``CANCEL_TOL``).
    Both inputs are shifted by the centres' mean first: the value is shift-invariant, the rounding is not.
    """
    return _log_mean_kernel(
        u,
        centres,
        scale,
        centres.mean(0),
        None,
        row_chunk=row_chunk,
        col_chunk=col_chunk,
        max_block_bytes=max_block_bytes,
        work_dtype=work_dtype,
    )


def _std(noise_std: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(noise_std, dtype=like.dtype, device=like.device)


def mixture_mi_terms(
    z: torch.Tensor,
    own_centre: torch.Tensor,
    centres: torch.Tensor,
    noise_std: float | torch.Tensor,
    **chunks,
) -> torch.Tensor:
    """Per-sample terms log p(z|x_i) - log p(z) of the Gaussian-mixture MI (nats).

    ``chunks``: ``row_chunk``, ``col_chunk``, ``max_block_bytes``, ``work_dtype`` of :func:`log_mean_kernel`.
    """
    s = _std(noise_std, centres)
    own = (z - own_centre).div_(s).square_().sum(1).mul_(-0.5)  # the difference first: no cancellation
    return own - _log_mean_kernel(z, centres, 0.5, centres.mean(0), s, **chunks)


def mixture_mi(
    centres: torch.Tensor, noise_std: float | torch.Tensor, samples: int, generator: torch.Generator, **chunks
) -> tuple[float, float]:
    """Monte-Carlo I(X; F(X)+eps) for X uniform over the rows of ``centres`` = F(x_j): (mean, stderr)."""
    n = centres.shape[0]
    idx = torch.randint(n, (samples,), generator=generator).to(centres.device)
    eps = torch.randn(samples, centres.shape[1], generator=generator, dtype=centres.dtype).to(centres.device)
    own = centres[idx]
    z = eps.mul_(_std(noise_std, centres)).add_(own)  # own + eps * s, in place
    terms = mixture_mi_terms(z, own, centres, noise_std, **chunks)
    return terms.mean().item(), (terms.std() / math.sqrt(samples)).item()


def pairwise_bounds(
    centres: torch.Tensor, noise_std: float | torch.Tensor, rows: int, generator: torch.Generator, **chunks
) -> dict[str, float]:
    """Kolchinsky-Tracey bounds, averaged over ``rows`` random i (all rows when rows >= N)."""
    n = centres.shape[0]
    if rows >= n:
        chosen = centres
    else:
        chosen = centres[torch.randint(n, (rows,), generator=generator).to(centres.device)]
    s, mean = _std(noise_std, centres), centres.mean(0)
    lower = -_log_mean_kernel(chosen, centres, 1.0 / 8.0, mean, s, **chunks)
    upper = -_log_mean_kernel(chosen, centres, 1.0 / 2.0, mean, s, **chunks)
    m = chosen.shape[0]

    def se(t: torch.Tensor) -> float:  # no spread when every centre was used
        return 0.0 if m >= n or m < 2 else (t.std() / math.sqrt(m)).item()

    return {
        "kt_lower": lower.mean().item(),
        "kt_lower_stderr": se(lower),
        "kt_upper": upper.mean().item(),
        "kt_upper_stderr": se(upper),
    }
