"""The parameters every network trainer shares: optimiser, batches, steps, evaluation and
information-plane schedules."""

from __future__ import annotations

from pydantic import Field

from ..api import Params


class LinearProbeParams(Params):
    # training rows each layer's linear probe (the fitted readout) is fitted on: a stride through the split
    linear_probe_rows: int = Field(10000, ge=2)


# every trainer's smoke budget, which checks that a cell runs end to end: the probes on 2000 rows
SMOKE_LINEAR_PROBES = {"linear_probe_rows": 2000}


class TrainerParams(LinearProbeParams):
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
