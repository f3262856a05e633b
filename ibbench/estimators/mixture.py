"""The known-noise plug-in estimator: Z = F(X) + eps with F and the Gaussian noise known.

From n sampled pairs (x_k, z_k) it treats X as uniform over the sampled x_k and
evaluates the Gaussian-mixture MI of ``ibbench.gaussian_mixture`` with the
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

from ..api import Estimate, Estimator, NotApplicableError, Params, RunContext, TaskInstance, check_finite
from ..gaussian_mixture import mixture_mi_terms
from ..tasks.networks import features


class MixtureParams(Params):
    n_samples: int = Field(4096, ge=2)  # pairs drawn from the task; the centres are their F(x)
    use_support: bool = False  # sum over the task's full finite support (= the ground truth)


class MixtureEstimator(Estimator):
    description = "known-noise Gaussian-mixture plug-in estimator (needs y = F(x) + Gaussian noise)"
    Params = MixtureParams
    budgets = {"smoke": {"n_samples": 1024}, "quick": {"n_samples": 4096}, "paper": {"n_samples": 16384}}
    needs_channel = True

    def estimate(self, task: TaskInstance, params: MixtureParams, ctx: RunContext) -> Estimate:
        ch = task.channel
        if ch is None:
            raise NotApplicableError(
                "mixture needs a task whose y = F(x) + Gaussian noise with F and the noise known; use mine or ksg"
            )
        x, z = task.sample(params.n_samples, ctx.generator(stream=1))
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
        return Estimate(value, se, {"n_centres": int(centres.shape[0]), "log_n_centres": math.log(centres.shape[0])})
