"""One DV critic step: MINE and AA-MINE, single critics, K-member ensembles, precision and compile."""

import torch

from ibbench.bench.timing import matmul_peak

from ._common import Short, utilisation, workload_or_skip

DEVICES = ["cpu", "cuda"]


def _peaks():
    """Measured once per asv environment (setup_cache): the denominator of FLOP utilisation."""
    out = {"cpu": matmul_peak("cpu")["gflops"]}
    if torch.cuda.is_available():
        out["cuda"] = matmul_peak("cuda")["gflops"]
    return out


class CriticStep(Short):
    """One Adam update of the paper's 2-hidden-layer critic (width ``hidden``) on ``batch`` pairs."""

    params = [DEVICES, ["mine", "aa-mine"], [256, 1500], [256, 1024]]
    param_names = ["device", "estimator", "hidden", "batch"]
    timeout = 300

    def setup_cache(self):
        return _peaks()

    def setup(self, peaks, device, estimator, hidden, batch):
        self.w = workload_or_skip("critic-step", device, estimator=estimator, hidden=hidden, batch=batch)
        self.w()  # warm-up: first-call allocations are not the step's cost
        self.peak = peaks.get(device)

    def time_step(self, peaks, device, estimator, hidden, batch):
        self.w()

    def peakmem_step(self, peaks, device, estimator, hidden, batch):
        self.w()

    def track_flop_utilisation(self, peaks, device, estimator, hidden, batch):
        return utilisation(self.w, self.peak)

    track_flop_utilisation.unit = "% of matmul peak"


class EnsembleStep(Short):
    """K AA-MINE critics in one batched step; compare with CriticStep for K single steps."""

    params = [DEVICES, [1, 8], [64, 256, 1500]]
    param_names = ["device", "members", "hidden"]
    timeout = 300

    def setup(self, device, members, hidden):
        self.w = workload_or_skip(
            "critic-step", device, estimator="aa-mine", hidden=hidden, batch=256, ensemble=members
        )
        self.w()

    def time_step(self, device, members, hidden):
        self.w()

    def peakmem_step(self, device, members, hidden):
        self.w()


class PrecisionStep(Short):
    """AA-MINE step (paper width) under each matmul precision; tf32 only changes anything on CUDA."""

    params = [DEVICES, ["fp32", "tf32", "bf16"]]
    param_names = ["device", "precision"]
    timeout = 300

    def setup(self, device, precision):
        self.w = workload_or_skip(
            "critic-step", device, estimator="aa-mine", hidden=1500, batch=256, precision=precision
        )
        self.w()

    def time_step(self, device, precision):
        self.w()


class CompiledStep(Short):
    """torch.compile of the critic step for small critics, where Python overhead dominates."""

    params = [DEVICES, [False, True], [64, 256]]
    param_names = ["device", "compile", "hidden"]
    timeout = 600

    def setup(self, device, compile, hidden):
        self.w = workload_or_skip(
            "critic-step", device, estimator="aa-mine", hidden=hidden, batch=256, compile=compile
        )
        for _ in range(3):  # compilation happens here, not in the timed calls
            self.w()

    def time_step(self, device, compile, hidden):
        self.w()
