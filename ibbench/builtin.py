"""ibbench's own tasks and estimators, registered through the same hooks a third party uses.

Targets are lazy ``"module:Attr"`` strings, so listing names imports no torch.
"""

from __future__ import annotations

from .api import hookimpl

STAIRCASE_NATS = (2, 4, 6, 8, 10)  # Poole et al. 2019 / Song & Ermon 2020, d = 20


@hookimpl
def ibbench_register_tasks(register) -> None:
    register("gaussian", "ibbench.tasks.gaussian:Gaussian",
             description="correlated Gaussians (sparse/dense, any dim, by rho or target MI); closed-form truth")
    for nats in STAIRCASE_NATS:
        register(f"gaussian-20d-{nats}nats", "ibbench.tasks.gaussian:Gaussian",
                 description=f"staircase step: 20-d sparse Gaussian with {nats} nats",
                 defaults={"dim": 20, "mi": float(nats)})
    register("gaussian-channel", "ibbench.tasks.gaussian_channel:GaussianChannel",
             description="Z = W X + b + eps, X ~ N(0,Sx); truth 1/2 log det(I + W Sx W^T / s^2)")
    register("mixture-channel", "ibbench.tasks.mixture_channel:MixtureChannel",
             description="Z = F_i(X) + eps, X uniform over MNIST/digits/synthetic, random MLP; Monte-Carlo truth")


@hookimpl
def ibbench_register_estimators(register) -> None:
    register("binning", "ibbench.estimators.binning:Binning",
             description="binning plug-in, data-adaptive range (Shwartz-Ziv & Tishby 2017)")
    register("mine", "ibbench.estimators.mine:MINE",
             description="MINE, Donsker-Varadhan bound (Belghazi et al. 2018), optional EMA gradient")
    register("aa-mine", "ibbench.estimators.aa_mine:AAMINE",
             description="architecture-aware MINE: critic sees F_i(x) via a frozen copy of layers 1..i")
    register("mixture", "ibbench.estimators.mixture:MixtureEstimator",
             description="known-noise Gaussian-mixture plug-in (y = F(x) + Gaussian noise)")


@hookimpl
def ibbench_register_trainers(register) -> None:
    """No built-in trainers yet: they arrive with the trainer issue."""
