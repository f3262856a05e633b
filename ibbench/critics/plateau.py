"""The protocol's stopping rule: train until the held-out bound plateaus, keep the best state."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any

from ..api import check_finite
from .heldout import combine, heldout_bound
from .models import Critic
from .pairs import CURVE_PERM_STREAM, CriticData
from .training import CriticTrainer


class Plateau:
    """The stopping rule: stop after ``patience`` held-out evaluations without an improvement of more
    than max(min_delta, min_delta_se * se) over the last value that counted; keep the best state seen."""

    def __init__(
        self, patience: int, min_delta: float, first_step: int = 0, min_delta_se: float = 1.0
    ) -> None:
        self.patience, self.min_delta, self.first_step = patience, min_delta, first_step
        self.min_delta_se = min_delta_se
        self.reference, self.wait = -math.inf, 0
        self.best_value, self.best_step, self.best_state = -math.inf, None, None
        self.curve: list[list[float]] = []  # [step, held-out bound, its se]
        self.stopped = False
        self.fit_seconds, self.fit_steps = (
            0.0,
            0,
        )  # wall time and updates of the fit (held-out checks included)

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
        return {
            k: getattr(self, k)
            for k in (
                "reference",
                "wait",
                "best_value",
                "best_step",
                "best_state",
                "curve",
                "stopped",
                "first_step",
                "fit_seconds",
                "fit_steps",
            )
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


def fit_to_plateau(
    trainer: CriticTrainer,
    data: CriticData,
    max_steps: int,
    *,
    stopper: Plateau | None = None,
    after_step: Callable[[Plateau], None] | None = None,
) -> Plateau:
    """Train until the held-out bound plateaus or ``max_steps`` updates (counted from the trainer's
    current step) are done; leave the critic in its best held-out state.

    ``stopper``: a resumed run's rule; ``after_step(stopper)`` runs after every update (snapshots).
    Raises DivergenceError when a training or held-out bound is NaN or inf.
    """
    p, name = trainer.p, trainer.name
    stopper = stopper or Plateau(
        p.patience, p.min_delta, first_step=trainer.steps_done, min_delta_se=p.min_delta_se
    )
    first = stopper.first_step
    last = first + max_steps
    bar = trainer.ctx.progress(max_steps, f"{name} critic", initial=trainer.steps_done - first)
    started, steps_before = time.perf_counter(), trainer.steps_done
    every_trace = max(1, max_steps // p.trace_points) if p.trace_points else 0
    while not stopper.stopped and trainer.steps_done < last:
        bound = trainer.step()
        done = trainer.steps_done
        if every_trace and ((done - first) % every_trace == 0 or done == last):
            trainer.trace.append(
                [done, check_finite(bound.mean().item(), f"{name} training bound at step {done}")]
            )
        if (done - first) % p.eval_every == 0 or done == last:
            value, se = combine(
                heldout_bound(
                    trainer.critic, data.curve(), p, trainer.ctx, CURVE_PERM_STREAM, trainer.objective
                )
            )
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
