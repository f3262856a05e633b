"""Integration: the network tasks on MNIST and on the CIFAR-10 JPEG copy from ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest

from ibbench.reports.tables import accuracy_table
from ibbench.running.runner import run
from ibbench.running.specs import RunSpec

pytestmark = pytest.mark.integration


def spec(task, params=None, trainer="ce", trainer_params=None):
    return RunSpec.model_validate(
        {
            "task": {"name": task, "params": params or {}},
            "budget": "smoke",
            "device": "cpu",
            "trainer": {"name": trainer, "params": trainer_params or {}},
        }
    )


def test_mnist_one_percent_is_class_balanced_and_the_test_set_is_full(registry, with_mnist, ctx):
    from ibbench.data import load_mnist
    from ibbench.tasks.network_tasks import MNISTMLP

    task = MNISTMLP().build(MNISTMLP.params_for("smoke", {"train_fraction": 0.01}), ctx)
    d = task.data
    _, labels = load_mnist("train")
    expected = np.round(0.01 * np.bincount(labels, minlength=10)).astype(int)  # 1% of each class
    counts = np.bincount(d.train_y.numpy(), minlength=10) + np.bincount(d.val_y.numpy(), minlength=10)
    assert counts.tolist() == expected.tolist()
    assert (
        np.bincount(d.val_y.numpy(), minlength=10).tolist() == np.round(0.1 * expected).astype(int).tolist()
    )
    assert d.test_x.shape == (10000, 784)
    assert float(d.train_x.max()) <= 1.0 and float(d.train_x.min()) >= 0.0


def test_mnist_mlp_trains_and_the_table_shows_the_papers_number(registry, with_mnist):
    record = run(spec("mnist-mlp", {"train_fraction": 0.01}), registry)
    assert record.status == "ok", record.error
    assert record.training.model_dump()["test_acc"] > 0.5
    table = accuracy_table([record])
    assert "86.48 (Table 1)" in table and "1%" in table


def test_cifar_conv_on_the_jpeg_copy_says_so(registry, cifar_dir, monkeypatch):
    monkeypatch.setenv("IBBENCH_DATA", str(cifar_dir))
    record = run(spec("cifar-conv", trainer_params={"steps": 30, "eval_points": 1}), registry)
    assert record.status == "ok", record.error
    assert record.extras["task"]["lossy_data"] is True
    assert record.extras["task"]["source"] == "CIFAR-10 (JPEG q75 copy)"
    assert record.extras["task"]["n_test"] == 10000
    assert "CIFAR-10 (JPEG q75 copy)" in accuracy_table([record])
