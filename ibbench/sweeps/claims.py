"""Cell claims: two suites run at once on one store do not both run a cell.

Before a suite runs a cell it creates ``<store>.claims/<sha256 of the cell key>.claim`` with O_EXCL,
holding its host and pid; the claim goes when the cell's record is stored or the suite ends.  A
claim whose process is gone (same host, pid not alive) is stale and taken over, so a killed suite
does not lock its cells forever.  Claims are made by the process that dispatches the cells, so they
hold for any executor; a claim from another host is respected until removed by hand.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path

from ..errors import StoreError
from ..store.cells import CellKey


def claims_dir(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".claims")


class Claims:
    def __init__(self, store_path: Path) -> None:
        self.directory = claims_dir(Path(store_path))
        self.held: dict[CellKey, Path] = {}

    def _path(self, key: CellKey) -> Path:
        return self.directory / key.file_name(".claim")

    def take(self, key: CellKey) -> bool:
        """Claim a cell; False if another live run holds it.  Raises StoreError if claims cannot be
        written next to the store."""
        path = self._path(key)
        mine = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
        for _ in range(3):  # a stale claim is removed, then claimed afresh
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                made = self._create(path, mine)
            except FileNotFoundError:  # another run removed the empty folder between mkdir and create
                continue
            except OSError as exc:
                raise StoreError(
                    f"cannot claim cells in {self.directory}: {exc.strerror or exc}; free space or "
                    f"pass --out PATH somewhere writable"
                ) from None
            if made:
                self.held[key] = path
                return True
            if not _stale(path):
                return False
            path.unlink(missing_ok=True)
        return False

    def _create(self, path: Path, content: str) -> bool:
        """Create ``path`` holding ``content`` atomically: written to a private file, then hard-linked
        into place, which fails if the claim exists.  A kill or a full disk leaves no empty claim."""
        tmp = self.directory / f".{path.name}.{os.getpid()}.tmp"
        try:
            tmp.write_text(content)
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS):
                raise
            return self._create_exclusive(path, content)  # a filesystem without hard links
        finally:
            tmp.unlink(missing_ok=True)
        return True

    @staticmethod
    def _create_exclusive(path: Path, content: str) -> bool:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        return True

    def release(self, key: CellKey) -> None:
        path = self.held.pop(key, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def release_all(self) -> None:
        for key in list(self.held):
            self.release(key)
        try:
            self.directory.rmdir()  # only when no other run holds a claim
        except OSError:
            pass


UNREADABLE_STALE_S = (
    60.0  # a claim is written the moment it is created; unreadable for this long, it never will be
)


def _stale(path: Path) -> bool:
    """A claim of a process that no longer runs on this host.  An unreadable claim is one being
    written, unless it has been so for UNREADABLE_STALE_S (its writer was killed, or the disk was full)."""
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        try:  # claims are created whole (_create); an unreadable one is from an older ibbench or damaged
            return time.time() - path.stat().st_mtime > UNREADABLE_STALE_S
        except OSError:
            return False
    if not isinstance(owner, dict):  # valid JSON but no owner: not a claim any run wrote
        return True
    if owner.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError, ValueError, KeyError):
        return False
    return False
