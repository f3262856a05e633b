"""What the data modules share: the data directory, torchvision's downloads, and MNIST's four canonical
IDX files (md5s, encoding, the check every route applies, installing them with their origin)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..store.atomic import atomic_write

SPLITS: tuple[str, ...] = ("train", "test")


def resolve_dir(data_dir: Path | str | None = None) -> Path:
    """``data_dir``, else $IBBENCH_DATA, else $XDG_CACHE_HOME/ibbench (if absolute), else ~/.cache/ibbench."""
    if data_dir is None and not (data_dir := os.environ.get("IBBENCH_DATA")):
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        return Path(xdg) / "ibbench" if os.path.isabs(xdg) else Path.home() / ".cache" / "ibbench"
    return Path(data_dir).expanduser()


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


MNIST_MD5: dict[str, str] = {  # of the uncompressed canonical files (shared/data/README.md)
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
ORIGIN_FILE = ".ibbench-verified.json"  # {"version": 1, "origin": "..."}: where the files came from


def mnist_raw_dir(data_dir: Path | str | None = None) -> Path:
    return resolve_dir(data_dir) / "MNIST" / "raw"


def encode_idx(array: np.ndarray) -> bytes:
    """uint8 array -> IDX bytes: magic 0x0000080N (uint8, N dims), the dims (big-endian), the data."""
    return struct.pack(f">{1 + array.ndim}i", 0x800 + array.ndim, *array.shape) + array.tobytes()


def check_idx(data: bytes, name: str, path: object, hint: str, md5: dict[str, str] = MNIST_MD5) -> None:
    """Every route's test: refuse ``data`` (read from ``path``) unless it is the canonical file ``name``."""
    if (got := hashlib.md5(data).hexdigest()) != md5[name]:
        why = f"{len(data)} bytes, md5 {got}, expected {md5[name]}"
        raise DataError(f"wrong, partial or corrupt MNIST file {path} ({why}); {hint}")


def install(raw: Path, files: dict[str, bytes], origin: str) -> None:
    """Write the checked IDX ``files`` into ``raw``, and their ``origin`` (best effort: a read-only dir)."""
    make_dir(raw)
    for name, data in files.items():
        with atomic_write(raw / name) as fh:
            fh.write(data)
    with contextlib.suppress(OSError), atomic_write(raw / ORIGIN_FILE) as fh:
        fh.write(json.dumps({"version": 1, "origin": origin}).encode())
