"""The critic toolkit that MINE, AA-MINE, the IB trainers' critics and critic plugins (InfoNCE, NWJ,
SMILE) are built from, and the estimation protocol every critic estimate is made by.

- ``params``: ``CriticParams`` and the per-budget presets ``CRITIC_BUDGETS``
- ``models``: the critic networks ``Critic`` (g([u, y])) and ``SeparableCritic`` (f(u) . g(y))
- ``bounds``: the DV bound and its standard error; the ``Objective`` signature of other bounds
- ``training``: ``CriticTrainer`` (one update per ``step``, resumable) and its sampling helpers
- ``pairs``, ``heldout``, ``plateau``, ``protocol``: the estimation protocol (held-out pairs,
  standardised inputs, training to a plateau, impossible values failed); ``train_critic`` and
  ``CriticMeter`` are its entry points

Importing this package imports torch; ``ibbench.api`` does not.
"""

from .bounds import Objective, dv_bound, dv_estimate_with_stderr
from .heldout import DIVERGED_TOLERANCE, check_possible, combine, eval_batch_size, heldout_bound
from .models import SCALE_FLOOR, SIMD_WIDTH, Critic, SeparableCritic, critic_step_flops, mlp_flops, mlp_head
from .pairs import (
    CURVE_PERM_STREAM,
    CURVE_STREAM,
    FINAL_PERM_STREAM,
    FINAL_STREAM,
    SPLIT_STREAM,
    STATS_STREAM,
    CriticData,
    Pairs,
    critic_data,
)
from .params import CRITIC_BUDGETS, CriticParams, Precision, Standardise
from .plateau import Plateau, fit_to_plateau
from .protocol import CriticMeter, report, train_critic
from .training import CriticTrainer, Sampler, draw, make_adam, permutations, precision_scope

__all__ = [
    "CRITIC_BUDGETS",
    "CURVE_PERM_STREAM",
    "CURVE_STREAM",
    "DIVERGED_TOLERANCE",
    "FINAL_PERM_STREAM",
    "FINAL_STREAM",
    "SCALE_FLOOR",
    "SIMD_WIDTH",
    "SPLIT_STREAM",
    "STATS_STREAM",
    "Critic",
    "CriticData",
    "CriticMeter",
    "CriticParams",
    "CriticTrainer",
    "Objective",
    "Pairs",
    "Plateau",
    "Precision",
    "Sampler",
    "SeparableCritic",
    "Standardise",
    "check_possible",
    "combine",
    "critic_data",
    "critic_step_flops",
    "draw",
    "dv_bound",
    "dv_estimate_with_stderr",
    "eval_batch_size",
    "fit_to_plateau",
    "heldout_bound",
    "make_adam",
    "mlp_flops",
    "mlp_head",
    "permutations",
    "precision_scope",
    "report",
    "train_critic",
]
