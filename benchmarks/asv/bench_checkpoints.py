"""Writing a checkpoint of a critic in training: what a training cell pays every --checkpoint-every seconds."""

import shutil
from pathlib import Path

from ._common import Short, workload_or_skip


class Snapshot(Short):
    """state_dict + torch.save + fsync + rename of a trained critic (2 x ``hidden``, with Adam moments)."""

    params = [["cpu", "cuda"], [256, 1500]]
    param_names = ["device", "hidden"]
    timeout = 300

    def setup(self, device, hidden):
        self.workload = workload_or_skip("snapshot", device, estimator="aa-mine", hidden=hidden)

    def teardown(self, device, hidden):
        if hasattr(self, "workload"):  # asv tears down skipped combinations (no CUDA) too
            shutil.rmtree(Path(self.workload.extras["path"]).parent, ignore_errors=True)

    def time_snapshot(self, device, hidden):
        self.workload()

    def track_snapshot_mib(self, device, hidden):
        return self.workload.extras["bytes"] / 2**20

    track_snapshot_mib.unit = "MiB"
