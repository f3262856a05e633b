"""Micro-benchmarks: a critic step (MINE, AA-MINE, ensemble, bf16), estimates, the mixture truth, trainer steps."""

import pytest
import torch

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("estimator", ["mine", "aa-mine"])
@pytest.mark.parametrize("hidden", [256, 1500])
def test_critic_step(benchmark, workload, device, estimator, hidden):
    w = workload("critic-step", estimator=estimator, hidden=hidden, batch=256, device=device)
    benchmark.extra_info["gflop_per_call"] = w.flops / 1e9
    benchmark(w)


@pytest.mark.parametrize("members", [1, 8])
def test_ensemble_step(benchmark, workload, members):
    benchmark(workload("critic-step", estimator="aa-mine", hidden=256, batch=256, ensemble=members))


def test_bf16_step(benchmark, workload):
    benchmark(workload("critic-step", estimator="aa-mine", hidden=1500, batch=256, precision="bf16"))


@pytest.mark.parametrize("estimator", ["binning", "mixture"])
def test_estimate(benchmark, workload, estimator):
    benchmark.pedantic(workload("estimate", estimator=estimator, budget="quick"), rounds=3)


@pytest.mark.parametrize("dim", [10, 512])
def test_mixture_truth(benchmark, workload, dim):
    benchmark.pedantic(workload("mixture-truth", n=60000, dim=dim, samples=4096), rounds=2)


@pytest.mark.parametrize("trainer", ["ce", "ce-wd", "ib-layerwise", "ib-e2e"])
def test_trainer_step(benchmark, workload, trainer):
    benchmark(workload("trainer-step", trainer=trainer, budget="quick"))
