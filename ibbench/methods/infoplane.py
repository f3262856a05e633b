"""The information plane: I(X; L_i + eps) and I(Y; L_i) of every layer, measured during training.

For layer i with X uniform over a fixed set of n training inputs:

- ``NoisyLayerTask``: pairs (x, F_i(x) + eps), eps ~ N(0, s^2 I).  Its channel
  is (F_i, s, the n points), so AA-MINE and the mixture estimator apply, and
  its truth is the Gaussian-mixture Monte Carlo of ``ibbench.methods.gaussian_mixture``
  (the exact quantity on this finite set, with its standard error).
- ``LabelLayerTask``: pairs (one-hot y, F_i(x)) for I(Y; L_i) as in the
  paper (no noise; at most H(Y) = log 10 nats).  Estimators that need a
  channel (AA-MINE, mixture) measure it with MINE, as the paper does.

The probe keeps one meter per (layer, term), so critic estimators warm-start
from their previous measurement instead of retraining from scratch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..api import Channel, Estimator, Params, RunContext, TaskInstance, Truth
from ..running.progress import announce, where
from ..tasks.networks import features
from .gaussian_mixture import mixture_mi


def layer_network(net: nn.Sequential, layer: int) -> nn.Sequential:
    """F_i: blocks 1..i of ``net`` (shared parameters), flattened to vectors."""
    return nn.Sequential(*list(net.children())[:layer], nn.Flatten())


class NoisyLayerTask(TaskInstance):
    """(x, F_i(x) + eps) with x uniform over ``points``; truth by Gaussian-mixture Monte Carlo."""

    def __init__(
        self,
        layer: nn.Module,
        points: torch.Tensor,
        noise_std: float,
        device: torch.device,
        truth_samples: int,
    ) -> None:
        # the points live on the run's device: a GPU critic step then moves no inputs over the bus
        self.layer, self.points, self.noise_std, self.device = layer, points.to(device), noise_std, device
        self.truth_samples = truth_samples
        self.x_dim = int(points.shape[1])
        self.y_dim = int(features(layer, points[:2].to(device)).shape[1])
        self.channel = Channel(network=layer, noise_std=noise_std, support=self.points)
        self.mi_ceiling = math.log(points.shape[0])  # X uniform over the points: I(X; L + eps) <= log n

    def _draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, F_i(x), F_i(x) + eps) on the run's device; F_i without gradients, in its current mode."""
        idx = torch.randint(self.points.shape[0], (n,), generator=generator)
        eps = torch.randn(n, self.y_dim, generator=generator).to(self.device)
        x = self.points[idx.to(self.device)]
        signal = features(self.layer, x)
        return x, signal, signal + self.noise_std * eps

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, _, z = self._draw(n, generator)
        return x, z

    def sample_features(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        _, signal, z = self._draw(n, generator)
        return signal, z

    def truth(self, ctx: RunContext) -> Truth:
        centres = features(self.layer, self.points.to(ctx.device))
        value, se = mixture_mi(centres, self.noise_std, self.truth_samples, ctx.generator("infoplane.truth"))
        return Truth(value, se, {"log_n": math.log(self.points.shape[0])})


class LabelLayerTask(TaskInstance):
    """(one-hot y, F_i(x)) with (x, y) uniform over the probe's labelled points."""

    channel = None

    def __init__(
        self,
        layer: nn.Module,
        points: torch.Tensor,
        labels: torch.Tensor,
        n_classes: int,
        device: torch.device,
        finite: bool = True,
    ) -> None:
        self.layer, self.points, self.device = layer, points.to(device), device
        self.onehot = nn.functional.one_hot(labels, n_classes).float().to(device)
        self.x_dim = n_classes
        self.y_dim = int(features(layer, points[:2].to(device)).shape[1])
        self.mi_ceiling = math.log(n_classes)  # I(Y; L) <= H(Y) <= log C
        # a probe's points are a fixed set of pairs: critics train on part of them and are scored on
        # the rest; ``finite=False`` draws with replacement (a critic held out on other data)
        self.n_pairs = int(points.shape[0]) if finite else None

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n_pairs is not None and n <= self.n_pairs:  # distinct pairs, in a seeded random order
            idx = torch.randperm(self.n_pairs, generator=generator)[:n]
        else:
            idx = torch.randint(self.points.shape[0], (n,), generator=generator)
        idx = idx.to(self.device)
        return self.onehot[idx], features(self.layer, self.points[idx])


@dataclass
class MeasuringEstimator:
    """An estimator plugin with its validated parameters and registered name."""

    name: str
    plugin: Estimator
    params: Params


class InfoPlaneProbe:
    """Measures every layer's (I(X; L_i + eps), I(Y; L_i)) when the trainer calls ``measure``.

    ``fallback`` (MINE) measures I(Y; L_i) when ``estimator`` needs a channel.
    ``truth`` adds the Monte-Carlo ground truth of I(X; L_i + eps) at every point.
    """

    def __init__(
        self,
        estimator: MeasuringEstimator,
        fallback: MeasuringEstimator | None,
        ctx: RunContext,
        n_points: int,
        truth_samples: int = 1000,
        truth: bool = True,
    ) -> None:
        self.estimator, self.fallback, self.ctx = estimator, fallback, ctx
        self.n_points, self.truth_samples, self.with_truth = n_points, truth_samples, truth
        self.points: list[dict[str, Any]] = []
        self.net: nn.Sequential | None = None

    @property
    def label_estimator(self) -> MeasuringEstimator:
        if self.estimator.plugin.needs_channel:
            if self.fallback is None:
                raise ValueError(f"{self.estimator.name} cannot measure I(Y;L) and no fallback was given")
            return self.fallback
        return self.estimator

    def attach(
        self, net: nn.Sequential, inputs: torch.Tensor, labels: torch.Tensor, n_classes: int, noise_std: float
    ) -> None:
        """Fix the measurement set (a seeded subset of the training inputs) and make one meter per term."""
        gen = self.ctx.generator("infoplane.points")
        keep = torch.randperm(inputs.shape[0], generator=gen)[: self.n_points].sort().values
        points, point_labels = inputs[keep], labels[keep]
        self.net, self.noise_std, self.log_n = net, noise_std, math.log(points.shape[0])
        self.layers: list[dict[str, Any]] = []
        for i in range(1, len(net) + 1):
            f = layer_network(net, i)
            noisy = NoisyLayerTask(f, points, noise_std, self.ctx.device, self.truth_samples)
            label = LabelLayerTask(f, points, point_labels, n_classes, self.ctx.device)
            # the meters' critics report as phase lines where there is no terminal (no nested bars on one)
            lines = self.ctx.show_progress if self.ctx.show_progress == "lines" else False
            ctx_x = self.ctx.child(f"infoplane.layer-{i}.ixt", show_progress=lines)
            ctx_y = self.ctx.child(f"infoplane.layer-{i}.iyt", show_progress=lines)
            lab = self.label_estimator
            self.layers.append(
                {
                    "noisy": noisy,
                    "ixt": self.estimator.plugin.meter(noisy, self.estimator.params, ctx_x),
                    "iyt": lab.plugin.meter(label, lab.params, ctx_y),
                }
            )

    @torch.no_grad()
    def _truth(self, noisy: NoisyLayerTask) -> Truth:
        return noisy.truth(self.ctx)

    def measure(self, step: int, **tags: Any) -> list[dict[str, Any]]:
        """One point per layer, appended to the trajectory; the net is measured in eval mode."""
        assert self.net is not None, "attach() the probe to a network first"
        was_training = self.net.training
        self.net.eval()
        new = []
        announce(
            self.ctx.show_progress,
            f"information plane: measuring the point at step {step} "
            f"(I(X;L) and I(Y;L) of {len(self.layers)} layers)",
        )
        try:
            for i, layer in enumerate(self.layers, start=1):
                point_layer = f"information plane step {step}, layer {i}"
                with where(f"{point_layer}, I(X;L)"):
                    ixt = layer["ixt"].measure()
                with where(f"{point_layer}, I(Y;L)"):
                    iyt = layer["iyt"].measure()
                point = {
                    "step": step,
                    "layer": i,
                    **tags,
                    "ixt": ixt.value,
                    "ixt_se": ixt.stderr,
                    "iyt": iyt.value,
                    "iyt_se": iyt.stderr,
                }
                for key, est in (("ixt", ixt), ("iyt", iyt)):  # critic meters: plateau or step maximum
                    if "converged" in est.extras:
                        point[f"{key}_converged"] = est.extras["converged"]
                        point[f"{key}_steps"] = est.extras["steps_used"]
                if self.with_truth:
                    with where(f"{point_layer}, ground truth"):
                        truth = self._truth(layer["noisy"])
                    point.update(ixt_truth=truth.value, ixt_truth_se=truth.stderr)
                new.append(point)
        finally:
            self.net.train(was_training)
        self.points.extend(new)
        return new

    def state_dict(self) -> dict[str, Any]:
        """The points so far and every meter's state (warm critics): a checkpoint's share of the probe."""
        return {
            "points": self.points,
            "meters": [{k: layer[k].state_dict() for k in ("ixt", "iyt")} for layer in self.layers],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.points = list(state["points"])
        for layer, meters in zip(self.layers, state["meters"], strict=True):
            for k, meter_state in meters.items():
                layer[k].load_state_dict(meter_state)

    def result(self) -> dict[str, Any]:
        return {
            "estimator": self.estimator.name,
            "iyt_estimator": self.label_estimator.name,
            "estimator_params": self.estimator.params.model_dump(mode="json"),
            "iyt_estimator_params": self.label_estimator.params.model_dump(mode="json"),
            "noise_var": self.noise_std**2,
            "n_points": self.n_points,
            "log_n": self.log_n,
            "points": self.points,
        }
