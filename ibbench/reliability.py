"""Should this estimate be used?  A verdict from checks that need no truth: ``ok``, ``caution`` or
``unreliable``, with one line per reason.

"Converged" says the optimiser reached a plateau and the ± is the held-out sampling error; neither
says the number is near the truth.  These checks do, where they can:

- **the data** (``ibbench.datachecks``): repeated pairs, constant, near-constant or discrete columns;
- **ceilings**: a held-out lower bound on N pairs cannot certify more than log N (McAllester &
  Stratos 2020, "Formal limitations on the measurement of mutual information"); InfoNCE cannot read
  more than log b of its batch (van den Oord et al. 2018); KSG cannot read more than about log N.
  An estimate within ``CEILING_MARGIN`` of one says the truth may be anywhere above it;
- **dimension**: KSG's bias grows with dimension (Gao, Ver Steeg & Galstyan 2015), so above
  ``KNN_DIMS`` joint dimensions it reads as a lower bound; a critic trained on fewer than
  ``PAIRS_PER_DIM`` pairs per input dimension fits noise before signal;
- **sparse bins**: binning's plug-in is biased up by about (B_xy - B_x - B_y + 1) / 2N nats for B
  occupied bins (Miller 1955; Paninski 2003, Eq. 3);
- **sample-size consistency** (Abdelaleem, Martini & Nemenman 2025 check estimates across sample
  sizes): one extra fit on a nested half of the pairs (a finite sample) or on half the pairs (a
  sampler, for estimators that take ``n_samples``).  An estimate that moves by more than
  ``DRIFT_SE`` standard errors of the difference (and ``DRIFT_MIN`` nats) between N/2 and N has not
  reached its large-sample value: the sample is too small for this estimator.  A critic on a sampler
  sees fresh pairs at every step, so its check is the ceiling, not the sample size.

``--set estimator.check=false`` skips the extra fit and the verdict (the record says so).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from .api import RunContext, TaskInstance

LEVELS = ("ok", "caution", "unreliable")
CEILING_MARGIN = 1.0  # nats below a ceiling where an estimate is read as at it
KNN_DIMS = 10  # joint dimensions above which KSG reads as a lower bound
PAIRS_PER_DIM = 50  # training pairs per input dimension a critic needs; below a fifth of it: unreliable
MILLER_MADOW = 0.02  # nats of binning's estimated plug-in bias worth a caution
DRIFT_SE = 2.0
DRIFT_MIN = 0.02  # nats
DRIFT_UNRELIABLE = 0.25  # a drift this share of the estimate (and above 0.1 nats): unreliable
MIN_HALF = 50  # fewer pairs than this in the half sample: no consistency check
HALF_STREAM = "reliability.half"
Z95 = 1.96
Z95_ONE_SIDED = 1.645


@dataclass(frozen=True)
class Reason:
    code: str
    level: str
    text: str


@dataclass
class Verdict:
    """The reliability of one estimate: the worst level among its reasons (``ok`` without any)."""

    reasons: list[Reason] = field(default_factory=list)
    consistency: dict[str, Any] | None = None
    interval: dict[str, Any] | None = None  # {"low", "high", "kind"}: see ``interval``

    @property
    def level(self) -> str:
        return max((r.level for r in self.reasons), key=LEVELS.index, default="ok")

    def add(self, code: str, level: str, text: str) -> None:
        self.reasons.append(Reason(code, level, text))

    def record(self) -> dict[str, Any]:
        """The record's ``reliability`` field."""
        return {
            "verdict": self.level,
            "reasons": [{"code": r.code, "level": r.level, "text": r.text} for r in self.reasons],
            "consistency": self.consistency,
            "interval": self.interval,
        }


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


def judge(
    name: str,
    value: float,
    stderr: float | None,
    extras: dict[str, Any],
    *,
    x_dim: int,
    y_dim: int,
    data=None,
    check: dict[str, Any] | None = None,
    check_skipped: str | None = None,
) -> Verdict:
    """The verdict on estimator ``name``'s ``value`` (nats), from its ``extras``, the task's
    dimensions, the ``DataReport`` of a finite sample and the half-sample ``check``."""
    verdict = Verdict(consistency=check if check is not None else {"skipped": check_skipped})
    if data is not None:
        for finding in data.findings:
            verdict.add(finding.code, finding.level, finding.text)
    critic = "converged" in extras
    if critic and not extras["converged"]:
        verdict.add(
            "not-converged",
            "caution",
            f"the critic did not converge in the maximum of {extras.get('max_steps')} steps: raise estimator.steps",
        )
    if critic and "eval_batch_size" in extras and name == "infonce":
        ceiling = math.log(extras["eval_batch_size"])
        if value >= ceiling - CEILING_MARGIN:
            verdict.add(
                "ceiling",
                "unreliable",
                f"InfoNCE reads at most log b = {ceiling:.2f} nats (batch {extras['eval_batch_size']}) and this is "
                f"{value:.2f}: the truth may be far above; raise estimator.batch_size or use smile",
            )
    heldout = extras.get("heldout_pairs") or extras.get("eval_samples")
    bound = extras.get("lower_bound", True)  # SMILE's clipped estimate is not a bound: no certificate
    if critic and bound and heldout and value >= math.log(heldout) - CEILING_MARGIN:
        verdict.add(
            "ceiling",
            "unreliable",
            f"a lower bound held out on {heldout} pairs cannot certify more than log N = {math.log(heldout):.2f} "
            f"nats (McAllester & Stratos 2020); {value:.2f} may be far below the truth: use more pairs",
        )
    if critic and extras.get("train_pairs"):
        per_dim = extras["train_pairs"] / (x_dim + y_dim)
        if per_dim < PAIRS_PER_DIM:
            verdict.add(
                "pairs-per-dimension",
                "unreliable" if per_dim < PAIRS_PER_DIM / 5 else "caution",
                f"{extras['train_pairs']} training pairs for {x_dim + y_dim} dimensions ({per_dim:.0f} per dimension; "
                f"a critic needs about {PAIRS_PER_DIM}): it fits noise before signal, and the estimate may be far "
                f"below the truth",
            )
    if name == "ksg":
        if x_dim + y_dim > KNN_DIMS:
            verdict.add(
                "dimension",
                "caution",
                f"KSG in {x_dim + y_dim} joint dimensions: its bias grows with dimension (Gao et al. 2015), so read "
                f"the estimate as a lower bound",
            )
        n = extras.get("pairs_used")
        if n and value >= math.log(n) - CEILING_MARGIN:
            verdict.add(
                "ceiling",
                "unreliable",
                f"KSG reads at most about log N = {math.log(n):.2f} nats on {n} pairs and this is {value:.2f}",
            )
    if name == "binning" and extras.get("pairs_used"):
        if extras.get("saturated"):
            verdict.add(
                "saturated", "unreliable", "binning saturated: nearly every pair has a bin of its own"
            )
        bias = (extras["distinct_pairs"] - extras["distinct_x"] - extras["distinct_y"] + 1) / (
            2 * extras["pairs_used"]
        )
        if bias > MILLER_MADOW:
            verdict.add(
                "sparse-bins",
                "caution",
                f"binning's plug-in is biased up by about {bias:.3f} nats here ({extras['distinct_pairs']} occupied "
                f"joint bins for {extras['pairs_used']} pairs; Miller-Madow): use more pairs or fewer bins",
            )
    verdict.interval = interval(value, stderr, check, lower_bound=critic and bound)
    if check is not None:
        _judge_drift(verdict, name, value, check)
    elif check_skipped and check_skipped.startswith("the half-sample fit failed"):
        verdict.add("sample-size", "caution", check_skipped)
    return verdict


def interval(
    value: float, stderr: float | None, check: dict[str, Any] | None, lower_bound: bool = False
) -> dict[str, Any] | None:
    """A 95 % interval for the truth, of the kind the estimator can honestly give:

    - ``lower bound`` (a held-out variational lower bound: MINE's DV, NWJ, InfoNCE): [estimate - 1.645
      se, no upper end).  Its gap to the truth is the critic's, not a sampling error, and no check
      without the truth sees it (on bmi's tasks MINE read 0.1-0.2 nats low with a ± of 0.02-0.04:
      results/coverage/), so it claims only the side a bound guarantees;
    - ``bias-aware`` (the half-sample check ran): estimate ± (1.96 se + |drift|), the drift between
      N/2 and N pairs estimating the bias left at N for a bias falling like 1/N;
    - ``sampling only``: estimate ± 1.96 se.

    None without a standard error or a check.  How often each covers the truth is measured
    (``ibbench table coverage``, results/coverage/)."""
    if lower_bound and stderr is not None:
        return {"low": value - Z95_ONE_SIDED * stderr, "high": None, "kind": "lower bound"}
    if check is None and stderr is None:
        return None
    width = Z95 * (stderr or 0.0) + (abs(check["drift"]) if check is not None else 0.0)
    kind = "bias-aware" if check is not None else "sampling only"
    return {"low": value - width, "high": value + width, "kind": kind}


def _judge_drift(verdict: Verdict, name: str, value: float, check: dict[str, Any]) -> None:
    drift, se = check["drift"], check["drift_stderr"]
    limit = max(DRIFT_SE * se if se is not None else 0.0, DRIFT_MIN)
    if abs(drift) <= limit:
        return
    big = abs(drift) > DRIFT_UNRELIABLE * abs(value) and abs(drift) > 0.1
    likely = "above" if drift > 0 else "below"
    verdict.add(
        "sample-size",
        "unreliable" if big else "caution",
        f"{name} moves by {drift:+.3f} nats from {check['half_pairs']} to {check['pairs']} pairs (more than "
        f"{limit:.3f}): the sample is too small for it, and the truth is likely {likely} {value:.3f}",
    )


def run_check(plugin, name: str, task: TaskInstance, params, estimate, ctx: RunContext, data=None) -> Verdict:
    """The half-sample fit and the verdict for one estimate (``estimate``: the run's ``Estimate``)."""
    start = time.perf_counter()
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
        data=data,
        check=check,
        check_skipped=None if half is not None else m,
    )
