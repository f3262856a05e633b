"""What is measured on a network: accuracy, the clusters' separation per layer (paper Fig. 5), and a
fingerprint of its weights."""

from __future__ import annotations

import hashlib

import torch
from torch import nn


@torch.no_grad()
def accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch: int = 2048
) -> float:
    """Fraction of rows whose arg-max logit is the label (eval mode; training mode restored)."""
    if x.shape[0] == 0:
        return float("nan")
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += (model(x[i : i + batch].to(device)).argmax(1).cpu() == y[i : i + batch]).sum().item()
    model.train(was)
    return correct / x.shape[0]


def train_accuracy(model: nn.Module, data, device: torch.device, at_most: int = 10000) -> float:
    """Accuracy on (a strided subset of at most ``at_most`` rows of) the training split."""
    return accuracy(model, *spread_subset(data.train_x, data.train_y, at_most), device)


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
    spreads = torch.stack(
        [((feats[labels == c] - means[k]) ** 2).sum(1).mean().sqrt() for k, c in enumerate(classes)]
    )
    k = len(classes)
    between = torch.cdist(means, means)[~torch.eye(k, dtype=torch.bool)].mean()
    return float(between / spreads.mean())


def spread_subset(x: torch.Tensor, y: torch.Tensor, at_most: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every k-th row so that at most ``at_most`` remain (a stride, not a prefix: some copies are class-sorted)."""
    stride = -(-x.shape[0] // at_most)
    return x[::stride], y[::stride]


@torch.no_grad()
def layer_separations(
    net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, device: torch.device, at_most: int = 2000
) -> list[float]:
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
