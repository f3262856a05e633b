"""The known-noise plug-in estimator: Z = F(X) + eps with F and the Gaussian noise known.

From n sampled pairs (x_k, z_k) it treats X as uniform over the sampled x_k and
evaluates the Gaussian-mixture MI of ``ibbench.methods.gaussian_mixture`` with the
centres F(x_k):

    I_hat = mean_k [ log N(z_k; F(x_k), s^2) - log (1/n) sum_l N(z_k; F(x_l), s^2) ].

It can never exceed log n.  For X uniform over a finite set it converges to
the truth as n grows; for continuous X the second term is a kernel density
estimate of log p(z) with the true noise as kernel.  ``use_support`` makes it
sum over the task's whole finite support instead: then it *is* the
Monte-Carlo ground truth, not an estimate from a sample.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field

from ..api import (
    TASK_SAMPLE_STREAM,
    Estimate,
    Estimator,
    NotApplicableError,
    Params,
    RunContext,
    TaskInstance,
    check_finite,
)
from ..methods.gaussian_mixture import mixture_mi_terms
from ..tasks.networks import features

#: pairs drawn from a sampler task per budget (a finite task gives every pair it has)
DEFAULT_PAIRS = {"smoke": 1024, "quick": 4096, "paper": 16384}


class MixtureParams(Params):
    #: pairs drawn from the task, whose F(x) are the centres; None: every pair of a finite task, else
    #: the budget's DEFAULT_PAIRS
    n_samples: int | None = Field(None, ge=2)
    use_support: bool = False  # sum over the task's full finite support (= the ground truth)


class MixtureEstimator(Estimator):
    Params = MixtureParams
    needs_channel = True
    label_estimator = "mine"  # the paper measures I(Y; L_i) with plain MINE

    def estimate(self, task: TaskInstance, params: MixtureParams, ctx: RunContext) -> Estimate:
        ch = task.channel
        if ch is None:
            raise NotApplicableError(
                "mixture needs a task whose y = F(x) + Gaussian noise with F and the noise known; use mine or ksg"
            )
        n = params.n_samples or task.n_pairs or DEFAULT_PAIRS[ctx.budget]
        x, z = task.sample(n, ctx.generator(TASK_SAMPLE_STREAM))
        own = features(ch.network, x).to(ctx.device)
        if params.use_support:
            if ch.support is None:
                raise NotApplicableError("mixture use_support=true needs a task with a finite support")
            centres = features(ch.network, ch.support).to(ctx.device)
        else:
            centres = own
        noise = ch.noise_std.to(ctx.device) if torch.is_tensor(ch.noise_std) else ch.noise_std
        terms = mixture_mi_terms(z.to(ctx.device), own, centres, noise)
        value = check_finite(terms.mean().item(), "mixture estimate")
        se = (terms.std() / math.sqrt(terms.shape[0])).item()
        return Estimate(
            value,
            se,
            {
                "n_centres": int(centres.shape[0]),
                "log_n_centres": math.log(centres.shape[0]),
                "pairs_used": n,
            },
        )
