"""What the data modules share: the data directory and torchvision's downloads."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataError

SPLITS: tuple[str, ...] = ("train", "test")


def resolve_dir(data_dir: Path | str | None = None) -> Path:
    """``data_dir``, else $IBBENCH_DATA, else $XDG_CACHE_HOME/ibbench (if absolute), else ~/.cache/ibbench."""
    if data_dir is None and not (data_dir := os.environ.get("IBBENCH_DATA")):
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        return Path(xdg) / "ibbench" if os.path.isabs(xdg) else Path.home() / ".cache" / "ibbench"
    return Path(data_dir).expanduser()


default_data_dir = resolve_dir  # the public name: with no argument, the default


def make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {path} ({exc}); choose another data dir or set IBBENCH_DATA") from exc


@contextlib.contextmanager
def torchvision_download() -> Iterator[None]:
    """Around a torchvision download: its prints go to stderr (stdout is the CLI's), a network that
    drops packets fails in seconds (urllib waits forever), and any failure is one DataError line."""
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10.0)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except Exception as exc:  # ImportError, URLError, RuntimeError, OSError, ...
        raise DataError(
            f"torchvision download failed ({' '.join(str(exc).split()) or type(exc).__name__})"
        ) from exc
    finally:
        socket.setdefaulttimeout(timeout)
