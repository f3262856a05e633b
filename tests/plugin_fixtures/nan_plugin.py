"""A test-only plugin: a task that emits NaN (to test divergence) and one with no known network."""

from __future__ import annotations

import torch

from ibbench.api import Task, TaskInstance, hookimpl


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
