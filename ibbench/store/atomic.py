"""Replace a file atomically: write a temp file beside it, fsync, rename.  A kill or a full disk at any
moment leaves the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """A binary file whose contents replace ``path`` when the block ends without an error.  The temp file
    is ``path.with_suffix(".tmpPID")`` (what a killed write leaves); it is removed on any error."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
