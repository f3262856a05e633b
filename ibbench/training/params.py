"""The parameters every network trainer shares: optimiser, batches, steps, evaluation and
information-plane schedules."""

from __future__ import annotations

from pydantic import Field

from ..api import Params
from ..api.probe import ProbeParams


class LinearProbeParams(Params):
    # training rows each layer's linear probe (the fitted readout) is fitted on: a stride through the split
    linear_probe_rows: int = Field(10000, ge=2)


# every trainer's smoke budget, which checks that a cell runs end to end: the probes on 2000 rows
SMOKE_LINEAR_PROBES = {"linear_probe_rows": 2000}


class TrainerParams(LinearProbeParams, ProbeParams):
    lr: float = Field(1e-3, gt=0)  # Adam on the network; the paper's 1e-3
    batch_size: int = Field(128, ge=2)  # not given in the paper
    steps: int = Field(5000, ge=1)  # network updates (Table 3: 5000 for MNIST, 20000 for CIFAR)
    eval_points: int = Field(10, ge=1)  # validation/test evaluations along the way (model selection)
