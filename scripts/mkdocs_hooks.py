"""mkdocs hooks (mkdocs.yml's ``hooks``): the hand-written pages under docs/ as the site shows them.

The hand-written pages, the user guide under docs/guide/ among them, are written to read on GitHub
too: a link to a repository file outside docs/ is its relative path (``../../results/README.md``), a
heading's anchor is GitHub's, a pipe in a table's code span is ``\\|``.  As mkdocs reads each such page,
``build_docs.site_page`` points those links at the pages that show their targets (results/README.md at
the results write-up, a committed table at its result's section), unescapes the pipes and gives each
heading GitHub's anchor: the same rewriting ``scripts/build_docs.py`` gives the READMEs it copies.  The
pages that script generates are left as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_docs  # noqa: E402 (scripts/ is not a package)

_site: build_docs.Site | None = None


def on_config(config):
    """A fresh map of the results files and headings for each build (``mkdocs serve`` rebuilds)."""
    global _site
    _site = None
    build_docs.readme_headings.cache_clear()
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    global _site
    page_path = page.file.src_uri
    if build_docs.generated(page_path):
        return markdown
    if _site is None:
        _site = build_docs.Site()
        build_docs.place_results(_site)
    return build_docs.site_page(markdown, f"docs/{page_path}", page_path, _site)
