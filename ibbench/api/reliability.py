"""What an estimator declares for the verdict rules (``ibbench.verdicts.judgement``): how it reads that its
extras do not show.  The rules themselves hold for every estimator; these traits say which apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ReliabilityTraits:
    """An estimator's reliability traits (class attribute ``Estimator.reliability``).

    - ``label``: how a reason names it (default: its registered name);
    - ``interval``: the 95 % interval it can honestly give (``ibbench.verdicts.judgement.interval``):
      ``"two-sided"`` (bias-aware or sampling only), ``"lower reading"`` (it reads low without a bound's
      guarantee: [estimate - 1.645 se, no upper end), e.g. KSG, SMILE) or ``"none"`` (a bias with no
      standard error to scale, e.g. binning's plug-in);
    - ``ceiling``: (the extras key of a count n, the reason's text) where it cannot read more than
      log n nats (InfoNCE: its batch; KSG: its pairs); the text is formatted with ``ceiling`` (log n),
      ``n`` and ``value``;
    - ``reads_low_above_dims``: joint dimensions above which it reads low (KSG: 10, Gao et al. 2015), with
      ``dimension_text`` (formatted with ``label`` and ``dims``) as its caution; there, an estimate that
      still climbs with N is unreliable;
    - ``plug_in_bins``: a plug-in estimate over bins, whose extras count the occupied bins
      (``distinct_pairs``, ``distinct_x``, ``distinct_y``, ``pairs_used``, ``saturated``): its upward bias
      is estimated (Miller-Madow)."""

    label: str | None = None
    interval: Literal["two-sided", "lower reading", "none"] = "two-sided"
    ceiling: tuple[str, str] | None = None
    reads_low_above_dims: int | None = None
    dimension_text: str = ""
    plug_in_bins: bool = False
