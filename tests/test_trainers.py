"""Trainers at the smoke budget on scikit-learn's digits: accuracy, freezing, readout, determinism, divergence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibbench.api import RunContext
from ibbench.running.runner import run
from ibbench.running.specs import RunSpec
from ibbench.store.results import ResultStore
from ibbench.sweeps.suite import run_cells
from ibbench.tasks.classification import balanced_split
from ibbench.tasks.network_tasks import CIFARConv, CIFARConv6, DigitsMLP
from ibbench.tasks.networks import features
from ibbench.trainers.ib_layerwise import LayerwiseIB, fit_layerwise
from ibbench.trainers.readout import merge_readout
from ibbench.training import fingerprint

from .conftest import stderr_lines

CHANCE = 0.1


def digits_run(trainer: str, registry, seed: int = 0, estimator: str | None = None, **params):
    spec = RunSpec.model_validate(
        {
            "task": {"name": "digits-mlp"},
            "trainer": {"name": trainer, "params": params},
            "estimator": {"name": estimator} if estimator else None,
            "seed": seed,
            "budget": "smoke",
            "device": "cpu",
        }
    )
    return run(spec, registry)


@pytest.mark.parametrize("trainer", ["ce", "ce-wd", "ib-layerwise", "ib-e2e", "greedy-ce", "random-features"])
def test_every_trainer_beats_chance_on_digits(trainer, registry):
    record = digits_run(trainer, registry)
    assert record.status == "ok", record.error
    out = record.training.model_dump()
    assert out["test_acc"] > 2 * CHANCE, out["test_acc"]
    assert 0 <= out["val_acc"] <= 1
    if (
        out["readout"] is not None
    ):  # a fitted readout states its fit; a stepped model the step it was selected at
        assert out["readout"]["grad_norm"] >= 0 and isinstance(out["readout"]["converged"], bool)
    else:
        assert out["selected_step"] >= 1
    assert (
        record.expanded["trainer"]["params"].get("steps", 1) > 0
    )  # the budget's concrete numbers are recorded
    probes = out["linear_probes"]  # every trained net is probed layer by layer
    assert [p["layer"] for p in probes] == [1, 2, 3] and all(0 <= p["test_acc"] <= 1 for p in probes)
    assert probes[-1]["test_acc"] > 2 * CHANCE


def test_random_features_trains_the_last_layer_only(registry):
    ctx = RunContext(seed=0, device=torch.device("cpu"), budget="smoke")
    task = DigitsMLP().build(DigitsMLP.params_for("smoke", {"hidden": [64, 32]}), ctx)
    from ibbench.trainers.baselines import RandomFeatures

    net = task.network(seed=0)
    init = [fingerprint(block) for block in net]
    task.network = lambda seed: net  # hand the trainer this net, to look at it afterwards
    out = RandomFeatures().train(task, RandomFeatures.params_for("smoke", {}), ctx)
    assert [fingerprint(block) for block in net][:2] == init[:2]  # layers 1-2 stay at their init
    assert fingerprint(net[2]) != init[2]
    assert out["readout"]["converged"] and out["test_acc"] > 2 * CHANCE
    # the last layer it fitted is the probe of L2 at init: same features, same convex fit and selection
    assert out["linear_probes"][1]["test_acc"] == pytest.approx(out["test_acc"], abs=0.03)


def test_e2e_label_critic_reads_the_noisy_output_and_leaves_cross_entropy_in_charge():
    """ib-e2e's D_y on the noiseless logits of a fresh net (spread ~0.02) pushes the net ~50x harder than
    cross-entropy (its gradient grows as 1 / spread: see IBCritics.bounds); on Yhat + eps it pushes less."""
    from ibbench.methods.infoplane import layer_network
    from ibbench.trainers.ib_critics import IBCritics
    from ibbench.trainers.ib_e2e import EndToEndIB

    ctx = RunContext(seed=0, device=torch.device("cpu"), budget="smoke")
    task = DigitsMLP().build(DigitsMLP.params_for("smoke", {"hidden": [64, 32]}), ctx)
    p = EndToEndIB.params_for("smoke", {})
    assert p.dy_noise  # the default
    x, y = task.data.train_x[:64], task.data.train_y[:64]

    def push(dy_noise: bool) -> float:  # |d bound / d weights| over |d CE / d weights| at init
        net = task.network(seed=0)
        f = layer_network(net, len(net))
        critics = IBCritics(
            f, task.data, task.noise_std, p, ctx, with_y=True, with_x=False, name="e2e", dy_noise=dy_noise
        )
        critics.pretrain()
        logits = net(x)

        def norm(t: torch.Tensor) -> torch.Tensor:
            grads = torch.autograd.grad(t, list(net.parameters()), retain_graph=True)
            return torch.cat([g.flatten() for g in grads]).norm()

        ce = torch.nn.functional.cross_entropy(logits, y)
        return float(norm(critics.bounds(x, y, logits)["iyt"]) / norm(ce))

    assert push(dy_noise=False) > 10 and push(dy_noise=True) < 1


def test_greedy_ce_trains_every_layer_through_its_own_head(registry):
    record = digits_run("greedy-ce", registry)
    out = record.training.model_dump()
    assert [layer["layer"] for layer in out["layers"]] == [1, 2, 3]
    assert all(layer["head_val_acc"] > 2 * CHANCE for layer in out["layers"])
    assert out["steps_per_layer"] == record.expanded["trainer"]["params"]["steps"]


def test_ib_layerwise_beta_zero_trains_no_input_critic(registry):
    record = digits_run("ib-layerwise", registry, beta=0.0)
    layers = record.training.model_dump()["layers"]
    assert [layer["layer"] for layer in layers] == [1, 2, 3]
    assert all("ixt" not in layer and layer["iyt"] > 0 for layer in layers)


@pytest.fixture(scope="module")
def layerwise_fit():
    ctx = RunContext(seed=0, device=torch.device("cpu"), budget="smoke")
    task = DigitsMLP().build(DigitsMLP.params_for("smoke", {"hidden": [64, 32]}), ctx)
    initial = {k: v.clone() for k, v in task.network(seed=0).state_dict().items()}
    snapshots = {}

    def on_frozen(i, net):
        snapshots[i] = {k: v.clone() for k, v in net.state_dict().items()}

    net, readout, result = fit_layerwise(
        task, LayerwiseIB.params_for("smoke"), ctx, on_layer_frozen=on_frozen
    )
    return task, initial, snapshots, net, readout, result


def _block(state: dict, i: int) -> dict:
    return {k: v for k, v in state.items() if k.startswith(f"{i - 1}.")}


def test_frozen_layers_stay_bit_for_bit_and_later_layers_wait(layerwise_fit):
    _, initial, snapshots, net, _, result = layerwise_fit
    final = net.state_dict()
    for i, snap in snapshots.items():
        for k, v in _block(snap, i).items():
            assert torch.equal(v, final[k]), f"layer {i} changed after it was frozen ({k})"
            assert not torch.equal(v, initial[k]), f"layer {i} never trained ({k})"
        for j in range(i + 1, len(net) + 1):  # layers after i are untouched while i trains
            for k, v in _block(snap, j).items():
                assert torch.equal(v, initial[k]), f"layer {j} moved while layer {i} trained"
    assert result["frozen_unchanged"] is True


def test_readout_folds_into_the_last_layer(layerwise_fit):
    task, _, _, net, readout, result = layerwise_fit
    x = task.data.test_x
    merged = merge_readout(net, readout)
    two_stage = readout(features(net, x))
    assert torch.allclose(merged(x), two_stage, atol=1e-4)
    assert sum(p.numel() for p in merged.parameters()) == sum(
        p.numel() for p in net.parameters()
    )  # no capacity added
    assert result["readout_merge_max_abs_diff"] < 1e-4
    assert readout.weight.shape == (10, 10)


def test_same_seed_same_numbers_other_seed_other_numbers(registry):
    a, b, c = (digits_run("ce", registry, seed=s) for s in (3, 3, 4))
    assert a.training.model_dump()["evals"] == b.training.model_dump()["evals"]
    assert a.training.model_dump()["test_acc"] == b.training.model_dump()["test_acc"]
    assert a.training.model_dump()["evals"] != c.training.model_dump()["evals"]


def test_diverging_training_is_a_failed_record_and_the_sweep_goes_on(registry, tmp_path):
    bad = RunSpec.model_validate(
        {
            "task": {"name": "digits-mlp"},
            "budget": "smoke",
            "device": "cpu",
            "trainer": {"name": "ce", "params": {"lr": 1e30}},
        }
    )
    good = bad.model_copy(update={"trainer": bad.trainer.model_copy(update={"params": {}})})
    store = ResultStore(tmp_path / "runs.jsonl")
    failed = run_cells("sweep", [bad, good], store, registry)
    records = store.records()
    assert failed == 1 and [r.status for r in records] == ["failed", "ok"]
    assert "diverged" in records[0].error and "trainer.lr" in records[0].error
    assert records[0].extras["traceback"]


def test_information_plane_with_aa_mine_uses_mine_for_the_label_term(registry):
    record = digits_run("ce", registry, estimator="aa-mine")
    plane = record.training.model_dump()["info_plane"]
    assert plane["estimator"] == "aa-mine" and plane["iyt_estimator"] == "mine"
    assert record.expanded["label_estimator"]["name"] == "mine"
    measures = record.expanded["trainer"]["params"]["measure_points"] + 1  # plus step 0
    assert plane["estimator_params"]["refresh_steps"] == 50  # the estimator's own: the trainer sets none
    assert plane["iyt_estimator_params"]["steps"] == record.expanded["label_estimator"]["params"]["steps"]
    assert len(plane["points"]) == 3 * measures
    for p in plane["points"]:
        assert np.isfinite(p["ixt"]) and np.isfinite(p["iyt"])
        # the Monte-Carlo mixture truth lies in [0, log n] up to its own standard error (a layer that
        # separates nothing reads about 0, and one draw a little below it)
        slack = 4 * p["ixt_truth_se"] + 1e-6
        assert -slack <= p["ixt_truth"] <= plane["log_n"] + slack


def test_estimator_without_trainer_on_a_network_task_trains_with_ce(registry):
    spec = RunSpec.model_validate(
        {"task": {"name": "digits-mlp"}, "estimator": {"name": "binning"}, "budget": "smoke", "device": "cpu"}
    )
    record = run(spec, registry)
    assert record.spec.trainer.name == "ce"
    plane = record.training.model_dump()["info_plane"]
    assert plane["estimator"] == plane["iyt_estimator"] == "binning"
    # binning of a deterministic layer over n points: H(T) <= log n, I(Y;T) <= H(Y) <= log 10
    assert all(p["ixt"] <= plane["log_n"] + 1e-9 and p["iyt"] <= np.log(10) + 1e-9 for p in plane["points"])


def test_balanced_split_is_class_balanced_seeded_and_disjoint():
    labels = np.repeat(np.arange(10), 100)
    train, val = balanced_split(labels, 0.2, 0.25, seed=1)
    assert np.bincount(labels[train], minlength=10).tolist() == [15] * 10
    assert np.bincount(labels[val], minlength=10).tolist() == [5] * 10
    assert not set(train) & set(val)
    again, _ = balanced_split(labels, 0.2, 0.25, seed=1)
    other, _ = balanced_split(labels, 0.2, 0.25, seed=2)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


@pytest.mark.parametrize(
    "task, widths",
    [
        (CIFARConv, [16 * 16 * 16, 16 * 8 * 8, 16 * 4 * 4, 512, 512, 10]),
        (
            CIFARConv6,
            [48 * 32 * 32, 48 * 16 * 16, 96 * 16 * 16, 96 * 8 * 8, 192 * 8 * 8, 192 * 4 * 4, 512, 512, 10],
        ),
    ],
)
def test_conv_nets_have_the_papers_layers(task, widths):
    p = task.Params()
    net = task().build_network(p)
    assert len(net) == len(task().layer_kinds(p)) == len(widths)
    x = torch.zeros(2, 3 * 32 * 32)
    for i, width in enumerate(widths, start=1):
        assert features(torch.nn.Sequential(*list(net)[:i]), x).flatten(1).shape == (2, width)


def test_a_trainer_on_a_ground_truth_task_is_a_spec_error_before_anything_runs(registry):
    from ibbench.errors import SpecError

    spec = RunSpec.model_validate(
        {
            "task": {"name": "gaussian", "params": {"dim": 2, "mi": 1.0}},
            "trainer": {"name": "ce"},
            "budget": "smoke",
            "device": "cpu",
        }
    )
    with pytest.raises(
        SpecError,
        match=r"trainer 'ce' needs a network task and task 'gaussian' has no network; "
        r"use one of .*digits-mlp.*mnist-mlp",
    ):
        run(spec, registry)


def test_cluster_separation_matches_its_closed_form():
    from ibbench.training import cluster_separation

    gen = torch.Generator().manual_seed(0)
    d, n, a, sigma = 4, 20000, 3.0, 0.5
    labels = torch.arange(2).repeat_interleave(n)
    centres = torch.zeros(2, d)
    centres[0, 0], centres[1, 0] = -a, a
    feats = centres[labels] + sigma * torch.randn(2 * n, d, generator=gen)
    expected = 2 * a / (sigma * d**0.5)  # distance between means / RMS radius of a cluster
    assert cluster_separation(feats, labels) == pytest.approx(expected, rel=0.02)
    assert cluster_separation(10 * feats, labels) == pytest.approx(cluster_separation(feats, labels))


def test_cli_tables_and_info_plane_plot_from_a_stored_run(tmp_path):
    from tests.conftest import run_cli

    store = tmp_path / "runs.jsonl"
    ran = run_cli(
        "run",
        "--task",
        "digits-mlp",
        "--trainer",
        "ce",
        "--estimator",
        "binning",
        "--budget",
        "smoke",
        "--device",
        "cpu",
        "--out",
        str(store),
        "--quiet",
    )
    assert ran.returncode == 0, ran.stderr
    assert "test accuracy" in ran.stdout and "information-plane points" in ran.stdout
    table = run_cli("table", "accuracy", "--store", str(store))
    assert table.returncode == 0 and "digits-mlp" in table.stdout and "ce" in table.stdout
    sep = run_cli("table", "separation", "--store", str(store))
    assert sep.returncode == 0 and "L3" in sep.stdout
    png = tmp_path / "plane.png"
    plot = run_cli("plot", "info-plane", "last", "--store", str(store), "--out", str(png))
    assert plot.returncode == 0, plot.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    beside = run_cli("plot", "info-plane", "last", "--store", str(store))  # no --out: the store's folder
    assert beside.returncode == 0, beside.stderr
    assert [p.parent for p in tmp_path.rglob("info-plane-*.png")] == [store.parent]
    missing = run_cli("plot", "info-plane", "ffffffff", "--store", str(store))
    assert missing.returncode == 2
    assert stderr_lines(missing.stderr) == [
        "ibbench: error: no run with id starting 'ffffffff' in the store; give more of the id "
        "(ids are printed by `ibbench run --json` and stored in the store's 'id' field)"
    ]


def test_plain_mine_can_play_the_input_critic(registry):
    record = digits_run("ib-layerwise", registry, ixt_critic="mine", steps=10, critic_pretrain_steps=20)
    assert record.status == "ok", record.error
    assert record.expanded["trainer"]["params"]["ixt_critic"] == "mine"
    assert all(np.isfinite(layer["ixt"]) for layer in record.training.model_dump()["layers"])


def test_the_trainer_can_set_the_probe_critics_steps(registry):
    record = digits_run("ce", registry, estimator="mine", probe_first_steps=30, probe_refresh_steps=7)
    plane = record.training.model_dump()["info_plane"]
    assert plane["estimator_params"]["steps"] == 30 and plane["estimator_params"]["refresh_steps"] == 7
    assert record.expanded["estimator"]["params"]["steps"] == 300  # the estimator's own budget is untouched


def test_layerwise_records_its_critics_at_each_layers_start_next_to_the_truth(layerwise_fit):
    """Each layer: what the pre-trained critics read at its start (held out, with steps used and
    whether they plateaued) and at its end, beside the Monte-Carlo truth of I(X; L_i + eps)."""
    *_, result = layerwise_fit
    for layer in result["layers"]:
        start = layer["at_start"]
        assert {"iyt", "iyt_se", "iyt_converged", "iyt_steps", "ixt", "ixt_truth", "ixt_truth_se"} <= set(
            start
        )
        assert 0 < start["iyt_steps"] <= LayerwiseIB.params_for("smoke").critic_pretrain_steps
        assert (
            start["ixt_truth"] >= -3 * start["ixt_truth_se"]
            and layer["ixt_truth"] >= -3 * layer["ixt_truth_se"]
        )
        if layer["ixt_truth"] > 3 * layer["ixt_truth_se"]:
            assert layer["ixt_fraction_of_truth"] == pytest.approx(layer["ixt"] / layer["ixt_truth"])
        assert layer["iyt"] <= np.log(10) + 3 * layer["iyt_se"]  # held out: below H(Y) <= log 10
        # beta > 0: how hard the compression term pulls on the layer next to I(Y; L)'s gradient
        assert 0 < layer["grad_ratio_median"] <= layer["grad_ratio_max"] < np.inf


def test_a_trainer_that_never_uses_the_probe_is_warned_about(registry, monkeypatch):
    """A run that names an estimator and gets no information plane says so (a plugin trainer that
    forgets ``probe.measure``), and keeps what it trained."""
    from ibbench.running.runner import ProbeUnusedWarning
    from ibbench.trainers.ce import CrossEntropy

    trained = CrossEntropy.train
    monkeypatch.setattr(
        CrossEntropy, "train", lambda self, task, p, ctx, probe=None: trained(self, task, p, ctx)
    )
    with pytest.warns(ProbeUnusedWarning, match="trainer ce never measured with the information-plane probe"):
        record = digits_run("ce", registry, estimator="mine", steps=20)
    assert record.status == "ok" and record.training.info_plane is None and record.training.test_acc > 0


def test_ce_with_weight_decay_is_ce_wd_and_without_it_is_plain_ce(registry):
    """A tuned suite searches ce's weight_decay: the same seed gives ce-wd's numbers at the same
    coefficient, and 0 (the default) gives plain CE, different from both."""
    with_decay = digits_run("ce", registry, seed=3, weight_decay=0.1)
    ce_wd = digits_run("ce-wd", registry, seed=3, weight_decay=0.1)
    plain = digits_run("ce", registry, seed=3)
    assert with_decay.training.model_dump()["evals"] == ce_wd.training.model_dump()["evals"]
    assert with_decay.training.model_dump()["evals"] != plain.training.model_dump()["evals"]
