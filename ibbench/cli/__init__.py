"""ibbench: MI estimators against ground truth, IB training against cross-entropy.

Bad input ends with one line on stderr naming what is wrong and what to do,
and exit status 2; a run that fails scientifically (NaN, divergence) is stored
as a failed record and exits 1.
"""

# One module per command group, each with ``register(subparsers) -> {command: handler}``; the options
# several commands share are built once in ``options``.  Handlers parse and dispatch only: what a
# command does lives in the package (ibbench.running.runner, ibbench.estimate, ibbench.reproduction.reproduce, ...).

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from pydantic import ValidationError

from .. import __version__
from ..errors import IbbenchError
from ..running.threads import spin_briefly
from . import datasets, listing, measure, reports, single, suites
from .options import Parser
from .single import confirm_paper_cost

GROUPS = (single, listing, reports, datasets, suites, measure)  # the order `ibbench --help` lists them in
READ_ONLY = ("table", "list")  # commands that only show what they read

__all__ = ["build_parser", "confirm_paper_cost", "main", "spin_briefly"]


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"ibbench: warning: {message}", file=sys.stderr)


def _parser_and_handlers() -> tuple[argparse.ArgumentParser, dict]:
    parser = Parser(prog="ibbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ibbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    handlers: dict = {}
    for group in GROUPS:
        handlers.update(group.register(sub))
    return parser, handlers


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (docs/guide/commands.md and the generated reference are read from it)."""
    return _parser_and_handlers()[0]


def _use_data_dir(path: Path, announce: bool = True) -> None:
    """``--data-dir``: where every dataset is read and fetched for this command.  A folder that does not
    exist yet is made where a dataset is fetched, which a mistyped path would do silently: say so
    (``announce``; not for ``ibbench data``, whose purpose is to fill it)."""
    if path.exists() and not path.is_dir():
        raise IbbenchError(f"--data-dir {path} is a file, not a folder: name the folder datasets live in")
    if announce and not path.exists():
        print(
            f"ibbench: --data-dir {path} does not exist yet: datasets will be fetched into it",
            file=sys.stderr,
        )
    os.environ["IBBENCH_DATA"] = str(path)


def main(argv: list[str] | None = None) -> int:
    spin_briefly()  # before anything imports torch: idle OpenMP threads must not burn shared cores
    parser, handlers = _parser_and_handlers()
    args = parser.parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        if getattr(args, "data_dir", None) is not None:
            _use_data_dir(Path(args.data_dir), announce=args.command != "data")
        return handlers[args.command](args)
    except IbbenchError as exc:
        print(f"ibbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:  # a spec built from arguments argparse could not check
        from ..running.specs import describe_validation_error

        print(f"ibbench: error: {describe_validation_error(exc, exc.title)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ibbench table ... | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        # a read-only command has shown what was read; one doing work stopped part-way: say so (128 + SIGPIPE)
        return 0 if args.command in READ_ONLY else 141
    except KeyboardInterrupt:
        print("ibbench: interrupted; finished runs are in the store", file=sys.stderr)
        return 130
