"""Are the records behind a table or a figure current at HEAD?  One tally, one line of text.

Every table kind (``ibbench table``: ibbench/reports/tables.py, ibbench/reports/verdict.py) ends with
``provenance_note`` of the records it was built from, and every figure (ibbench/reports/figures/) carries
``figure_note`` in small text where any of them is not current.  A record is judged by
``ibbench.store.fingerprint.record_status``: *stale* where a module it ran has changed since (the modules
that changed most often are named), *made from a dirty tree* where git saw uncommitted changes when
it ran, *of unknown tree state* where the record has no git status (made outside git, or on a copied
tree), and *not checkable* where it has no fingerprint and its commit cannot be compared here.  A
record whose reliability verdict was made by other rules than today's (``ibbench.verdicts.judgement``) is
counted apart: its numbers may be current, its verdict is not (``ibbench reproduce --rejudge``).
A record can be both stale and dirty; each count is of records.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass, field

from ..reproduction.rejudge import outdated
from ..store.cells import PARTS
from ..store.results import RunRecord

REGENERATE = "regenerate with ibbench reproduce"
NAMED = 2  # changed modules named in a note; the rest are counted


@dataclass
class Currency:
    """How many of a set of records are current at HEAD, and why the others are not."""

    total: int = 0
    current: int = 0
    stale: int = 0
    dirty: int = 0  # git status recorded uncommitted changes
    tree_unknown: int = 0  # no git status recorded: no commit is known to hold its code
    unknown: int = 0  # no fingerprint, and its commit cannot be compared here
    old_rules: int = (
        0  # a reliability verdict made by other rules than today's (ibbench.reproduction.rejudge)
    )
    attested: Counter = field(default_factory=Counter)  # short commit of a canary attestation -> records
    changed: Counter = field(default_factory=Counter)  # module -> records it makes stale
    commits: Counter = field(default_factory=Counter)  # short commit -> records

    @property
    def all_current(self) -> bool:
        return self.current == self.total and not self.old_rules

    def commits_text(self) -> str:
        if not self.commits:
            return "no recorded commit"
        if len(self.commits) == 1:
            return f"commit {next(iter(self.commits))}"
        return f"{len(self.commits)} commits"

    def changed_text(self) -> str:
        named = [m for m, _ in self.changed.most_common(NAMED)]
        rest = len(self.changed) - len(named)
        return ", ".join(named + ([f"+{rest}"] if rest else []))

    def attested_text(self) -> str:
        """'; 120 of them through canary cells re-run at commit abc1234' (empty when none is attested)."""
        if not self.attested:
            return ""
        commits = ", ".join(sorted(self.attested))
        return f"; {sum(self.attested.values())} of them through canary cells re-run at commit {commits}"

    def reasons(self) -> list[tuple[int, str]]:
        """(count, what) for each reason some records are not current, in a fixed order."""
        reasons = [
            (self.stale, "stale" + (f" (changed: {self.changed_text()})" if self.changed else "")),
            (self.dirty, "made from a dirty tree"),
            (self.tree_unknown, "of unknown tree state (no git status)"),
            (self.unknown, "not checkable (no fingerprint, commit not comparable here)"),
            (self.old_rules, "with verdicts by older reliability rules (ibbench reproduce --rejudge)"),
        ]
        return [(n, what) for n, what in reasons if n]


@functools.cache
def _default_registry():
    """The installed plugins, for records without a fingerprint (None where they cannot be loaded:
    those records then count as not checkable, and the table still renders)."""
    from ..running.plugins import load_registry

    try:
        return load_registry()
    except Exception:  # a broken third-party plugin must not stop a table from rendering
        return None


_STATUS: dict[str, object] = {}  # what record_status reads of a record -> its RecordStatus, per process


def _status(record: RunRecord, registry):
    """``record_status``, once per distinct input: it reads only the record's fingerprint, its git state,
    status, processor and (without a fingerprint) its plugins' names, which a store's records mostly share."""
    from ..store.fingerprint import record_status

    names = [
        (record.expanded.get(part) or {}).get("name")
        or getattr(getattr(record.spec, part, None), "name", None)
        for part in PARTS
    ]
    from ..reproduction.attestations import ATTESTATIONS, processor_of

    attestations = ATTESTATIONS.stat().st_mtime_ns if ATTESTATIONS.exists() else None
    key = json.dumps(
        # status and processor: attestations carry ok records made on their canaries' processor
        [
            record.provenance.get("source"),
            record.provenance.get("git"),
            names,
            id(registry),
            attestations,
            record.status == "ok",
            processor_of(record),
        ],  # fmt: skip
        sort_keys=True,
        default=str,
    )
    if key not in _STATUS:
        _STATUS[key] = record_status(record, registry)
    return _STATUS[key]


def classify(records: list[RunRecord], registry=None) -> Currency:
    """Tally ``records`` against the working tree.  ``registry`` (``ibbench.running.plugins.load_registry()``)
    is loaded here when none is given: today's code path of each record's plugins is compared with it."""
    tally = Currency(total=len(records))
    if registry is None and records:  # a record's plugins' code path today: what it never ran
        registry = _default_registry()
    for record in records:
        status = _status(record, registry)
        git = record.provenance.get("git") or {}
        if git.get("commit"):
            tally.commits[git["commit"][:7]] += 1
        tally.current += status.state == "current"
        if status.attested_at:
            tally.attested[status.attested_at[:7]] += 1
        tally.stale += status.state == "stale"
        tally.unknown += status.state == "unknown"
        if git.get("dirty") is True:
            tally.dirty += 1
        elif status.dirty:  # not recorded as clean: no commit is known to hold its code
            tally.tree_unknown += 1
        tally.changed.update(status.changed)
        tally.old_rules += outdated(record, registry)
    return tally


def provenance_note(records: list[RunRecord], registry=None) -> str:
    """One line for the end of a table: every record current at HEAD (at which commit), or how many are
    stale (and which modules changed), made from a dirty tree or cannot be checked."""
    tally = classify(records, registry)
    if tally.all_current:
        trees = "clean tree" if len(tally.commits) <= 1 else "clean trees"
        return (
            f"All {tally.total} records current at this tree (made at {tally.commits_text()}, {trees}"
            f"{tally.attested_text()})."
        )
    parts = [f"{n} {what}" for n, what in tally.reasons()]
    parts[0] = parts[0].replace(" ", f" of {tally.total} records ", 1)
    return f"Not current at HEAD: {', '.join(parts)}; made at {tally.commits_text()}; {REGENERATE}"


def with_note(text: str, records: list[RunRecord], registry=None) -> str:
    """A rendered table followed by its provenance line (after a blank line)."""
    return f"{text}\n\n{provenance_note(records, registry)}"


def figure_note(records: list[RunRecord], registry=None) -> str | None:
    """Short text for a figure whose records are not all current (None where they are)."""
    tally = classify(records, registry)
    if tally.all_current:
        return None
    counts = [
        ("stale at HEAD", tally.stale),
        ("dirty tree", tally.dirty),
        ("unknown tree state", tally.tree_unknown),
        ("not checkable", tally.unknown),
    ]
    parts = [f"{what}: {n}" for what, n in counts if n]
    parts[0] += f" of {tally.total} records"
    return f"{'; '.join(parts)}; {REGENERATE}"


def mark_figure(fig, records: list[RunRecord], registry=None) -> str | None:
    """Write ``figure_note`` in small grey text below everything the figure draws (save it with
    ``bbox_inches="tight"`` so that it is kept); returns the note, or None where all are current."""
    note = figure_note(records, registry)
    if note is not None:
        drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # inches; labels may hang below the canvas
        left, bottom = drawn.x0 / fig.get_figwidth(), min(0.0, drawn.y0 / fig.get_figheight())
        fig.text(left, bottom - 0.01, note, fontsize=6, color="0.3", ha="left", va="top")
    return note
