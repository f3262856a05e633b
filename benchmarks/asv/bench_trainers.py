"""One training step of each trainer on an MNIST-sized MLP (synthetic inputs)."""

from ._common import Short, workload_or_skip


class TrainerStep(Short):
    params = [["cpu", "cuda"], ["ce", "ce-wd", "ib-layerwise", "ib-e2e"], ["quick", "paper"]]
    param_names = ["device", "trainer", "budget"]
    timeout = 600

    def setup(self, device, trainer, budget):
        if budget == "paper" and trainer in ("ce", "ce-wd"):
            raise NotImplementedError("the CE step does not depend on the budget")
        self.w = workload_or_skip("trainer-step", device, trainer=trainer, budget=budget)
        self.w()

    def time_step(self, device, trainer, budget):
        self.w()

    def peakmem_step(self, device, trainer, budget):
        self.w()
