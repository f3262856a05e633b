"""Run a grid of cells from a TOML suite, appending each record the moment it ends.

Every cell is resolved (names, parameters) before the first one runs, so a
typo costs nothing.  Cells whose spec already has a record in the store are
skipped, so re-running the same command after an interruption finishes the
grid without repeating work.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from .errors import SpecError
from .plugins import Registry
from .results import ResultStore, summarise
from .runner import execute, resolve
from .specs import RunSpec, load_suite


def spec_key(spec: RunSpec) -> str:
    return spec.model_dump_json()


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 0 <= K < N: this process runs cells K, K+N, K+2N, ..."""
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 0 <= int(k) < int(n):
        raise SpecError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. --shard 0/4")
    return int(k), int(n)


def run_suite(path: str | Path, *, out: Path | None, registry: Registry, show_progress: bool = False,
              shard: tuple[int, int] = (0, 1)) -> int:
    """Run every missing cell (of this shard); returns how many cells failed in this invocation."""
    suite = load_suite(path)
    store = ResultStore(out or Path("results") / f"{suite.name}.jsonl")
    k, n = shard
    cells = suite.cells()[k::n]
    name = suite.name if n == 1 else f"{suite.name} (shard {k}/{n})"
    return run_cells(name, cells, store, registry, show_progress=show_progress)


def run_cells(name: str, cells: list[RunSpec], store: ResultStore, registry: Registry, *,
              show_progress: bool = False) -> int:
    """Run the cells missing from ``store``, appending each record as it ends; returns failures."""
    resolved = [resolve(cell, registry) for cell in cells]  # fail fast on any bad name or parameter
    done = {spec_key(r.spec) for r in store.records()}
    todo = [r for r in resolved if spec_key(r.spec) not in done]
    print(f"{name}: {len(cells)} cells, {len(cells) - len(todo)} already in {store.path}, "
          f"running {len(todo)}", file=sys.stderr)
    failed = 0
    for item in tqdm(todo, desc=name, disable=not show_progress, file=sys.stderr):
        record = execute(item, show_progress=False)
        store.append(record)
        failed += record.status != "ok"
        print(summarise(record), file=sys.stderr)
    return failed
