"""What a trainer receives: the classification task instance (data, network factory, layer kinds,
noise) and, when the run names an estimator, the information-plane probe to attach to the net."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..api.classification import ClassificationData, ClassificationInstance
from ..errors import NotApplicableError

__all__ = ["ClassificationData", "ClassificationInstance", "attach_probe", "classification_instance"]


def classification_instance(task: Any, trainer: str) -> ClassificationInstance:
    """``task`` as the classification instance a trainer needs; NotApplicableError for any other task."""
    if not isinstance(task, ClassificationInstance):
        raise NotApplicableError(
            f"trainer {trainer} needs a network task (mnist-mlp, cifar-conv, digits-mlp, ...)"
        )
    return task


def attach_probe(probe, net: nn.Sequential, task: ClassificationInstance) -> None:
    """Point the information-plane probe (None: the run names no estimator) at ``net``'s layers."""
    if probe is not None:
        probe.attach(net, task.data.train_x, task.data.train_y, task.data.n_classes, task.noise_std)
