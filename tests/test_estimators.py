"""Each estimator within a stated tolerance on easy tasks at the smoke budget, plus determinism.

Tolerances were set from the spread over seeds measured at the smoke budget
(about 0.03 nats for MINE/AA-MINE on 1-d) with room for platform differences;
they are wide enough to pass on any CPU and narrow enough to fail on a sign,
factor or units (bits vs nats) error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ibbench.estimators.binning import BinningSaturationWarning, discretise, entropy, layer_information
from ibbench.running.runner import run
from ibbench.running.specs import EstimatorSpec, RunSpec, TaskSpec


def estimate(registry, task, est, seed=0, task_params=None, est_params=None):
    spec = RunSpec(
        task=TaskSpec(name=task, params=task_params or {}),
        estimator=EstimatorSpec(name=est, params=est_params or {}),
        seed=seed,
        budget="smoke",
    )
    return run(spec, registry)


# (estimator, task params, tolerance in nats)
EASY = [
    ("mine", {"dim": 1, "mi": 1.0}, 0.12),
    ("aa-mine", {"dim": 1, "mi": 1.0}, 0.12),
    ("mine", {"dim": 5, "mi": 1.0, "structure": "dense"}, 0.25),
    ("aa-mine", {"dim": 5, "mi": 1.0, "structure": "dense"}, 0.25),
    ("mixture", {"dim": 5, "mi": 1.0}, 0.10),
    ("mixture", {"dim": 1, "mi": 0.5}, 0.10),
    ("binning", {"dim": 1, "mi": 0.5}, 0.15),
    ("ksg", {"dim": 1, "mi": 0.5}, 0.10),
]


@pytest.mark.parametrize("est,params,tol", EASY)
def test_estimator_within_tolerance_on_easy_gaussian(registry, est, params, tol):
    record = estimate(registry, "gaussian", est, task_params=params)
    assert record.status == "ok", record.error
    assert record.truth == pytest.approx(params["mi"])
    assert abs(record.estimate - record.truth) < tol, (record.estimate, record.truth)


def test_aa_mine_on_a_linear_gaussian_channel(registry):
    record = estimate(
        registry, "gaussian-channel", "aa-mine", task_params={"x_dim": 2, "z_dim": 2, "noise_var": 1.0}
    )
    assert record.status == "ok", record.error
    assert abs(record.estimate - record.truth) < 0.15, (record.estimate, record.truth)


def test_binning_saturates_at_log_n_in_high_dimension(registry):
    """Binning in 5-d sees every sample in its own bin: the estimate is log(n), the known failure, and the
    estimator says so (a warning and ``saturated``)."""
    with pytest.warns(BinningSaturationWarning, match="x and y put nearly every one of the 2000 samples"):
        record = estimate(registry, "gaussian", "binning", task_params={"dim": 5, "mi": 1.0})
    n = record.extras["estimator"]["pairs_used"]
    assert n == 2000 and record.extras["estimator"]["saturated"] is True
    assert record.estimate == pytest.approx(math.log(n), abs=0.05)


def test_binning_in_one_dimension_is_not_saturated(registry, recwarn):
    record = estimate(registry, "gaussian", "binning", task_params={"dim": 1, "mi": 0.5})
    assert record.extras["estimator"]["saturated"] is False
    assert not [w for w in recwarn if issubclass(w.category, BinningSaturationWarning)]


def test_same_seed_same_numbers_on_cpu(registry):
    a = estimate(registry, "gaussian", "mine", seed=4, task_params={"dim": 2})
    b = estimate(registry, "gaussian", "mine", seed=4, task_params={"dim": 2})
    c = estimate(registry, "gaussian", "mine", seed=5, task_params={"dim": 2})
    assert a.estimate == b.estimate and a.estimate_stderr == b.estimate_stderr
    assert a.extras["estimator"]["trace"] == b.extras["estimator"]["trace"]
    assert c.estimate != a.estimate


def test_ema_gradient_option_runs_and_estimates(registry):
    record = estimate(
        registry, "gaussian", "mine", task_params={"dim": 1, "mi": 1.0}, est_params={"ema": 0.01}
    )
    assert record.status == "ok" and abs(record.estimate - 1.0) < 0.15


def test_aa_mine_without_a_known_network_is_a_failed_record_with_reason(registry):
    from ibbench.running.plugins import load_registry
    from tests.plugin_fixtures import nan_plugin

    reg = load_registry(extra_plugins=(("nan-plugin", nan_plugin),))
    record = run(
        RunSpec(task=TaskSpec(name="test-plain"), estimator=EstimatorSpec(name="aa-mine"), budget="smoke"),
        reg,
    )
    assert record.status == "failed"
    assert "NotApplicableError" in record.error and "use mine" in record.error


def test_nan_in_training_is_recorded_as_failed(registry):
    from ibbench.running.plugins import load_registry
    from tests.plugin_fixtures import nan_plugin

    reg = load_registry(extra_plugins=(("nan-plugin", nan_plugin),))
    record = run(
        RunSpec(task=TaskSpec(name="test-nan"), estimator=EstimatorSpec(name="mine"), budget="smoke"), reg
    )
    assert record.status == "failed"
    assert "DivergenceError" in record.error and "nan" in record.error.lower()
    assert record.estimate is None and record.extras["traceback"]


def test_layer_information_of_a_label_copy():
    """T = one-hot(y): I(X;T) = H(T) = H(Y) and I(Y;T) = H(Y)."""
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    t = np.eye(4)[y]
    info = layer_information(t, y, n_bins=10)
    h = entropy(y)
    assert info["ixt"] == pytest.approx(h) and info["iyt"] == pytest.approx(h)


def test_binning_range_adapts_to_relu_scale():
    """Activations in [0, 50] must not collapse into the top bin of a fixed [-1, 1] range."""
    t = np.linspace(0, 50, 1000)[:, None]
    assert discretise(t, 30).max() + 1 == 30
