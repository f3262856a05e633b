"""Full estimates (binning, KSG, mixture) and the mixture ground truth; bias tracked on a fixed task."""

from ibbench.bench.workloads import build

from ._common import Short, workload_or_skip


class Estimate(Short):
    """One estimate at the quick budget on a 10-d sparse Gaussian with 2 nats."""

    params = [["binning", "ksg", "mixture"]]
    param_names = ["estimator"]
    timeout = 300

    def setup(self, estimator):
        try:
            self.w = build("estimate", estimator=estimator, budget="quick", device="cpu")
        except Exception as exc:  # the KSG plugin is not installed in this environment
            raise NotImplementedError(str(exc)) from exc

    def time_estimate(self, estimator):
        self.w()

    def peakmem_estimate(self, estimator):
        self.w()


class MixtureTruth(Short):
    """Monte-Carlo I(X; F(X)+eps) over N = 60000 centres, 4096 draws."""

    params = [["cpu", "cuda"], [10, 512]]
    param_names = ["device", "dim"]
    timeout = 300

    def setup(self, device, dim):
        self.w = workload_or_skip("mixture-truth", device, n=60000, dim=dim, samples=4096)

    def time_truth(self, device, dim):
        self.w()

    def peakmem_truth(self, device, dim):
        self.w()


class Bias(Short):
    """Estimate minus truth (nats) at the smoke budget on a 5-d dense Gaussian with 2 nats, seed 0:
    an accuracy regression shows on the same dashboard as a slowdown."""

    params = [["mine", "aa-mine", "mixture", "binning", "ksg"]]
    param_names = ["estimator"]
    timeout = 300

    def setup(self, estimator):
        from ibbench.running.plugins import load_registry

        self.registry = load_registry()
        if estimator not in self.registry.names("estimator"):
            raise NotImplementedError(f"{estimator} is not installed")

    def track_bias(self, estimator):
        from ibbench.running.runner import run
        from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec

        spec = RunSpec(
            task=TaskSpec(name="gaussian", params={"dim": 5, "mi": 2.0, "structure": "dense"}),
            estimator=EstimatorSpec(name=estimator),
            seed=0,
            budget="smoke",
            device="cpu",
        )
        record = run(spec, self.registry)
        return record.estimate - record.truth

    track_bias.unit = "nats"
