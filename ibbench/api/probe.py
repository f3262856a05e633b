"""What a trainer is handed to measure the information plane while it trains (``Probe``).

The runner builds one (``ibbench.methods.infoplane.InfoPlaneProbe``) when a training run names an estimator:
the trainer attaches its network before the first step, calls ``measure`` at the steps it chooses and
returns ``result()`` under ``info_plane``.  ``state_dict``/``load_state_dict`` carry a warm critic
across a snapshot, so a resumed run measures as an uninterrupted one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import Field

from .params import Params

if TYPE_CHECKING:  # torch is heavy: imported where it is used
    import torch
    from torch import nn


@runtime_checkable
class Probe(Protocol):
    def attach(
        self, net: nn.Sequential, inputs: torch.Tensor, labels: torch.Tensor, n_classes: int, noise_std: float
    ) -> None:
        """Measure ``net``'s layers L_i on (a sample of) ``inputs`` (n, d) with their int64 ``labels`` (n,):
        I(X; L_i + eps), eps ~ N(0, noise_std^2 I), and I(Y; L_i), in nats."""

    def measure(self, step: int, **tags: Any) -> list[dict[str, Any]]:
        """Measure every layer now (training step ``step``; ``tags`` go into each point); the points."""

    def result(self) -> dict[str, Any]:
        """Every point measured so far, as the record's ``info_plane`` (``ibbench.api.records.InfoPlane``)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class ProbeParams(Params):
    """The parameters of a trainer whose runs the information-plane probe measures: how often and on
    what.  A trainer's parameter model inherits them; one without them is probed with these defaults."""

    measure_points: int = Field(10, ge=1)  # information-plane measurements when the run names an estimator
    probe_points: int = Field(2000, ge=2)  # the training inputs X is uniform over for the information plane
    probe_truth: bool = True  # also record the Monte-Carlo truth of I(X; L_i + eps) at each measurement
    # a critic estimator's training in the probe: steps before the first point, warm steps per later
    # point (None: the estimator's own `steps` / `refresh_steps`)
    probe_first_steps: int | None = Field(None, ge=1)
    probe_refresh_steps: int | None = Field(None, ge=0)
