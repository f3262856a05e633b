"""What a trainer returns, typed: the ``training`` part of a run record (schema 2).  Part of the plugin
API (``ibbench.api.TrainingResult``).

A trainer's ``train`` returns a dict; the runner validates it into ``TrainingResult``, so a field a
table reads (``test_acc``, ``evals``, ``linear_probes``, ``info_plane`` ...) has one name and one type
in every record, and a trainer that returns something else fails its cell with the field named.
The fields below are the ones ibbench's tables, figures and verdicts read; a trainer may return more
(its own diagnostics: a layer-wise trainer's ``layers``, a readout's fit), kept as they are.

Accuracies are fractions in [0, 1]; mutual informations are in nats.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]  # an accuracy


class _Open(BaseModel):
    """Typed known fields; other fields are kept as given (plain JSON).

    JSON has no NaN: a NaN (an undefined separation, a validation accuracy without validation
    rows) is stored as null, so every float a trainer may leave undefined is ``float | None`` and
    NaN is read in as None, on the way in and on the way back from a store alike."""

    model_config = ConfigDict(extra="allow")

    @field_validator("*", mode="before")
    @classmethod
    def _nan_is_none(cls, value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, list):
            return [None if isinstance(v, float) and math.isnan(v) else v for v in value]
        return value


class EvalPoint(_Open):
    """One evaluation during training (model selection reads ``val_acc``)."""

    step: int
    val_acc: Fraction | None = None
    test_acc: Fraction | None = None
    loss: float | None = None  # the training loss at that step


class LinearProbe(_Open):
    """A linear probe of layer L_i (Alain & Bengio 2016), fitted on the frozen net's features.

    Layers wider than the probe's limit carry only ``layer`` and ``dims``."""

    layer: int = Field(ge=1)
    dims: int = Field(ge=1)
    test_acc: Fraction | None = None
    val_acc: Fraction | None = None
    l2: float | None = None  # the validation-selected ridge strength
    converged: bool | None = None
    train_rows: int | None = None


class InfoPlanePoint(_Open):
    """I(X; L_i + eps) and I(Y; L_i) of layer ``layer`` at training step ``step``, in nats.

    ``*_converged`` / ``*_steps``: whether a critic estimate stopped on its held-out plateau, and
    after how many steps; ``ixt_truth``: the Monte-Carlo ground truth of I(X; L_i + eps)."""

    step: int = Field(ge=0)
    layer: int = Field(ge=1)
    ixt: float | None  # None: the measurement was undefined (NaN)
    ixt_se: float | None = None
    iyt: float | None
    iyt_se: float | None = None
    ixt_converged: bool | None = None
    ixt_steps: int | None = None
    iyt_converged: bool | None = None
    iyt_steps: int | None = None
    ixt_truth: float | None = None
    ixt_truth_se: float | None = None


class InfoPlane(_Open):
    """The information plane of one training run (``ibbench.methods.infoplane.InfoPlaneProbe.result``)."""

    estimator: str  # measures I(X; L_i + eps)
    iyt_estimator: str  # measures I(Y; L_i)
    estimator_params: dict[str, Any] = Field(default_factory=dict)
    iyt_estimator_params: dict[str, Any] = Field(default_factory=dict)
    noise_var: float = Field(gt=0)  # variance of eps
    n_points: int = Field(ge=1)  # inputs the plane is measured on
    log_n: float  # log n_points: the ceiling of I(X; L) for a deterministic layer, nats
    points: list[InfoPlanePoint] = Field(default_factory=list)


class TrainingResult(_Open):
    """A trained network's numbers.  ``test_acc`` is the one a table reports: for trainers with
    model selection the test accuracy at the validation-selected step (``selected_step``), the last
    step's in ``test_acc_final``."""

    test_acc: Fraction
    val_acc: Fraction | None = None
    train_acc: Fraction | None = None
    steps: int | None = None
    selected_step: int | None = None
    test_acc_final: Fraction | None = None
    val_acc_final: Fraction | None = None
    evals: list[EvalPoint] = Field(default_factory=list)
    separation: list[float | None] = Field(default_factory=list)  # per layer (paper Fig. 5); None: undefined
    linear_probes: list[LinearProbe] = Field(default_factory=list)
    info_plane: InfoPlane | None = None
    #: a layer-by-layer trainer's summary of each layer as it froze (``ib-layerwise``: beta, the critics'
    #: held-out readings and the truth of I(X; L_i + eps), now and at the layer's start); empty otherwise
    layers: list[dict[str, Any]] = Field(default_factory=list)
    #: a fitted readout's fit (``trainers/readout.py``: L2 strength, gradient norm, converged)
    readout: dict[str, Any] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """A field by name, typed above or trainer-specific (kept as given), or ``default`` (also for a
        typed field left unset: None)."""
        if key in type(self).model_fields:
            value = getattr(self, key)
            return default if value is None else value
        return (self.model_extra or {}).get(key, default)
