"""The attestations file, ``results/attestations.jsonl``: reading it and asking whom it vouches for.

``ibbench.reproduction.attest`` writes canary attestations (a code change re-ran cheap cells bit for bit) and
``ibbench.reproduction.reproduce`` notes script files re-made byte for byte; ``ibbench.store.fingerprint`` reads the
first to call a stale record current, ``ibbench.reproduction.reproduce`` the second.  This module only reads and
appends lines, so the fingerprint check needs nothing that runs an experiment (no import cycle).
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import IbbenchError

ATTESTATIONS = Path("results") / "attestations.jsonl"
GONE = "-"  # the hash of a module whose file no longer exists


def processor_of(record) -> str:
    """The processor a record ran on, from ``provenance.device`` less its thread count: e.g.
    ``cpu:AMD EPYC`` or ``cuda:NVIDIA H100``.  Its floating-point kernels (AVX2, AVX-512, AMX on a CPU)
    decide the last bits of every sum, so a re-run is compared only on the processor its record names."""
    text = str(record.provenance.get("device", ""))
    return text.rsplit(" (", 1)[0] if text.endswith(" threads)") else text


def names_of(record) -> tuple[str, str, str]:
    """(task, estimator, trainer) plugin names of a record ("" where it has none)."""
    out = []
    for part in ("task", "estimator", "trainer"):
        plugin = getattr(record.spec, part, None)
        out.append(plugin.name if plugin is not None else "")
    return tuple(out)


@dataclass(frozen=True)
class Edge:
    """One attested change of one module's file, for the records of the names it covers made on the
    processor its canaries ran on (``None``: any processor; an attestation of a change since a base
    commit, ``attest_since``, whose canaries compared two codes on one processor, or one from before
    processors were compared, when every record was made on one)."""

    old: str
    new: str
    covers: frozenset[tuple[str, str, str]]
    commit: str
    processor: str | None = None


@dataclass(frozen=True)
class AttestationsFile:
    """What ``results/attestations.jsonl`` holds: the canary attestations, as {module: its attested
    changes}, and the script files re-made byte for byte, as {(file, sha256): commits, oldest first}."""

    edges: dict[str, list[Edge]]
    reproduced: dict[tuple[str, str], list[str]]


def read_attestations(path: Path = ATTESTATIONS) -> dict[str, list[Edge]]:
    """{module: its attested changes} from ``path`` (empty when there is none)."""
    return _read(str(path), path.stat().st_mtime_ns if path.exists() else None).edges


def reproduced_at(path: Path, name: str, sha256: str) -> list[str]:
    """The commits at which a script's re-run wrote file ``name`` with this ``sha256``, newest first."""
    found = _read(str(path), path.stat().st_mtime_ns if path.exists() else None).reproduced
    return found.get((name, sha256), [])[::-1]


@functools.cache
def _read(path: str, mtime: int | None) -> AttestationsFile:
    """The one reader of the attestations file (cached per modification time)."""
    edges: dict[str, list[Edge]] = defaultdict(list)
    reproduced: dict[tuple[str, str], list[str]] = defaultdict(list)
    if mtime is None:
        return AttestationsFile(edges, reproduced)
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if (
                "reproduced" in entry
            ):  # a script's file re-made byte for byte (ibbench.reproduction.reproduce)
                reproduced[(entry["reproduced"], entry["sha256"])].append(entry["commit"])
                continue
            covers = frozenset(tuple(c) for c in entry["covers"])
            for module, old, new in entry["changes"]:
                edges[module].append(Edge(old, new, covers, entry["commit"], entry.get("processor")))
        except (ValueError, KeyError, TypeError) as exc:
            raise IbbenchError(
                f"{path}, line {number}: not an attestation ({exc}); restore the file from git"
            ) from None
    return AttestationsFile(edges, reproduced)


def note_reproduced(path: Path, files: dict[str, str], commit: str) -> None:
    """Append a ``reproduced`` line per {file: sha256} re-made byte for byte by a script at ``commit``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for name, digest in files.items():
            entry = {
                "reproduced": name,
                "sha256": digest,
                "commit": commit,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            fh.write(json.dumps(entry, sort_keys=True) + "\n")


def attested_by(
    source: dict[str, str],
    changed: tuple[str, ...],
    names: tuple[str, str, str],
    today: dict[str, str],
    edges: dict[str, list[Edge]],
    processor: str | None = None,
) -> str | None:
    """The commit of the last attestation that carries every ``changed`` module of a record (its hashes in
    ``source``) to ``today``'s hash through changes covering ``names`` on the record's ``processor``;
    None where one is missing."""
    last = None
    for module in changed:
        start, goal = source.get(module, GONE), today.get(module, GONE)  # GONE: a module it never ran
        reached, todo, commit_at = {start}, [start], {start: None}
        while todo:
            here = todo.pop()
            for edge in edges.get(module, ()):
                same_processor = edge.processor is None or edge.processor == processor
                if edge.old == here and names in edge.covers and same_processor and edge.new not in reached:
                    reached.add(edge.new)
                    commit_at[edge.new] = edge.commit
                    todo.append(edge.new)
        if goal not in reached:
            return None
        last = commit_at[goal] or last
    return last
