"""The estimation protocol of every critic-based estimator: held-out pairs, standardised inputs,
training to a plateau, and impossible values failed.

A critic's training bound is an estimate of nothing: it is biased up by fitting the pairs it is
scored on, and by how long it was trained.  So, for MINE, AA-MINE, the bounds built on the public
critic toolkit (InfoNCE, NWJ, SMILE), the information-plane meters and the critics of the IB
trainers alike:

1. **Held-out pairs.**  A task that is a finite set of pairs (``TaskInstance.n_pairs``: your
   arrays) is split once into training and held-out pairs (``heldout_fraction``, default one half,
   as bmi does).  Training batches come from the training pairs only; every reported bound is
   computed on held-out pairs, the marginal (shuffled) pairs formed inside the held-out set, and its
   standard error comes from them.  A sampler's fresh pairs play the held-out role.
2. **Units do not matter.**  Inputs are centred and scaled with statistics of the training pairs
   (``Critic.standardise``; AA-MINE: of F_i(x), the critic's view of x), an invertible affine map.
3. **Trained to a plateau, not for a budget.**  The held-out bound is evaluated every ``eval_every``
   updates on a fixed held-out set; training stops after ``patience`` evaluations without an
   improvement larger than max(``min_delta``, ``min_delta_se`` x its standard error).  ``steps`` is
   the maximum; a run that reaches it is recorded as ``converged: false``.  The best held-out state
   is the one reported.
4. **The estimate.**  A sampler: the best state's bound on ``eval_samples`` fresh pairs that neither
   training nor the stopping rule saw.  A finite set: the best state's bound on the held-out split
   (the same pairs that chose the state: with few pairs there are none to spare; the choice among
   ~steps/eval_every states is a small upward bias, which the tests bound for independent pairs).
5. **Impossible values fail.**  A bound below -max(``DIVERGED_TOLERANCE``, 3 se), or above a known
   ceiling (log N for X uniform over N points, log C for C classes, log b for InfoNCE) by more than
   that, raises ``DivergenceError("diverged: ...")``: a failed record, never a number.

The steps live in ``pairs`` (1), ``Critic.standardise`` (2), ``plateau`` (3) and ``heldout`` (4, 5);
this module puts them together: ``train_critic`` for a fixed task, ``CriticMeter`` for one that drifts.
"""

from __future__ import annotations

from typing import Any

import torch

from ..api import Estimate, Meter, RunContext, check_finite
from ..running.checkpoints import restore_global_rng
from .bounds import Objective
from .heldout import check_possible, combine, eval_batch_size, heldout_bound
from .models import Critic
from .pairs import FINAL_PERM_STREAM, CriticData, critic_data
from .params import CriticParams
from .plateau import Plateau, fit_to_plateau
from .training import CriticTrainer, Sampler


def report(
    trainer: CriticTrainer,
    data: CriticData,
    stopper: Plateau,
    max_steps: int,
    *,
    ceiling: float | None = None,
    extras: dict[str, Any] | None = None,
) -> Estimate:
    """The best state's held-out estimate, with what the protocol did, checked against the possible range."""
    pairs = data.final()
    members = heldout_bound(
        trainer.critic, pairs, trainer.p, trainer.ctx, FINAL_PERM_STREAM, trainer.objective
    )
    value, se = combine(members)
    if trainer.objective is not None:  # a batch-level bound: its batches are part of what it is
        b = eval_batch_size(pairs[0].shape[0], trainer.p)
        extras = {"eval_batch_size": b, "eval_batches": pairs[0].shape[0] // b, **(extras or {})}
    out = {
        "trace": trainer.trace,
        "heldout_curve": stopper.curve,
        "converged": stopper.stopped,
        "steps_used": stopper.steps_used,
        "fit_seconds": stopper.fit_seconds,
        # critic updates per second of the fit, its held-out checks included (the speed a user waits on)
        "steps_per_s": stopper.fit_steps / stopper.fit_seconds if stopper.fit_seconds > 0 else None,
        "max_steps": max_steps,
        "best_step": stopper.best_step,
        **data.counts,
        **(extras or {}),
    }
    if len(members) > 1:
        values = [v for v, _ in members]
        out.update(
            ensemble=len(members),
            member_values=values,
            member_stderrs=[s for _, s in members],
            member_std=torch.tensor(values, dtype=torch.float64).std().item(),
        )
    check_finite(value, f"{trainer.name} estimate")
    check_possible(value, se, ceiling, trainer.name, out)
    return Estimate(value, se, out)


def train_critic(
    critic: Critic,
    sample: Sampler,
    p: CriticParams,
    ctx: RunContext,
    name: str,
    objective: Objective | None = None,
    *,
    n_pairs: int | None = None,
    ceiling: float | None = None,
) -> Estimate:
    """Estimate I(X;Y) with a fresh critic by the protocol above (this module's docstring).

    ``sample(n, generator)``: (n, d_u), (n, d_y) pairs; ``n_pairs``: the task is that many fixed pairs
    (``TaskInstance.n_pairs``); ``ceiling``: a known upper bound on the MI in nats.  Returns the
    held-out estimate in nats with its standard error; extras hold the held-out curve, the steps
    used, ``converged`` and the pair counts.  With checkpoints on (``ctx.checkpoint``) a killed run
    resumes where it stopped, to the same estimate.  Raises DivergenceError on NaN, inf or an
    impossible held-out value.
    """
    data = critic_data(sample, p, ctx, n_pairs=n_pairs)
    trainer = CriticTrainer(critic, data.train, p, ctx, name, objective)
    standardisation = critic.standardise(*data.stats(), p.standardise)
    stopper = Plateau(p.patience, p.min_delta, min_delta_se=p.min_delta_se)
    state = ctx.resume_state()
    if state is not None:
        trainer.load_state_dict(state["trainer"])
        stopper.load_state_dict(state["stopper"])
        restore_global_rng(state["rng"])

    def snapshot(s: Plateau) -> None:
        ctx.save_state(
            {"critic_step": trainer.steps_done},
            lambda: {"trainer": trainer.state_dict(), "stopper": s.state_dict()},
        )

    fit_to_plateau(trainer, data, p.steps, stopper=stopper, after_step=snapshot)
    return report(
        trainer, data, stopper, p.steps, ceiling=ceiling, extras={"standardisation": standardisation}
    )


class CriticMeter(Meter):
    """The protocol for a task that drifts (a layer in training), measurement after measurement.

    Each measurement re-standardises the inputs on the task as it is now, then trains the critic,
    warm-started from the previous measurement's best state, to a plateau: at most ``p.steps``
    updates the first time and ``p.refresh_steps`` after; the estimate is held-out as in
    ``train_critic``.
    """

    def __init__(
        self,
        critic: Critic,
        sample: Sampler,
        p: CriticParams,
        ctx: RunContext,
        name: str,
        *,
        n_pairs: int | None = None,
        ceiling: float | None = None,
    ) -> None:
        self.data = critic_data(sample, p, ctx, n_pairs=n_pairs)
        self.ceiling, self.n_pairs, self.sample = ceiling, n_pairs, sample
        self.trainer = CriticTrainer(critic, self.data.train, p, ctx, name)
        self.measurements = 0

    def state_dict(self) -> dict[str, Any]:
        return {"trainer": self.trainer.state_dict(), "measurements": self.measurements}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state["trainer"])
        self.measurements = state["measurements"]

    def measure(self) -> Estimate:
        t = self.trainer
        if self.n_pairs is not None:  # a finite task's pairs drift too: split them anew (same indices)
            self.data = critic_data(self.sample, t.p, t.ctx, n_pairs=self.n_pairs)
            t.sample = self.data.train
        standardisation = t.critic.standardise(*self.data.stats(), t.p.standardise)
        max_steps = t.p.steps if self.measurements == 0 else t.p.refresh_steps
        stopper = fit_to_plateau(t, self.data, max_steps)
        self.measurements += 1
        est = report(
            t,
            self.data,
            stopper,
            max_steps,
            ceiling=self.ceiling,
            extras={"standardisation": standardisation},
        )
        t.trace = []  # the record keeps each measurement's own curve, not every earlier one
        return est
