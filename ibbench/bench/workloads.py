"""The workloads the benchmarks time, each built on synthetic data so no dataset is needed.

A ``Workload`` is one unit of work (``run()``), with the matrix-multiply FLOPs
it performs where we can count them (a multiply-add is 2 FLOPs) and the
number of samples it processes, so a timing turns into FLOP/s and samples/s.

The critic workloads use the information-plane setting of the paper: X
uniform over 2000 MNIST-sized inputs, Z = F_2(X) + eps for layer 2 of a
784-512-512-10 ReLU MLP (random weights).  MINE's critic then sees
[x, z] (784 + 512 inputs), AA-MINE's [F_2(x), z] (512 + 512).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..api import RunContext
from ..critics import Critic, CriticParams, CriticTrainer, critic_step_flops, mlp_flops
from ..estimators.aa_mine import AAMINE
from ..methods.infoplane import NoisyLayerTask, layer_network
from ..tasks.networks import mlp
from ..training import ClassificationData

MNIST_WIDTHS = [784, 512, 512, 10]


@dataclass
class Workload:
    name: str
    params: dict[str, Any]
    run: Callable[[], Any]
    device: torch.device
    flops: float | None = None  # matmul FLOPs per run()
    samples: int | None = None  # samples (pairs, inputs) processed per run()
    extras: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        out = self.run()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return out


def resolve(device: str | torch.device) -> torch.device:
    """ "auto" -> CUDA where torch sees one, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _ctx(device: torch.device, seed: int = 0) -> RunContext:
    return RunContext(seed=seed, device=device, budget="quick")


def layer_task(
    device: torch.device, points: int = 2000, layer: int = 2, noise_var: float = 0.1, seed: int = 0
) -> NoisyLayerTask:
    """(x, F_layer(x) + eps) on random [0, 1]^784 inputs through a random MNIST-sized MLP."""
    g = torch.Generator().manual_seed(seed)
    net = mlp(MNIST_WIDTHS, seed=seed).to(device).eval()
    return NoisyLayerTask(
        layer_network(net, layer),
        torch.rand(points, MNIST_WIDTHS[0], generator=g),
        math.sqrt(noise_var),
        device,
        truth_samples=1000,
    )


def critic_step(
    estimator: str = "mine",
    hidden: int = 1500,
    batch: int = 256,
    ensemble: int = 1,
    precision: str = "fp32",
    compile: bool = False,
    device: str | torch.device = "cpu",
    depth: int = 2,
) -> Workload:
    """One update of a MINE or AA-MINE critic (the paper's 2 x ``hidden`` LeakyReLU MLP) on a layer task."""
    dev = resolve(device)
    task = layer_task(dev)
    p = CriticParams(
        hidden=hidden, depth=depth, batch_size=batch, ensemble=ensemble, precision=precision, compile=compile
    )
    ctx = _ctx(dev)
    torch.manual_seed(0)
    if estimator == "aa-mine":
        critic, sample, u_dim = AAMINE().critic_for(task, p, ctx), task.sample_features, task.y_dim
    elif estimator == "mine":
        critic, sample, u_dim = Critic(task.x_dim, task.y_dim, p), task.sample, task.x_dim
    else:
        raise ValueError(f"critic_step: estimator must be 'mine' or 'aa-mine', got {estimator!r}")
    trainer = CriticTrainer(critic, sample, p, ctx, estimator)
    drawn = batch if p.ensemble_data == "shared" else ensemble * batch  # members may share one batch
    sampler_flops = mlp_flops(MNIST_WIDTHS[:3], drawn)  # F_2(x) of every drawn x
    flops = critic_step_flops(u_dim, task.y_dim, hidden, depth, batch, ensemble) + sampler_flops
    params = dict(
        estimator=estimator,
        hidden=hidden,
        batch=batch,
        ensemble=ensemble,
        precision=precision,
        compile=compile,
    )
    return Workload(
        "critic-step",
        params,
        trainer.step,
        dev,
        flops=flops,
        samples=ensemble * batch,
        extras={"critic_flops": flops - sampler_flops},
    )


def gaussian_task(dim: int = 10, mi: float = 2.0):
    from ..tasks.gaussian import Gaussian, GaussianParams

    return Gaussian().build(GaussianParams(dim=dim, mi=mi), _ctx(torch.device("cpu")))


def estimate(
    estimator: str = "binning",
    budget: str = "quick",
    dim: int = 10,
    mi: float = 2.0,
    device: str | torch.device = "cpu",
) -> Workload:
    """One full estimate by a registered estimator (built-in or plugin) on a sparse Gaussian task."""
    from ..running.plugins import load_registry

    dev = resolve(device)
    registry = load_registry()
    plugin = registry.get("estimator", estimator).load()
    params = plugin.params_for(budget)
    task = gaussian_task(dim, mi)
    ctx = _ctx(dev)
    n = getattr(params, "n_samples", None)
    if n is None:  # not set: a sampler task gets the budget's count, kept beside the estimator class
        n = getattr(sys.modules[type(plugin).__module__], "DEFAULT_PAIRS", {}).get(budget)
    return Workload(
        "estimate",
        dict(estimator=estimator, budget=budget, dim=dim, mi=mi),
        lambda: plugin.estimate(task, params, ctx),
        dev,
        samples=n,
    )


def mixture_truth(
    n: int = 60000, dim: int = 512, samples: int = 4096, device: str | torch.device = "cpu"
) -> Workload:
    """The Monte-Carlo ground truth I(X; F(X) + eps) for X uniform over n centres in ``dim`` dimensions."""
    from ..methods.gaussian_mixture import LAST_WORK_DTYPE, mixture_mi

    dev = resolve(device)
    g = torch.Generator().manual_seed(0)
    centres = (torch.randn(n, dim, generator=g) * 2.0).to(dev)
    flops = 2.0 * samples * n * dim  # the u . a_j products dominate
    extras: dict[str, Any] = {}

    def run():
        out = mixture_mi(centres, 1.0, samples, torch.Generator().manual_seed(1))
        # the kernel goes float64 where float32 would round a logit by more than CANCEL_TOL: its FLOPs
        # are then float64 FLOPs, to be set against the float64 peak
        extras["precision"] = {torch.float64: "fp64", torch.float32: "fp32"}[LAST_WORK_DTYPE[0]]
        return out

    return Workload(
        "mixture-truth",
        dict(n=n, dim=dim, samples=samples),
        run,
        dev,
        flops=flops,
        samples=samples,
        extras=extras,
    )


def synthetic_classification(
    n: int = 2000, seed: int = 0, features: int = MNIST_WIDTHS[0]
) -> ClassificationData:
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(n, features, generator=g), torch.randint(10, (n,), generator=g)
    return ClassificationData(x, y, x[:200], y[:200], x[:200], y[:200], 10, {"name": "synthetic"})


#: the networks a trainer step can be timed on: MNIST's MLP and the paper's two CIFAR-10 conv nets
NETWORKS = ("mnist-mlp", "cifar-conv", "cifar-conv6")


def _network(name: str) -> tuple[torch.nn.Sequential, list[str], int]:
    """(a fresh net with weights from seed 0, its layers' kinds ("conv" / "fc"), its flat input width)."""
    if name == "mnist-mlp":
        return mlp(MNIST_WIDTHS, seed=0), ["fc"] * (len(MNIST_WIDTHS) - 1), MNIST_WIDTHS[0]
    from ..tasks.network_tasks import CIFARConv, CIFARConv6, ConvParams

    task = {"cifar-conv": CIFARConv, "cifar-conv6": CIFARConv6}[name]()
    p = ConvParams()
    torch.manual_seed(0)
    return task.build_network(p), task.layer_kinds(p), 3 * 32 * 32


def _counted_flops(run: Callable[[], Any]) -> float:
    """Matmul and convolution FLOPs of one call of ``run`` (forward and backward; torch's counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


def trainer_step(
    trainer: str = "ce",
    budget: str = "quick",
    device: str | torch.device = "cpu",
    layer: int = 1,
    critic_precision: str | None = None,
    network: str = "mnist-mlp",
) -> Workload:
    """One training step of a trainer on synthetic inputs to ``network``: an MNIST-sized MLP
    (784-512-512-10, the default) or the paper's CIFAR-10 nets (``cifar-conv``: Table 2's
    CONV16x3-FC512-512-10, ``cifar-conv6``: Table 3's CONV48-48-96-96-192-192-FC512-512-10).

    ce / ce-wd: one Adam step.  ib-layerwise: one step of layer ``layer`` (the layers before it
    frozen) on its IB objective plus k critic steps of D_y and, where that layer's beta is above 0
    (``beta`` on FC layers, ``beta_conv`` on conv layers: 0 by default, the paper's CIFAR setting),
    of D_x.  ib-e2e: one step of the whole net plus k critic steps.  Critic width and k follow
    ``budget``; ``critic_precision`` overrides the IB trainers' (default "auto").  FLOPs: counted
    by hand for the MLP, by torch's FLOP counter over one extra step for the conv nets.
    """
    from ..running.plugins import load_registry

    dev = resolve(device)
    plugin = load_registry().get("trainer", trainer).load()
    p = plugin.params_for(budget, {"critic_precision": critic_precision} if critic_precision else {})
    if network not in NETWORKS:
        raise ValueError(f"trainer_step: unknown network {network!r}; choose from {', '.join(NETWORKS)}")
    net, kinds, width = _network(network)
    net = net.to(dev).train()
    data = synthetic_classification(features=width)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ctx = _ctx(dev)

    def batch():
        idx = torch.randint(data.train_x.shape[0], (p.batch_size,), generator=g)
        return data.train_x[idx].to(dev), data.train_y[idx].to(dev)

    builders = {"ce": _ce_run, "ce-wd": _ce_run, "ib-layerwise": _layerwise_run, "ib-e2e": _e2e_run}
    if trainer not in builders:
        raise ValueError(f"trainer_step: no benchmark for trainer {trainer!r}")
    run, flops = builders[trainer](net, kinds, p, data, dev, ctx, batch, layer)
    if network != "mnist-mlp":
        flops = _counted_flops(run)
    # the IB trainers' critics' matmul precision ("auto" resolved for this device)
    extras = {"critic_precision": p.critic_params(dev).precision} if hasattr(p, "critic_params") else {}
    return Workload(
        "trainer-step",
        dict(
            trainer=trainer,
            budget=budget,
            **({"layer": layer} if trainer == "ib-layerwise" else {}),
            **({"critic_precision": critic_precision} if critic_precision else {}),
            **({"network": network} if network != "mnist-mlp" else {}),
        ),
        run,
        dev,
        flops=flops,
        samples=p.batch_size,
        extras=extras,
    )


def _ce_run(net, kinds, p, data, dev, ctx, batch, layer):
    """One Adam step of CE (with the trainer's weight decay), and its FLOPs (forward + backward)."""
    from ..trainers.ce import ce_step

    opt = torch.optim.Adam(net.parameters(), lr=p.lr)
    decay, state = getattr(p, "weight_decay", 0.0), {"step": 0}

    def run():
        state["step"] += 1
        return ce_step(net, opt, *batch(), decay, state["step"])

    return run, 3 * mlp_flops(MNIST_WIDTHS, p.batch_size)


def _layerwise_run(net, kinds, p, data, dev, ctx, batch, layer):
    """One layer-wise IB iteration of layer ``layer``: its step plus k steps of D_y (and of D_x where
    the layer's beta is above 0), and its FLOPs counted by hand for the MLP."""
    from ..trainers.ib_critics import IBCritics
    from ..trainers.ib_layerwise import critics_view, layer_step

    f = layer_network(net.requires_grad_(False), layer)
    net[layer - 1].requires_grad_(True)
    beta = p.beta_conv if kinds[layer - 1] == "conv" else p.beta
    critics = IBCritics(
        *critics_view(net, layer, data, dev), 0.1, p, ctx, with_y=True, with_x=beta > 0, name=f"layer-{layer}"
    )
    opt = torch.optim.Adam(net[layer - 1].parameters(), lr=p.lr)
    dims = critics.noisy.y_dim
    # the layer's forward and backward on the net's batch (the frozen ones forward only), the sampler's
    # pass of the layer over k critic batches (the frozen layers' outputs are cached), the critics' steps
    block = mlp_flops(MNIST_WIDTHS[layer - 1 : layer + 1], p.batch_size)
    critic = critic_step_flops(10, dims, p.critic_hidden, p.critic_depth, p.critic_batch) + critic_step_flops(
        dims, dims, p.critic_hidden, p.critic_depth, p.critic_batch
    )
    flops = (
        3 * block
        + mlp_flops(MNIST_WIDTHS[:layer], p.batch_size)
        + p.critic_steps * (block * p.critic_batch / p.batch_size + critic)
    )

    def run():
        return layer_step(f, critics, opt, *batch(), beta, p.critic_steps, "benchmark")

    return run, flops


def _e2e_run(net, kinds, p, data, dev, ctx, batch, layer):
    """One end-to-end CE + IB step with its k critic steps; FLOPs not counted for the MLP (None)."""
    from ..trainers.ib_critics import IBCritics
    from ..trainers.ib_e2e import e2e_step

    f = layer_network(net, len(net))
    critics = IBCritics(
        f, data, 0.1, p, ctx, with_y=p.beta > 0, with_x=p.gamma > 0, name="e2e", dy_noise=p.dy_noise
    )
    opt = torch.optim.Adam(net.parameters(), lr=p.lr)
    state = {"step": 0}

    def run():
        state["step"] += 1
        return e2e_step(net, critics, opt, *batch(), p, state["step"])

    return run, None  # k critic steps on the 10-d output plus the net: counted loosely, not reported


def snapshot(
    estimator: str = "aa-mine",
    hidden: int = 1500,
    device: str | torch.device = "cpu",
    directory: str | None = None,
) -> Workload:
    """One checkpoint of a trained critic (weights, Adam moments, random streams) as a training cell
    writes it: state_dict, torch.save, fsync, atomic rename.  ``extras["bytes"]``: the file's size."""
    import tempfile
    from pathlib import Path

    from ..running.checkpoints import Checkpointer
    from ..store.cells import CellKey

    step = critic_step(estimator, hidden, batch=256, device=device)
    trainer = step.run.__self__  # the CriticTrainer whose step that workload times
    step()  # Adam's moments exist from the first step on
    folder = Path(directory or tempfile.mkdtemp(prefix="ibbench-snapshot-"))
    ck = Checkpointer(folder / "bench.pt", CellKey("bench"), every_s=0)
    ck.offer({"step": 1}, lambda: {"trainer": trainer.state_dict()})
    return Workload(
        "snapshot",
        dict(estimator=estimator, hidden=hidden),
        lambda: ck.offer({"step": 1}, lambda: {"trainer": trainer.state_dict()}),
        step.device,
        extras={"bytes": ck.path.stat().st_size, "path": str(ck.path)},
    )


BUILDERS: dict[str, Callable[..., Workload]] = {
    "critic-step": critic_step,
    "snapshot": snapshot,
    "estimate": estimate,
    "mixture-truth": mixture_truth,
    "trainer-step": trainer_step,
}


def build(name: str, **params: Any) -> Workload:
    if name not in BUILDERS:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(BUILDERS)}")
    return BUILDERS[name](**params)
