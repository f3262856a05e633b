"""The variational-bounds plugin: the bounds' algebra, their known caps, the packaging, an estimate."""

from __future__ import annotations

import ast
import importlib.metadata as md
import math
from pathlib import Path

import pytest
import torch
from ibbench_variational.bounds import infonce, js_fgan, nwj, smile

from ibbench.running.plugins import load_registry
from ibbench.running.runner import run
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec

PACKAGE = Path(__file__).resolve().parents[1] / "ibbench_variational"


def test_infonce_never_exceeds_log_n_and_reaches_it_for_a_perfect_critic():
    torch.manual_seed(0)
    for n in (4, 16, 64):
        assert infonce(torch.randn(3, n, n) * 10).max() <= math.log(n) + 1e-6
        perfect = torch.eye(n).unsqueeze(0) * 100.0  # joint pairs score 100, the rest 0
        assert infonce(perfect).item() == pytest.approx(math.log(n), abs=1e-6)


def test_nwj_and_smile_closed_forms():
    n, c = 8, 1.5
    scores = torch.full((1, n, n), c)
    assert nwj(scores).item() == pytest.approx(c - math.exp(c - 1), rel=1e-5)  # constant critic
    diag = torch.eye(n).unsqueeze(0) * 3.0 + 2.0  # S_ii = 5, S_ij = 2
    assert smile(diag, tau=10.0).item() == pytest.approx(3.0, rel=1e-5)  # DV: 5 - log e^2
    assert smile(diag, tau=1.0).item() == pytest.approx(4.0, rel=1e-5)  # the marginal term clipped to e^1
    expected = -math.log1p(math.exp(-5.0)) - math.log1p(math.exp(2.0))
    assert js_fgan(diag).item() == pytest.approx(expected, rel=1e-5)


def test_plugin_is_a_separate_distribution_registered_by_entry_point():
    registry = load_registry()
    for name in ("infonce", "nwj", "smile"):
        assert registry.entries["estimator"][name].distribution == "ibbench-variational"
    eps = [ep for ep in md.distribution("ibbench-variational").entry_points if ep.group == "ibbench"]
    assert [ep.value for ep in eps] == ["ibbench_variational"]


PUBLIC = ("ibbench.api", "ibbench.critics")  # the interface and the critic toolkit


def test_plugin_uses_the_public_api_only():
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ibbench"):
                assert node.module in PUBLIC or node.module.startswith("ibbench_variational"), (
                    f"{source.name} imports {node.module}"
                )


@pytest.mark.parametrize("estimator", ["infonce", "nwj", "smile"])
def test_each_bound_estimates_one_nat(estimator):
    spec = RunSpec(
        task=TaskSpec(name="gaussian", params={"dim": 1, "mi": 1.0}),
        estimator=EstimatorSpec(name=estimator),
        seed=0,
        budget="smoke",
        device="cpu",
    )
    record = run(spec, load_registry())
    assert record.status == "ok", record.error
    assert abs(record.estimate - 1.0) < 0.15 and record.estimate_stderr > 0
    assert record.extras["estimator"]["eval_batches"] == 4096 // 128


def test_smile_clip_is_validated():
    from ibbench_variational.bounds import SMILEParams

    with pytest.raises(ValueError, match="clip"):
        SMILEParams(clip=0)


def test_the_separable_critic_scores_are_the_dot_products_of_its_embeddings():
    from ibbench.critics import CriticParams, SeparableCritic

    torch.manual_seed(0)
    critic = SeparableCritic(3, 2, CriticParams(hidden=16, depth=2, ensemble=2), embed=5)
    u, y = torch.randn(2, 7, 3), torch.randn(2, 7, 2)
    fu, gy = critic.embeddings(u, y)
    assert fu.shape == gy.shape == (2, 7, 5)
    scores = critic.scores(u, y)
    assert torch.allclose(scores, torch.einsum("kie,kje->kij", fu, gy), atol=1e-5)
    perm = torch.stack([torch.randperm(7) for _ in range(2)])
    joint, marg = critic.joint_and_marginal(u, y, perm)
    assert torch.allclose(joint, scores.diagonal(dim1=1, dim2=2), atol=1e-5)
    assert torch.allclose(marg, torch.gather(scores, 2, perm.unsqueeze(-1)).squeeze(-1), atol=1e-5)


@pytest.mark.parametrize("estimator", ["infonce", "nwj"])
def test_each_bound_with_the_separable_critic_estimates_one_nat(estimator):
    spec = RunSpec(
        task=TaskSpec(name="gaussian", params={"dim": 1, "mi": 1.0}),
        estimator=EstimatorSpec(name=estimator, params={"critic": "separable"}),
        seed=0,
        budget="smoke",
        device="cpu",
    )
    record = run(spec, load_registry())
    assert record.status == "ok", record.error
    assert abs(record.estimate - 1.0) < 0.15
    assert record.expanded["estimator"]["params"]["critic"] == "separable"


def test_the_default_critic_is_the_measured_one():
    from ibbench_variational.bounds import NWJ, SMILE, InfoNCE

    assert InfoNCE.Params().critic == "separable" and SMILE.Params().critic == "separable"
    assert NWJ.Params().critic == "concat"
