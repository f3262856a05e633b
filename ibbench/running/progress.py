"""Progress of long loops: a tqdm bar on a terminal, else a short line per phase on stderr.

Run in a log file or a cluster job (stderr not a terminal), a bar's carriage returns are noise and no
bar at all leaves a user staring at an empty log for an hour.  ``PhaseLines`` has the part of tqdm's
interface the loops use (``update``, ``close``) and prints ``ibbench: <phase>: step n/total`` lines,
rate-limited across every phase of the process so nested loops (a critic inside a training step)
cannot flood the log.  ``where`` names the part of a run the lines and bars inside it belong to (an
information-plane point and layer), so a critic's line says which measurement it is training for.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

LINE_EVERY_S = 30.0  # at most one progress line this often
MIN_PHASE_S = 5.0  # phases shorter than this get no end line of their own
QUIET_START_S = 5.0  # nothing in a command's first seconds: a bad input's error stays the only line

# monotonic time of the last line printed, shared by every phase; set so the first line can come
# QUIET_START_S after start-up
_last_line = [time.monotonic() - LINE_EVERY_S + QUIET_START_S]
# the labels of the enclosing ``where`` blocks, outermost first
_where: list[str] = []


@contextmanager
def where(label: str) -> Iterator[None]:
    """Progress lines and bars made inside read ``<label>: <desc>`` (nested labels joined by ": ")."""
    _where.append(label)
    try:
        yield
    finally:
        _where.pop()


def _labelled(desc: str) -> str:
    return ": ".join([*_where, desc])


# how a download started while a task builds its data reports: the run's show_progress (``fetch_progress``)
_fetch_modes: list[bool | str] = [False]


@contextmanager
def fetch_progress(mode: bool | str) -> Iterator[None]:
    """Downloads inside (a task building its data: MNIST's fetch) report as ``mode`` says: True a bar,
    "lines" phase lines on stderr, False nothing (--quiet, suite cells)."""
    _fetch_modes.append(mode)
    try:
        yield
    finally:
        _fetch_modes.pop()


def fetch_progress_mode() -> bool | str:
    """The mode of the innermost ``fetch_progress``, else False."""
    return _fetch_modes[-1]


def phase_line(text: str, force: bool = False) -> None:
    """Print ``ibbench: text`` on stderr unless a line went out within LINE_EVERY_S (``force``: print)."""
    now = time.monotonic()
    if force or now - _last_line[0] >= LINE_EVERY_S:
        print(f"ibbench: {text}", file=sys.stderr, flush=True)
        _last_line[0] = now


def announce(mode: bool | str, text: str) -> None:
    """A phase line, always printed, where progress goes as lines (``mode`` "lines": no terminal, not
    --quiet): a step that can take a while and has no bar of its own is starting."""
    if mode == "lines":
        phase_line(_labelled(text), force=True)


class PhaseLines:
    """A stand-in for a tqdm bar that prints rate-limited progress lines."""

    def __init__(self, total: int, desc: str, initial: int = 0) -> None:
        self.total, self.desc, self.n = total, desc, initial
        self.started = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.started >= MIN_PHASE_S:
            phase_line(f"{self.desc}: step {self.n}/{self.total}")

    def close(self) -> None:
        seconds = time.monotonic() - self.started
        if seconds >= MIN_PHASE_S:
            phase_line(f"{self.desc}: done, {self.n}/{self.total} steps in {seconds:.0f} s", force=True)

    def __enter__(self) -> PhaseLines:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total: int, desc: str, initial: int = 0, mode: bool | str = False):
    """A progress object for a loop of ``total`` steps: a tqdm bar (``mode`` True), phase lines
    (``mode`` "lines") or a disabled bar (False)."""
    desc = _labelled(desc)
    if mode == "lines":
        return PhaseLines(total, desc, initial)
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=desc, initial=initial, disable=mode is not True, leave=False, file=sys.stderr
    )
