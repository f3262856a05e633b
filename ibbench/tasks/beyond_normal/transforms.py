"""The per-variable transforms of the "Beyond Normal" catalogue (Czyz et al. 2023, bmi).

Each maps X (and Y) by an injective smooth map, X' = f(X), Y' = g(Y), so I(X'; Y') = I(X; Y): the
transformed task keeps its base's exact truth while its samples stop looking Gaussian.  All act on
float64 (n, d) tensors.

- ``normal_cdf``: Phi per coordinate (uniform margins in (0, 1)).
- ``half_cube``: x |x|^(1/2) per coordinate (heavier tails).
- ``asinh``: asinh per coordinate (lighter tails; bmi applies it to Student-t samples).
- ``wiggly``: x + 0.4 sin x + 0.2 sin(1.7 x + 1) + 0.03 sin(3.3 x - 2.5) on X and
  y - 0.4 sin(0.4 y) + 0.17 sin(1.3 y + 3.5) + 0.02 sin(4.3 y - 2.5) on Y, per coordinate; their
  derivatives stay above 1 - 0.4 - 0.34 - 0.099 > 0 and 1 - 0.16 - 0.221 - 0.086 > 0, so both are
  increasing.
- ``spiral``: x -> R(||x||^2 / dim_x) x with R(theta) the rotation by theta in the plane of
  coordinates (0, 1) for X and (1, 2) for Y (bmi's ``Spiral`` with the so(n) generators E_01, E_12 and
  speed 1 / dim).  It keeps ||x||, so ||x|| and then x are recovered: a diffeomorphism.
- ``swissroll_x``: X in [0, 1] embedded in the plane, t = 3 pi / 2 (1 + 2 x) -> (t cos t, t sin t) / 21;
  injective on [0, 1] (the radius t grows with x), Y unchanged.
- the bimodal margins (``bimodal_margins``): X and Y in (0, 1) sent through the inverse CDFs of
  0.3 N(0, 1) + 0.7 N(5, 1) and 0.5 N(-1, 1) + 0.5 N(3, 1) (bmi's ``1v1-bimodal`` base).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

Map = Callable[[torch.Tensor], torch.Tensor]


def normal_cdf(v: torch.Tensor) -> torch.Tensor:
    return torch.special.ndtr(v)


def half_cube(v: torch.Tensor) -> torch.Tensor:
    return v * torch.sqrt(torch.abs(v))


def wiggly_x(v: torch.Tensor) -> torch.Tensor:
    return v + 0.4 * torch.sin(v) + 0.2 * torch.sin(1.7 * v + 1) + 0.03 * torch.sin(3.3 * v - 2.5)


def wiggly_y(v: torch.Tensor) -> torch.Tensor:
    return v - 0.4 * torch.sin(0.4 * v) + 0.17 * torch.sin(1.3 * v + 3.5) + 0.02 * torch.sin(4.3 * v - 2.5)


def plane_spiral(i: int, j: int) -> Map:
    """v -> v rotated by ||v||^2 / dim in the plane of coordinates i < j (exp of speed ||v||^2 E_ij)."""

    def spiral(v: torch.Tensor) -> torch.Tensor:
        theta = (v * v).sum(dim=1) / v.shape[1]
        c, s = torch.cos(theta), torch.sin(theta)
        out = v.clone()
        out[:, i] = c * v[:, i] - s * v[:, j]
        out[:, j] = s * v[:, i] + c * v[:, j]
        return out

    return spiral


def swissroll(v: torch.Tensor) -> torch.Tensor:
    t = 1.5 * math.pi * (1.0 + 2.0 * v[:, 0])
    return torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 21.0


def identity(v: torch.Tensor) -> torch.Tensor:
    return v


def inverse_mixture_cdf(weights: tuple[float, ...], means: tuple[float, ...]) -> Map:
    """u in (0, 1) -> t with sum_k w_k Phi(t - m_k) = u, per coordinate (scipy's bracketed root finder
    on [-10, 10], as bmi's bisection; a u beyond the bracket's CDF values, probability < 1e-22 per
    draw, is clipped to its end)."""
    from scipy.optimize.elementwise import find_root
    from scipy.special import ndtr

    lo, hi = -10.0, 10.0
    cdf = lambda t: sum(w * ndtr(t - m) for w, m in zip(weights, means, strict=True))  # noqa: E731

    def inverse(u: torch.Tensor) -> torch.Tensor:
        target = np.clip(u.numpy(), cdf(lo), cdf(hi))
        res = find_root(
            lambda t, c: cdf(t) - c,
            (np.full_like(target, lo), np.full_like(target, hi)),
            args=(target,),
            tolerances={"xatol": 1e-12, "xrtol": 0.0},
        )
        return torch.from_numpy(np.asarray(res.x, dtype=np.float64))

    return inverse


BIMODAL_X = inverse_mixture_cdf((0.3, 0.7), (0.0, 5.0))
BIMODAL_Y = inverse_mixture_cdf((0.5, 0.5), (-1.0, 3.0))


@dataclass(frozen=True)
class Transform:
    """A pair of maps (X -> f(X), Y -> g(Y)) and what it needs of its input."""

    name: str
    fx: Callable[[int], Map]  # the map for X, given dim_x
    fy: Callable[[int], Map]  # the map for Y, given dim_y
    min_dim_x: int = 1
    min_dim_y: int = 1
    max_dim_x: int | None = None
    needs_unit_x: bool = False  # X must lie in [0, 1]
    dim_x_out: Callable[[int], int] = lambda d: d
    unit_out: bool = False  # the output lies in [0, 1] (for a later transform that needs it)
    keeps_y: bool = False  # Y passes unchanged


def _same(f: Map) -> Callable[[int], Map]:
    return lambda _dim: f


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("normal_cdf", _same(normal_cdf), _same(normal_cdf), unit_out=True),
        Transform("half_cube", _same(half_cube), _same(half_cube)),
        Transform("asinh", _same(torch.asinh), _same(torch.asinh)),
        Transform("wiggly", _same(wiggly_x), _same(wiggly_y)),
        Transform(
            "spiral", lambda _d: plane_spiral(0, 1), lambda _d: plane_spiral(1, 2), min_dim_x=2, min_dim_y=3
        ),
        Transform(
            "swissroll_x",
            _same(swissroll),
            _same(identity),
            max_dim_x=1,
            needs_unit_x=True,
            dim_x_out=lambda _d: 2,
            keeps_y=True,
        ),
    )
}
