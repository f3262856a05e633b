"""A trainer's checkpoint: the state of its parts (net, optimiser, batch stream, model selection,
probe, ...) and their restoration, the global RNG last."""

from __future__ import annotations

from typing import Any

from ..running.checkpoints import restore_global_rng

__all__ = ["restore_global_rng", "restore_parts", "state_of"]


def state_of(parts: dict[str, Any]) -> dict[str, Any]:
    """Each part's ``state_dict()`` (None for an absent part, e.g. no probe): a checkpoint's body."""
    return {name: None if part is None else part.state_dict() for name, part in parts.items()}


def restore_parts(state: dict[str, Any] | None, parts: dict[str, Any]) -> None:
    """Load a checkpoint's parts, then the global RNG (building the parts drew from it); no-op without one."""
    if state is None:
        return
    for name, part in parts.items():
        if part is not None:
            part.load_state_dict(state[name])
    restore_global_rng(state["rng"])
