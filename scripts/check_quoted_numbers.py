"""Check every accuracy and MI figure quoted in the READMEs and the user guide against the records of the stores
each section cites.

The texts checked (``texts()``): README.md, results/README.md, results/archive/README.md and every page of the user guide,
docs/guide/*.md, each by the same rules.

A section (a ``##`` or ``###`` heading and its text, fenced code left out; a page's text before its first
``##`` is a section too) cites the stores it names:
``results/<dir>/<file>.jsonl`` or, in results/README.md, ``<dir>/`` and ``<dir>/<file>.jsonl`` in
backticks (a directory cites every store in it); a ``###`` section also cites its ``##`` parent's.
The numbers a section may quote are those in what ibbench renders from the cited stores (every table
kind and the verdict), the records' own values (estimates, truths, accuracies, per-layer readings, wall
times, parameters), the committed text outputs beside the stores (``*.md``, ``*.json``), and the
paper's (ibbench/paper.py).  A quoted number with k decimals matches a value that rounds to it at k
decimals (accuracies also as percentages).

What counts as a figure: a decimal number followed by ``%`` or ``nats`` (also the first end of a range
``a-b %``), or either side of ``a ± b``.  Integers (counts, settings, seeds), times, sizes and speed
ratios are not checked, nor anything in code (fenced blocks, inline spans: commands and settings).
``log N = v`` is checked as arithmetic.

    python scripts/check_quoted_numbers.py            # prints every number without a source; exit 1 if any
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
NUMBER = re.compile(r"(?<![\w.])[-−+]?\d+\.\d+(?![\w.])")
_NUM = r"[-−+]?\d+\.\d+"
FIGURE = re.compile(
    rf"(?<![\w.])({_NUM})(?:\s*[-–]\s*({_NUM}))?(?=\s*(?:%|nats?\b|±))"  # 87.8 %, 1.7-2.2 nats, 0.5 ±
    rf"|(?<=±)\s*({_NUM})(?![\w.])"
)  # the error after a ±
LOG = re.compile(r"log\s*\(?(\d+)\)?\s*=\s*(\d+\.\d+)")
CODE = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^(#{2,3}) ")
# record values a text may quote: top-level numbers, and what trainers and estimators report
RECORD_KEYS = {"estimate", "estimate_stderr", "truth", "truth_stderr", "wall_time_s"}


def sections(text: str) -> Iterator[tuple[str, int, list[tuple[int, str]], str | None]]:
    """(heading, level, [(line number, line)] outside fenced code, parent ## heading) per section."""
    heading, level, parent, lines, fenced = "(top)", 1, None, [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            yield heading, level, lines, parent
            level = len(match.group(1))
            parent = line if level == 2 else parent
            heading, lines = line, []
        elif not fenced:
            lines.append((number, line))
    yield heading, level, lines, parent


def cited_paths(text: str, base: Path) -> set[Path]:
    """Stores and output files a piece of text names."""
    found: set[Path] = set()
    for match in re.finditer(r"results/([\w./-]+)", text):
        found.add(RESULTS / match.group(1).rstrip("./"))
    if base.is_relative_to(RESULTS):  # a README under results/ names its stores relative to its folder
        for match in re.finditer(r"`([\w*-]+/[\w./*-]*)`", text):
            name = match.group(1)
            if "*" in name.split("/")[0]:  # table1*/x.md: every directory the pattern matches
                found |= {d / name.split("/", 1)[1] for d in base.glob(name.split("/")[0])}
            else:
                found.add(base / name.split("*")[0].rstrip("./"))
    paths = set()
    for p in found:
        if p.is_dir():
            paths |= {q for q in p.rglob("*") if q.suffix in (".jsonl", ".md", ".json")}
        elif p.suffix in (".jsonl", ".md", ".json") and p.exists():
            paths.add(p)
        # a stem like bias/variational.* names its files
        elif p.parent.is_dir() and p.parent not in (RESULTS, base):
            paths |= {q for q in p.parent.glob(p.name + "*") if q.suffix in (".jsonl", ".md", ".json")}
    # a README inside results/ is prose, not a source: a stale number there must not vouch for itself
    return {q for q in paths if q.name != "README.md"}


def numbers_in(value, key: str = "") -> Iterator[float]:
    """Every number in a JSON value (accuracy-like fractions also as percentages)."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield float(value)
        if "acc" in key and 0 <= value <= 1:
            yield 100.0 * value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from numbers_in(v, k)
    elif isinstance(value, list) and len(value) <= 64:  # per-layer lists, not traces or curves
        for v in value:
            yield from numbers_in(v, key)


def record_numbers(record: dict) -> Iterator[float]:
    from ibbench.store.results import migrate

    record = migrate(record)  # a schema-1 record's trainer numbers move to "training"
    for key in RECORD_KEYS:
        if isinstance(record.get(key), (int, float)):
            yield float(record[key])
    yield from numbers_in(record.get("expanded", {}))
    for part in [record.get("training"), *(record.get("extras") or {}).values()]:
        if isinstance(part, dict):
            for k, v in part.items():
                if k not in ("trace", "heldout_curve", "evals", "net_evals", "fits"):
                    yield from numbers_in(v, k)
            for point in (part.get("info_plane") or {}).get("points", []):  # quoted in Figs. 3-4
                yield from numbers_in(point)


def rendered(store: Path) -> str:
    """Everything ibbench renders from one store."""
    from ibbench.reports.tables import (
        accuracy_table,
        bias_table,
        failure_table,
        layer_table,
        probe_table,
        separation_table,
    )
    from ibbench.reports.verdict import verdict_table, verdict_text
    from ibbench.store.results import ResultStore

    records = ResultStore(store).records()
    return "\n".join(
        render(records)
        for render in (
            bias_table,
            accuracy_table,
            separation_table,
            probe_table,
            layer_table,
            failure_table,
            lambda rs: verdict_text(rs, "ce"),  # the paper's reference
            lambda rs: verdict_table(rs, "ce"),
        )
    )


def allowed_numbers(paths: set[Path]) -> set[float]:
    from ibbench.paper import PAPER_ACCURACY, PAPER_FIGURES

    values = {row.accuracy for row in PAPER_ACCURACY} | set(PAPER_FIGURES.values())
    for path in paths:
        if path.name == "attestations.jsonl":  # canary and re-made-file notes, not a record store
            text = path.read_text()
        elif path.suffix == ".jsonl":
            text = rendered(path)
            for line in path.read_text().splitlines():
                if line.strip():
                    values.update(record_numbers(json.loads(line)))
        else:
            text = path.read_text()
        values.update(float(m.replace("−", "-")) for m in NUMBER.findall(text))
    return values


def quoted_matches(quoted: str, values: set[float]) -> bool:
    q = float(quoted.replace("−", "-"))
    digits = len(quoted.split(".")[1])
    tolerance = 0.5 * 10**-digits + 1e-12
    return any(abs(v - q) <= tolerance or abs(abs(v) - abs(q)) <= tolerance for v in values)


def check(readme: Path) -> list[str]:
    base = readme.parent
    text = readme.read_text()
    parents: dict[str, set[Path]] = {}
    problems = []
    for heading, level, lines, parent in sections(text):
        body = "\n".join(line for _, line in lines)
        paths = cited_paths(heading + "\n" + body, base)
        if level == 2:
            parents[heading] = paths
        elif parent is not None:
            paths |= parents.get(parent, set())
        quoted, prose = [], [(n, CODE.sub("", line)) for n, line in lines]
        for n, line in prose:
            for size, value in LOG.findall(line):  # arithmetic, checked here
                if abs(math.log(int(size)) - float(value)) > 0.5 * 10 ** -len(value.split(".")[1]):
                    problems.append(f"{readme.relative_to(ROOT)}:{n}: log {size} is not {value}")
            line = LOG.sub("", line)
            quoted += [(n, m) for match in FIGURE.findall(line) for m in match if m]
        if not quoted:
            continue
        values = allowed_numbers(paths)
        for n, m in quoted:
            if not quoted_matches(m, values):
                problems.append(
                    f"{readme.relative_to(ROOT)}:{n}: {m} ({heading.strip('# ')}) has no source in "
                    f"{sorted(str(p.relative_to(ROOT)) for p in paths) or 'no cited store'}"
                )
    return problems


def texts() -> list[Path]:
    """Every text whose quoted numbers are checked: the READMEs (the archive's too) and the user guide's pages."""
    readmes = [ROOT / "README.md", RESULTS / "README.md", RESULTS / "archive" / "README.md"]
    return [*readmes, *sorted((ROOT / "docs" / "guide").glob("*.md"))]


def main() -> int:
    problems = [p for text in texts() for p in check(text)]
    print(
        "\n".join(problems)
        if problems
        else "every quoted number has a source in the stores its section cites"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
