"""Classification tasks whose network is trained: MNIST MLPs, CIFAR-10 conv-nets, the 8x8 digits MLP.

A task instance holds the data (a class-balanced, seeded training subset, a
validation split carved from it, and the full official test set), builds its
network on demand as an ``nn.Sequential`` of *layers* L_1..L_n (each block is
one layer whose output the information plane measures), and states the noise
variance of the paper's I(X; L_i + eps).

Its ``sample`` draws (x, one-hot y) pairs from the training subset, so an
estimator can also be pointed at I(X;Y) of the data itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..api import Params, RunContext, Task
from ..api.classification import ClassificationData, ClassificationInstance, ClassificationParams

__all__ = ["ClassificationData", "ClassificationInstance", "ClassificationParams", "ClassificationTask"]


def balanced_split(
    labels: np.ndarray, fraction: float, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-balanced subset (``fraction`` of each class, at least 1) and its validation part.

    Each class contributes round(fraction * n_c) examples, of which
    round(val_fraction * that) (at least 1 when val_fraction > 0 and the class
    has 2 or more) go to validation.  Sorted indices, so order is the dataset's.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = max(1, int(round(fraction * members.size)))
        chosen = rng.permutation(members)[:take]
        n_val = int(round(val_fraction * take))
        if val_fraction > 0 and take >= 2:
            n_val = min(max(1, n_val), take - 1)
        else:
            n_val = 0
        val.append(chosen[:n_val])
        train.append(chosen[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def make_data(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    p: ClassificationParams,
    seed: int,
    source: dict[str, Any],
) -> ClassificationData:
    train_idx, val_idx = balanced_split(train_y, p.train_fraction, p.val_fraction, seed)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    return ClassificationData(
        train_x=t(train_x[train_idx]),
        train_y=t(train_y[train_idx]).long(),
        val_x=t(train_x[val_idx]),
        val_y=t(train_y[val_idx]).long(),
        test_x=t(test_x),
        test_y=t(test_y).long(),
        n_classes=int(train_y.max()) + 1,
        source=source,
    )


class ClassificationTask(Task):
    """Base of the network tasks: loads arrays, splits them, and defers the net to ``build_network``."""

    Params = ClassificationParams
    #: what `ibbench run --task NAME --estimator E` trains when no trainer is named
    default_trainer: ClassVar[str] = "ce"
    architecture: ClassVar[str] = ""

    def load_arrays(self, p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """(train_x, train_y, test_x, test_y, source) with x float32 flat rows."""
        raise NotImplementedError

    def build_network(self, p: Params) -> nn.Sequential:
        raise NotImplementedError

    def layer_kinds(self, p: Params) -> list[str]:
        raise NotImplementedError

    def build(self, params: ClassificationParams, ctx: RunContext) -> ClassificationInstance:
        from ..running.progress import fetch_progress

        with fetch_progress(ctx.show_progress):  # a download of the data says so as the run's progress does
            train_x, train_y, test_x, test_y, source = self.load_arrays(params)
        seed = ctx.seed if params.subset_seed is None else params.subset_seed
        data = make_data(train_x, train_y, test_x, test_y, params, seed, source)
        return ClassificationInstance(
            data, params, lambda: self.build_network(params), self.layer_kinds(params), self.architecture
        )
