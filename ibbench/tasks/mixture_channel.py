"""Z = F_i(X) + eps for a network prefix F_i and X uniform over a finite set: the paper's I(X; L_i + eps).

X is uniform over N points (synthetic Gaussians, scikit-learn's 8x8 digits, or
MNIST images), F_i is layers 1..i of a network (default: the random-weight MLP
784-512-512-10 of the paper's Fig. 2) and eps ~ N(0, s^2 I).  Z is then a
Gaussian mixture and the truth is the Monte-Carlo formula of
``ibbench.methods.gaussian_mixture`` with its standard error; it can never exceed
log N, which the record states.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from ..api import Channel, Params, RunContext, Task, TaskInstance, Truth
from ..methods.gaussian_mixture import mixture_mi, pairwise_bounds
from .networks import Activation, Init, features, mlp, prefix


class MixtureChannelParams(Params):
    dataset: Literal["mnist", "digits", "synthetic"] = "mnist"  # the finite set X is uniform over
    n_points: int | None = Field(None, ge=2)  # N: a seeded random subset of the dataset (default all)
    synthetic_dim: int = Field(20, ge=1)  # input dimension for dataset="synthetic"
    hidden: list[int] = Field(default_factory=lambda: [512, 512, 10], min_length=1)  # widths after the input
    layer: int | None = Field(None, ge=1)  # measure L_i = F_i(X), 1-based; default the last layer
    activation: Activation = "relu"
    init: Init = "glorot"  # TensorFlow's default, as in the paper's code; "torch" for PyTorch's
    noise_var: float = Field(2.0, gt=0)  # s^2; the paper's value is 2
    init_seed: int = 0  # the random weights (and the subset): the same net for every run seed
    truth_samples: int = Field(8000, ge=100)  # Monte-Carlo draws for the truth (its stderr ~ 1/sqrt)
    bounds: bool = True  # also compute Kolchinsky-Tracey's pairwise bounds

    @model_validator(mode="after")
    def _check(self) -> MixtureChannelParams:
        if self.layer is not None and self.layer > len(self.hidden):
            raise ValueError(f"layer={self.layer} but the network has {len(self.hidden)} layers")
        return self


def load_points(p: MixtureChannelParams) -> tuple[np.ndarray, str]:
    """The finite input set as float32 rows, and a one-line description of where it came from."""
    if p.dataset == "mnist":
        from ..data import load_mnist, mnist_source_description
        from ..running.progress import fetch_progress_mode

        images, _ = load_mnist("train", progress=fetch_progress_mode())  # a fetch reports as the run does
        points, source = (
            images.reshape(len(images), -1).astype(np.float32) / 255.0,
            mnist_source_description(),
        )
    elif p.dataset == "digits":
        from sklearn.datasets import load_digits

        points, source = (
            load_digits().data.astype(np.float32) / 16.0,
            "scikit-learn load_digits (1797 8x8 images)",
        )
    else:
        rng = np.random.default_rng(p.init_seed)
        n = p.n_points or 1000
        points, source = rng.standard_normal((n, p.synthetic_dim)).astype(np.float32), "synthetic N(0, I)"
    if p.n_points is not None and p.n_points < len(points):
        keep = np.random.default_rng(p.init_seed).choice(len(points), p.n_points, replace=False)
        points = points[np.sort(keep)]
    return points, source


_TRUTH_CACHE: dict[tuple, Truth] = {}


class MixtureChannelInstance(TaskInstance):
    def __init__(self, p: MixtureChannelParams, device: torch.device) -> None:
        self.p = p
        points, self.source = load_points(p)
        self.support = torch.from_numpy(points)
        widths = [self.support.shape[1], *p.hidden]
        self.net = mlp(widths, p.activation, seed=p.init_seed, init=p.init).eval()
        self.layer = p.layer or len(p.hidden)
        self.network = prefix(self.net, self.layer).requires_grad_(False)
        self.centres = features(self.network, self.support)  # F_i(x_j) for every support point
        self.noise_std = math.sqrt(p.noise_var)
        self.x_dim, self.y_dim = self.support.shape[1], self.centres.shape[1]
        self.device = device
        self.channel = Channel(network=self.network, noise_std=self.noise_std, support=self.support)
        self.mi_ceiling = math.log(self.support.shape[0])  # X uniform over N points: I(X;Z) <= H(X) = log N

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(self.support.shape[0], (n,), generator=generator)
        eps = torch.randn(n, self.y_dim, generator=generator)
        return self.support[idx], self.centres[idx] + self.noise_std * eps

    def sample_features(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(self.support.shape[0], (n,), generator=generator)
        eps = torch.randn(n, self.y_dim, generator=generator)
        centres = self.centres[idx]
        return centres, centres + self.noise_std * eps

    def truth(self, ctx: RunContext) -> Truth:
        key = (self.p.model_dump_json(), ctx.seed, str(ctx.device))
        if key not in _TRUTH_CACHE:  # every estimator of a sweep cell shares the same truth
            if len(_TRUTH_CACHE) >= 32:
                _TRUTH_CACHE.pop(next(iter(_TRUTH_CACHE)))  # oldest first
            _TRUTH_CACHE[key] = self._compute_truth(ctx)
        return _TRUTH_CACHE[key]

    def _compute_truth(self, ctx: RunContext) -> Truth:
        centres = self.centres.to(ctx.device)
        value, se = mixture_mi(
            centres, self.noise_std, self.p.truth_samples, ctx.generator("mixture-channel.truth")
        )
        extras = {"log_n": math.log(self.support.shape[0]), "method": "monte-carlo gaussian mixture"}
        if self.p.bounds:
            rows = min(self.p.truth_samples, 2000)  # the bounds are smooth in i: fewer rows suffice
            extras.update(
                pairwise_bounds(
                    centres, self.noise_std, rows, ctx.generator("mixture-channel.pairwise-bounds")
                )
            )
        return Truth(value, se, extras)

    def describe(self) -> dict:
        return {
            "source": self.source,
            "n_points": int(self.support.shape[0]),
            "network": [self.x_dim, *self.p.hidden],
            "layer": self.layer,
            "log_n": math.log(self.support.shape[0]),
        }


class MixtureChannel(Task):
    Params = MixtureChannelParams
    budgets = {
        "smoke": {"truth_samples": 1000},
        "quick": {"truth_samples": 8000},
        "paper": {"truth_samples": 50000},
    }

    def build(self, params: MixtureChannelParams, ctx: RunContext) -> MixtureChannelInstance:
        from ..running.progress import fetch_progress

        with fetch_progress(ctx.show_progress):  # a download of MNIST says so as the run's progress does
            return MixtureChannelInstance(params, ctx.device)
