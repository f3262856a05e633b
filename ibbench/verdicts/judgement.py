"""Should this estimate be used?  The rules that turn what a run measured into a verdict, ``ok``,
``caution`` or ``unreliable`` with one line per reason, and into the interval the estimate can
honestly claim.

The rules read only what the record keeps (the estimate and its standard error, the estimator's
extras, the data checks under ``extras["data"]``, the half-sample fit of ``ibbench.verdicts.reliability``
and the task's dimensions), so a verdict can be re-derived from a stored record (``judge_record``)
and changing a rule re-judges a store in seconds instead of re-running it: this module is
number-neutral (``ibbench.store.fingerprint``), and each verdict names the version of the rules that made
it (``rules_version``; ``ibbench reproduce --rejudge``).

The checks, each needing no truth; an estimator's declared traits (``Estimator.reliability``,
``ibbench.api.ReliabilityTraits``) say which of the estimator-specific ones apply, so no rule names an
estimator:

- **the data** (``ibbench.verdicts.datachecks``): repeated pairs, constant, near-constant or discrete columns;
- **ceilings**: a held-out lower bound on N pairs cannot certify more than log N (McAllester &
  Stratos 2020, "Formal limitations on the measurement of mutual information"); an estimator that
  declares a ``ceiling`` cannot read more than log n of the count it names (InfoNCE: its batch, van den
  Oord et al. 2018; KSG: about log N).  An estimate within ``CEILING_MARGIN`` of one says the truth
  may be anywhere above it;
- **high MI**: a variational lower bound above ``HIGH_BOUND`` nats is loose by an amount nothing
  without the truth measures;
- **dimension**: an estimator that declares ``reads_low_above_dims`` (KSG, whose bias grows with
  dimension: Gao, Ver Steeg & Galstyan 2015) reads low above that many joint dimensions; a critic
  trained on fewer than ``PAIRS_PER_DIM`` pairs per input dimension fits noise before signal;
- **sparse bins**: a plug-in estimate over bins (``plug_in_bins``: binning) is biased up by about
  (B_xy - B_x - B_y + 1) / 2N nats for B occupied bins (Miller 1955; Paninski 2003, Eq. 3);
- **sample-size consistency** (Abdelaleem, Martini & Nemenman 2025 check estimates across sample
  sizes): an estimate that moves by more than ``DRIFT_SE`` standard errors of the difference (and
  ``DRIFT_MIN`` nats) between N/2 and N pairs has not reached its large-sample value.  One above its
  ``reads_low_above_dims`` that still climbs with N is ``unreliable``: both say it reads far low.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.reliability import ReliabilityTraits

LEVELS = ("ok", "caution", "unreliable")
CEILING_MARGIN = 1.0  # nats below a ceiling where an estimate is read as at it
PAIRS_PER_DIM = 50  # training pairs per input dimension a critic needs; below a fifth of it: unreliable
MILLER_MADOW = 0.02  # nats of a plug-in estimate's estimated bias worth a caution
DRIFT_SE = 2.0
DRIFT_MIN = 0.02  # nats
DRIFT_UNRELIABLE = 0.25  # a drift this share of the estimate (and above 0.1 nats): unreliable
Z95 = 1.96
Z95_ONE_SIDED = 1.645
#: nats above which a variational lower bound is read as loose: no check without the truth sees by how
#: much a DV, NWJ or InfoNCE bound falls short at high MI (McAllester & Stratos 2020; Song & Ermon 2020),
#: and on every stored run with a truth (bmi's tasks, the staircase, the Gaussians, the Gaussian and
#: mixture channels: results/coverage/, results/bias/, results/fig2/) each such estimate above 2 nats
#: was more than 0.5 nats below it
HIGH_BOUND = 2.0
#: the traits of an estimator that declares none (``ibbench.api.ReliabilityTraits``)
PLAIN = ReliabilityTraits()


def rules_version(traits: ReliabilityTraits = PLAIN) -> str:
    """A short sha256 of this module's source and the estimator's declared traits: the version of the
    rules a verdict was made by."""
    return hashlib.sha256(_source() + repr(traits).encode()).hexdigest()[:12]


@functools.cache
def _source() -> bytes:
    return Path(__file__).read_bytes()


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
    dims: tuple[int, int] | None = None  # the task's (x_dim, y_dim), kept so the record can be re-judged
    traits: ReliabilityTraits = PLAIN  # the estimator's, part of the rules' version

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
            "dims": None if self.dims is None else list(self.dims),
            "rules": rules_version(self.traits),
        }


def judge(
    name: str,
    value: float,
    stderr: float | None,
    extras: dict[str, Any],
    *,
    x_dim: int,
    y_dim: int,
    traits: ReliabilityTraits = PLAIN,
    findings=(),
    check: dict[str, Any] | None = None,
    check_skipped: str | None = None,
) -> Verdict:
    """The verdict on estimator ``name``'s ``value`` (nats) with standard error ``stderr``.

    ``extras``: the estimator's extras; ``traits``: what it declares of how it reads
    (``Estimator.reliability``); ``findings``: the data checks' findings (objects or dicts with code,
    level and text); ``check``: the half-sample fit (``ibbench.verdicts.reliability.consistency``), or
    ``check_skipped`` saying why there is none."""
    verdict = Verdict(consistency=check if check is not None else {"skipped": check_skipped}, traits=traits)
    verdict.dims = (x_dim, y_dim)
    label = traits.label or name
    for finding in findings:
        get = finding.get if isinstance(finding, dict) else lambda key, f=finding: getattr(f, key)
        verdict.add(get("code"), get("level"), get("text"))
    critic = "converged" in extras
    if critic and not extras["converged"]:
        verdict.add(
            "not-converged",
            "caution",
            f"the critic did not converge in the maximum of {extras.get('max_steps')} steps: raise estimator.steps",
        )
    reads_low = traits.reads_low_above_dims is not None and x_dim + y_dim > traits.reads_low_above_dims
    if reads_low:
        verdict.add("dimension", "caution", traits.dimension_text.format(label=label, dims=x_dim + y_dim))
    if traits.ceiling is not None and extras.get(traits.ceiling[0]):
        n = extras[traits.ceiling[0]]
        if value >= math.log(n) - CEILING_MARGIN:
            verdict.add(
                "ceiling", "unreliable", traits.ceiling[1].format(ceiling=math.log(n), n=n, value=value)
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
    if critic and bound and value >= HIGH_BOUND and not any(r.code == "ceiling" for r in verdict.reasons):
        verdict.add(
            "high-mi",
            "caution",
            f"a variational lower bound of {value:.2f} nats: above {HIGH_BOUND:g} nats these bounds run far below "
            f"the truth (McAllester & Stratos 2020) and no check without the truth sees how far; read it as a "
            f"lower bound only, or compare smile",
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
    if traits.plug_in_bins and extras.get("pairs_used"):
        _judge_bins(verdict, label, extras)
    if check is not None:
        _judge_drift(verdict, name, value, check, climbing_is_unreliable=reads_low)
    elif check_skipped and check_skipped.startswith("the half-sample fit failed"):
        verdict.add("sample-size", "caution", check_skipped)
    verdict.interval = interval(traits, value, stderr, check, lower_bound=critic and bound)
    return verdict


def _judge_bins(verdict: Verdict, label: str, extras: dict[str, Any]) -> None:
    if extras.get("saturated"):
        verdict.add("saturated", "unreliable", f"{label} saturated: nearly every pair has a bin of its own")
    bias = (extras["distinct_pairs"] - extras["distinct_x"] - extras["distinct_y"] + 1) / (
        2 * extras["pairs_used"]
    )
    if bias > MILLER_MADOW:
        verdict.add(
            "sparse-bins",
            "caution",
            f"{label}'s plug-in is biased up by about {bias:.3f} nats here ({extras['distinct_pairs']} occupied "
            f"joint bins for {extras['pairs_used']} pairs; Miller-Madow): use more pairs or fewer bins",
        )


def interval(
    traits: ReliabilityTraits,
    value: float,
    stderr: float | None,
    check: dict[str, Any] | None,
    lower_bound: bool = False,
) -> dict[str, Any] | None:
    """A 95 % interval for the truth, of the kind an estimator with these ``traits`` can honestly give
    (nats):

    - ``lower bound`` (a held-out variational lower bound: MINE's DV, NWJ, InfoNCE): [estimate - 1.645
      se, no upper end).  Its gap to the truth is the critic's, not a sampling error, and no check
      without the truth sees it, so it claims only the side a bound guarantees;
    - ``lower reading`` (declared ``interval="lower reading"``: KSG, SMILE): the same one-sided form for
      an estimator that reads low without a guarantee; where the half-sample fit says the estimate falls with N (the
      truth likely below), the bias-aware interval instead;
    - ``bias-aware`` (the half-sample check ran): estimate ± (1.96 se + |drift|), the drift between
      N/2 and N pairs estimating the bias left at N for a bias falling like 1/N;
    - ``sampling only``: estimate ± 1.96 se.

    None where it declares ``interval="none"`` (binning) and without a standard error or a check.  How often each
    covers the truth is measured (``ibbench table coverage``, results/coverage/)."""
    if traits.interval == "none":
        return None
    one_sided = lower_bound or (traits.interval == "lower reading" and not _falls_with_n(check))
    if one_sided and stderr is not None:
        kind = "lower bound" if lower_bound else "lower reading"
        return {"low": value - Z95_ONE_SIDED * stderr, "high": None, "kind": kind}
    if check is None and stderr is None:
        return None
    width = Z95 * (stderr or 0.0) + (abs(check["drift"]) if check is not None else 0.0)
    kind = "bias-aware" if check is not None else "sampling only"
    return {"low": value - width, "high": value + width, "kind": kind}


def _drift_limit(check: dict[str, Any]) -> float:
    se = check.get("drift_stderr")
    return max(DRIFT_SE * se if se is not None else 0.0, DRIFT_MIN)


def _falls_with_n(check: dict[str, Any] | None) -> bool:
    return check is not None and check["drift"] < -_drift_limit(check)


def _judge_drift(
    verdict: Verdict, name: str, value: float, check: dict[str, Any], climbing_is_unreliable: bool = False
) -> None:
    drift = check["drift"]
    limit = _drift_limit(check)
    if abs(drift) <= limit:
        return
    big = abs(drift) > DRIFT_UNRELIABLE * abs(value) and abs(drift) > 0.1
    likely = "above" if drift > 0 else "below"
    verdict.add(
        "sample-size",
        "unreliable" if big or (climbing_is_unreliable and drift > 0) else "caution",
        f"{name} moves by {drift:+.3f} nats from {check['half_pairs']} to {check['pairs']} pairs (more than "
        f"{limit:.3f}): the sample is too small for it, and the truth is likely {likely} {value:.3f}",
    )


def judge_record(
    record, dims: tuple[int, int] | None = None, traits: ReliabilityTraits = PLAIN
) -> Verdict | None:
    """The verdict today's rules give a stored ``RunRecord`` (None for a record without an estimate or
    whose run made no verdict).  ``dims``: the task's (x_dim, y_dim) where the record does not keep
    them (records made before the rules were versioned); ``traits``: its estimator's."""
    old = record.reliability
    if not old or record.estimate is None or record.spec.estimator is None:
        return None
    dims = tuple(old["dims"]) if old.get("dims") else dims
    if dims is None:
        raise ValueError("the record keeps no task dimensions: pass dims")
    check = old.get("consistency") or {}
    extras = record.extras or {}
    measured = check if "drift" in check else None
    return judge(
        record.spec.estimator.name,
        record.estimate,
        record.estimate_stderr,
        extras.get("estimator") or {},
        x_dim=dims[0],
        y_dim=dims[1],
        traits=traits,
        findings=(extras.get("data") or {}).get("findings", []),
        check=measured,
        check_skipped=None if measured is not None else check.get("skipped"),
    )
