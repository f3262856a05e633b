"""A test-only plugin: a task that emits NaN (to test divergence) and one with no known network, and
estimators that misbehave the ways a third-party one can: NaN, numpy values, sys.exit."""

from __future__ import annotations

import sys

import numpy as np
import torch

from ibbench.api import Estimate, Estimator, Params, Task, TaskInstance, hookimpl


class _Plain(TaskInstance):
    x_dim = y_dim = 2

    def sample(self, n, generator):
        x = torch.randn(n, 2, generator=generator)
        return x, x + torch.randn(n, 2, generator=generator)


class _NaN(_Plain):
    def sample(self, n, generator):
        x, y = super().sample(n, generator)
        return x, y * float("nan")


class PlainTask(Task):
    def build(self, params, ctx):
        return _Plain()


class NaNTask(Task):
    def build(self, params, ctx):
        return _NaN()


@hookimpl
def ibbench_register_tasks(register):
    register("test-plain", PlainTask, description="test: no known network")
    register("test-nan", NaNTask, description="test: NaN samples")


class _Misbehaving(Estimator):
    Params = Params
    budgets = {"smoke": {}, "quick": {}, "paper": {}}


class NaNEstimate(_Misbehaving):
    def estimate(self, task, params, ctx):
        return Estimate(value=float("nan"), stderr=0.1)


class NumpyExtras(_Misbehaving):
    def estimate(self, task, params, ctx):
        return Estimate(value=np.float64(0.25), stderr=np.float32(0.5),
                        extras={"curve": np.arange(3.0), "best": np.int64(2), "flag": np.bool_(True),
                                "tensor": torch.ones(2), 3: (1, 2)})


class Exits(_Misbehaving):
    def estimate(self, task, params, ctx):
        sys.exit(3)


class DiesHard(_Misbehaving):
    def estimate(self, task, params, ctx):
        import os

        os._exit(3)  # no exception, no cleanup: as a kill or the out-of-memory killer would end it


@hookimpl
def ibbench_register_estimators(register):
    register("test-nan-estimate", NaNEstimate, description="test: returns NaN")
    register("test-numpy-extras", NumpyExtras, description="test: numpy and torch values in its extras")
    register("test-exit", Exits, description="test: calls sys.exit(3)")
    register("test-die", DiesHard, description="test: its process dies (os._exit)")
