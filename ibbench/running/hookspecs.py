"""Hook specifications: how any plugin, built-in or third-party, adds to ibbench.

A plugin is a module with functions marked ``@ibbench.api.hookimpl``.  Each
registration hook receives a ``register`` callback (the llm / tox pattern):

    @hookimpl
    def ibbench_register_estimators(register):
        register("ksg", "ibbench_ksg.estimator:KSG", description="Kraskov k-NN")

``target`` is the plugin class or a lazy ``"module:Attr"`` string, imported
only when the name is used, so ``ibbench --help`` never imports torch.
Names clash loudly; listing is sorted by name, never by hook order.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("ibbench")

Register = Callable[..., None]


@hookspec
def ibbench_register_tasks(register: Register) -> None:
    """Register tasks: ``register(name, target, description="", defaults=None, truth=None)``.

    ``defaults`` presets parameters, so one class may serve several names.  ``truth`` is the task's
    closed-form MI in nats at those defaults: ``ibbench list`` shows it without importing a lazy
    target (a class target's own ``closed_form_truth`` is asked instead when ``truth`` is left out).
    """


@hookspec
def ibbench_register_estimators(register: Register) -> None:
    """Register MI estimators: ``register(name, target, description="", defaults=None)``."""


@hookspec
def ibbench_register_trainers(register: Register) -> None:
    """Register trainers: ``register(name, target, description="", defaults=None)``."""


@hookspec
def ibbench_register_executors(register: Register) -> None:
    """Register suite executors: ``register(name, target, description="", defaults=None)``; the
    target subclasses ``ibbench.api.Executor``."""
