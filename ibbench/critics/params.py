"""A critic's parameters: width, depth, optimiser, the stopping rule's settings, ensembles, precision;
and the per-budget presets every critic estimator starts from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..api import Params

Precision = Literal["fp32", "tf32", "bf16"]
#: the smallest critic batch: below it the DV and NWJ bounds' log-mean-exp over the batch's shuffled
#: pairs, and InfoNCE's log b ceiling (2.77 nats at 16), leave the critic's gradient mostly noise (MINE
#: on batches of 2 "converged" at 0.07 nats for a truth of 0.83)
MIN_BATCH = 16
Standardise = Literal["per-coordinate", "global", "none"]


class CriticParams(Params):
    hidden: int = Field(1500, ge=1)  # width of g's hidden layers; the paper's 1500
    depth: int = Field(2, ge=1)  # hidden layers of g; the paper's 2
    lr: float = Field(1e-4, gt=0)  # Adam; the paper's 1e-4
    batch_size: int = Field(512, ge=2)  # not given in the paper
    # the MOST critic updates: training stops earlier once the held-out bound plateaus (the paper
    # trains "to convergence"); a run that hits this maximum is recorded as not converged
    steps: int = Field(10000, ge=1)
    eval_samples: int = Field(16384, ge=2)  # fresh pairs for the final estimate (a sampler task)
    eval_every: int = Field(100, ge=1)  # M: the held-out bound is evaluated every M updates
    patience: int = Field(5, ge=1)  # evaluations without an improvement before training stops
    # an improvement counts when it exceeds min_delta nats and min_delta_se held-out standard errors
    # (a gain within the bound's own sampling error is not one the held-out set can resolve)
    min_delta: float = Field(0.01, ge=0)
    min_delta_se: float = Field(1.0, ge=0)
    val_samples: int = Field(4096, ge=2)  # a sampler task: the fixed fresh pairs of the held-out curve
    heldout_fraction: float = Field(0.5, gt=0, lt=1)  # a finite set of pairs: the share held out (bmi: 1/2)
    standardise: Standardise = "per-coordinate"  # inputs centred and scaled on training pairs
    standardise_samples: int = Field(4096, ge=2)  # a sampler task: fresh pairs the statistics come from
    ema: float | None = Field(None, gt=0, lt=1)  # rate of MINE's bias-corrected gradient; None: plain DV
    trace_points: int = Field(20, ge=0)  # how many training-curve points to record
    refresh_steps: int = Field(1000, ge=0)  # warm-started updates per re-measurement of a drifting layer
    ensemble: int = Field(1, ge=1)  # K critics in one batched step: mean and spread of K estimates
    # "shared": the K members train on the same batches (own init, own negative pairs, own evaluation
    # pairs): sampling is paid once.  "independent": each member draws its own batches too
    ensemble_data: Literal["shared", "independent"] = "shared"
    precision: Precision = "fp32"  # "bf16": autocast g's matmuls; "tf32": TF32 matmuls (CUDA only)
    compile: bool = False  # torch.compile the training step (pays off for small critics on a GPU)

    @field_validator("batch_size")
    @classmethod
    def _batch_large_enough(cls, value: int) -> int:
        if value < MIN_BATCH:
            raise ValueError(
                f"batch_size {value} is below {MIN_BATCH}: a critic's bound over so few shuffled pairs is "
                f"mostly noise; use {MIN_BATCH} or more"
            )
        return value


CRITIC_BUDGETS = {
    "smoke": {
        "hidden": 64,
        "steps": 300,
        "batch_size": 256,
        "lr": 1e-3,
        "eval_samples": 4096,
        "refresh_steps": 50,
        "eval_every": 25,
        "patience": 4,
        "val_samples": 1024,
    },
    # quick keeps the paper's lr and depth and shrinks width: at lr 5e-4 AA-MINE's DV bound
    # oscillated between -12 and +26 nats at noise var 1e-3 on MNIST; at 1e-4 it climbed steadily.
    # steps is a maximum: most quick fits stop on the held-out plateau well before it
    "quick": {
        "hidden": 256,
        "steps": 5000,
        "batch_size": 256,
        "lr": 1e-4,
        "eval_samples": 8192,
        "refresh_steps": 1000,
        "eval_every": 100,
        "patience": 5,
    },
    "paper": {"eval_every": 200},  # the paper's critic (widths, lr); steps and batch are our choice
}
