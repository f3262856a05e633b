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
from typing import Any

import torch
from pydantic import Field
from torch import nn

from ..api import RunContext, Trainer, check_finite
from ..gaussian_mixture import mixture_mi
from ..infoplane import layer_network
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

    def train(self, task, params: LayerwiseParams, ctx: RunContext, probe=None) -> dict[str, Any]:
        return fit_layerwise(task, params, ctx, probe)[2]


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


def fit_layerwise(
    task,
    p: LayerwiseParams,
    ctx: RunContext,
    probe=None,
    on_layer_frozen: Callable[[int, nn.Sequential], None] | None = None,
):
    """Train; returns (net, readout, result).  ``on_layer_frozen(i, net)`` is called as layer i freezes."""
    inst = classification_instance(task, "ib-layerwise")
    data, device = inst.data, ctx.device
    net = inst.network(seed=ctx.seed).to(device).requires_grad_(False)
    stream = BatchStream(data.train_x, data.train_y, p.batch_size, ctx.generator(BATCHES_STREAM))
    truth_idx = torch.randperm(data.train_x.shape[0], generator=ctx.generator("layerwise.truth-points"))[
        : p.truth_points
    ]
    attach_probe(probe, net, inst)
    measures = schedule(p.steps, p.measure_points)
    loop = TrainingLoop(ctx, "ib-layerwise", p.steps * len(net), stream, probe)
    state = loop.state
    if state is None:
        start = {"layer": 1, "iteration": 0}
        layers, trace, fingerprints, at_start = [], [], {}, {}
    else:  # a killed run: the frozen layers come back with the net's weights, the current one mid-way
        start = {"layer": state["layer"], "iteration": state["iteration"]}
        layers, trace, fingerprints = state["layers"], state["trace"], state["fingerprints"]
        at_start = state["at_start"]
    loop.begin(initial=(start["layer"] - 1) * p.steps + start["iteration"], layer_trained=0)
    every = max(1, p.steps // p.trace_points)
    for i in range(start["layer"], len(net) + 1):
        beta = p.beta_conv if inst.layer_kinds[i - 1] == "conv" else p.beta
        block = net[i - 1].requires_grad_(True)
        f = layer_network(net, i)
        if state is not None and i == start["layer"]:
            net.load_state_dict(
                state["net"]
            )  # the frozen layers as the killed run left them: the view reads them
        # MINE as D_x reads x itself: its pairs need the raw inputs
        view = critics_view(net, i, data, device) if p.ixt_critic == "aa-mine" else (f, data)
        critics = IBCritics(
            *view,
            inst.noise_std,
            p,
            ctx,
            with_y=True,
            with_x=beta > 0 or p.track_ixt,
            name=f"layer-{i}",
        )
        opt = torch.optim.Adam(block.parameters(), lr=p.lr)
        first = 1
        if loop.use({"net": net, "opt": opt, "stream": stream, "critics": critics, "probe": probe}):
            first, window = start["iteration"] + 1, state["window"]
        else:
            fingerprints[i] = {"initial": fingerprint(block)}
            # pre-train on the initial layer until the held-out bounds plateau, as the paper does;
            # what the critics read then, next to the truth, says whether they were ready
            at_start[i] = {**critics.pretrain(), **layer_truth(f, data, truth_idx, inst.noise_std, ctx, i)}
            window: list[list[float]] = []
        weights = list(block.parameters())

        def step(it: int, x: torch.Tensor, y: torch.Tensor) -> None:  # one iteration of layer i
            nonlocal window
            log = it % every == 0 or it == p.steps
            b = layer_step(
                f,
                critics,
                opt,
                x,
                y,
                beta,
                p.critic_steps,
                f"IB objective of layer {i} at iteration {it}",
                weights=weights if log else None,
            )
            window.append([b["iyt"].item(), b["ixt"].item() if "ixt" in b else float("nan")])
            if log:  # the mean of the critics' bounds since the last log, and this step's gradient ratio
                mean = torch.tensor(window).mean(0).tolist()
                trace.append(
                    {
                        "layer": i,
                        "iteration": it,
                        "iyt": mean[0],
                        "ixt": mean[1],
                        **({"grad_ratio": b["grad_ratio"].item()} if "grad_ratio" in b else {}),
                    }
                )
                window = []

        loop.run(
            step,
            first,
            p.steps,
            measures=measures,
            offset=(i - 1) * p.steps,
            tags={"layer_trained": i},
            where=lambda it: {"layer": i, "iteration": it},
            extra_state=lambda: {
                "window": window,
                "layers": layers,
                "trace": trace,
                "fingerprints": fingerprints,
                "at_start": at_start,
            },
        )
        block.requires_grad_(False)
        fingerprints[i]["frozen"] = fingerprint(block)
        summary = {
            "layer": i,
            "beta": beta,
            **critics.estimates(strict=False),  # the layer is trained: a diverged reading is noted
            **layer_truth(f, data, truth_idx, inst.noise_std, ctx, i),
            "at_start": at_start[i],
        }
        ratios = [t["grad_ratio"] for t in trace if t["layer"] == i and "grad_ratio" in t]
        if ratios:  # ||beta grad I(X;L+eps)|| / ||grad I(Y;L)|| on the layer's weights, over the logged steps
            summary["grad_ratio_median"] = statistics.median(ratios)
            summary["grad_ratio_max"] = max(ratios)
        for when in (summary, at_start[i]):  # how much of the truth AA-MINE's critic reads
            if "ixt" in when and when["ixt_truth"] > 3 * when["ixt_truth_se"]:  # a truth resolved from 0
                when["ixt_fraction_of_truth"] = when["ixt"] / when["ixt_truth"]
        layers.append(summary)
        if on_layer_frozen is not None:
            on_layer_frozen(i, net)
    loop.end()
    readout, readout_result = post_train_readout(net, data, p.readout_max_iter, device)
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
        "layers": layers,
        "trace": trace,
        "train_acc": train_accuracy(model, data, device),
        "frozen_unchanged": all(v["frozen"] == v["final"] for v in fingerprints.values()),
        "readout_merge_max_abs_diff": merge_gap,
        # paper Fig. 5 on the network as deployed: the readout merged into the last layer
        "separation": layer_separations(merged, data.test_x, data.test_y, device),
        "linear_probes": linear_probes(net, data, device, p.linear_probe_rows, progress=ctx.show_progress),
    }
    if probe is not None:
        result["info_plane"] = probe.result()
    return net, readout, result


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
