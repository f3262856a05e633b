"""Checkpoints inside a training cell: a killed cell resumes from its snapshot and ends with the numbers
an uninterrupted cell gives, bit for bit (same seed, CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from ibbench.running.checkpoints import Checkpointer, CheckpointPolicy, CheckpointWarning, checkpoint_dir_for
from ibbench.running.runner import cell_of, execute, resolve
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec, TrainerSpec
from ibbench.store.cells import CellKey
from ibbench.store.results import ResultStore
from ibbench.training import BatchStream, restore_global_rng  # the public names a trainer plugin uses


class Killed(BaseException):
    """Stands in for SIGKILL inside the process: nothing catches it, nothing after it runs."""


def _spec(trainer: str, **params) -> RunSpec:
    return RunSpec(
        task=TaskSpec(name="digits-mlp"),
        estimator=EstimatorSpec(name="aa-mine"),
        trainer=TrainerSpec(name=trainer, params=params),
        seed=3,
        budget="smoke",
        device="cpu",
    )


def _kill_after(monkeypatch, saves: int) -> None:
    """Make the ``saves``-th snapshot the last thing the run does."""
    offer = Checkpointer.offer

    def offer_then_die(self, progress, make_state):
        saved = offer(self, progress, make_state)
        if saved and self.saves == saves:
            raise Killed(progress)
        return saved

    monkeypatch.setattr(Checkpointer, "offer", offer_then_die)


def _run_killed_after(resolved, policy, monkeypatch, saves: int) -> None:
    """Execute with snapshots until the ``saves``-th, where the process is 'killed'."""
    _kill_after(monkeypatch, saves)
    with pytest.raises(Killed):
        execute(resolved, checkpoints=policy)
    monkeypatch.undo()


def test_batch_stream_resumes_mid_epoch_and_across_epochs():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    for taken in (0, 2, 3, 7):  # 3 batches of 3 per epoch (the ragged tenth row is dropped)
        a = BatchStream(x, y, 3, torch.Generator().manual_seed(1))
        for _ in range(taken):
            next(a)
        b = BatchStream(x, y, 3, torch.Generator().manual_seed(99))  # another stream, moved to a's place
        b.load_state_dict(a.state_dict())
        for _ in range(8):
            assert torch.equal(next(a)[1], next(b)[1])
    c = BatchStream(x, y, 3, torch.Generator().manual_seed(1))
    epoch = torch.cat([next(c)[1] for _ in range(3)])
    assert len(set(epoch.tolist())) == 9  # an epoch is 9 distinct rows: a permutation, not a resample


@pytest.mark.parametrize(
    "trainer,params,saves",
    [
        ("ce", {}, 40),
        ("ce-wd", {}, 100),
        ("ib-e2e", {}, 25),
        ("ib-layerwise", {"steps": 30}, 45),  # 3 layers x 30 iterations: killed in layer 2
    ],
)
def test_killed_training_resumes_to_the_uninterrupted_numbers(
    registry, tmp_path, monkeypatch, trainer, params, saves
):
    resolved = resolve(_spec(trainer, **params), registry)
    reference = execute(resolved)
    assert reference.status == "ok"

    policy = CheckpointPolicy(str(tmp_path / "ck"), every_s=0)  # a snapshot after every step
    _run_killed_after(resolved, policy, monkeypatch, saves)
    resumed = execute(resolved, checkpoints=policy)

    assert resumed.status == "ok", resumed.error
    progress = resumed.extras["resumed"]["progress"]
    assert progress == ({"layer": 2, "iteration": 15} if trainer == "ib-layerwise" else {"step": saves})
    # every number the trainer reports, information plane and critics included, is the uninterrupted run's
    assert resumed.training.model_dump() == reference.training.model_dump()
    assert "resumed" not in reference.extras


@pytest.mark.parametrize("estimator", ["mine", "aa-mine"])
def test_killed_critic_training_resumes_to_the_uninterrupted_estimate(
    registry, tmp_path, monkeypatch, estimator
):
    spec = RunSpec(
        task=TaskSpec(name="gaussian-channel"),
        estimator=EstimatorSpec(name=estimator),
        seed=1,
        budget="smoke",
        device="cpu",
    )
    resolved = resolve(spec, registry)
    reference = execute(resolved)
    policy = CheckpointPolicy(str(tmp_path / "ck"), every_s=0)
    _run_killed_after(resolved, policy, monkeypatch, 70)
    resumed = execute(resolved, checkpoints=policy)
    assert resumed.extras["resumed"]["progress"] == {"critic_step": 70}
    assert (resumed.estimate, resumed.estimate_stderr) == (reference.estimate, reference.estimate_stderr)
    timing = ("fit_seconds", "steps_per_s")  # wall time: never equal between two runs

    def numbers(extras):
        return {k: v for k, v in extras["estimator"].items() if k not in timing}

    assert numbers(resumed.extras) == numbers(reference.extras)  # the training trace too


def test_cell_shipped_to_a_worker_resumes_from_the_shared_snapshot(registry, tmp_path, monkeypatch):
    from dataclasses import asdict

    from ibbench.executors.cells import run_cell

    resolved = resolve(_spec("ce"), registry)
    policy = CheckpointPolicy(str(tmp_path / "ck"), every_s=0)
    _run_killed_after(resolved, policy, monkeypatch, 30)
    record = run_cell({"spec": resolved.spec.model_dump(mode="json"), "checkpoints": asdict(policy)})
    assert record["status"] == "ok" and record["extras"]["resumed"]["progress"] == {"step": 30}


def test_a_snapshot_saved_under_the_older_key_spelling_is_resumed(registry, tmp_path, monkeypatch):
    """Snapshots were once named by the spec as written ({"steps": 40}); cells are now keyed by the
    canonical expanded parameters.  A killed cell's older snapshot is still this cell: resumed, to
    the uninterrupted numbers, and renamed."""
    from ibbench.running.checkpoints import checkpoint_path

    resolved = resolve(_spec("ce"), registry)
    reference = execute(resolved)
    policy = CheckpointPolicy(str(tmp_path / "ck"), every_s=0)
    _run_killed_after(resolved, policy, monkeypatch, 30)
    new_path = checkpoint_path(tmp_path / "ck", cell_of(resolved))
    old_key = resolved.spec.model_dump_json()  # the older spelling
    data = torch.load(new_path, weights_only=True)
    torch.save({**data, "spec": old_key}, checkpoint_path(tmp_path / "ck", CellKey(old_key)))
    new_path.unlink()
    with pytest.warns(CheckpointWarning, match="older spelling of its key"):
        resumed = execute(resolved, checkpoints=policy)
    assert resumed.extras["resumed"]["progress"] == {"step": 30}
    assert resumed.training.model_dump() == reference.training.model_dump()


def test_snapshot_from_another_spec_or_format_is_set_aside_with_a_warning(tmp_path):
    path = tmp_path / "c.pt"
    writer = Checkpointer(path, CellKey("spec-a"), every_s=0)
    writer.offer({"step": 1}, lambda: {"step": 1})
    with pytest.warns(CheckpointWarning, match="belongs to another spec"):
        assert Checkpointer(path, CellKey("spec-b")).load() is None
    assert not path.exists() and (tmp_path / "c.unusable").exists()

    torch.save({"format": 999, "spec": "spec-a"}, path)
    with pytest.warns(CheckpointWarning, match="checkpoint format 999 and this ibbench reads 1"):
        assert Checkpointer(path, CellKey("spec-a")).load() is None

    path.write_bytes(b"half a snapshot")
    with pytest.warns(CheckpointWarning, match="cannot be read"):
        assert Checkpointer(path, CellKey("spec-a")).load() is None


def test_clearing_removes_the_snapshot_a_torn_write_and_the_empty_folder(tmp_path):
    policy = CheckpointPolicy(str(tmp_path / "ck"), every_s=0)
    ck = policy.checkpointer(CellKey("k"))
    ck.offer({"step": 1}, lambda: {"step": 1})
    ck.path.with_suffix(".tmp4242").write_bytes(b"a write killed half-way")
    policy.clear(CellKey("k"))
    assert not (tmp_path / "ck").exists()


def test_snapshot_round_trips_with_global_rng(tmp_path):
    ck = Checkpointer(tmp_path / "c.pt", CellKey("k"), every_s=0)
    torch.manual_seed(5)
    ck.offer({"step": 7}, lambda: {"step": 7, "w": torch.ones(3)})
    expected = torch.rand(4)
    state = Checkpointer(tmp_path / "c.pt", CellKey("k")).load()
    restore_global_rng(state["rng"])
    assert torch.equal(torch.rand(4), expected) and torch.equal(state["w"], torch.ones(3))


SUITE = """name = "kill-mid-cell"
budget = "smoke"
seeds = [0]
tasks = [{ name = "digits-mlp" }]
trainers = [{ name = "ib-layerwise", params = { steps = 150, critic_steps = 4 } }]
"""


def test_sigkilled_training_cell_resumes_from_its_checkpoint(tmp_path):
    """A real suite process is SIGKILLed inside its one training cell; the re-run resumes the cell from the
    snapshot, stores it once, deletes the snapshot, and gets the numbers of a run never killed."""
    suite, out, clean = tmp_path / "s.toml", tmp_path / "runs.jsonl", tmp_path / "clean.jsonl"
    suite.write_text(SUITE)
    cmd = [sys.executable, "-m", "ibbench.cli", "suite", "run", str(suite), "--quiet"]
    snapshots = checkpoint_dir_for(out)
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), "--checkpoint-every", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while not any(snapshots.glob("*.pt")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    time.sleep(1.0)  # a few more snapshots: the kill lands while one may be being written
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert not out.exists() or not out.read_text().strip(), "the kill should land inside the cell"
    assert len(list(snapshots.glob("*.pt"))) == 1

    rerun = subprocess.run(
        [*cmd, "--out", str(out), "--checkpoint-every", "0"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    uninterrupted = subprocess.run(
        [*cmd, "--out", str(clean), "--no-checkpoints"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    (record,), (reference,) = ResultStore(out).records(), ResultStore(clean).records()
    resumed = record.extras["resumed"]
    assert resumed["progress"]["layer"] >= 1 and resumed["progress"]["iteration"] >= 1
    assert (
        f"resumed from a checkpoint at layer {resumed['progress']['layer']} iteration" in rerun.stdout
    )  # the cell's line
    assert record.training.model_dump() == reference.training.model_dump()
    assert not snapshots.exists()  # the snapshot goes once the record is stored
    assert not checkpoint_dir_for(clean).exists()
    assert CellKey.of_record(record) == CellKey.of_record(reference)
