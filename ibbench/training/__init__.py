"""The trainer toolkit that the built-in trainers (ce, ce-wd, ib-e2e, ib-layerwise, greedy-ce) are
built from, for trainer plugins too.

- ``instance``: the ``ClassificationInstance`` a trainer receives (``classification_instance``
  checks it) and ``attach_probe`` for the information-plane probe
- ``params``: ``TrainerParams``, the parameters every trainer shares
- ``batches``: ``BatchStream``, endless shuffled minibatches that a checkpoint resumes mid-epoch
- ``loop``: ``TrainingLoop``, the loop every trainer runs (restore, first probe point, progress,
  batches, evaluation and probe schedules, checkpoints), and its ``schedule``
- ``selection``: ``Selection``, model selection on the validation split
- ``metrics``: ``accuracy``, ``train_accuracy``, ``cluster_separation``, ``layer_separations``, ``fingerprint``
- ``divergence``: ``check_loss`` fails a NaN or inf loss with a hint
- ``state``: ``state_of`` / ``restore_parts`` for checkpoints, and ``restore_global_rng``

Importing this package imports torch; ``ibbench.api`` does not.
"""

from .batches import BATCHES_STREAM, BatchStream
from .divergence import NET_DIVERGED, check_loss
from .instance import ClassificationData, ClassificationInstance, attach_probe, classification_instance
from .loop import TrainingLoop, schedule
from .metrics import (
    accuracy,
    cluster_separation,
    fingerprint,
    layer_separations,
    spread_subset,
    train_accuracy,
)
from .params import TrainerParams
from .selection import Selection
from .state import restore_global_rng, restore_parts, state_of

__all__ = [
    "BATCHES_STREAM",
    "NET_DIVERGED",
    "BatchStream",
    "ClassificationData",
    "ClassificationInstance",
    "Selection",
    "TrainerParams",
    "TrainingLoop",
    "accuracy",
    "attach_probe",
    "check_loss",
    "classification_instance",
    "cluster_separation",
    "fingerprint",
    "layer_separations",
    "restore_global_rng",
    "restore_parts",
    "schedule",
    "spread_subset",
    "state_of",
    "train_accuracy",
]
