"""Layer-by-layer training with the IB functional (paper Sec. 5, App. C).

For i = 1..n: train layer i alone to maximise

    I(Y; L_i) - beta_i I(X; L_i + eps)                       (paper Eq. 5, 7)

with both terms replaced by DV bounds of critics D_y (MINE on (y, L_i)) and
D_x (AA-MINE on (x, L_i + eps)).  The critics are pre-trained on the layer
first; then each iteration is one step on layer i followed by k steps of each
critic.  Layer i is then frozen.  Finally the net is frozen and one linear
layer C -> C is post-trained with cross-entropy: a linear map after the last
(linear) layer, so it merges into that layer and adds no capacity; it is fitted to the optimum of
its convex cross-entropy (trainers/readout.py), not stepped.

beta = 0 is the paper's "I(Y;L) only" row; conv layers get ``beta_conv``
(the paper's CIFAR setting: 0 on conv layers, 1e-3 on FC layers).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from pydantic import Field
from torch import nn

from ..api import ClassificationInstance, Probe, RunContext, Trainer, check_finite
from ..methods.gaussian_mixture import mixture_mi
from ..methods.infoplane import layer_network
from ..tasks.networks import features
from ..training import (
    BATCHES_STREAM,
    NET_DIVERGED,
    BatchStream,
    TrainingLoop,
    attach_probe,
    classification_instance,
    fingerprint,
    layer_separations,
    schedule,
    train_accuracy,
)
from .ib_critics import IBCritics, IBParams, critic_budgets
from .readout import linear_probes, merge_readout, post_train_readout


class LayerwiseParams(IBParams):
    beta: float = Field(1e-3, ge=0)  # weight of I(X; L_i + eps) on fully connected layers; paper 1e-3
    beta_conv: float = Field(0.0, ge=0)  # on conv layers; paper 0 (CIFAR)
    steps: int = Field(5000, ge=1)  # iterations per layer (paper: 5000)
    readout_max_iter: int = Field(500, ge=1)  # L-BFGS iterations per L2 strength of the fitted C -> C readout
    trace_points: int = Field(25, ge=1)  # per layer: how often the critics' bounds are logged (Fig. 4)
    track_ixt: bool = False  # train D_x even when beta = 0, to log I(X; L_i + eps) for the info plane


class LayerwiseIB(Trainer):
    Params = LayerwiseParams
    budgets = critic_budgets(
        smoke={"steps": 40, "batch_size": 64, "eval_points": 3, "measure_points": 2, "trace_points": 4},
        quick={"steps": 300, "critic_steps": 10, "measure_points": 2, "trace_points": 10},
    )

    def train(
        self,
        task: ClassificationInstance,
        params: LayerwiseParams,
        ctx: RunContext,
        probe: Probe | None = None,
    ) -> dict[str, Any]:
        return fit_layerwise(task, params, ctx, probe).result


def _norm(grads: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The 2-norm of a set of gradients taken as one vector."""
    return torch.sqrt(sum((g**2).sum() for g in grads))


def layer_step(
    f: nn.Module,
    critics: IBCritics,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    beta: float,
    critic_steps: int,
    what: str,
    weights: list[torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """One iteration: a step of the layer on I(Y;L) - beta I(X;L+eps) (critics' bounds), then k critic steps.

    With ``weights`` (the layer's parameters) and beta > 0 the two terms' gradients are taken apart
    and ``grad_ratio`` = ||beta grad I(X;L+eps)|| / ||grad I(Y;L)|| is returned with the bounds: how much
    the compression term moves the layer (near 0: beta did nothing).  The step is the same.
    """
    b = critics.bounds(x, y, f(x))
    objective = b["iyt"] - beta * b["ixt"] if beta > 0 else b["iyt"]
    check_finite(objective.item(), what, hint=NET_DIVERGED)
    opt.zero_grad(set_to_none=True)
    if weights is not None and beta > 0:
        g_y = torch.autograd.grad(b["iyt"], weights, retain_graph=True)
        g_x = torch.autograd.grad(beta * b["ixt"], weights)
        for w, gy, gx in zip(weights, g_y, g_x, strict=True):
            w.grad = gx - gy  # the gradient of -objective
        b = {**b, "grad_ratio": _norm(g_x) / _norm(g_y).clamp_min(1e-30)}
    else:
        (-objective).backward()
    opt.step()
    critics.update(critic_steps)
    return b


class LayerwiseFit(NamedTuple):
    """What ``fit_layerwise`` returns: the trained net (frozen), its fitted C -> C readout and the result."""

    net: nn.Sequential
    readout: nn.Module
    result: dict[str, Any]


@dataclasses.dataclass
class LayerwiseProgress:
    """What layer-wise training has to show so far; every snapshot holds it (``state``), so a killed run
    resumes with it (``from_state``)."""

    layers: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # each frozen layer's summary
    trace: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # the critics' bounds over time
    fingerprints: dict[int, dict[str, str]] = dataclasses.field(
        default_factory=dict
    )  # layer -> weights' hashes
    at_start: dict[int, dict[str, Any]] = dataclasses.field(
        default_factory=dict
    )  # the critics' first reading
    window: list[list[float]] = dataclasses.field(
        default_factory=list
    )  # (iyt, ixt) since the last trace point

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LayerwiseProgress:
        return cls(**{f.name: state[f.name] for f in dataclasses.fields(cls)})

    def state(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "layers": self.layers,
            "trace": self.trace,
            "fingerprints": self.fingerprints,
            "at_start": self.at_start,
        }


@dataclasses.dataclass
class _Fit:
    """One layer-wise training run: the net, its batches, the loop that snapshots it and the progress."""

    inst: Any  # the ClassificationInstance
    p: LayerwiseParams
    ctx: RunContext
    net: nn.Sequential
    stream: BatchStream
    truth_idx: torch.Tensor  # the training inputs the truth of I(X; L_i + eps) is uniform over
    loop: TrainingLoop
    progress: LayerwiseProgress
    resume_at: tuple[int, int]  # (layer, iteration done) a killed run left; (1, 0) for a fresh run
    probe: Any = None

    @classmethod
    def start(cls, task, p: LayerwiseParams, ctx: RunContext, probe) -> _Fit:
        inst = classification_instance(task, "ib-layerwise")
        data = inst.data
        net = inst.network(seed=ctx.seed).to(ctx.device).requires_grad_(False)
        stream = BatchStream(data.train_x, data.train_y, p.batch_size, ctx.generator(BATCHES_STREAM))
        points = torch.randperm(data.train_x.shape[0], generator=ctx.generator("layerwise.truth-points"))
        attach_probe(probe, net, inst)
        loop = TrainingLoop(ctx, "ib-layerwise", p.steps * len(net), stream, probe)
        state = loop.state
        if state is None:
            progress, resume_at = LayerwiseProgress(), (1, 0)
        else:  # a killed run: the frozen layers come back with the net's weights, the current one mid-way
            progress, resume_at = LayerwiseProgress.from_state(state), (state["layer"], state["iteration"])
        fit = cls(inst, p, ctx, net, stream, points[: p.truth_points], loop, progress, resume_at, probe)
        loop.begin(initial=(resume_at[0] - 1) * p.steps + resume_at[1], layer_trained=0)
        return fit

    def truth(self, f: nn.Module, layer: int) -> dict[str, float]:
        return layer_truth(f, self.inst.data, self.truth_idx, self.inst.noise_std, self.ctx, layer)


class _LayerRun:
    """Layer i's turn: its critics (pre-trained on the layer, or restored), its iterations, its summary."""

    def __init__(self, fit: _Fit, i: int) -> None:
        self.fit, self.i, p, progress = fit, i, fit.p, fit.progress
        self.beta = p.beta_conv if fit.inst.layer_kinds[i - 1] == "conv" else p.beta
        self.block = fit.net[i - 1].requires_grad_(True)
        self.f = layer_network(fit.net, i)
        resuming = fit.loop.state is not None and i == fit.resume_at[0]
        if resuming:  # the frozen layers as the killed run left them: the view reads them
            fit.net.load_state_dict(fit.loop.state["net"])
        # MINE as D_x reads x itself: its pairs need the raw inputs
        data = fit.inst.data
        view = critics_view(fit.net, i, data, fit.ctx.device) if p.ixt_critic == "aa-mine" else (self.f, data)
        self.critics = IBCritics(
            *view,
            fit.inst.noise_std,
            p,
            fit.ctx,
            with_y=True,
            with_x=self.beta > 0 or p.track_ixt,
            name=f"layer-{i}",
        )
        self.opt = torch.optim.Adam(self.block.parameters(), lr=p.lr)
        parts = {
            "net": fit.net,
            "opt": self.opt,
            "stream": fit.stream,
            "critics": self.critics,
            "probe": fit.probe,
        }
        if fit.loop.use(parts):
            self.first = fit.resume_at[1] + 1  # the window since the last trace point came back with it
        else:
            self.first = 1
            progress.fingerprints[i] = {"initial": fingerprint(self.block)}
            # pre-train on the initial layer until the held-out bounds plateau, as the paper does;
            # what the critics read then, next to the truth, says whether they were ready
            progress.at_start[i] = {**self.critics.pretrain(), **fit.truth(self.f, i)}
            progress.window = []
        self.weights = list(self.block.parameters())
        self.every = max(1, p.steps // p.trace_points)

    def step(self, it: int, x: torch.Tensor, y: torch.Tensor) -> None:
        """One iteration of layer i; every ``every`` iterations the mean bounds since the last trace point
        and this step's gradient ratio go into the trace."""
        p, progress = self.fit.p, self.fit.progress
        log = it % self.every == 0 or it == p.steps
        b = layer_step(
            self.f,
            self.critics,
            self.opt,
            x,
            y,
            self.beta,
            p.critic_steps,
            f"IB objective of layer {self.i} at iteration {it}",
            weights=self.weights if log else None,
        )
        progress.window.append([b["iyt"].item(), b["ixt"].item() if "ixt" in b else float("nan")])
        if log:
            mean = torch.tensor(progress.window).mean(0).tolist()
            ratio = {"grad_ratio": b["grad_ratio"].item()} if "grad_ratio" in b else {}
            progress.trace.append({"layer": self.i, "iteration": it, "iyt": mean[0], "ixt": mean[1], **ratio})
            progress.window = []

    def train(self) -> None:
        """The layer's iterations (snapshotted, resumable), then frozen and summarised."""
        fit, i = self.fit, self.i
        fit.loop.run(
            self.step,
            self.first,
            fit.p.steps,
            measures=schedule(fit.p.steps, fit.p.measure_points),
            offset=(i - 1) * fit.p.steps,
            tags={"layer_trained": i},
            where=lambda it: {"layer": i, "iteration": it},
            extra_state=fit.progress.state,
        )
        self.block.requires_grad_(False)
        fit.progress.fingerprints[i]["frozen"] = fingerprint(self.block)
        fit.progress.layers.append(self.summary())

    def summary(self) -> dict[str, Any]:
        """The frozen layer: the critics' held-out readings and the truth, now and at the layer's start."""
        progress, i = self.fit.progress, self.i
        summary = {
            "layer": i,
            "beta": self.beta,
            **self.critics.estimates(strict=False),  # the layer is trained: a diverged reading is noted
            **self.fit.truth(self.f, i),
            "at_start": progress.at_start[i],
        }
        ratios = [t["grad_ratio"] for t in progress.trace if t["layer"] == i and "grad_ratio" in t]
        if ratios:  # ||beta grad I(X;L+eps)|| / ||grad I(Y;L)|| on the layer's weights, over the logged steps
            summary["grad_ratio_median"] = statistics.median(ratios)
            summary["grad_ratio_max"] = max(ratios)
        for when in (summary, progress.at_start[i]):  # how much of the truth AA-MINE's critic reads
            if "ixt" in when and when["ixt_truth"] > 3 * when["ixt_truth_se"]:  # a truth resolved from 0
                when["ixt_fraction_of_truth"] = when["ixt"] / when["ixt_truth"]
        return summary


def fit_layerwise(
    task,
    p: LayerwiseParams,
    ctx: RunContext,
    probe=None,
    on_layer_frozen: Callable[[int, nn.Sequential], None] | None = None,
) -> LayerwiseFit:
    """Train layer by layer, then fit the readout.  ``on_layer_frozen(i, net)`` is called as layer i freezes."""
    fit = _Fit.start(task, p, ctx, probe)
    for i in range(fit.resume_at[0], len(fit.net) + 1):
        _LayerRun(fit, i).train()
        if on_layer_frozen is not None:
            on_layer_frozen(i, fit.net)
    fit.loop.end()
    return _finish(fit)


def _finish(fit: _Fit) -> LayerwiseFit:
    """The frozen net's C -> C readout, fitted, and the run's result (accuracy, layers, Fig. 5's separation)."""
    net, data, device, p = fit.net, fit.inst.data, fit.ctx.device, fit.p
    readout, readout_result = post_train_readout(net, data, p.readout_max_iter, device)
    fingerprints = fit.progress.fingerprints
    for i in fingerprints:
        fingerprints[i]["final"] = fingerprint(net[i - 1])
    model = nn.Sequential(net, readout)
    merged = merge_readout(net, readout)
    with torch.no_grad():
        probe_x = data.test_x[:512].to(device)
        merge_gap = (model.eval()(probe_x) - merged.eval()(probe_x)).abs().max().item()
    result = {
        **readout_result,
        "steps_per_layer": p.steps,
        "critic_precision": p.critic_params(device).precision,  # the critics' matmuls as run
        "layers": fit.progress.layers,
        "trace": fit.progress.trace,
        "train_acc": train_accuracy(model, data, device),
        "frozen_unchanged": all(v["frozen"] == v["final"] for v in fingerprints.values()),
        "readout_merge_max_abs_diff": merge_gap,
        # paper Fig. 5 on the network as deployed: the readout merged into the last layer
        "separation": layer_separations(merged, data.test_x, data.test_y, device),
        "linear_probes": linear_probes(
            net, data, device, p.linear_probe_rows, progress=fit.ctx.show_progress
        ),
    }
    if fit.probe is not None:
        result["info_plane"] = fit.probe.result()
    return LayerwiseFit(net, readout, result)


#: the most memory the frozen layers' outputs on the training and validation inputs may take
FROZEN_CACHE_BYTES = 1 << 30
_STOCHASTIC = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


def critics_view(net: nn.Sequential, layer: int, data, device: torch.device) -> tuple[nn.Module, Any]:
    """(F, data) for layer i's critics: what their pairs come from.

    Blocks 1..i-1 are frozen while layer i trains, so their outputs on the training and validation
    inputs are computed once and the critics' samplers run block i alone on them: F_i as before, without
    the frozen blocks' forward pass at every critic step (for MNIST's third layer, nearly all of it).
    The whole prefix runs each time instead where its outputs would take more than
    ``FROZEN_CACHE_BYTES``, or where it holds dropout or batch norm in training mode (its output is
    then not a function of x alone).
    """
    if layer == 1:
        return layer_network(net, 1), data
    prefix = net[: layer - 1]
    if prefix.training and any(isinstance(m, _STOCHASTIC) for m in prefix.modules()):
        return layer_network(net, layer), data
    width = math.prod(features(prefix, data.train_x[:1].to(device)).shape[1:])
    if (data.train_x.shape[0] + data.val_x.shape[0]) * width * 4 > FROZEN_CACHE_BYTES:
        return layer_network(net, layer), data
    cached = dataclasses.replace(
        data, train_x=features(prefix, data.train_x.to(device)), val_x=features(prefix, data.val_x.to(device))
    )
    return nn.Sequential(net[layer - 1], nn.Flatten()), cached


def layer_truth(
    f: nn.Module, data, truth_idx: torch.Tensor, noise_std: float, ctx: RunContext, layer: int
) -> dict[str, float]:
    """The Monte-Carlo truth of I(X; L_i + eps), X uniform over the truth points, as the layer is now."""
    was_training = f.training
    with torch.no_grad():
        f.eval()
        centres = features(f, data.train_x[truth_idx].to(ctx.device))
        f.train(was_training)
    value, se = mixture_mi(centres, noise_std, 1000, ctx.generator(f"layerwise.truth.layer-{layer}"))
    return {"ixt_truth": value, "ixt_truth_se": se}
