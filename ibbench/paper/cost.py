"""What a paper-budget run will cost on this machine, said before it starts.

Critic updates dominate every critic estimator and IB trainer, so the estimate is an upper bound on a
run's critic updates (each step maximum reached) times the time of one update of that critic measured
here, now (a second of timing).  Training steps of the net and ground-truth sampling are not counted:
the figure is a floor on the upper bound, good to an order of magnitude, which is what a user deciding
between the CPU and a GPU needs.
"""

from __future__ import annotations

from dataclasses import dataclass

NETWORK_LAYERS = 3  # the paper's MLP 784-512-512-10; the CIFAR nets have 3-6 (a floor, as the docstring says)


@dataclass
class Cost:
    updates: int  # critic updates, at most
    width: int  # the widest critic's hidden width
    batch: int
    seconds_per_update: float = 0.0

    @property
    def seconds(self) -> float:
        return self.updates * self.seconds_per_update


def critic_updates(resolved) -> Cost:
    """An upper bound on the critic updates of one resolved run, from its expanded parameters."""
    est = resolved.estimator.params if resolved.estimator is not None else None
    tr = resolved.trainer.params if resolved.trainer is not None else None
    cost = Cost(0, 0, 256)
    if est is not None and hasattr(est, "hidden") and hasattr(est, "steps"):
        cost.width, cost.batch = est.hidden, est.batch_size
        per_estimate = est.steps * getattr(est, "ensemble", 1)
        if tr is None:
            cost.updates += per_estimate
        else:  # the information-plane probe: I(X; L) and I(Y; L) of every layer at every measured point
            first = getattr(tr, "probe_first_steps", None) or est.steps
            refresh = getattr(tr, "probe_refresh_steps", None)
            refresh = est.refresh_steps if refresh is None else refresh
            cost.updates += 2 * NETWORK_LAYERS * (first + getattr(tr, "measure_points", 0) * refresh)
    if tr is not None and hasattr(tr, "critic_steps"):  # an IB trainer's own two critics
        cost.width = max(cost.width, tr.critic_hidden)
        cost.batch = getattr(tr, "critic_batch", cost.batch)
        layers = (
            NETWORK_LAYERS if resolved.trainer.name == "ib-layerwise" else 1
        )  # one pair per trained layer
        cost.updates += 2 * layers * (tr.critic_pretrain_steps + tr.steps * tr.critic_steps)
    return cost


def price(cost: Cost, device) -> Cost:
    """Time one update of a 2 x ``width`` critic at ``batch`` here (about a second) and set its price."""
    if cost.updates == 0:
        return cost
    from ..bench.timing import time_calls
    from ..bench.workloads import critic_step

    work = critic_step("mine", hidden=cost.width, batch=cost.batch, device=device)
    cost.seconds_per_update = time_calls(work, work.device, min_time=1.0, warmup=1)["median_s"]
    return cost


def describe(cost: Cost, runs: int = 1) -> str:
    hours = cost.seconds / 3600
    return (
        f"up to {cost.updates:,} critic updates{f' over {runs} runs' if runs > 1 else ''} at width "
        f"{cost.width} (about {1000 * cost.seconds_per_update:.0f} ms each here), about {hours:.1f} h for "
        f"those alone"
    )


def paper_cost_on_cpu(resolved_runs: list) -> str | None:
    """What the paper-budget runs among ``resolved_runs`` that would run on the CPU will cost, in words
    (``describe``), or None where there are none (or they update no critic)."""
    from ..running.runner import resolve_device

    heavy = [
        r for r in resolved_runs if r.spec.budget == "paper" and resolve_device(r.spec.device).type == "cpu"
    ]
    if not heavy:
        return None
    costs = [critic_updates(r) for r in heavy]
    total = price(
        Cost(sum(c.updates for c in costs), max(c.width for c in costs), max(c.batch for c in costs)),
        resolve_device("cpu"),
    )
    return describe(total, len(heavy)) if total.updates else None
