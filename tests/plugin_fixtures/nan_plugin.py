"""A test-only plugin: a task that emits NaN (to test divergence) and one with no known network,
estimators that misbehave the ways a third-party one can (NaN, numpy values, sys.exit), and trainers
whose results do not fit the record's typed training result."""

from __future__ import annotations

import sys

import numpy as np
import torch

from ibbench.api import Estimate, Estimator, Params, Task, TaskInstance, Trainer, hookimpl


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


class InfEstimate(_Misbehaving):
    def estimate(self, task, params, ctx):
        return Estimate(value=float("inf"), stderr=0.1)


class Raises(_Misbehaving):
    def estimate(self, task, params, ctx):
        raise RuntimeError("the plugin's own bug")


class NumpyExtras(_Misbehaving):
    def estimate(self, task, params, ctx):
        return Estimate(
            value=np.float64(0.25),
            stderr=np.float32(0.5),
            extras={
                "curve": np.arange(3.0),
                "best": np.int64(2),
                "flag": np.bool_(True),
                "tensor": torch.ones(2),
                3: (1, 2),
            },
        )


class Exits(_Misbehaving):
    def estimate(self, task, params, ctx):
        sys.exit(3)


class DiesHard(_Misbehaving):
    def estimate(self, task, params, ctx):
        import os

        os._exit(3)  # no exception, no cleanup: as a kill or the out-of-memory killer would end it


class ReportsThreads(_Misbehaving):
    def estimate(self, task, params, ctx):
        return Estimate(value=0.5, stderr=0.1, extras={"threads": torch.get_num_threads()})


class Hangs(_Misbehaving):
    def estimate(self, task, params, ctx):
        import time

        time.sleep(10_000)  # a plugin stuck in a Python-level wait


class HangsInNativeCode(_Misbehaving):
    def estimate(self, task, params, ctx):
        import signal
        import time

        # as a call stuck inside C code: no Python signal handler runs while it lasts
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(10_000)


@hookimpl
def ibbench_register_estimators(register):
    register("test-threads", ReportsThreads, description="test: reports torch's thread count")
    register("test-hang", Hangs, description="test: never returns")
    register("test-hang-native", HangsInNativeCode, description="test: never returns, deaf to signals")
    register("test-nan-estimate", NaNEstimate, description="test: returns NaN")
    register("test-inf-estimate", InfEstimate, description="test: returns inf")
    register("test-raise", Raises, description="test: raises RuntimeError")
    register("test-numpy-extras", NumpyExtras, description="test: numpy and torch values in its extras")
    register("test-exit", Exits, description="test: calls sys.exit(3)")
    register("test-die", DiesHard, description="test: its process dies (os._exit)")


class _Untyped(Trainer):
    Params = Params
    budgets = {"smoke": {}, "quick": {}, "paper": {}}


class AccuracyAsText(_Untyped):
    def train(self, task, params, ctx, probe=None):
        return {"test_acc": "high", "curve": np.arange(3.0)}


class NoAccuracy(_Untyped):
    def train(self, task, params, ctx, probe=None):
        return {"val_acc": np.float64(0.5)}


class ExtraFields(_Untyped):
    def train(self, task, params, ctx, probe=None):
        return {"test_acc": np.float32(0.75), "my_diagnostic": {"norms": torch.ones(2)}}


@hookimpl
def ibbench_register_trainers(register):
    register("test-acc-text", AccuracyAsText, description="test: test_acc is a string")
    register("test-no-acc", NoAccuracy, description="test: no test_acc")
    register("test-extra-fields", ExtraFields, description="test: numpy accuracy and its own diagnostics")
