"""What the commands share: argparse value types, the options several commands take (written once
here), the error style of the parser, and the small readers every handler uses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

from ..api import BUDGETS
from ..errors import IbbenchError
from ..running.checkpoints import DEFAULT_EVERY_S
from ..running.specs import DEFAULT_PREPROCESS, MAX_SEED, Preprocess

EXIT_FAILED_RUN = 1
DEFAULT_STORE = Path("results/runs.jsonl")


class Parser(argparse.ArgumentParser):
    """argparse with the project's error style: one line naming what is wrong, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# -- value types ----------------------------------------------------------------------------------


def int_in(minimum: int, maximum: int | None = None, what: str = ""):
    """An argparse type: an integer in [minimum, maximum] (``what`` names the values in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"below {minimum}" if value < minimum else f"above {maximum}"
            raise argparse.ArgumentTypeError(f"{value} is {bound}" + (f"; {what}" if what else ""))
        return value

    return parse


positive_int = int_in(1)
seed = int_in(0, MAX_SEED, f"seeds are integers from 0 to {MAX_SEED}")


def float_above(minimum: float, inclusive: bool = False):
    """An argparse type: a finite float > minimum (>= with ``inclusive``)."""
    sign = ">=" if inclusive else ">"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (value >= minimum if inclusive else value > minimum) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number {sign} {minimum:g}")
        return value

    return parse


def path(text: str) -> Path:
    """An argparse type: a non-empty path (``Path("")`` would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder name")
    return Path(text)


# -- options several commands take ---------------------------------------------------------------


def add_threads(p: argparse.ArgumentParser, split: str = "") -> None:
    p.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="torch threads" + split + " (default: $OMP_NUM_THREADS, else the CPUs this process may use "
        "(affinity and cgroup quota), at most one per physical core)",
    )


def add_quiet(p: argparse.ArgumentParser, help: str = "no progress bars") -> None:
    p.add_argument("--quiet", action="store_true", help=help)


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", type=path, help="where datasets live (default $IBBENCH_DATA or ~/.cache/ibbench)"
    )


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: cuda where torch sees a GPU, else cpu (default auto)",
    )


def add_store(p: argparse.ArgumentParser) -> None:
    """``--store``: the store a report reads; repeated, several read as one (``stores``)."""
    p.add_argument(
        "--store",
        dest="stores",
        action="append",
        type=path,
        help="the JSON Lines results store to read (default results/runs.jsonl); repeat it to read "
        "several stores as one",
    )


def stores(args) -> list[Path]:
    """The stores ``--store`` named (the default where none), also set as ``args.store`` (the first)."""
    args.stores = args.stores or [DEFAULT_STORE]
    args.store = args.stores[0]
    return args.stores


def add_sets(p: argparse.ArgumentParser, metavar: str, help: str) -> None:
    p.add_argument("--set", dest="sets", action="append", default=[], metavar=metavar, help=help)


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the record as one JSON object on stdout")


def add_yes(
    p: argparse.ArgumentParser,
    help: str = "start a paper-budget run on the CPU without asking (it prints its expected cost)",
) -> None:
    p.add_argument("--yes", action="store_true", help=help)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """What a single run takes: seed, budget, device, store, progress, threads, data, preprocessing."""
    p.add_argument("--seed", type=seed, default=0, help="random seed, an integer >= 0 (default 0)")
    p.add_argument(
        "--budget",
        choices=BUDGETS,
        default="quick",
        help="smoke: seconds; quick: minutes on 2 CPU cores (default); paper: the paper's protocol",
    )
    add_device(p)
    p.add_argument(
        "--out",
        type=path,
        default=DEFAULT_STORE,
        help="JSON Lines results store to append to (default results/runs.jsonl)",
    )
    add_quiet(p, "no progress bars or progress lines")
    add_yes(p)
    add_threads(p)
    add_data_dir(p)
    p.add_argument(
        "--preprocess",
        choices=get_args(Preprocess),
        help="how each coordinate of X and Y is mapped before an estimator sees it, the same on every "
        f"route: robust (median, IQR, asinh tails), standard (mean, std) or none (default {DEFAULT_PREPROCESS})",
    )


def add_checkpoint_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint-every",
        type=float_above(0, inclusive=True),
        default=DEFAULT_EVERY_S,
        metavar="SECONDS",
        help="a training cell snapshots its state this often, next to the store, and a killed "
        f"cell resumes from it when the command is run again (default {DEFAULT_EVERY_S:g})",
    )
    p.add_argument("--no-checkpoints", action="store_true", help="no snapshots (a killed cell starts afresh)")


# -- readers the handlers share ------------------------------------------------------------------


def checkpoint_every(args) -> float | None:
    return None if args.no_checkpoints else args.checkpoint_every


def progress_enabled(args) -> bool | str:
    """Bars on a terminal, a line per phase otherwise (a log file, a cluster job), nothing with --quiet."""
    if getattr(args, "quiet", False):
        return False
    return True if sys.stderr.isatty() else "lines"


def registry():
    from ..running.plugins import load_registry

    return load_registry()


def records(store: Path):
    """The records of ``store``; a one-line error where it does not exist."""
    from ..store.results import ResultStore

    if not store.exists():
        raise IbbenchError(f"results store {store} not found; run `ibbench run ...` or pass --store PATH")
    return ResultStore(store).records()
