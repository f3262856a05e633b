"""What every trainer shares: batches, accuracy, model selection on validation, divergence checks."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
from pydantic import Field
from torch import nn

from ..api import Params, check_finite
from ..checkpoints import restore_global_rng
from ..errors import NotApplicableError
from ..tasks.classification import ClassificationInstance

NET_DIVERGED = "training diverged; lower the learning rate (trainer.lr) or the IB coefficients"


class TrainerParams(Params):
    lr: float = Field(1e-3, gt=0)  # Adam on the network; the paper's 1e-3
    batch_size: int = Field(128, ge=2)  # not given in the paper
    steps: int = Field(5000, ge=1)  # network updates (Table 3: 5000 for MNIST, 20000 for CIFAR)
    eval_points: int = Field(10, ge=1)  # validation/test evaluations along the way (model selection)
    measure_points: int = Field(10, ge=1)  # information-plane measurements when the run names an estimator
    probe_points: int = Field(2000, ge=2)  # the training inputs X is uniform over for the information plane
    probe_truth: bool = True  # also record the Monte-Carlo truth of I(X; L_i + eps) at each measurement
    # a critic estimator's training in the probe: steps before the first point, warm steps per later
    # point (None: the estimator's own `steps` / `refresh_steps`)
    probe_first_steps: int | None = Field(None, ge=1)
    probe_refresh_steps: int | None = Field(None, ge=0)


def classification_instance(task: Any, trainer: str) -> ClassificationInstance:
    if not isinstance(task, ClassificationInstance):
        raise NotApplicableError(f"trainer {trainer} needs a network task (mnist-mlp, cifar-conv, digits-mlp, ...)")
    return task


class BatchStream:
    """Endless shuffled minibatches, a new permutation every epoch (drawn from ``gen``).

    Its position is state (the generator as it was before this epoch's
    permutation, and the batch index), so a checkpoint can resume the stream
    at the very batch where it stopped.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, size: int, gen: torch.Generator) -> None:
        self.x, self.y, self.gen = x, y, gen
        self.size = min(size, x.shape[0])
        self.per_epoch = x.shape[0] // self.size  # the ragged tail of a permutation is dropped
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.epoch_gen_state = self.gen.get_state()
        self.perm = torch.randperm(self.x.shape[0], generator=self.gen)
        self.position = 0

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.position == self.per_epoch:
            self._new_epoch()
        idx = self.perm[self.position * self.size:(self.position + 1) * self.size]
        self.position += 1
        return self.x[idx], self.y[idx]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_gen_state": self.epoch_gen_state, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["epoch_gen_state"])
        self._new_epoch()
        self.position = state["position"]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch: int = 2048) -> float:
    """Fraction of rows whose arg-max logit is the label (eval mode; training mode restored)."""
    if x.shape[0] == 0:
        return float("nan")
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += (model(x[i:i + batch].to(device)).argmax(1).cpu() == y[i:i + batch]).sum().item()
    model.train(was)
    return correct / x.shape[0]


def schedule(total: int, points: int) -> set[int]:
    """``points`` step indices spread over 1..total, the last one always included."""
    return {max(1, round(total * k / points)) for k in range(1, points + 1)}


def train_accuracy(model: nn.Module, data, device: torch.device, at_most: int = 10000) -> float:
    """Accuracy on (a strided subset of at most ``at_most`` rows of) the training split."""
    return accuracy(model, *spread_subset(data.train_x, data.train_y, at_most), device)


class Selection:
    """Model selection on the validation split: the test accuracy at the best validation accuracy.

    Ties go to the later evaluation (more training).  Without a validation
    split the final evaluation is selected.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None

    def evaluate(self, model: nn.Module, data, device: torch.device, step: int, **tags: Any) -> dict[str, Any]:
        point = {"step": step, **tags, "val_acc": accuracy(model, data.val_x, data.val_y, device),
                 "test_acc": accuracy(model, data.test_x, data.test_y, device)}
        self.history.append(point)
        val = point["val_acc"]
        if self.best is None or math.isnan(val) or val >= self.best["val_acc"]:
            self.best = point
        return point

    def state_dict(self) -> dict[str, Any]:
        best = next((i for i, point in enumerate(self.history) if point is self.best), None)
        return {"history": self.history, "best": best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self.best = None if state["best"] is None else self.history[state["best"]]

    def summary(self) -> dict[str, Any]:
        assert self.history, "evaluate at least once"
        final = self.history[-1]
        return {"test_acc": self.best["test_acc"], "val_acc": self.best["val_acc"], "selected_step": self.best["step"],
                "test_acc_final": final["test_acc"], "val_acc_final": final["val_acc"], "evals": self.history}


def check_loss(loss: torch.Tensor, step: int, what: str = "training loss") -> float:
    return check_finite(loss.item(), f"{what} at step {step}", hint=NET_DIVERGED)


def fingerprint(module: nn.Module) -> str:
    """sha256 of every parameter's bytes: equal fingerprints mean bit-for-bit equal weights."""
    h = hashlib.sha256()
    for name, p in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@torch.no_grad()
def cluster_separation(feats: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean distance between class means / mean class spread (paper Fig. 5: CE 3.9, IB 5.2).

    A class's spread is its RMS distance to its mean (the standard deviation
    of the cluster as a whole); the paper does not define it further.
    """
    feats = feats.double()
    classes = labels.unique()
    means = torch.stack([feats[labels == c].mean(0) for c in classes])
    spreads = torch.stack([((feats[labels == c] - means[k]) ** 2).sum(1).mean().sqrt()
                           for k, c in enumerate(classes)])
    k = len(classes)
    between = torch.cdist(means, means)[~torch.eye(k, dtype=torch.bool)].mean()
    return float(between / spreads.mean())


def spread_subset(x: torch.Tensor, y: torch.Tensor, at_most: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every k-th row so that at most ``at_most`` remain (a stride, not a prefix: some copies are class-sorted)."""
    stride = -(-x.shape[0] // at_most)
    return x[::stride], y[::stride]


@torch.no_grad()
def layer_separations(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                      at_most: int = 2000) -> list[float]:
    """cluster_separation of every layer L_i on (at most ``at_most`` rows of) (x, y), in eval mode."""
    x, y = spread_subset(x, y, at_most)
    was = net.training
    net.eval()
    out, h = [], x.to(device)
    for block in net:  # L_i = block_i(L_{i-1}): each layer computed once, not once per prefix
        h = block(h)
        out.append(cluster_separation(h.flatten(1).cpu(), y))
    net.train(was)
    return out


def attach_probe(probe, net: nn.Sequential, task: ClassificationInstance) -> None:
    if probe is not None:
        probe.attach(net, task.data.train_x, task.data.train_y, task.data.n_classes, task.noise_std)



def state_of(parts: dict[str, Any]) -> dict[str, Any]:
    """Each part's ``state_dict()`` (None for an absent part, e.g. no probe): a checkpoint's body."""
    return {name: None if part is None else part.state_dict() for name, part in parts.items()}


def restore_parts(state: dict[str, Any] | None, parts: dict[str, Any]) -> None:
    """Load a checkpoint's parts, then the global RNG (building the parts drew from it); no-op without one."""
    if state is None:
        return
    for name, part in parts.items():
        if part is not None:
            part.load_state_dict(state[name])
    restore_global_rng(state["rng"])
