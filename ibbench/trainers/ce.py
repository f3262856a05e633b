"""Cross-entropy training, with and without weight decay (the paper's baseline and Fig. 3's control).

Weight decay is the classic L2 penalty (Krogh & Hertz 1992) added to the loss,
(wd / 2) * sum ||W||^2 over weight matrices and kernels (not biases), which the
paper's Sec. 3 relates to a penalty on I(X; L + eps).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from ..api import ClassificationInstance, Probe, RunContext, TaskInstance, Trainer
from ..training import (
    BATCHES_STREAM,
    BatchStream,
    Selection,
    TrainerParams,
    TrainingLoop,
    attach_probe,
    check_loss,
    classification_instance,
    layer_separations,
    schedule,
    train_accuracy,
)
from ..training.params import SMOKE_LINEAR_PROBES
from .readout import linear_probes

TRAINER_BUDGETS = {
    "smoke": {"steps": 150, "batch_size": 64, "eval_points": 3, "measure_points": 2, **SMOKE_LINEAR_PROBES},
    # the probe is most of the cost of `ibbench run --estimator aa-mine --task mnist-mlp`: 4 points after
    # the start, critics trained 800 steps first and 150 per later point, keep it to a few minutes
    "quick": {
        "steps": 2000,
        "eval_points": 10,
        "measure_points": 4,
        "probe_first_steps": 800,
        "probe_refresh_steps": 150,
    },
    "paper": {"steps": 5000, "eval_points": 20, "measure_points": 20},
}


class CEParams(TrainerParams):
    # coefficient of (1/2) sum ||W||^2; 0 is the paper's plain CE, > 0 lets a tuned suite search it
    weight_decay: float = Field(0.0, ge=0)


class CEWDParams(TrainerParams):
    weight_decay: float = Field(5e-4, gt=0)  # coefficient of (1/2) sum ||W||^2; the paper gives none


def l2_penalty(net: nn.Module) -> torch.Tensor:
    """(1/2) sum ||W||^2 over weights of linear and conv layers."""
    return 0.5 * sum((m.weight**2).sum() for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


def ce_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    weight_decay: float,
    step: int,
) -> torch.Tensor:
    """One Adam step on CE(net(x), y) + weight_decay * (1/2) sum ||W||^2; returns the loss."""
    loss = nn.functional.cross_entropy(net(x), y)
    if weight_decay:
        loss = loss + weight_decay * l2_penalty(net)
    check_loss(loss, step)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def train_cross_entropy(
    task: TaskInstance, p: TrainerParams, ctx: RunContext, probe, weight_decay: float, name: str
) -> dict[str, Any]:
    inst = classification_instance(task, name)
    data, device = inst.data, ctx.device
    net = inst.network(seed=ctx.seed).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=p.lr)
    stream = BatchStream(data.train_x, data.train_y, p.batch_size, ctx.generator(BATCHES_STREAM))
    loop = TrainingLoop(ctx, name, p.steps, stream, probe)
    selection = Selection()
    attach_probe(probe, net, inst)
    loop.use({"net": net, "opt": opt, "stream": stream, "selection": selection, "probe": probe})
    start = 0 if loop.state is None else loop.state["step"]
    loop.begin(initial=start)
    loop.run(
        lambda step, x, y: ce_step(net, opt, x, y, weight_decay, step),
        start + 1,
        p.steps,
        evals=schedule(p.steps, p.eval_points),
        measures=schedule(p.steps, p.measure_points),
        on_eval=lambda step, loss: selection.evaluate(net, data, device, step, loss=loss.item()),
    )
    loop.end()
    result = {
        **selection.summary(),
        "steps": p.steps,
        "train_acc": train_accuracy(net, data, device),
        "separation": layer_separations(net, data.test_x, data.test_y, device),
        "linear_probes": linear_probes(net, data, device, p.linear_probe_rows, progress=ctx.show_progress),
    }
    if probe is not None:
        result["info_plane"] = probe.result()
    return result


class CrossEntropy(Trainer):
    Params = CEParams
    budgets = TRAINER_BUDGETS

    def train(
        self, task: ClassificationInstance, params: CEParams, ctx: RunContext, probe: Probe | None = None
    ) -> dict[str, Any]:
        return train_cross_entropy(task, params, ctx, probe, params.weight_decay, "ce")


class CrossEntropyWeightDecay(Trainer):
    Params = CEWDParams
    budgets = TRAINER_BUDGETS

    def train(
        self, task: ClassificationInstance, params: CEWDParams, ctx: RunContext, probe: Probe | None = None
    ) -> dict[str, Any]:
        return train_cross_entropy(task, params, ctx, probe, params.weight_decay, "ce-wd")
