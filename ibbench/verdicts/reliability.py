"""The measurement behind the reliability verdict: one extra fit on half the pairs.

Abdelaleem, Martini & Nemenman (2025) check estimates for consistency across sample sizes: an
estimate that moves by more than its error between N/2 and N pairs has not reached its large-sample
value.  ``run_check`` makes that fit (on a nested half of a finite sample, or on half the pairs for
estimators that take ``n_samples``) and hands it, with the data checks, to the rules of
``ibbench.verdicts.judgement``.  A critic on a sampler sees fresh pairs at every step, so it has no sample
size to check: its checks are the ceilings.

``--set estimator.check=false`` skips the extra fit; the checks that cost nothing still run.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import torch

from ..api import RunContext, TaskInstance
from .judgement import Verdict, judge

MIN_HALF = 50  # fewer pairs than this in the half sample: no consistency check
HALF_STREAM = "reliability.half"
OFF = "turned off (estimator.check=false)"


class HalfSample(TaskInstance):
    """A finite task's nested half: the first m of its pairs in a fixed random order, as a finite task."""

    channel = None

    def __init__(self, task: TaskInstance, m: int, ctx: RunContext) -> None:
        x, y = task.sample(task.n_pairs, ctx.generator(HALF_STREAM))  # every pair, in a seeded order
        self.x, self.y = x[:m], y[:m]
        self.n_pairs, self.x_dim, self.y_dim, self.mi_ceiling = m, task.x_dim, task.y_dim, task.mi_ceiling

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randperm(self.n_pairs, generator=generator)[:n]
        return self.x[idx], self.y[idx]

    def fixed_pairs(self):
        return self.x.double().numpy(), self.y.double().numpy()


def half_estimate(plugin, task: TaskInstance, params, extras: dict[str, Any], ctx: RunContext):
    """The estimator once more on half the pairs: (Estimate, pairs, full pairs) or (None, why, None)."""
    fields = type(params).model_fields
    has_n = "n_samples" in fields
    if task.n_pairs is not None:
        full = (
            min(task.n_pairs, getattr(params, "n_samples", None) or task.n_pairs) if has_n else task.n_pairs
        )
        m = full // 2
        if m < MIN_HALF:
            return None, f"{full} pairs: too few to halve", None
        view, half_params = HalfSample(task, m, ctx), params
        if has_n and getattr(params, "n_samples", None) is not None:
            half_params = params.model_copy(update={"n_samples": m})
    elif has_n:
        full = int(extras.get("pairs_used") or getattr(params, "n_samples", None) or 0)
        m = full // 2
        if m < MIN_HALF:
            return None, f"{full} pairs: too few to halve", None
        view, half_params = task, params.model_copy(update={"n_samples": m})
    else:
        return None, "a sampler gives this estimator fresh pairs at every step: no sample size to check", None
    child = ctx.child("reliability", show_progress=False)
    with warnings.catch_warnings():  # the run's own warnings were given; the half fit's would repeat them
        warnings.simplefilter("ignore")
        return plugin.estimate(view, half_params, child), m, full


def consistency(
    full_value: float, full_se: float | None, half, m: int, n: int, seconds: float
) -> dict[str, Any]:
    drift = full_value - float(half.value)
    se = math.sqrt(full_se**2 + half.stderr**2) if full_se is not None and half.stderr is not None else None
    return {
        "pairs": n,
        "half_pairs": m,
        "half_estimate": float(half.value),
        "half_stderr": None if half.stderr is None else float(half.stderr),
        "drift": drift,
        "drift_stderr": se,
        "check_seconds": round(seconds, 3),
    }


def run_check(
    plugin, name: str, task: TaskInstance, params, estimate, ctx: RunContext, data=None, fit: bool = True
) -> Verdict:
    """The half-sample fit (unless ``fit`` is False: ``estimator.check=false``) and the verdict for one
    estimate (``estimate``: the run's ``Estimate``; ``data``: the sample's ``DataReport`` or None)."""
    start = time.perf_counter()
    half, m, n = None, OFF, None
    if fit:
        try:
            half, m, n = half_estimate(plugin, task, params, estimate.extras or {}, ctx)
        except Exception as exc:  # noqa: BLE001 (a fit that fails on half the pairs is a finding, not a crash)
            half, m = None, f"the half-sample fit failed ({type(exc).__name__}: {exc})".replace("\n", " ")
    check = None
    if half is not None:
        check = consistency(float(estimate.value), estimate.stderr, half, m, n, time.perf_counter() - start)
    return judge(
        name,
        float(estimate.value),
        estimate.stderr,
        estimate.extras or {},
        x_dim=task.x_dim,
        y_dim=task.y_dim,
        traits=plugin.reliability,
        findings=data.findings if data is not None else (),
        check=check,
        check_skipped=None if half is not None else m,
    )
