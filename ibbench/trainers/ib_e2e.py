"""End-to-end training with the IB functional as a regulariser (paper App. B, Eq. 8):

    minimise  a CE(Y, Yhat) - b I(Y; Yhat) + g I(X; Yhat + eps)

with I(Y; Yhat) from a MINE critic D_y on (one-hot y, Yhat) and I(X; Yhat + eps)
from an AA-MINE critic D_x that sees the detached Yhat as F(x); both
critics take k steps per network step.  D_y reads the same noisy Yhat + eps as
D_x (``dy_noise``): its DV bound is on I(Y; Yhat + eps) <= I(Y; Yhat), at the
noise's resolution instead of Yhat's own spread, which on a fresh net's tiny
logits swamped cross-entropy (``IBCritics.bounds``).  A critic whose coefficient is 0 is
not trained at all.  With alpha = 0 (the IB loss alone) the net's output is
only informative about Y, not aligned with it, so the linear readout of the
layer-wise trainer is post-trained on it (it adds no capacity).  Table 3: (a, b, g) = (1, 1, 1e-3) on MNIST; CIFAR-10
compares (1, 0.5, 0) and (1, 0, 1e-3) with plain CE.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from ..api import ClassificationInstance, Probe, RunContext, Trainer, check_finite
from ..methods.infoplane import layer_network
from ..training import (
    BATCHES_STREAM,
    NET_DIVERGED,
    BatchStream,
    Selection,
    TrainingLoop,
    attach_probe,
    classification_instance,
    layer_separations,
    schedule,
    train_accuracy,
)
from .ib_critics import IBCritics, IBParams, critic_budgets
from .readout import linear_probes, merge_readout, post_train_readout


class EndToEndParams(IBParams):
    alpha: float = Field(1.0, ge=0)  # a: weight of cross-entropy
    beta: float = Field(1.0, ge=0)  # b: weight of I(Y; Yhat) (maximised)
    gamma: float = Field(1e-3, ge=0)  # g: weight of I(X; Yhat + eps) (minimised)
    # D_y reads Yhat + eps (its bound: I(Y; Yhat + eps) <= I(Y; Yhat)); False: the noiseless Yhat, whose
    # gradient grows as 1 / spread(Yhat) and kept a fresh net at chance for hundreds of steps
    dy_noise: bool = True
    readout_max_iter: int = Field(
        500, ge=1
    )  # alpha = 0 only: L-BFGS iterations of the fitted readout (Sec. 5)


def e2e_step(
    net: nn.Module,
    critics: IBCritics,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    p: EndToEndParams,
    step: int,
):
    """One net step on a CE - b I(Y;Yhat) + g I(X;Yhat+eps), then k critic steps; (loss, ce, bounds)."""
    logits = net(x)
    ce = nn.functional.cross_entropy(logits, y)
    b = critics.bounds(x, y, logits)
    loss = p.alpha * ce
    if "iyt" in b:
        loss = loss - p.beta * b["iyt"]
    if "ixt" in b:
        loss = loss + p.gamma * b["ixt"]
    check_finite(loss.item(), f"ib-e2e loss at step {step}", hint=NET_DIVERGED)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    critics.update(p.critic_steps)
    return loss, ce, b


class EndToEndIB(Trainer):
    Params = EndToEndParams
    budgets = critic_budgets(
        smoke={"steps": 60, "batch_size": 64, "eval_points": 3, "measure_points": 2},
        quick={"steps": 2000, "critic_steps": 2, "eval_points": 10, "measure_points": 6},
    )

    def train(
        self,
        task: ClassificationInstance,
        params: EndToEndParams,
        ctx: RunContext,
        probe: Probe | None = None,
    ) -> dict[str, Any]:
        inst = classification_instance(task, "ib-e2e")
        p, data, device = params, inst.data, ctx.device
        if p.alpha == 0 and p.beta == 0:
            raise ValueError(
                "ib-e2e with alpha = beta = 0 has nothing that uses the labels; set alpha or beta > 0"
            )
        net = inst.network(seed=ctx.seed).to(device).train()
        opt = torch.optim.Adam(net.parameters(), lr=p.lr)
        stream = BatchStream(data.train_x, data.train_y, p.batch_size, ctx.generator(BATCHES_STREAM))
        f = layer_network(net, len(net))
        critics = IBCritics(
            f,
            data,
            inst.noise_std,
            p,
            ctx,
            with_y=p.beta > 0,
            with_x=p.gamma > 0,
            name="e2e",
            dy_noise=p.dy_noise,
        )
        loop = TrainingLoop(ctx, "ib-e2e", p.steps, stream, probe)
        state = loop.state
        at_start = critics.pretrain() if state is None else state["at_start"]  # to a held-out plateau
        selection = Selection()
        attach_probe(probe, net, inst)
        parts = {"net": net, "opt": opt, "stream": stream, "critics": critics, "selection": selection}
        loop.use({**parts, "probe": probe})
        start = 0 if state is None else state["step"]
        trace = [] if state is None else state["trace"]

        def evaluate(step: int, out) -> None:
            loss, ce, b = out
            point = selection.evaluate(net, data, device, step, loss=loss.item(), ce=ce.item())
            trace.append({"step": step, **{k: v.item() for k, v in b.items()}, "ce": ce.item()})
            point.update(trace[-1])

        loop.begin(initial=start)
        loop.run(
            lambda step, x, y: e2e_step(net, critics, opt, x, y, p, step),
            start + 1,
            p.steps,
            evals=schedule(p.steps, p.eval_points),
            on_eval=evaluate,
            measures=schedule(p.steps, p.measure_points),
            extra_state=lambda: {"trace": trace, "at_start": at_start},
        )
        loop.end()
        model, summary = net, selection.summary()
        if p.alpha == 0:  # without CE nothing ties Yhat's coordinates to the classes: fit a readout
            readout, summary = post_train_readout(net, data, p.readout_max_iter, device)
            model = merge_readout(net, readout)
            summary["net_evals"] = selection.history
        result = {
            **summary,
            "steps": p.steps,
            "critic_precision": p.critic_params(device).precision,  # the critics' matmuls as run
            "trace": trace,
            # read after training: a diverged reading is noted (``estimates``), the net's accuracy kept
            "final": critics.estimates(strict=False),
            "critics_at_start": at_start,
            "train_acc": train_accuracy(model, data, device),
            "separation": layer_separations(model, data.test_x, data.test_y, device),
            "linear_probes": linear_probes(
                net, data, device, p.linear_probe_rows, progress=ctx.show_progress
            ),
        }
        if probe is not None:
            result["info_plane"] = probe.result()
        return result
