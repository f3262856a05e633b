"""The estimation protocol of critic estimators: units do not matter, held-out scoring, plateaus,
impossible values fail (ibbench.critics.protocol)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ibbench.api import Channel, RunContext, TaskInstance
from ibbench.running.runner import run
from ibbench.running.specs import RunSpec
from ibbench.tasks.gaussian import Gaussian

CPU = torch.device("cpu")
CRITICS = ["mine", "infonce", "nwj", "smile"]
# small and fast, but a real protocol run: early stopping on, held-out scoring
SMALL = {
    "hidden": 32,
    "steps": 400,
    "eval_every": 25,
    "patience": 4,
    "val_samples": 1024,
    "eval_samples": 2048,
}


def arrays_run(registry, x: np.ndarray, y: np.ndarray, tmp_path, estimator: str, seed: int = 0, **params):
    xp, yp = tmp_path / f"x{hash(x.tobytes())}.npy", tmp_path / f"y{hash(y.tobytes())}.npy"
    np.save(xp, x)
    np.save(yp, y)
    spec = RunSpec.model_validate(
        {
            "task": {"name": "arrays", "params": {"x": str(xp), "y": str(yp)}},
            "estimator": {"name": estimator, "params": params},
            "seed": seed,
            "budget": "smoke",
            "device": "cpu",
        }
    )
    return run(spec, registry)


def uniform_pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(0,1), z = (x + u) / 2 with u ~ U(0,1): I(x; z) = 0.5 nats (the triangle density)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=n)
    return x, (x + rng.uniform(size=n)) / 2


@pytest.mark.parametrize("estimator", CRITICS)
def test_estimate_does_not_depend_on_units_or_offsets(estimator, registry, tmp_path):
    """The same pairs, x scaled by 1e-3 and 1e6 or shifted by 1e9: the estimate moves by less than
    the spread over seeds (standardisation on the training split, in float64 before float32)."""
    x, z = uniform_pair(3000)
    base = [arrays_run(registry, x, z, tmp_path, estimator, seed=s, **SMALL) for s in (0, 1, 2)]
    assert all(r.status == "ok" for r in base), [r.error for r in base]
    values = [r.estimate for r in base]
    spread = max(np.std(values), max(r.estimate_stderr for r in base))
    for changed in (x * 1e-3, x * 1e6, x + 1e9):
        record = arrays_run(registry, changed, z, tmp_path, estimator, **SMALL)
        assert record.status == "ok", record.error
        assert abs(record.estimate - values[0]) < 2 * spread, (record.estimate, values, spread)


class ScaledChannel(TaskInstance):
    """A Gaussian channel y = F(x) + eps seen in other units: (s x + c, s y + c) and F(x) -> s F(x) + c."""

    def __init__(self, inner: TaskInstance, scale: float, shift: float) -> None:
        self.inner, self.scale, self.shift = inner, scale, shift
        self.x_dim, self.y_dim = inner.x_dim, inner.y_dim
        self.channel = Channel(network=inner.channel.network, noise_std=inner.channel.noise_std * scale)

    def sample(self, n, generator):
        x, y = self.inner.sample(n, generator)
        return x * self.scale + self.shift, y * self.scale + self.shift

    def sample_features(self, n, generator):
        f, y = self.inner.sample_features(n, generator)
        return f * self.scale + self.shift, y * self.scale + self.shift


def test_aa_mine_does_not_depend_on_units():
    """AA-MINE standardises after F_i: the channel seen in other units gives the same estimate."""
    from ibbench.estimators.aa_mine import AAMINE

    ctx = RunContext(seed=0, device=CPU, budget="smoke")
    task = Gaussian().build(Gaussian.params_for("smoke", {"dim": 2, "mi": 1.0}), ctx)
    params = AAMINE.params_for("smoke", SMALL)
    values = {}
    for scale, shift in ((1.0, 0.0), (1e-3, 0.0), (1e6, 0.0), (1.0, 100.0)):
        torch.manual_seed(0)
        values[scale, shift] = AAMINE().estimate(ScaledChannel(task, scale, shift), params, ctx)
    base = values[1.0, 0.0]
    for key, est in values.items():
        assert abs(est.value - base.value) < 2 * base.stderr, (key, est.value, base.value, base.stderr)


@pytest.mark.parametrize("n", [64, 5000])
@pytest.mark.parametrize("estimator", ["mine", "nwj"])
def test_independent_pairs_give_zero_within_three_heldout_errors(n, estimator, registry, tmp_path):
    """Truth 0: the held-out estimate is within 3 of its standard errors of 0, however long the
    critic trains (it fits the training pairs; in-sample MINE read 0.25-0.56 nats at n = 64)."""
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
    record = arrays_run(registry, x, y, tmp_path, estimator, steps=1500, hidden=64, eval_every=25, patience=4)
    assert record.status == "ok", record.error
    assert abs(record.estimate) <= 3 * record.estimate_stderr, (record.estimate, record.estimate_stderr)
    extras = record.extras["estimator"]
    assert extras["train_pairs"] + extras["heldout_pairs"] == n == extras["pairs_used"]


def test_training_bound_overfits_where_the_heldout_one_does_not(registry, tmp_path):
    """On 64 independent pairs the critic's bound on its own training batches climbs well above 0;
    the reported (held-out) number does not follow it."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 1)), rng.normal(size=(64, 1))
    record = arrays_run(registry, x, y, tmp_path, "mine", steps=1500, hidden=64, eval_every=1500, lr=1e-3)
    extras = record.extras["estimator"]
    assert max(v for _, v in extras["trace"]) > 0.2  # in-sample: memorised pairs
    # held out, the memorising critic is worse than a constant one: a failed record, never a number
    assert record.status == "failed" and "diverged" in record.error and "overfit" in record.error
    assert extras["heldout_curve"][-1][1] < 0


def test_plateau_stops_early_and_a_maximum_is_not_converged():
    from ibbench.estimators.mine import MINE

    ctx = RunContext(seed=0, device=CPU, budget="smoke")
    task = Gaussian().build(Gaussian.params_for("smoke", {"dim": 1, "mi": 0.5}), ctx)
    est = MINE().estimate(task, MINE.params_for("smoke", {**SMALL, "steps": 3000}), ctx)
    assert est.extras["converged"] and est.extras["steps_used"] < 3000
    curve = est.extras["heldout_curve"]
    assert est.extras["best_step"] in [step for step, _, _ in curve]
    assert abs(est.value - 0.5) < 0.1
    cut = MINE().estimate(task, MINE.params_for("smoke", {**SMALL, "steps": 50}), ctx)
    assert not cut.extras["converged"] and cut.extras["steps_used"] == 50


def test_same_seed_same_numbers():
    from ibbench.estimators.mine import MINE

    ctx = RunContext(seed=3, device=CPU, budget="smoke")
    task = Gaussian().build(Gaussian.params_for("smoke", {"dim": 2, "mi": 1.0}), ctx)
    params = MINE.params_for("smoke", SMALL)

    def once():
        torch.manual_seed(3)  # the critic's initial weights (the runner seeds this from the run's seed)
        return MINE().estimate(task, params, ctx)

    a, b = once(), once()
    assert a.value == b.value and a.extras["heldout_curve"] == b.extras["heldout_curve"]


def test_a_diverged_critic_is_a_failed_record_not_a_number(registry):
    """lr = 1e9: the held-out bound is hugely negative or NaN; the record fails, says diverged, and
    keeps the held-out curve when there is one."""
    spec = RunSpec.model_validate(
        {
            "task": {"name": "gaussian", "params": {"dim": 2, "mi": 1.0}},
            "estimator": {"name": "mine", "params": {**SMALL, "lr": 1e9}},
            "seed": 0,
            "budget": "smoke",
            "device": "cpu",
        }
    )
    record = run(spec, registry)
    assert record.status == "failed" and record.estimate is None
    assert "diverged" in record.error or "nan" in record.error.lower(), record.error


class Capped(TaskInstance):
    """A 1-nat Gaussian pair that claims a ceiling of 0.1 nats: any honest estimate breaks it."""

    mi_ceiling = 0.1

    def __init__(self, inner):
        self.inner, self.x_dim, self.y_dim = inner, inner.x_dim, inner.y_dim

    def sample(self, n, generator):
        return self.inner.sample(n, generator)


def test_an_estimate_above_the_known_ceiling_fails_as_diverged():
    from ibbench.errors import DivergenceError
    from ibbench.estimators.mine import MINE

    ctx = RunContext(seed=0, device=CPU, budget="smoke")
    task = Capped(Gaussian().build(Gaussian.params_for("smoke", {"dim": 1, "mi": 1.0}), ctx))
    with pytest.raises(DivergenceError, match="diverged.*ceiling") as info:
        MINE().estimate(task, MINE.params_for("smoke", SMALL), ctx)
    assert info.value.extras["heldout_curve"]  # what was measured goes into the failed record


def test_standardisation_is_an_exact_affine_map():
    """Critic.standardise: the critic of raw pairs equals the same weights on standardised pairs."""
    from ibbench.critics import Critic, CriticParams

    g = torch.Generator().manual_seed(0)
    u = torch.randn(500, 3, generator=g) * torch.tensor([1e-3, 1.0, 1e3]) + 50.0
    y = torch.randn(500, 2, generator=g)
    torch.manual_seed(0)
    critic = Critic(3, 2, CriticParams(hidden=16))
    record = critic.standardise(u, y)
    assert record["mode"] == "per-coordinate"
    scale = u.double().std(0, correction=0)
    scale = scale.clamp_min(0.1 * scale.pow(2).mean().sqrt())
    assert torch.allclose(critic.scale_u.double(), scale.float().double(), rtol=1e-6)
    assert torch.allclose(critic.shift_u, u.double().mean(0).float(), rtol=1e-6)
    standardised = ((u.double() - u.double().mean(0)) / scale).float()
    plain = Critic(3, 2, CriticParams(hidden=16))
    plain.load_state_dict(
        {
            **critic.state_dict(),
            "shift_u": torch.zeros(3),
            "scale_u": torch.ones(3),
            "shift_y": critic.shift_y,
            "scale_y": critic.scale_y,
        }
    )
    perm = torch.arange(500).flip(0)
    a, b = critic.joint_and_marginal(u, y, perm), plain.joint_and_marginal(standardised, y, perm)
    assert all(torch.allclose(p, q, atol=1e-4) for p, q in zip(a, b, strict=True))
    assert math.isfinite(a[0].sum().item())


@pytest.mark.parametrize("estimator", ["mine", "ksg"])
def test_one_planted_outlier_does_not_erase_the_dependence(estimator, registry, tmp_path):
    """x[0] = 1e6 among 5000 pairs of a rho = 0.9 Gaussian (truth 0.830 nats): the arrays task's
    robust standardisation (median, IQR, asinh tails; invertible) keeps the estimate within 10 %.
    With mean/std scaling alone MINE read 0.00 and KSG 0.005."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    y = 0.9 * x + math.sqrt(1 - 0.81) * rng.normal(size=5000)
    clean = arrays_run(registry, x, y, tmp_path, estimator, **(SMALL if estimator == "mine" else {}))
    x[0] = 1e6
    dirty = arrays_run(registry, x, y, tmp_path, estimator, **(SMALL if estimator == "mine" else {}))
    assert clean.status == dirty.status == "ok", (clean.error, dirty.error)
    assert abs(dirty.estimate - clean.estimate) < 0.1 * clean.estimate, (clean.estimate, dirty.estimate)
    assert dirty.extras["preprocess"]["x"]["tails"].startswith("4 asinh")


def test_a_huge_standard_error_does_not_excuse_an_impossible_bound():
    from ibbench.critics.heldout import MAX_SLACK, check_possible
    from ibbench.errors import DivergenceError

    check_possible(-0.04, 0.001, None, "nwj")  # within the chance tolerance
    check_possible(-0.2, 0.08, None, "nwj")  # within three standard errors
    for value, se in ((-2.6e12, 2.6e12), (-0.72, 0.62), (-MAX_SLACK - 0.01, 10.0)):  # NWJ on Student-t pairs
        with pytest.raises(DivergenceError, match="below 0 by more than"):
            check_possible(value, se, None, "nwj")
    with pytest.raises(DivergenceError, match="above the ceiling"):
        check_possible(3.0, 5.0, 2.3, "mine")
