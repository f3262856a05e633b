"""Size and write time of one snapshot of a paper-size training cell (layer-wise IB on mnist-mlp, 2 x 1500
critics, AA-MINE information-plane probe), and how long a resume takes to load it.

The cell is cut to a few iterations per layer (the snapshot's size does not depend on how long the
cell trains); every iteration offers a snapshot.  Needs MNIST (``ibbench data get mnist``).

    python scripts/checkpoint_cost.py [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ibbench.running.checkpoints import Checkpointer, CheckpointPolicy
from ibbench.running.plugins import load_registry
from ibbench.running.runner import cell_of, execute, resolve
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec, TrainerSpec

SHRINK = {
    "steps": 3,
    "critic_pretrain_steps": 1,
    "critic_steps": 1,
    "readout_max_iter": 1,
    "measure_points": 1,
    "probe_first_steps": 1,
    "probe_refresh_steps": 1,
    "critic_eval_samples": 512,
    "truth_points": 100,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    spec = RunSpec(
        task=TaskSpec(name="mnist-mlp"),
        estimator=EstimatorSpec(name="aa-mine"),
        trainer=TrainerSpec(name="ib-layerwise", params=SHRINK),
        budget="paper",
        device=args.device,
    )
    resolved = resolve(spec, load_registry())
    writes, sizes = [], []
    offer = Checkpointer.offer

    def timed_offer(self, progress, make_state):
        start = time.perf_counter()
        saved = offer(self, progress, make_state)
        if saved:
            writes.append(time.perf_counter() - start)
            sizes.append(self.path.stat().st_size)
        return saved

    Checkpointer.offer = timed_offer
    with tempfile.TemporaryDirectory() as tmp:
        policy = CheckpointPolicy(tmp, every_s=0)
        record = execute(resolved, checkpoints=policy)
        assert record.status == "ok", record.error
        path = Path(policy.checkpointer(cell_of(resolved)).path)
        start = time.perf_counter()
        state = Checkpointer(path, cell_of(resolved)).load()
        load_s = time.perf_counter() - start
    assert state is not None
    print(
        f"device {args.device}; {len(writes)} snapshots of a paper-size ib-layerwise cell with an aa-mine probe"
    )
    print(
        f"size: median {statistics.median(sizes) / 2**20:.0f} MiB (min {min(sizes) / 2**20:.0f}, "
        f"max {max(sizes) / 2**20:.0f})"
    )
    print(
        f"write (state_dict + torch.save + fsync + rename): median {statistics.median(writes):.2f} s, "
        f"max {max(writes):.2f} s"
    )
    print(f"load of the last snapshot: {load_s:.2f} s")


if __name__ == "__main__":
    main()
