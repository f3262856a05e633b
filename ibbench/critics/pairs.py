"""Where a critic's pairs come from under the estimation protocol: a finite task's fixed split into
training and held-out pairs, or a sampler's fresh draws, and the named random streams of a fit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..api import RunContext
from ..errors import DataError
from .params import CriticParams
from .training import Sampler

Pairs = tuple[torch.Tensor, torch.Tensor]
# the random streams of a critic's run (``RunContext.generator``); training draws "critic.batches" and
# "critic.perm"
SPLIT_STREAM, STATS_STREAM = "critic.pairs", "critic.standardise"
CURVE_STREAM, CURVE_PERM_STREAM = "critic.curve", "critic.curve-perm"
FINAL_STREAM, FINAL_PERM_STREAM = "critic.final", "critic.final-perm"


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


def critic_data(
    sample: Sampler,
    p: CriticParams,
    ctx: RunContext,
    *,
    n_pairs: int | None = None,
    heldout: Sampler | None = None,
) -> CriticData:
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
        curve=lambda: held(p.val_samples, ctx.generator(CURVE_STREAM)),
        final=lambda: held(p.eval_samples, ctx.generator(FINAL_STREAM)),
        stats=lambda: sample(p.standardise_samples, ctx.generator(STATS_STREAM)),
        counts={
            "heldout": "fresh pairs" if heldout is None else "held-out sampler",
            "val_samples": p.val_samples,
            "eval_samples": p.eval_samples,
        },
    )


def _split(sample: Sampler, n_pairs: int, p: CriticParams, ctx: RunContext) -> CriticData:
    """A fixed random split of the task's n pairs; training batches are drawn from the training
    part with replacement (minibatches over many steps cycle through it)."""
    n_heldout = min(n_pairs - 2, max(2, round(n_pairs * p.heldout_fraction)))
    if n_heldout < 2:
        raise DataError(
            f"{n_pairs} pairs are too few to split into training and held-out pairs; give at least 4"
        )

    def parts() -> tuple[Pairs, Pairs]:
        u, y = sample(n_pairs, ctx.generator(SPLIT_STREAM))  # every pair, in a seeded random order
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

    return CriticData(
        train=train,
        curve=lambda: current()[1],
        final=lambda: current()[1],
        stats=lambda: current()[0],
        counts={
            "heldout": "held-out split",
            "pairs_used": n_pairs,
            "train_pairs": n_pairs - n_heldout,
            "heldout_pairs": n_heldout,
        },
    )
