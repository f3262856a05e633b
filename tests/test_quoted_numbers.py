"""Every accuracy and MI figure the READMEs and the user guide (docs/guide/) quote comes from a record of a
store its section cites (scripts/check_quoted_numbers.py), and the check does catch a number that has no
record."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "check_quoted_numbers", ROOT / "scripts" / "check_quoted_numbers.py"
)
checker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checker)


def test_every_quoted_figure_in_the_readmes_and_the_user_guide_has_a_source():
    texts = checker.texts()
    guide = sorted((ROOT / "docs" / "guide").glob("*.md"))
    archive = ROOT / "results" / "archive" / "README.md"
    assert texts == [ROOT / "README.md", ROOT / "results" / "README.md", archive, *guide]
    assert ROOT / "docs" / "guide" / "results.md" in guide  # the full Results section, moved out of README.md
    problems = [p for text in texts for p in checker.check(text)]
    assert not problems, "\n".join(problems)


def test_a_user_guide_page_is_checked_like_a_readme(tmp_path, monkeypatch):
    """A page of docs/guide/ cites stores by their repository paths (``results/x/runs.jsonl``, also inside
    a relative link ``../../results/x/runs.jsonl``), its text before the first ``##`` included."""
    results = tmp_path / "results"
    (results / "demo").mkdir(parents=True)
    (results / "demo" / "table.md").write_text("| estimator | estimate |\n|---|---|\n| ksg | 0.973 |\n")
    page = tmp_path / "docs" / "guide" / "page.md"
    page.parent.mkdir(parents=True)
    page.write_text(
        "# Page\n\nKSG reads 0.97 nats ([table](../../results/demo/table.md)); 0.91 nats too.\n\n"
        "## Uncited\n\nKSG reads 0.97 nats.\n"
    )
    monkeypatch.setattr(checker, "ROOT", tmp_path)
    monkeypatch.setattr(checker, "RESULTS", results)
    problems = checker.check(page)
    assert len(problems) == 2, problems
    assert "page.md:3: 0.91 " in problems[0] and "page.md:7: 0.97 (Uncited)" in problems[1]


def test_a_figure_without_a_record_is_caught(tmp_path, monkeypatch):
    results = tmp_path / "results"
    (results / "demo").mkdir(parents=True)
    record = {
        "schema_version": 1,
        "id": "a",
        "created": "2026-11-30T00:00:00+00:00",
        "status": "ok",
        "error": None,
        "spec": {
            "task": {"name": "gaussian", "params": {"dim": 1, "mi": 1.0}},
            "estimator": {"name": "ksg", "params": {}},
            "seed": 0,
            "budget": "quick",
            "device": "cpu",
        },
        "task_label": "gaussian[dim=1,mi=1.0]",
        "device": "cpu",
        "wall_time_s": 1.0,
        "estimate": 0.9731,
        "truth": 1.0,
        "extras": {},
    }
    (results / "demo" / "runs.jsonl").write_text(json.dumps(record) + "\n")
    readme = results / "README.md"
    readme.write_text(
        "# r\n\n## KSG (`demo/`)\n\nKSG reads 0.97 nats (truth 1.0 nats); another 0.91 nats.\n"
        "log 10 = 2.30 and log 128 = 4.80.\n\n## Uncited\n\nIt reached 88.7 % somewhere.\n"
    )
    monkeypatch.setattr(checker, "ROOT", tmp_path)
    monkeypatch.setattr(checker, "RESULTS", results)
    problems = checker.check(readme)
    assert len(problems) == 3, problems
    text = "\n".join(problems)
    assert ": 0.91 " in text and "log 128 is not 4.80" in text and ": 88.7 " in text


def test_a_readme_under_results_is_prose_not_a_source():
    """A number kept only in a results folder's README (prose, perhaps stale) must not vouch for a
    quote: the mine-budget README once kept numbers of a store since regenerated."""
    paths = checker.cited_paths("results/benchmarks/mine-budget/", checker.RESULTS)
    assert paths and all(p.name != "README.md" for p in paths)
    assert any(p.name == "runs.jsonl" for p in paths)


def test_the_archive_readme_cites_stores_beside_it(tmp_path, monkeypatch):
    """results/archive/README.md names its stores as results/README.md does, relative to its own folder:
    `old/` there is results/archive/old/, not results/old/ (a published store of the same name)."""
    results = tmp_path / "results"
    (results / "archive" / "old").mkdir(parents=True)
    (results / "old").mkdir()
    (results / "archive" / "old" / "table.md").write_text("| trainer | acc |\n|---|---|\n| ce | 87.91 |\n")
    (results / "old" / "table.md").write_text("| trainer | acc |\n|---|---|\n| ce | 98.11 |\n")
    readme = results / "archive" / "README.md"
    readme.write_text("# a\n\n## Old (`old/`)\n\nCE read 87.91 %, and 98.11 % elsewhere.\n")
    monkeypatch.setattr(checker, "ROOT", tmp_path)
    monkeypatch.setattr(checker, "RESULTS", results)
    problems = checker.check(readme)
    assert len(problems) == 1 and ": 98.11 " in problems[0], problems
