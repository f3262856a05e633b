"""How many of a CE network's weights are subnormal, and what each 500 steps cost, while CE with weight
decay trains (results/README.md, table1-tuned: the 1 % CE runs with weight decay took 316-507 s, those
without 33-43 s).  Subnormal floats (nonzero, |w| < 1.18e-38) take a slow path in x86 arithmetic.

    python scripts/subnormal_weights.py [--weight-decay 5e-4] [--steps 3000]

Prints the seconds per 500 steps and, at the end, the subnormal weights of the net; one thread.  A
timing: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import time

import torch

import ibbench.trainers.ce as ce
from ibbench.running.plugins import load_registry
from ibbench.running.runner import execute, resolve
from ibbench.running.specs import RunSpec

TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32, 1.18e-38


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    step_of_ce, clock, net_seen = ce.ce_step, [time.perf_counter()], []

    def timed(net, opt, x, y, weight_decay, step):
        out = step_of_ce(net, opt, x, y, weight_decay, step)
        if step % 500 == 0:
            now = time.perf_counter()
            print(f"steps {step - 499}-{step}: {now - clock[0]:.1f} s", flush=True)
            clock[0] = now
        net_seen[:] = [net]
        return out

    ce.ce_step = timed  # the trainer's own step, timed
    spec = RunSpec.model_validate(
        {
            "task": {"name": "mnist-mlp", "params": {"train_fraction": 0.01}},
            "trainer": {
                "name": "ce",
                "params": {"steps": args.steps, "lr": 1e-3, "weight_decay": args.weight_decay},
            },
            "seed": 100,
            "budget": "quick",
            "device": "cpu",
        }
    )
    execute(resolve(spec, load_registry()))
    weights = [p.detach() for p in net_seen[0].parameters()]
    subnormal = sum(int(((w != 0) & (w.abs() < TINY)).sum()) for w in weights)
    print(f"subnormal weights at step {args.steps}: {subnormal} of {sum(w.numel() for w in weights)}")


if __name__ == "__main__":
    main()
