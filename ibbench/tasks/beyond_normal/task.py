"""The ``beyond-normal`` task: a base distribution of known MI seen through per-variable transforms.

A task is a base (``bases``) and a list of transforms (``transforms``) applied in order, the first to
the base's samples.  Its truth is the base's closed form: every transform is an injective smooth map
of X alone and Y alone, which leaves I(X;Y) unchanged.  The 40 tasks of bmi's benchmark are
registered under bmi's own ids (``catalogue``) with ``n_pairs = 5000``, bmi's protocol: each run
draws one fixed sample of 5000 pairs from its seed, and critic estimators split it into training and
held-out pairs.  ``n_pairs = None`` makes the task a sampler (fresh pairs on every draw).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from ...api import Params, RunContext, Task, TaskInstance, Truth
from ...errors import DataError
from . import bases
from .catalogue import BASES, TRANSFORM_NAMES
from .transforms import BIMODAL_X, BIMODAL_Y, TRANSFORMS, normal_cdf

Base = Literal[tuple(BASES)]
TransformName = Literal[TRANSFORM_NAMES]

#: the fields each base takes, with their defaults (bmi's): any other base field set is an error
BASE_FIELDS: dict[str, dict[str, Any]] = {
    "1v1-normal": {"correlation": 0.75},
    "1v1-bimodal": {"correlation": 0.75},
    "1v1-additive": {"epsilon": 0.1},
    "multinormal-dense": {"correlation": 0.5},
    "multinormal-sparse": {"n_interacting": 2, "strength": 2.0},
    "student-identity": {"dof": 1.0},
}
ONE_BY_ONE = ("1v1-normal", "1v1-bimodal", "1v1-additive")
PAIRS_STREAM = "beyond-normal.pairs"  # the random stream a fixed sample is drawn from


class BeyondNormalParams(Params):
    base: Base = "1v1-normal"
    dim_x: int = Field(1, ge=1, le=1024)  # dimension of X (the 1v1 bases: 1)
    dim_y: int = Field(1, ge=1, le=1024)  # dimension of Y
    # 1v1-normal and 1v1-bimodal: the Gaussian correlation rho (default 0.75);
    # multinormal-dense: every off-diagonal entry of the covariance (default 0.5)
    correlation: float | None = Field(None, gt=-1, lt=1)
    n_interacting: int | None = Field(None, ge=0)  # multinormal-sparse: correlated pairs (default 2)
    strength: float | None = Field(None, gt=0, le=1e3)  # multinormal-sparse: latent weight lambda (default 2)
    dof: float | None = Field(None, ge=0.5, le=1e6)  # student-identity: degrees of freedom nu (default 1)
    epsilon: float | None = Field(None, gt=0, le=1e6)  # 1v1-additive: noise half-width (default 0.1)
    transforms: list[TransformName] = []  # applied in this order, the first to the base's samples
    n_pairs: int | None = Field(
        None, ge=4, le=10_000_000
    )  # a fixed sample of this many pairs; None: a sampler

    @model_validator(mode="before")
    @classmethod
    def _base_fields(cls, values: Any) -> Any:
        """Fill the base's own fields with bmi's defaults (so the record shows the values the run used)
        and refuse a field of another base."""
        if not isinstance(values, dict) or values.get("base", "1v1-normal") not in BASE_FIELDS:
            return values  # pydantic reports the bad base
        allowed = BASE_FIELDS[values.get("base", "1v1-normal")]
        values = dict(values)
        for name in ("correlation", "n_interacting", "strength", "dof", "epsilon"):
            if name not in allowed and values.get(name) is not None:
                raise ValueError(
                    f"{name} does not apply to base {values.get('base', '1v1-normal')} "
                    f"(it takes {', '.join(allowed)})"
                )
            if name in allowed and values.get(name) is None:
                values[name] = allowed[name]
        return values

    @model_validator(mode="after")
    def _check(self) -> BeyondNormalParams:
        if self.base in ONE_BY_ONE and (self.dim_x, self.dim_y) != (1, 1):
            raise ValueError(f"base {self.base} is 1 x 1: leave dim_x and dim_y at 1")
        if self.base == "multinormal-sparse" and self.n_interacting > min(self.dim_x, self.dim_y):
            raise ValueError(
                f"n_interacting={self.n_interacting} exceeds min(dim_x, dim_y) = "
                f"{min(self.dim_x, self.dim_y)}; lower it or raise the dimensions"
            )
        if self.base == "multinormal-dense" and not positive_definite(
            bases.dense_covariance(self.dim_x, self.dim_y, self.correlation)
        ):
            d = self.dim_x + self.dim_y
            raise ValueError(
                f"correlation={self.correlation:g} gives no covariance for {d} variables; "
                f"it must lie in (-1/{d - 1}, 1)"
            )
        _check_chain(self)
        return self


def positive_definite(m: torch.Tensor) -> bool:
    return bool(torch.linalg.cholesky_ex(m).info == 0)


def _check_chain(p: BeyondNormalParams) -> None:
    """Walk the transforms, tracking the dimensions and whether X lies in [0, 1]; ValueError where one
    cannot take what the previous produced."""
    dim_x, dim_y, unit_x = p.dim_x, p.dim_y, p.base == "1v1-additive"
    for name in p.transforms:
        t = TRANSFORMS[name]
        if dim_x < t.min_dim_x or dim_y < t.min_dim_y:
            raise ValueError(
                f"transform {name} needs dim_x >= {t.min_dim_x} and dim_y >= {t.min_dim_y} "
                f"(it rotates a plane of coordinates); it gets {dim_x} x {dim_y}"
            )
        if t.max_dim_x is not None and dim_x > t.max_dim_x:
            raise ValueError(f"transform {name} embeds a 1-d X; it gets dim_x = {dim_x}")
        if t.needs_unit_x and not unit_x:
            raise ValueError(f"transform {name} needs X in [0, 1]: put normal_cdf before it")
        dim_x, unit_x = t.dim_x_out(dim_x), t.unit_out


def build_base(p: BeyondNormalParams):
    if p.base in ("1v1-normal", "1v1-bimodal"):
        return bases.Multinormal(bases.dense_covariance(1, 1, p.correlation), 1)
    if p.base == "1v1-additive":
        return bases.AdditiveUniform(p.epsilon)
    if p.base == "multinormal-dense":
        return bases.Multinormal(bases.dense_covariance(p.dim_x, p.dim_y, p.correlation), p.dim_x)
    if p.base == "multinormal-sparse":
        sigma = bases.sparse_correlation(p.dim_x, p.dim_y, p.n_interacting, p.strength)
        return bases.Multinormal(sigma, p.dim_x)
    return bases.SplitStudentT(torch.eye(p.dim_x + p.dim_y, dtype=torch.float64), p.dim_x, p.dof)


class BeyondNormalInstance(TaskInstance):
    """Draws in float64 through the whole chain, then hands float32 pairs to the estimator."""

    channel = None

    def __init__(self, p: BeyondNormalParams, ctx: RunContext) -> None:
        self.p, self.base = p, build_base(p)
        self.x_dim = TRANSFORMS["swissroll_x"].dim_x_out(1) if "swissroll_x" in p.transforms else p.dim_x
        self.y_dim = p.dim_y
        self.n_pairs = p.n_pairs
        if p.n_pairs is not None:  # one fixed sample per run seed, as bmi's protocol
            self.x, self.y = self._draw(p.n_pairs, ctx.generator(PAIRS_STREAM))

    def _draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.base.draw(n, generator)
        if self.p.base == "1v1-bimodal":  # Phi, then the inverse CDFs of the two mixtures
            x, y = BIMODAL_X(normal_cdf(x)), BIMODAL_Y(normal_cdf(y))
        for name in self.p.transforms:
            t = TRANSFORMS[name]
            x, y = t.fx(x.shape[1])(x), t.fy(y.shape[1])(y)
        return x.float(), y.float()

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n pairs as float32 (n, x_dim), (n, y_dim): fresh draws, or n distinct pairs of the fixed
        sample (DataError for n > n_pairs)."""
        if self.n_pairs is None:
            return self._draw(n, generator)
        if n > self.n_pairs:
            raise DataError(
                f"asked for {n} pairs but the task is a fixed sample of {self.n_pairs}; "
                f"raise task.n_pairs or ask for fewer"
            )
        idx = torch.randperm(self.n_pairs, generator=generator)[:n]
        return self.x[idx], self.y[idx]

    def fixed_pairs(self):
        """The fixed sample in its drawn order, float64 of the float32 pairs estimators see."""
        if self.n_pairs is None:
            raise ValueError("a sampler (n_pairs is None) has no fixed pairs")
        return self.x.double().numpy(), self.y.double().numpy()

    def truth(self, ctx: RunContext) -> Truth:
        return Truth(self.base.mi(), 0.0, {"base": self.p.base, "transforms": list(self.p.transforms)})

    def describe(self) -> dict[str, Any]:
        from .catalogue import task_id

        return {
            "bmi_task_id": task_id(self.p),
            "base": self.p.base,
            "transforms": list(self.p.transforms),
            "pairs": self.n_pairs,
        }


class BeyondNormal(Task):
    Params = BeyondNormalParams

    def build(self, params: BeyondNormalParams, ctx: RunContext) -> BeyondNormalInstance:
        return BeyondNormalInstance(params, ctx)

    @classmethod
    def closed_form_truth(cls, params: BeyondNormalParams) -> float:
        return build_base(params).mi()
