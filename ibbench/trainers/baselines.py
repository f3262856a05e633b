"""Controls for layer-wise IB training that the paper leaves out (Table 1's missing rows).

- ``random-features``: layers 1..n-1 stay at their random initialisation; only the last (linear) layer
  is trained, with cross-entropy fitted to its optimum (trainers/readout.py).  How much of an accuracy
  the frozen random layers alone explain.
- ``greedy-ce``: greedy layer-wise training (Bengio et al. 2007, supervised variant): layer i is trained
  on cross-entropy through a linear head of its own (discarded afterwards; the last layer gives the
  logits itself), for ``steps`` iterations, then frozen.  The same schedule as ``ib-layerwise`` with
  I(Y; L_i) - beta I(X; L_i + eps) replaced by CE, and the same fitted C -> C readout at the end: the
  natural control for whether the IB functional, rather than layer-wise training, makes a difference.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ..api import ClassificationInstance, Probe, RunContext, Trainer
from ..errors import NotApplicableError
from ..methods.infoplane import layer_network
from ..training import (
    BATCHES_STREAM,
    BatchStream,
    TrainerParams,
    TrainingLoop,
    accuracy,
    attach_probe,
    check_loss,
    classification_instance,
    layer_separations,
    schedule,
    train_accuracy,
)
from ..training.params import SMOKE_LINEAR_PROBES, LinearProbeParams
from .readout import linear_probes, merge_readout, post_train_readout


def _last_linear(net: nn.Sequential, trainer: str) -> nn.Linear:
    last = net[-1]
    if isinstance(last, nn.Sequential) and len(last) == 1:
        last = last[0]
    if not isinstance(last, nn.Linear):
        raise NotApplicableError(f"{trainer} needs a network whose last layer is one nn.Linear (logits)")
    return last


def _outcome(
    net: nn.Sequential, model: nn.Module, data, device: torch.device, rows: int, progress: bool | str = False
) -> dict[str, Any]:
    """What every baseline records about its final network (``model`` = net with any readout merged)."""
    return {
        "train_acc": train_accuracy(model, data, device),
        "separation": layer_separations(model, data.test_x, data.test_y, device),
        "linear_probes": linear_probes(net, data, device, rows, progress=progress),
    }


class RandomFeaturesParams(LinearProbeParams):
    readout_max_iter: int = Field(500, ge=1)  # L-BFGS iterations per L2 strength of the last layer's fit


class RandomFeatures(Trainer):
    Params = RandomFeaturesParams
    budgets: ClassVar = {
        "smoke": SMOKE_LINEAR_PROBES,
        "quick": {},
        "paper": {},
    }  # the fit runs to its tolerance at every budget

    def train(
        self,
        task: ClassificationInstance,
        params: RandomFeaturesParams,
        ctx: RunContext,
        probe: Probe | None = None,
    ) -> dict[str, Any]:
        inst = classification_instance(task, "random-features")
        if probe is not None:
            raise NotApplicableError(
                "random-features trains no layer over time: it has no information plane; drop --estimator"
            )
        data, device = inst.data, ctx.device
        net = inst.network(seed=ctx.seed).to(device).requires_grad_(False).eval()
        last = _last_linear(net, "random-features")
        body = nn.Sequential(*list(net.children())[:-1])
        fitted, summary = post_train_readout(body, data, params.readout_max_iter, device)
        with torch.no_grad():  # the fit on L_{n-1} is the last layer: logits = W' L_{n-1} + b'
            last.weight.copy_(fitted.weight)
            last.bias.copy_(fitted.bias)
        return {**summary, **_outcome(net, net, data, device, params.linear_probe_rows, ctx.show_progress)}


class GreedyCEParams(TrainerParams):
    steps: int = Field(5000, ge=1)  # iterations per layer, as ib-layerwise's (paper: 5000)
    readout_max_iter: int = Field(500, ge=1)  # L-BFGS iterations per L2 strength of the fitted C -> C readout


class GreedyCE(Trainer):
    Params = GreedyCEParams
    budgets: ClassVar = {
        "smoke": {"steps": 40, "batch_size": 64, "measure_points": 2, **SMOKE_LINEAR_PROBES},
        "quick": {"steps": 300, "measure_points": 2},  # ib-layerwise's quick iterations per layer
        "paper": {"steps": 5000},
    }

    def train(
        self,
        task: ClassificationInstance,
        params: GreedyCEParams,
        ctx: RunContext,
        probe: Probe | None = None,
    ) -> dict[str, Any]:
        inst = classification_instance(task, "greedy-ce")
        p, data, device = params, inst.data, ctx.device
        net = inst.network(seed=ctx.seed).to(device).requires_grad_(False)
        stream = BatchStream(data.train_x, data.train_y, p.batch_size, ctx.generator(BATCHES_STREAM))
        attach_probe(probe, net, inst)
        loop = TrainingLoop(ctx, "greedy-ce", p.steps * len(net), stream, probe, checkpoints=False)
        loop.begin(layer_trained=0)
        measures = schedule(p.steps, p.measure_points)
        torch.manual_seed(ctx.seed)  # the heads' initialisation
        layers = []
        for i in range(1, len(net) + 1):
            block = net[i - 1].requires_grad_(True)
            f = layer_network(net, i)
            with torch.no_grad():
                width = f(data.train_x[:2].to(device)).flatten(1).shape[1]
            # the last layer gives the logits; earlier ones a linear head of their own, discarded after
            head = nn.Identity() if i == len(net) else nn.Linear(width, data.n_classes).to(device)
            opt = torch.optim.Adam([*block.parameters(), *head.parameters()], lr=p.lr)

            def step(
                it: int, x: torch.Tensor, y: torch.Tensor
            ) -> torch.Tensor:  # one step of layer i and its head
                loss = nn.functional.cross_entropy(head(f(x).flatten(1)), y)
                check_loss(loss, it, f"layer {i}'s cross-entropy")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return loss

            loss = loop.run(
                step, 1, p.steps, measures=measures, offset=(i - 1) * p.steps, tags={"layer_trained": i}
            )
            block.requires_grad_(False)
            classifier = nn.Sequential(f, nn.Flatten(), head).eval()
            layers.append(
                {
                    "layer": i,
                    "final_loss": loss.item(),
                    "head_val_acc": accuracy(classifier, data.val_x, data.val_y, device),
                }
            )
        loop.end()
        net_test_acc = accuracy(net, data.test_x, data.test_y, device)
        readout, summary = post_train_readout(net, data, p.readout_max_iter, device)
        merged = merge_readout(net, readout)
        result = {
            **summary,
            "steps_per_layer": p.steps,
            "layers": layers,
            "test_acc_without_readout": net_test_acc,
            **_outcome(net, merged, data, device, p.linear_probe_rows, ctx.show_progress),
        }
        if probe is not None:
            result["info_plane"] = probe.result()
        return result
