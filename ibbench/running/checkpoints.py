"""Checkpoints inside a long training cell: a killed cell resumes from its last snapshot.

A trainer offers a snapshot at the end of every step (``RunContext.save_state``);
the checkpointer writes one when ``every_s`` seconds have passed since the last,
atomically (temp file, fsync, rename), so a kill at any moment leaves either the
previous snapshot or the new one.  Each snapshot also holds the global RNG
states (torch, CUDA, numpy, random), which dropout and critic initialisation
draw from, so a resumed cell gives the same numbers as one never killed.

A snapshot is named by its cell (``ibbench.store.cells.CellKey``); it holds the key and a format
version, and one written for another cell or format is set aside with a warning (the
cell starts afresh: slower, never wrong).  The runner deletes it once the
cell's record is in the store.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store.atomic import atomic_write
from ..store.cells import CellKey

CHECKPOINT_FORMAT = 1
DEFAULT_EVERY_S = 300.0


class CheckpointWarning(UserWarning):
    pass


def checkpoint_dir_for(store_path: Path) -> Path:
    """Where the snapshots of a store's unfinished cells live: ``results/x.jsonl`` -> ``results/x.checkpoints``."""
    return store_path.with_suffix(".checkpoints")


def checkpoint_path(directory: Path, cell: CellKey) -> Path:
    return Path(directory) / cell.file_name(".pt")


def global_rng_state() -> dict[str, Any]:
    """torch, CUDA, numpy and ``random`` states as tensors, lists and numbers (loadable weights-only)."""
    import numpy as np
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    version, mt, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
        "random": [version, list(mt), gauss_next],
    }


def restore_global_rng(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, mt, gauss_next = state["random"]
    random.setstate((version, tuple(mt), gauss_next))


class Checkpointer:
    """One cell's snapshot file: ``load`` what a killed run left, ``offer`` new snapshots
    (``CheckpointPolicy.clear`` deletes it once the record is stored)."""

    def __init__(
        self,
        path: Path,
        cell: CellKey,
        every_s: float = DEFAULT_EVERY_S,
        older_spelling: Callable[[str], bool] | None = None,
    ) -> None:
        self.path, self.cell, self.every_s = Path(path), cell, every_s
        #: does a snapshot's stored key name this cell under an older spelling (``CellKey.spelled_by``)?
        self.older_spelling = older_spelling
        self.started = self.last_save = time.monotonic()
        self.saves = 0
        self.resumed: dict[str, Any] | None = None  # what the record says about the snapshot it resumed from

    def load(self) -> dict[str, Any] | None:
        """The trainer state of the last snapshot, or None (no snapshot, or one that cannot be used)."""
        import torch

        if not self.path.exists() and not self._adopt_older_spelling():
            return None
        try:
            # weights_only: a snapshot is tensors and plain data, so loading one runs no pickled code
            data = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a torn or foreign file: start the cell afresh, keep the file for a look
            return self._set_aside(f"it cannot be read ({type(exc).__name__}: {exc})")
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            return self._set_aside(
                f"it has checkpoint format {found!r} and this ibbench reads {CHECKPOINT_FORMAT}"
            )
        if data.get("spec") != self.cell.text:
            return self._set_aside("it belongs to another spec")
        self.resumed = {
            "progress": data["progress"],
            "saved": data["saved"],
            "commit": data.get("commit"),
            "wall_time_before_s": data["wall_time_s"],
        }
        return data["state"]

    def _adopt_older_spelling(self) -> bool:
        """Take over a snapshot of this very cell saved under an older spelling of its key (ibbench
        before cell keys were the canonical expanded parameters named snapshots by the spec as
        written): it is renamed to this cell's file, its stored key updated, and resumed."""
        import torch

        if self.older_spelling is None or not self.path.parent.is_dir():
            return False
        for other in sorted(self.path.parent.glob("*.pt")):
            try:
                data = torch.load(other, map_location="cpu", weights_only=True)
                spec = data.get("spec")
                if not isinstance(spec, str) or not self.older_spelling(spec):
                    continue
            except Exception:  # noqa: BLE001 - a foreign or torn file, or a spec of a plugin gone: not ours
                continue
            data["spec"] = self.cell.text
            with atomic_write(self.path) as fh:
                torch.save(data, fh)
            other.unlink()
            warnings.warn(
                f"checkpoint {other.name} holds this cell under an older spelling of its key; resuming "
                f"it as {self.path.name}",
                CheckpointWarning,
                stacklevel=3,
            )
            return True
        return False

    def _set_aside(self, why: str) -> None:
        aside = self.path.with_suffix(".unusable")
        os.replace(self.path, aside)
        warnings.warn(
            f"checkpoint {self.path} not used: {why}; moved to {aside.name}, the cell starts afresh",
            CheckpointWarning,
            stacklevel=3,
        )
        return None

    def due(self) -> bool:
        return time.monotonic() - self.last_save >= self.every_s

    def wall_time_s(self) -> float:
        """Seconds this cell has trained, the runs before a kill included."""
        before = self.resumed["wall_time_before_s"] if self.resumed else 0.0
        return before + time.monotonic() - self.started

    def offer(self, progress: dict[str, Any], make_state: Callable[[], dict[str, Any]]) -> bool:
        """Save ``make_state()`` if a snapshot is due; ``progress`` says where in training it is."""
        if not self.due():
            return False
        import torch

        from ..store.provenance import git_state

        state = {
            **make_state(),
            "rng": global_rng_state(),
        }  # the trainer restores it last (restore_global_rng)
        data = {
            "format": CHECKPOINT_FORMAT,
            "spec": self.cell.text,  # the key's text, under the name snapshots have always used
            "progress": progress,
            "state": state,
            "wall_time_s": self.wall_time_s(),
            "commit": git_state()["commit"],
            "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path) as fh:  # a kill leaves the old snapshot or the new one
            torch.save(data, fh)
        self.last_save = time.monotonic()
        self.saves += 1
        return True


@dataclass(frozen=True)
class CheckpointPolicy:
    """Where a store's cells keep their snapshots and how often they write one; plain data, so it
    travels with a cell to a pool worker or a Slurm job (the directory must be shared with them)."""

    directory: str
    every_s: float = DEFAULT_EVERY_S

    @classmethod
    def for_store(cls, store_path: Path, every_s: float = DEFAULT_EVERY_S) -> CheckpointPolicy:
        return cls(str(checkpoint_dir_for(Path(store_path))), every_s)

    def checkpointer(
        self, cell: CellKey, older_spelling: Callable[[str], bool] | None = None
    ) -> Checkpointer:
        return Checkpointer(checkpoint_path(Path(self.directory), cell), cell, self.every_s, older_spelling)

    def clear(self, cell: CellKey) -> None:
        """Delete a cell's snapshot (its record is stored), and the directory once it is empty."""
        path = checkpoint_path(Path(self.directory), cell)
        path.unlink(missing_ok=True)
        for torn in path.parent.glob(f"{path.stem}.tmp*"):  # a write cut short by a kill
            torn.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            Path(self.directory).rmdir()
