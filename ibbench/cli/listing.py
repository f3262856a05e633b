"""``ibbench list``: the registered tasks, estimators and trainers, with where each comes from."""

from __future__ import annotations

import json

from . import options as o


def register(sub) -> dict:
    lst = sub.add_parser("list", help="list tasks, estimators and trainers with their distribution")
    lst.add_argument(
        "--json", action="store_true", help="print the registry as JSON (with each task's truth)"
    )
    return {"list": cmd_list}


def cmd_list(args) -> int:
    from ..running.plugins import KINDS

    registry = o.registry()
    truths = {n: _listed_truth(registry.entries["task"][n]) for n in registry.names("task")}
    if args.json:
        out = {
            kind: [
                {
                    "name": n,
                    "distribution": registry.entries[kind][n].distribution,
                    "description": registry.entries[kind][n].description,
                    **({"truth": truths[n]} if kind == "task" else {}),
                }
                for n in registry.names(kind)
            ]
            for kind in KINDS
        }
        out["failures"] = [vars(f) for f in registry.failures]
        print(json.dumps(out, indent=2))
        return 0
    for kind in KINDS:
        print(f"{kind}s:")
        print(_kind_table(registry, kind, truths))
        print()
    for f in registry.failures:
        print(f"skipped plugin {f.plugin!r} from {f.distribution}: {f.error}")
    return 0


def _kind_table(registry, kind: str, truths: dict) -> str:
    """One kind's plugins as a plain table (tasks with their truth at the registered defaults)."""
    from tabulate import tabulate

    rows, headers = [], ["name", "distribution", "description"]
    for n in registry.names(kind):
        entry = registry.entries[kind][n]
        truth = [] if kind != "task" else ["-" if truths[n] is None else f"{truths[n]:.6f}"]
        rows.append([n, entry.distribution, *truth, entry.description])
    if kind == "task":
        headers.insert(2, "truth (nats)")
    return tabulate(rows, headers=headers, disable_numparse=True) if rows else "  (none registered)"


def _listed_truth(entry) -> float | None:
    """A task's truth at its registered defaults: the number it registered, else (for a class target,
    whose module is imported already) its closed form; a lazy target is never imported here, so
    listing imports no torch.  None where neither gives one, also for a plugin that fails."""
    if entry.truth is not None or isinstance(entry.target, str):
        return entry.truth
    try:
        task = entry.load()
        return task.closed_form_truth(task.params_for("quick", entry.defaults))
    except Exception:  # noqa: BLE001 - a broken plugin is reported by the registry, not here
        return None
