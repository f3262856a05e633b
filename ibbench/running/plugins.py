"""Plugin discovery and the registry of tasks, estimators and trainers.

Built-ins are listed in ``DEFAULT_PLUGINS`` and registered exactly like the
modules found through the entry-point group ``ibbench``.  Each entry point is
loaded and called on its own: a plugin that fails to import or register is
reported (plugin, distribution, error) and skipped; the rest keep working.
``IBBENCH_STRICT_PLUGINS=1`` turns such a report into an error (for CI), and
``IBBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` loads built-ins only.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata as md
import inspect
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from ..errors import PluginError, UnknownNameError
from . import hookspecs

ENTRY_POINT_GROUP = "ibbench"
KINDS = ("task", "estimator", "trainer", "executor")
DEFAULT_PLUGINS = ("ibbench.running.builtin",)
BUILTIN_DIST = "ibbench"


class PluginWarning(UserWarning):
    """A plugin was skipped; the message names it, its distribution and the error."""


@dataclass
class Entry:
    """One registered name: where it comes from and how to load it."""

    kind: str
    name: str
    target: Any  # class or "module:Attr"
    plugin: str
    distribution: str
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    truth: float | None = (
        None  # a task's closed-form MI at ``defaults``, for `ibbench list` without loading it
    )

    def load(self) -> Any:
        """The plugin class (imported now if the target is lazy), instantiated."""
        target = self.target
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            try:
                target = getattr(importlib.import_module(module_name), attr)
            except Exception as exc:  # a broken plugin must name itself
                raise PluginError(
                    f"{self.kind} {self.name!r} from {self.distribution} failed to load "
                    f"{self.target!r}: {type(exc).__name__}: {exc}; reinstall or uninstall {self.distribution}"
                ) from exc
        check_target(target, self.kind, self.name, self.distribution)
        try:
            return target()
        except Exception as exc:
            raise PluginError(
                f"{self.kind} {self.name!r} from {self.distribution} could not be built: "
                f"{type(exc).__name__}: {exc}; reinstall or uninstall {self.distribution}"
            ) from exc


NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")  # no brackets, spaces or capitals: a label's name part


def _base_class(kind: str) -> type:
    from .. import api

    return {"task": api.Task, "estimator": api.Estimator, "trainer": api.Trainer, "executor": api.Executor}[
        kind
    ]


def check_target(target: Any, kind: str, name: str, dist: str) -> None:
    """PluginError unless ``target`` is a subclass of the kind's base class (``ibbench.api.Task``, ...)
    that can be built without arguments."""
    base = _base_class(kind)
    if not isinstance(target, type) or not issubclass(target, base):
        raise PluginError(
            f"{kind} {name!r} from {dist} is registered as {target!r}, not a subclass of "
            f"ibbench.api.{base.__name__}; register the class"
        )
    required = [
        p.name
        for p in inspect.signature(target).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if required:
        raise PluginError(
            f"{kind} {name!r} from {dist}: {target.__name__} needs constructor arguments "
            f"({', '.join(required)}); ibbench builds plugins with none: give them defaults "
            f"or take them as Params"
        )


@dataclass
class Failure:
    plugin: str
    distribution: str
    error: str


def example_plugin_for(kind: str, name: str) -> str | None:
    """The folder (``plugins/NAME``) of this checkout's example plugin that registers ``name`` as a
    ``kind``: read from the ``register("name", ...)`` calls inside its ``ibbench_register_<kind>s`` hook.
    None outside a checkout (an installed wheel has no such folder) or where none does."""
    root = Path(__file__).resolve().parents[2] / "plugins"  # ibbench/running/ -> the repository
    for init in sorted(root.glob("*/*/__init__.py")) if root.is_dir() else ():
        try:
            tree = ast.parse(init.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        hooks = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.name == f"ibbench_register_{kind}s"
        ]
        for call in (c for hook in hooks for c in ast.walk(hook) if isinstance(c, ast.Call) and c.args):
            if isinstance(call.args[0], ast.Constant) and call.args[0].value == name:
                return f"plugins/{init.parent.parent.name}"
    return None


class Registry:
    """Every task, estimator and trainer name, with the distribution it came from."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.failures: list[Failure] = []

    def add(self, entry: Entry) -> None:
        existing = self.entries[entry.kind].get(entry.name)
        if existing is not None:
            raise PluginError(
                f"{entry.kind} name {entry.name!r} registered by both {existing.distribution} "
                f"and {entry.distribution}; uninstall one of them"
            )
        self.entries[entry.kind][entry.name] = entry

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.entries[kind])) or "none"
            hint = ""
            if folder := example_plugin_for(kind, name):
                hint = f"; {name} comes with the example plugin {folder} of the ibbench repository: pip install -e ./{folder}"
            raise UnknownNameError(
                f"unknown {kind} {name!r}; known {kind}s: {known} (see `ibbench list`){hint}"
            ) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])


def _entry_point_plugins() -> list[tuple[str, str, Any]]:
    """(plugin name, distribution, entry point) for the group, sorted by name."""
    found = []
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if getattr(ep, "dist", None) is not None else "unknown"
        found.append((ep.name, dist, ep))
    return sorted(found, key=lambda t: (t[0], t[1]))


def _make_register(registry: Registry, kind: str, plugin: str, dist: str, staged: list[Entry]):
    def register(
        name: str,
        target: Any,
        description: str = "",
        defaults: dict[str, Any] | None = None,
        truth: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise PluginError(
                f"plugin {plugin} ({dist}) registered a {kind} with an invalid name {name!r}; "
                f"use lowercase letters, digits, '-', '_' and '.' (e.g. 'my-estimator')"
            )
        if not isinstance(target, str):  # a lazy "module:Attr" target is checked when it is loaded
            check_target(target, kind, name, dist)
        if truth is not None and (kind != "task" or not isinstance(truth, int | float)):
            raise PluginError(
                f"plugin {plugin} ({dist}) registered {kind} {name!r} with truth={truth!r}; "
                f"truth is a task's closed-form MI in nats (a number), or leave it out"
            )
        staged.append(
            Entry(
                kind,
                name,
                target,
                plugin,
                dist,
                description,
                dict(defaults or {}),
                None if truth is None else float(truth),
            )
        )

    return register


def _register_plugin(
    pm: pluggy.PluginManager, registry: Registry, module: Any, plugin: str, dist: str
) -> None:
    """Register one plugin module and collect its names; all or nothing."""
    pm.register(module, name=plugin)
    staged: list[Entry] = []
    try:
        pm.check_pending()  # a misspelled hook name in this plugin is its error, not a silent no-op
        for kind in KINDS:
            caller = getattr(pm.hook, f"ibbench_register_{kind}s")
            for impl in caller.get_hookimpls():
                if impl.plugin is module:
                    impl.function(register=_make_register(registry, kind, plugin, dist, staged))
        for entry in staged:
            registry.add(entry)
    except BaseException:
        pm.unregister(module)
        for entry in staged:  # roll back whatever this plugin added
            if registry.entries[entry.kind].get(entry.name) is entry:
                del registry.entries[entry.kind][entry.name]
        raise


def _report(registry: Registry, plugin: str, dist: str, exc: BaseException, strict: bool) -> None:
    message = f"plugin {plugin!r} from distribution {dist} was skipped: {type(exc).__name__}: {exc}"
    if strict:
        raise PluginError(message + " (IBBENCH_STRICT_PLUGINS is set)")
    registry.failures.append(Failure(plugin, dist, f"{type(exc).__name__}: {exc}"))
    warnings.warn(message, PluginWarning, stacklevel=3)


def load_registry(
    *,
    entry_points: bool | None = None,
    strict: bool | None = None,
    extra_plugins: tuple[tuple[str, Any], ...] = (),
) -> Registry:
    """Build a fresh registry: built-ins, then entry points, then ``extra_plugins``
    (``(name, module)`` pairs, for tests and embedding)."""
    if entry_points is None:
        entry_points = os.environ.get("IBBENCH_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
    if strict is None:
        strict = os.environ.get("IBBENCH_STRICT_PLUGINS", "") not in ("", "0")
    pm = pluggy.PluginManager("ibbench")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    for module_name in DEFAULT_PLUGINS:  # a broken built-in is a bug: let it raise
        _register_plugin(pm, registry, importlib.import_module(module_name), module_name, BUILTIN_DIST)
    if entry_points:
        for plugin, dist, ep in _entry_point_plugins():
            if pm.has_plugin(plugin):
                continue
            try:
                _register_plugin(pm, registry, ep.load(), plugin, dist)
            except Exception as exc:
                _report(registry, plugin, dist, exc, strict)
    for plugin, module in extra_plugins:
        try:
            _register_plugin(pm, registry, module, plugin, getattr(module, "__distribution__", plugin))
        except Exception as exc:
            _report(registry, plugin, plugin, exc, strict)
    registry.plugin_manager = pm
    return registry
