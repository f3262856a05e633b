"""A cell's identity, in one place.

A suite cell, the record it leaves, the claim a worker takes on it and the snapshot a killed run
resumes from all answer to one ``CellKey``: each part's name and *validated, expanded* parameters (as a
record stores them under ``expanded``), the seed, budget and device, as canonical JSON.  Key order and
number spelling in a suite file ({dim: 5, mi: 2} or {mi: 2.0, dim: 5}) do not change it; a changed
default does (the reproduce check then reports a missing cell).

Snapshots written before keys were canonical named their cell by the RunSpec as written: an older
spelling, which ``CellKey.spelled_by`` recognises so that such a snapshot is adopted, not lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import IbbenchError
from ..running.specs import RunSpec

#: the plugin parts of a cell, as a record's ``expanded`` names them
PARTS = ("task", "estimator", "trainer", "label_estimator")
HASH_CHARS = 24  # of a key's sha256, naming its claim and snapshot files


class Recorded(Protocol):
    """What a key is read from: a stored record (``ibbench.store.results.RunRecord``) or a run about to make one."""

    expanded: dict[str, Any]
    spec: RunSpec


@dataclass(frozen=True)
class CellKey:
    """The identity of one cell; ``text`` is its canonical JSON (hashable, comparable)."""

    text: str

    @classmethod
    def of(cls, expanded: dict[str, Any], spec: RunSpec) -> CellKey:
        """From a record's ``expanded`` parts (distributions aside) and its spec's seed, budget and device;
        a record without ``expanded`` (the oldest stores) is keyed by its spec."""
        if "task" not in expanded:
            return cls(spec.model_dump_json())
        seed, budget, device = spec.seed, spec.budget, spec.device
        parts = {
            k: {"name": expanded[k]["name"], "params": expanded[k]["params"]} for k in PARTS if k in expanded
        }
        cell: dict[str, Any] = {"parts": parts, "seed": seed, "budget": budget, "device": device}
        if "preprocess" in expanded:  # an estimation run's map of the pairs (ibbench.methods.preprocess)
            cell["preprocess"] = expanded["preprocess"]
        return cls(json.dumps(cell, sort_keys=True))

    @classmethod
    def of_record(cls, record: Recorded) -> CellKey:
        """The cell a record answers."""
        return cls.of(record.expanded, record.spec)

    def file_name(self, suffix: str) -> str:
        """``<sha256 of the key>`` + ``suffix``: the name of this cell's claim or snapshot file."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:HASH_CHARS] + suffix

    def spelled_by(self, text: str, key_of: Callable[[RunSpec], CellKey]) -> bool:
        """Whether ``text``, a snapshot's stored key, is an older spelling of this cell: a RunSpec as
        written whose key (``key_of``: resolved with the run's registry, ``ibbench.running.runner.cell_of``) is
        this one.  False for a canonical key (this one or another cell's) or a spec whose plugins are gone."""
        if text == self.text:
            return False
        try:
            return key_of(RunSpec.model_validate_json(text)) == self
        except (ValueError, IbbenchError):  # a canonical key is no RunSpec; a plugin may be gone
            return False

    def __str__(self) -> str:
        return self.text
