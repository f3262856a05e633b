"""Time the critic step of an older ibbench checkout (commit a2a587a, before the speed work) on the
workload of ibbench.bench.workloads.critic_step, for the before/after figures in results/README.md:

    git worktree add /tmp/old a2a587a && cd /tmp/old && PYTHONPATH=/tmp/old python /path/to/this/script.py
"""

import math
import statistics
import time

import torch
from ibbench.estimators.critics import Critic, CriticParams, CriticTrainer

import ibbench.api as api
from ibbench.api import RunContext
from ibbench.estimators.aa_mine import AAMINE
from ibbench.methods.infoplane import NoisyLayerTask, layer_network
from ibbench.tasks.networks import mlp

print("ibbench from", api.__file__)


def task(dev):
    g = torch.Generator().manual_seed(0)
    net = mlp([784, 512, 512, 10], seed=0).to(dev).eval()
    return NoisyLayerTask(
        layer_network(net, 2), torch.rand(2000, 784, generator=g), math.sqrt(0.1), dev, truth_samples=1000
    )


dev = torch.device("cpu")
for est in ("mine", "aa-mine"):
    for h, b in ((1500, 256), (1500, 512), (1500, 1024), (256, 256), (64, 256)):
        t = task(dev)
        p = CriticParams(hidden=h, batch_size=b)
        ctx = RunContext(seed=0, device=dev)
        torch.manual_seed(0)
        if est == "aa-mine":
            critic, _ = AAMINE().critic_for(t, p, ctx)
        else:
            critic = Critic(torch.nn.Identity(), t.x_dim, t.y_dim, p)
        tr = CriticTrainer(critic, t.sample, p, ctx, est)
        for _ in range(2):
            tr.step()
        times = []
        s0 = time.perf_counter()
        while len(times) < 3 or time.perf_counter() - s0 < 1.0:
            a = time.perf_counter()
            tr.step()
            times.append(time.perf_counter() - a)
        print(est, h, b, f"{1e3 * statistics.median(times):.2f} ms")
