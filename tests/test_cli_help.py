"""Every command-line option explains itself, in plain text, and ``ibbench --version`` answers."""

from __future__ import annotations

import argparse
import re

import pytest

import ibbench
from ibbench.cli import build_parser, main


def parsers(parser: argparse.ArgumentParser, name: str = "ibbench"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def test_every_option_has_help_without_rest_markup():
    missing, markup = [], []
    for name, parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(
                action, (argparse._HelpAction, argparse._SubParsersAction, argparse._VersionAction)
            ):
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not (action.help or "").strip():
                missing.append(label)
            if "``" in (action.help or "") or ":func:" in (action.help or ""):
                markup.append(label)
    assert not missing, f"options without help: {missing}"
    assert not markup, f"reST markup in help: {markup}"


def test_no_help_page_shows_rest_markup():
    """What ``--help`` prints: descriptions and epilogs as well as each option's help."""
    pages = {name: parser.format_help() for name, parser in parsers(build_parser())}
    assert not [name for name, page in pages.items() if re.search(r"``|:(func|class|meth|mod):`", page)]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ibbench {ibbench.__version__}"
    assert ibbench.__version__[0].isdigit() and callable(ibbench.hookimpl)


def test_every_help_page_renders():
    """argparse expands ``%`` in help text, so a bare one (``95 % interval``) crashes ``--help``."""
    pages = {name: parser.format_help() for name, parser in parsers(build_parser())}
    assert all(page.startswith("usage:") for page in pages.values())
    assert "95 % Welch interval" in " ".join(pages["ibbench table"].split())


def test_the_guide_synopsis_of_every_command_names_every_option_its_help_has():
    """The user guide's Commands table (docs/guide/commands.md, once the README's): a command's rows list
    every option ``--help`` shows (issue 30: ``run`` lacked four), so a reader of the table knows each
    exists."""
    import argparse
    import re

    from ibbench.cli import build_parser

    from .conftest import REPO

    synopses = [
        re.split(r"(?<!\\)\|", line)[1].strip()
        for line in (REPO / "docs" / "guide" / "commands.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `ibbench ")
    ]

    def commands(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(path), {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
            return
        for name, sub in subs[0].choices.items():
            yield from commands(sub, [*path, name])

    for command, options in commands(build_parser(), ["ibbench"]):
        rows = " ".join(s for s in synopses if s.startswith(f"`{command} ") or s.startswith(f"`{command}`"))
        assert rows, f"docs/guide/commands.md's table has no row for {command}"
        missing = sorted(o for o in options - {"--help"} if o not in rows)
        assert not missing, f"docs/guide/commands.md's synopsis of {command} lacks {', '.join(missing)}"
