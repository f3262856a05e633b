"""The Beyond Normal catalogue: bmi's ids, each family's truth, the samplers and the transforms."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
import torch

from ibbench.api import RunContext
from ibbench.errors import DataError
from ibbench.running.plugins import load_registry
from ibbench.tasks.beyond_normal import transforms as tf
from ibbench.tasks.beyond_normal.catalogue import BENCHMARK_IDS, TRANSFORM_NAMES, params_from_id, task_id
from ibbench.tasks.beyond_normal.task import BeyondNormal, BeyondNormalParams

from .conftest import stderr_lines

CTX = RunContext(seed=0, device=torch.device("cpu"))

#: bmi 0.1.3's truths (``task.mutual_information``) for one task of each family, to 1e-6
BMI_TRUTHS = {
    "1v1-normal-0.75": 0.413339,
    "1v1-additive-0.1": 1.709438,
    "1v1-additive-0.75": 0.333333,
    "1v1-bimodal-0.75": 0.413339,
    "multinormal-dense-5-5-0.5": 0.592812,
    "multinormal-dense-50-50-0.5": 1.624265,
    "multinormal-sparse-25-25-2-2.0": 1.021651,
    "student-identity-1-1-1": 0.224171,
    "student-identity-5-5-3": 0.298544,
    "asinh-student-identity-3-3-2": 0.290922,
    "spiral-normal_cdf-multinormal-sparse-5-5-2-2.0": 1.021651,
    "swissroll_x-normal_cdf-1v1-normal-0.75": 0.413339,
}


def build(name_or_params, **overrides):
    registry = load_registry()
    if isinstance(name_or_params, str):
        entry = registry.entries["task"][name_or_params]
        task = entry.load()
        params = task.params_for("quick", {**entry.defaults, **overrides})
    else:
        task, params = BeyondNormal(), BeyondNormalParams(**name_or_params)
    return task.build(params, CTX), params


def test_all_forty_bmi_ids_are_registered_and_spelt_back():
    assert len(BENCHMARK_IDS) == len(set(BENCHMARK_IDS)) == 40
    tasks = load_registry().entries["task"]
    for bmi_id in BENCHMARK_IDS:
        assert bmi_id in tasks
        assert task_id(BeyondNormalParams(**params_from_id(bmi_id))) == bmi_id


@pytest.mark.parametrize("bmi_id", sorted(BMI_TRUTHS))
def test_each_family_has_bmis_truth(bmi_id):
    instance, _ = build(bmi_id)
    assert instance.truth(CTX).value == pytest.approx(BMI_TRUTHS[bmi_id], abs=1e-6)


def test_closed_forms_by_hand():
    assert build("1v1-normal-0.75")[0].truth(CTX).value == pytest.approx(
        -0.5 * math.log(1 - 0.75**2), abs=1e-12
    )
    # sparse: two pairs at correlation 4/5
    assert build("multinormal-sparse-5-5-2-2.0")[0].truth(CTX).value == pytest.approx(
        -math.log(1 - 0.8**2), abs=1e-12
    )
    assert build("1v1-additive-0.1")[0].truth(CTX).value == pytest.approx(0.1 - math.log(0.2), abs=1e-12)
    assert build("1v1-additive-0.75")[0].truth(CTX).value == pytest.approx(1 / 3, abs=1e-12)
    # dense 1 x 1 is the bivariate normal
    assert build({"base": "multinormal-dense", "correlation": 0.75})[0].truth(CTX).value == pytest.approx(
        build("1v1-normal-0.75")[0].truth(CTX).value, abs=1e-12
    )


def test_the_samplers_draw_the_stated_distributions():
    g = torch.Generator().manual_seed(0)
    x, y = build("1v1-normal-0.75", n_pairs=None)[0].sample(20000, g)
    assert torch.corrcoef(torch.cat([x, y], 1).T)[0, 1].item() == pytest.approx(0.75, abs=0.02)
    x, y = build("multinormal-dense-3-3-0.5", n_pairs=None)[0].sample(20000, g)
    c = torch.corrcoef(torch.cat([x, y], 1).T)
    assert torch.allclose(c, torch.full((6, 6), 0.5).fill_diagonal_(1.0), atol=0.03)
    x, y = build("1v1-additive-0.1", n_pairs=None)[0].sample(5000, g)
    assert x.min() >= 0 and x.max() <= 1 and (y - x).abs().max() <= 0.1 + 1e-6
    x, y = build("1v1-bimodal-0.75", n_pairs=None)[0].sample(20000, g)
    assert (x > 2.5).float().mean().item() == pytest.approx(0.7, abs=0.02)  # 0.3 N(0,1) + 0.7 N(5,1)
    assert (y > 1.0).float().mean().item() == pytest.approx(0.5, abs=0.02)  # 0.5 N(-1,1) + 0.5 N(3,1)
    x, y = build("swissroll_x-normal_cdf-1v1-normal-0.75", n_pairs=None)[0].sample(100, g)
    assert x.shape == (100, 2) and y.shape == (100, 1)


def test_every_transform_is_injective():
    g = torch.Generator().manual_seed(1)
    v = torch.randn(2000, 3, generator=g, dtype=torch.float64)
    for f in (
        tf.normal_cdf,
        tf.half_cube,
        torch.asinh,
        tf.wiggly_x,
        tf.wiggly_y,
    ):  # increasing per coordinate
        out = f(v)
        assert torch.equal(torch.argsort(out[:, 0]), torch.argsort(v[:, 0]))
    for spiral, (i, j) in ((tf.plane_spiral(0, 1), (0, 1)), (tf.plane_spiral(1, 2), (1, 2))):
        out = spiral(v)
        assert torch.allclose(out.norm(dim=1), v.norm(dim=1))  # the angle is known from the output ...
        theta = (out * out).sum(1) / 3
        back = out.clone()  # ... so rotating back recovers v
        back[:, i] = torch.cos(theta) * out[:, i] + torch.sin(theta) * out[:, j]
        back[:, j] = -torch.sin(theta) * out[:, i] + torch.cos(theta) * out[:, j]
        assert torch.allclose(back, v)
    u = torch.linspace(0, 1, 1001, dtype=torch.float64).unsqueeze(1)
    radius = tf.swissroll(u).norm(dim=1)
    assert bool((radius.diff() > 0).all())  # the radius grows with u: no two u meet
    assert bool((tf.BIMODAL_X(u[1:-1]).squeeze().diff() > 0).all())
    # the median of 0.3 N(0,1) + 0.7 N(5,1): 0.3 Phi(t) is 0.3 to 1e-5 there, so 0.7 Phi(t - 5) = 0.2
    median = tf.BIMODAL_X(torch.tensor([[0.5]], dtype=torch.float64)).item()
    assert median == pytest.approx(5 + NormalDist().inv_cdf(2 / 7), abs=1e-4)


def test_the_transform_names_match_the_maps():
    assert set(TRANSFORM_NAMES) == set(tf.TRANSFORMS)


def test_a_fixed_sample_is_the_seeds_own_and_has_distinct_pairs():
    a, _ = build("multinormal-dense-2-2-0.5")
    b, _ = build("multinormal-dense-2-2-0.5")
    assert a.n_pairs == 5000 and torch.equal(a.x, b.x)
    other = BeyondNormal().build(
        BeyondNormalParams(**params_from_id("multinormal-dense-2-2-0.5"), n_pairs=5000),
        RunContext(seed=1, device=torch.device("cpu")),
    )
    assert not torch.equal(a.x, other.x)
    x, _ = a.sample(5000, torch.Generator().manual_seed(3))
    assert torch.unique(x, dim=0).shape[0] == 5000
    with pytest.raises(DataError, match="fixed sample of 5000"):
        a.sample(5001, torch.Generator())


@pytest.mark.parametrize(
    "params, message",
    [
        ({"dof": 3.0}, "dof does not apply to base 1v1-normal"),
        ({"base": "multinormal-sparse"}, "n_interacting=2 exceeds"),
        ({"base": "multinormal-dense", "dim_x": 3, "dim_y": 3, "correlation": -0.3}, "must lie in"),
        ({"transforms": ["spiral"]}, "needs dim_x >= 2 and dim_y >= 3"),
        ({"transforms": ["swissroll_x"]}, "put normal_cdf before it"),
        ({"dim_x": 2}, "is 1 x 1"),
    ],
)
def test_bad_parameters_are_one_line_errors(params, message):
    with pytest.raises(ValueError, match=message):
        BeyondNormalParams(**params)


def test_a_bad_id_names_what_it_cannot_read():
    with pytest.raises(ValueError, match="no bmi base"):
        params_from_id("spiral-gaussian-3-3")
    with pytest.raises(ValueError, match="takes 3 numbers"):
        params_from_id("multinormal-dense-3-3")


def test_ibbench_list_shows_every_benchmark_task_with_its_truth(capsys):
    import json

    from ibbench.cli import main

    assert main(["list", "--json"]) == 0
    tasks = {t["name"]: t for t in json.loads(capsys.readouterr().out)["task"]}
    with_truth = [n for n in BENCHMARK_IDS if tasks[n]["truth"] is not None]
    assert len(with_truth) == 40
    assert tasks["multinormal-dense-5-5-0.5"]["truth"] == pytest.approx(0.592812, abs=1e-6)
    assert tasks["arrays"]["truth"] is None and tasks["gaussian-20d-4nats"]["truth"] == pytest.approx(4.0)


def test_a_chain_that_cannot_work_is_one_plain_line_on_the_command_line(tmp_path):
    from .conftest import run_cli

    proc = run_cli(
        "run",
        "--task",
        "beyond-normal",
        "--estimator",
        "ksg",
        "--set",
        'task.transforms=["spiral"]',
        "--out",
        str(tmp_path / "runs.jsonl"),
    )
    assert proc.returncode == 2 and not (tmp_path / "runs.jsonl").exists()
    assert stderr_lines(proc.stderr) == [
        "ibbench: error: task 'beyond-normal': transform spiral needs dim_x >= 2 and "
        "dim_y >= 3 (it rotates a plane of coordinates); it gets 1 x 1"
    ]
