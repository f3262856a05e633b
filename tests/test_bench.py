"""The throughput command and its target arithmetic (no timing assertions: speed lives in benchmarks/)."""

from __future__ import annotations

import json

import pytest

from ibbench.bench.throughput import derive, targets
from ibbench.bench.timing import matmul_peak
from ibbench.bench.workloads import build

from .conftest import run_cli


def row(name, seconds, extras=None, **params):
    return derive(
        {
            "workload": name,
            "params": params,
            "median_s": seconds,
            "flops": 2e9,
            "samples": 256,
            "extras": extras or {},
        },
        peak_gflops={"fp32": 100.0, "fp64": 40.0, "bf16": 200.0},
    )


def test_targets_compare_the_right_rows():
    base = dict(hidden=1500, batch=256, ensemble=1, precision="fp32", compile=False)
    rows = [
        row("critic-step", 0.025, estimator="mine", **base),  # 80 GFLOP/s of a 100 peak
        row("critic-step", 0.030, estimator="aa-mine", **base),
        row("critic-step", 0.100, estimator="aa-mine", **{**base, "ensemble": 8}),
        # 2e9 FLOPs in 0.0625 s: 32 GFLOP/s, 32 % of the fp32 peak but 80 % of the fp64 one it ran at
        row("mixture-truth", 0.0625, extras={"precision": "fp64"}, n=60000, dim=512, samples=4096),
        row("mixture-truth", 12.0, extras={"precision": "fp32"}, n=60000, dim=10, samples=4096),
    ]
    found = {(t[0].split()[0], t[1]): (t[2], t[3]) for t in targets(rows)}
    util = [v for k, v in found.items() if k[0] == "critic" and "estimator=mine" in k[1]]
    assert util == [("80.0%", False)]  # the target is 90 %
    assert [v for k, v in found.items() if k[0] == "AA-MINE"] == [("1.20x", True)]
    assert [v for k, v in found.items() if k[0] == "K=8"] == [("0.42 K", True)]  # 0.1 / (8 * 0.03)
    mixture = sorted(v for k, v in found.items() if k[0] == "mixture")
    assert mixture == [("0.06 s", True), ("12.00 s", False), ("80.0%", True)]  # no utilisation row at d=10
    assert any("70% of the fp64 matmul peak" in t[0] and "blocks in fp64" in t[1] for t in targets(rows))


def test_a_trainer_step_with_bf16_critics_has_no_share_of_a_peak():
    """Its fp32 network and bf16 critics have no single peak: against the fp32 one an AMX Xeon's
    layer-wise step read 105 %."""
    m = {"median_s": 0.1, "flops": 1e10, "params": {}, "samples": 10}
    peaks = {"fp32": 100.0, "bf16": 500.0}
    mixed = derive({**m, "extras": {"critic_precision": "bf16"}}, peaks)
    assert mixed["gflops"] == 100.0 and "utilisation" not in mixed
    assert derive({**m, "extras": {"critic_precision": "fp32"}}, peaks)["utilisation"] == 1.0


def test_the_ib_trainer_step_says_its_critics_precision():
    w = build("trainer-step", trainer="ib-e2e", budget="smoke", critic_precision="fp32")
    assert w.extras == {"critic_precision": "fp32"}
    assert build("trainer-step", trainer="ce", budget="smoke").extras == {}


def test_matmul_peak_skips_larger_sizes_once_one_call_is_slow():
    """A CPU without native bf16 took minutes on the 3072-square matmuls: the sweep must stop early."""
    peak = matmul_peak("cpu", sizes=(4096, 64), min_time=1e-9)  # every call is "slow": only the smallest runs
    assert peak["size"] == 64 and peak["gflops"] > 0


def test_unknown_workload_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown workload 'nope'; choose from critic-step"):
        build("nope")


def test_workload_counts_flops_and_runs():
    w = build("critic-step", estimator="aa-mine", hidden=16, batch=32, ensemble=2)
    bound = w()
    assert bound.shape == (2,) and w.samples == 64 and w.flops > w.extras["critic_flops"] > 0


def test_throughput_command_writes_table_and_json(tmp_path):
    proc = run_cli(
        "bench",
        "throughput",
        "--quick",
        "--no-precision",
        "--min-time",
        "0.05",
        "--device",
        "cpu",
        "--out-dir",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "throughput-cpu.md").read_text()
    data = json.loads((tmp_path / "throughput-cpu.json").read_text())
    assert data["command"] == f"ibbench bench throughput --device cpu --quick --out-dir {tmp_path}"
    assert data["matmul_peak"]["gflops"] > 0 and len(data["rows"]) == 3
    assert all("error" not in r and r["median_s"] > 0 for r in data["rows"])
    assert "AA-MINE step <= 1.25 x MINE step" in md and data["provenance"]["git"]["commit"]


def test_snapshot_workload_writes_a_loadable_checkpoint_of_the_critic(tmp_path):
    from ibbench.running.checkpoints import Checkpointer
    from ibbench.store.cells import CellKey

    w = build("snapshot", hidden=16, directory=str(tmp_path))
    w()
    state = Checkpointer(tmp_path / "bench.pt", CellKey("bench")).load()
    # weights and both Adam moments of every parameter are in it: the size the benchmark tracks is real
    n_params = sum(t.numel() for t in state["trainer"]["critic"].values())
    assert n_params > 0 and w.extras["bytes"] > 3 * 4 * n_params
    assert state["trainer"]["steps_done"] == 1


@pytest.mark.parametrize(
    ("trainer", "extra", "recorded"),
    [
        ("ce", {}, {}),
        ("ce-wd", {}, {}),
        ("ib-layerwise", {}, {"layer": 1}),
        ("ib-layerwise", {"layer": 3, "critic_precision": "fp32"}, {"layer": 3, "critic_precision": "fp32"}),
        ("ib-e2e", {}, {}),
    ],
)
def test_every_trainer_step_workload_builds_and_steps(trainer, extra, recorded):
    """The table's trainer rows build the trainers' own parts (a renamed argument failed them all)."""
    w = build("trainer-step", trainer=trainer, budget="smoke", **extra)
    w()
    assert w.params == {"trainer": trainer, "budget": "smoke", **recorded} and w.samples > 0 and w.flops != 0


def test_a_conv_layer_step_trains_d_y_alone_and_its_flops_are_counted():
    """cifar-conv, layer 1 is a conv layer: at the paper's beta_conv = 0 only D_y is trained (issue 28's
    cost rows); the FLOPs come from torch's counter, forward and backward included."""
    conv = build("trainer-step", trainer="ib-layerwise", budget="smoke", network="cifar-conv", layer=1)
    conv()
    critics = next(
        c.cell_contents for c in conv.run.__closure__ if type(c.cell_contents).__name__ == "IBCritics"
    )
    assert critics.y is not None and critics.x is None
    assert conv.params["network"] == "cifar-conv" and conv.flops > 0
    with pytest.raises(ValueError, match="unknown network"):
        build("trainer-step", trainer="ce", network="svhn")
