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
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..api import DivergenceError, Estimate, Meter, RunContext, check_finite
from ..checkpoints import restore_global_rng
from ..errors import DataError
from .critics import (
    Critic,
    CriticParams,
    CriticTrainer,
    Objective,
    Sampler,
    dv_estimate_with_stderr,
    permutations,
    precision_scope,
)

Pairs = tuple[torch.Tensor, torch.Tensor]
DIVERGED_TOLERANCE = 0.05  # nats: how far below 0 (or above a ceiling) a held-out bound may sit by chance
# named random streams of a critic's run (ctx.generator(stream=...)); training uses 1 and 2
SPLIT_STREAM, STATS_STREAM, CURVE_STREAM, CURVE_PERM_STREAM, FINAL_STREAM, FINAL_PERM_STREAM = 6, 5, 7, 8, 3, 4


@dataclass
class CriticData:
    """Where a critic's pairs come from: ``train`` draws training batches, ``curve()`` gives the
    fixed held-out pairs of the stopping rule and ``final()`` those of the reported estimate, each as
    they are *now* (a layer in training drifts, so pairs are re-made from fixed indices and noise)."""

    train: Sampler
    curve: Callable[[], Pairs]
    final: Callable[[], Pairs]
    stats: Callable[[], Pairs]  # training pairs the standardisation is computed from
    counts: dict[str, Any] = field(default_factory=dict)


def critic_data(sample: Sampler, p: CriticParams, ctx: RunContext, *, n_pairs: int | None = None,
                heldout: Sampler | None = None) -> CriticData:
    """The protocol's data for a task's ``sample`` (or ``sample_features``).

    ``n_pairs``: the task is that many fixed pairs; they are split into training and held-out pairs.
    Otherwise fresh draws: from ``heldout`` when given (e.g. the validation split of a classifier's
    data for a critic trained on its training split), else from ``sample``.
    Raises DataError (via the task) when a finite task has fewer than 4 pairs.
    """
    if n_pairs is not None:
        return _split(sample, n_pairs, p, ctx)
    held = heldout or sample
    return CriticData(
        train=sample,
        curve=lambda: held(p.val_samples, ctx.generator(stream=CURVE_STREAM)),
        final=lambda: held(p.eval_samples, ctx.generator(stream=FINAL_STREAM)),
        stats=lambda: sample(p.standardise_samples, ctx.generator(stream=STATS_STREAM)),
        counts={"heldout": "fresh pairs" if heldout is None else "held-out sampler",
                "val_samples": p.val_samples, "eval_samples": p.eval_samples},
    )


def _split(sample: Sampler, n_pairs: int, p: CriticParams, ctx: RunContext) -> CriticData:
    """A fixed random split of the task's n pairs; training batches are drawn from the training
    part with replacement (minibatches over many steps cycle through it)."""
    n_heldout = min(n_pairs - 2, max(2, round(n_pairs * p.heldout_fraction)))
    if n_heldout < 2:
        raise DataError(f"{n_pairs} pairs are too few to split into training and held-out pairs; give at least 4")

    def parts() -> tuple[Pairs, Pairs]:
        u, y = sample(n_pairs, ctx.generator(stream=SPLIT_STREAM))  # every pair, in a seeded random order
        k = n_pairs - n_heldout
        return (u[:k], y[:k]), (u[k:], y[k:])

    cache: dict[str, tuple[Pairs, Pairs]] = {}

    def current() -> tuple[Pairs, Pairs]:
        if "parts" not in cache:  # the task's pairs do not drift (a finite task holds fixed data)
            cache["parts"] = parts()
        return cache["parts"]

    def train(n: int, generator: torch.Generator) -> Pairs:
        u, y = current()[0]
        idx = torch.randint(u.shape[0], (n,), generator=generator).to(u.device)
        return u[idx], y[idx]

    return CriticData(train=train, curve=lambda: current()[1], final=lambda: current()[1],
                      stats=lambda: current()[0],
                      counts={"heldout": "held-out split", "pairs_used": n_pairs,
                              "train_pairs": n_pairs - n_heldout, "heldout_pairs": n_heldout})


@torch.no_grad()
def heldout_bound(critic: Critic, pairs: Pairs, p: CriticParams, ctx: RunContext, perm_stream: int,
                  objective: Objective | None = None) -> list[tuple[float, float]]:
    """Each member's bound and standard error on the held-out pairs u (m, d_u), y (m, d_y).

    DV: the joint pairs and, in chunks of ``batch_size``, shuffled pairs of the same chunk; the
    delta-method standard error.  A batch-level bound (InfoNCE, NWJ, SMILE): its mean over the set's
    batches of min(batch_size, m / 2) pairs (the batch size is part of such a bound) and the
    standard error of that mean.
    """
    k, device = critic.members, ctx.device
    u, y = (t.to(device).float() for t in pairs)
    m = u.shape[0]

    def expand(t: torch.Tensor) -> torch.Tensor:  # every member sees the same pairs
        return t.unsqueeze(0).expand(k, -1, -1)

    perm_gen = ctx.generator(stream=perm_stream)
    if objective is None:
        joints, margs = [], []
        for start in range(0, m, p.batch_size):
            n = min(p.batch_size, m - start)
            if n < 2:
                break
            uc, yc = expand(u[start:start + n]), expand(y[start:start + n])
            with precision_scope(p.precision, device):
                tj, tm = critic.joint_and_marginal(uc, yc, permutations(k, n, perm_gen, device))
            joints.append(tj)
            margs.append(tm)
        tj, tm = torch.cat(joints, 1).double(), torch.cat(margs, 1).double()
        return [dv_estimate_with_stderr(tj[i], tm[i]) for i in range(k)]
    b = eval_batch_size(m, p)
    values = []
    for start in range(0, m - b + 1, b):
        with precision_scope(p.precision, device):
            values.append(objective(critic, expand(u[start:start + b]), expand(y[start:start + b]))[1].double())
    v = torch.stack(values, 1)  # (K, batches)
    batches = v.shape[1]
    se = v.std(1) / math.sqrt(batches) if batches > 1 else torch.full((k,), float("nan"), dtype=torch.float64)
    return [(v[i].mean().item(), se[i].item()) for i in range(k)]


def eval_batch_size(m: int, p: CriticParams) -> int:
    """The batch size of a batch-level bound on m held-out pairs: the training batch, or m / 2 when
    the set is smaller (two batches at least, for a standard error)."""
    return max(2, min(p.batch_size, m // 2))


def combine(members: list[tuple[float, float]]) -> tuple[float, float]:
    """One member: its value and standard error.  K members: their mean, and the standard error of
    that mean from their spread."""
    if len(members) == 1:
        return members[0]
    values = torch.tensor([v for v, _ in members], dtype=torch.float64)
    return values.mean().item(), (values.std() / math.sqrt(len(members))).item()


class Plateau:
    """The stopping rule: stop after ``patience`` held-out evaluations without an improvement of more
    than max(min_delta, min_delta_se * se) over the last value that counted; keep the best state seen."""

    def __init__(self, patience: int, min_delta: float, first_step: int = 0, min_delta_se: float = 1.0) -> None:
        self.patience, self.min_delta, self.first_step = patience, min_delta, first_step
        self.min_delta_se = min_delta_se
        self.reference, self.wait = -math.inf, 0
        self.best_value, self.best_step, self.best_state = -math.inf, None, None
        self.curve: list[list[float]] = []  # [step, held-out bound, its se]
        self.stopped = False
        self.fit_seconds, self.fit_steps = 0.0, 0  # wall time and updates of the fit (held-out checks included)

    @property
    def steps_used(self) -> int:
        """Critic updates from the start of this fit to its last held-out check."""
        return self.curve[-1][0] - self.first_step if self.curve else 0

    def update(self, step: int, value: float, se: float, critic: Critic) -> bool:
        """Record one evaluation; True when training should stop."""
        self.curve.append([step, value, se])
        if value > self.best_value:
            self.best_value, self.best_step = value, step
            self.best_state = copy.deepcopy(critic.state_dict())
        if value > self.reference + max(self.min_delta, self.min_delta_se * se if math.isfinite(se) else 0.0):
            self.reference, self.wait = value, 0
        else:
            self.wait += 1
        self.stopped = self.wait >= self.patience
        return self.stopped

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("reference", "wait", "best_value", "best_step", "best_state",
                                              "curve", "stopped", "first_step", "fit_seconds", "fit_steps")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


def fit_to_plateau(trainer: CriticTrainer, data: CriticData, max_steps: int, *, stopper: Plateau | None = None,
                   after_step: Callable[[Plateau], None] | None = None) -> Plateau:
    """Train until the held-out bound plateaus or ``max_steps`` updates (counted from the trainer's
    current step) are done; leave the critic in its best held-out state.

    ``stopper``: a resumed run's rule; ``after_step(stopper)`` runs after every update (snapshots).
    Raises DivergenceError when a training or held-out bound is NaN or inf.
    """
    p, name = trainer.p, trainer.name
    stopper = stopper or Plateau(p.patience, p.min_delta, first_step=trainer.steps_done,
                                 min_delta_se=p.min_delta_se)
    first = stopper.first_step
    last = first + max_steps
    bar = trainer.ctx.progress(max_steps, f"{name} critic", initial=trainer.steps_done - first)
    started, steps_before = time.perf_counter(), trainer.steps_done
    every_trace = max(1, max_steps // p.trace_points) if p.trace_points else 0
    while not stopper.stopped and trainer.steps_done < last:
        bound = trainer.step()
        done = trainer.steps_done
        if every_trace and ((done - first) % every_trace == 0 or done == last):
            trainer.trace.append([done, check_finite(bound.mean().item(), f"{name} training bound at step {done}")])
        if (done - first) % p.eval_every == 0 or done == last:
            value, se = combine(heldout_bound(trainer.critic, data.curve(), p, trainer.ctx, CURVE_PERM_STREAM,
                                              trainer.objective))
            check_finite(value, f"{name} held-out bound at step {done}")
            stopper.update(done, value, se, trainer.critic)
        bar.update(1)
        if after_step is not None:
            after_step(stopper)
    bar.close()
    stopper.fit_seconds += time.perf_counter() - started
    stopper.fit_steps += trainer.steps_done - steps_before
    if stopper.best_state is not None:
        trainer.critic.load_state_dict(stopper.best_state)
    return stopper


def report(trainer: CriticTrainer, data: CriticData, stopper: Plateau, max_steps: int, *,
           ceiling: float | None = None, extras: dict[str, Any] | None = None) -> Estimate:
    """The best state's held-out estimate, with what the protocol did, checked against the possible range."""
    pairs = data.final()
    members = heldout_bound(trainer.critic, pairs, trainer.p, trainer.ctx, FINAL_PERM_STREAM, trainer.objective)
    value, se = combine(members)
    if trainer.objective is not None:  # a batch-level bound: its batches are part of what it is
        b = eval_batch_size(pairs[0].shape[0], trainer.p)
        extras = {"eval_batch_size": b, "eval_batches": pairs[0].shape[0] // b, **(extras or {})}
    out = {"trace": trainer.trace, "heldout_curve": stopper.curve, "converged": stopper.stopped,
           "steps_used": stopper.steps_used, "fit_seconds": stopper.fit_seconds,
           # critic updates per second of the fit, its held-out checks included (the speed a user waits on)
           "steps_per_s": stopper.fit_steps / stopper.fit_seconds if stopper.fit_seconds > 0 else None,
           "max_steps": max_steps, "best_step": stopper.best_step, **data.counts, **(extras or {})}
    if len(members) > 1:
        values = [v for v, _ in members]
        out.update(ensemble=len(members), member_values=values, member_stderrs=[s for _, s in members],
                   member_std=torch.tensor(values, dtype=torch.float64).std().item())
    check_finite(value, f"{trainer.name} estimate")
    check_possible(value, se, ceiling, trainer.name, out)
    return Estimate(value, se, out)


def check_possible(value: float, se: float | None, ceiling: float | None, name: str,
                   extras: dict[str, Any] | None = None) -> None:
    """Raise DivergenceError("diverged: ...") for a held-out bound no MI can have."""
    slack = max(DIVERGED_TOLERANCE, 3 * se) if se is not None and math.isfinite(se) else DIVERGED_TOLERANCE
    if value < -slack:
        raise DivergenceError(f"diverged: {name}'s held-out bound is {value:.4g} nats, below 0 by more than "
                              f"{slack:.3g}: the critic is worse than a constant on held-out pairs (it diverged, "
                              f"or overfit its training pairs); lower the learning rate or evaluate more often "
                              f"(eval_every)", extras=extras)
    if ceiling is not None and value > ceiling + slack:
        raise DivergenceError(f"diverged: {name}'s held-out bound is {value:.4g} nats, above the ceiling "
                              f"{ceiling:.4g} (log of the support size); lower the learning rate", extras=extras)


def train_critic(critic: Critic, sample: Sampler, p: CriticParams, ctx: RunContext, name: str,
                 objective: Objective | None = None, *, n_pairs: int | None = None,
                 ceiling: float | None = None) -> Estimate:
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
        ctx.save_state({"critic_step": trainer.steps_done},
                       lambda: {"trainer": trainer.state_dict(), "stopper": s.state_dict()})

    fit_to_plateau(trainer, data, p.steps, stopper=stopper, after_step=snapshot)
    return report(trainer, data, stopper, p.steps, ceiling=ceiling, extras={"standardisation": standardisation})


class CriticMeter(Meter):
    """The protocol for a task that drifts (a layer in training), measurement after measurement.

    Each measurement re-standardises the inputs on the task as it is now, then trains the critic,
    warm-started from the previous measurement's best state, to a plateau: at most ``p.steps``
    updates the first time and ``p.refresh_steps`` after; the estimate is held-out as in
    ``train_critic``.
    """

    def __init__(self, critic: Critic, sample: Sampler, p: CriticParams, ctx: RunContext, name: str, *,
                 n_pairs: int | None = None, ceiling: float | None = None) -> None:
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
        est = report(t, self.data, stopper, max_steps, ceiling=self.ceiling,
                     extras={"standardisation": standardisation})
        t.trace = []  # the record keeps each measurement's own curve, not every earlier one
        return est
