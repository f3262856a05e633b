"""The fitted readout (trainers/readout.py) reaches the convex optimum, whatever the features' conditioning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression

from ibbench.errors import DataError
from ibbench.trainers.readout import Standardisation, fit_readout


def _badly_conditioned(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """10 classes in 12-d, correlated, columns scaled over 4 decades and offset by 1e3."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    centres = torch.randn(10, 12, generator=g, dtype=torch.float64)
    z = centres[labels] + 1.5 * torch.randn(n, 12, generator=g, dtype=torch.float64)
    mix = torch.eye(12, dtype=torch.float64) + 0.3 * torch.randn(12, 12, generator=g, dtype=torch.float64)
    scales = torch.logspace(-2, 2, 12, dtype=torch.float64)
    return (z @ mix) * scales + 1e3, labels


def test_the_fit_reaches_the_l_bfgs_optimum_within_1e_3_nats():
    h, y = _badly_conditioned(3000, 0)
    l2 = 1e-3
    _, record = fit_readout((h, y), (h[:0], y[:0]), 10, l2_grid=(l2,))
    # the same strictly convex problem on the standardised features, solved by scikit-learn to a tight tolerance:
    # C sum_i CE_i + ||W||^2 / 2 is n C / 1 times mean CE + (lambda / 2) ||W||^2 for C = 1 / (n lambda)
    z = Standardisation.fit(h)(h).numpy()
    ref = LogisticRegression(C=1 / (len(y) * l2), tol=1e-12, max_iter=100000).fit(z, y.numpy())
    log_p = log_softmax(z @ ref.coef_.T + ref.intercept_, axis=1)
    optimum = -log_p[np.arange(len(y)), y.numpy()].mean() + 0.5 * l2 * (ref.coef_**2).sum()
    assert record["converged"]
    assert abs(record["loss"] - optimum) < 1e-3
    assert record["loss"] <= optimum + 1e-6  # not worse than the reference


def test_the_folded_linear_layer_is_the_selected_fit_on_raw_features():
    h, y = _badly_conditioned(4000, 1)
    linear, record = fit_readout((h[:3000], y[:3000]), (h[3000:], y[3000:]), 10)
    val_acc = (linear(h[3000:]).argmax(1) == y[3000:]).double().mean().item()
    assert val_acc == record["val_acc"]  # the layer returned is the one scored, on any CPU
    assert record["val_acc"] == max(f["val_acc"] for f in record["fits"])
    assert len(record["fits"]) == 5 and all(f["converged"] for f in record["fits"])


def test_the_readout_does_not_care_about_the_features_scale():
    h, y = _badly_conditioned(2000, 2)
    _, a = fit_readout((h[:1500], y[:1500]), (h[1500:], y[1500:]), 10)
    _, b = fit_readout((1e-4 * h[:1500] - 7, y[:1500]), (1e-4 * h[1500:] - 7, y[1500:]), 10)
    assert a["l2"] == b["l2"] and a["val_acc"] == b["val_acc"]
    assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)


def test_constant_feature_directions_are_dropped_not_blown_up():
    h, y = _badly_conditioned(1000, 3)
    h = torch.cat([h, torch.zeros(1000, 3, dtype=h.dtype)], 1)  # dead units
    linear, record = fit_readout((h, y), (h[:0], y[:0]), 10, l2_grid=(1e-3,))
    assert record["dims_used"] == 12 and torch.isfinite(linear.weight).all()


def test_non_finite_features_are_a_data_error():
    h, y = _badly_conditioned(100, 4)
    h[3, 2] = float("nan")
    with pytest.raises(DataError, match="NaN or inf"):
        fit_readout((h, y), (h[:0], y[:0]), 10)
