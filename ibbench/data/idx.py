"""IDX files (the MNIST container format): read, write, check headers, md5.

Only the two layouts MNIST uses are supported: unsigned bytes with 3 dims
(images, magic 2051) and with 1 dim (labels, magic 2049).  All integers in
the header are big-endian.  Errors are ``DataError`` naming the file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from ..errors import DataError

IDX_LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dim
IDX_IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dims
_MAGIC_NDIM = {IDX_LABELS_MAGIC: 1, IDX_IMAGES_MAGIC: 3}
_CHUNK = 1 << 20

__all__ = [
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "atomic_write_bytes",
    "decode_idx",
    "encode_idx",
    "idx_header",
    "md5_bytes",
    "md5_file",
    "read_idx",
    "set_default_mode",
    "write_idx",
]


def md5_bytes(data: bytes | bytearray | memoryview) -> str:
    """Hex md5 of a byte string."""
    return hashlib.md5(data).hexdigest()


def md5_file(path: Path | str) -> str:
    """Hex md5 of a file, read in 1 MiB chunks (memory stays flat)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def idx_header(head: bytes, *, name: str = "IDX data") -> tuple[int, tuple[int, ...]]:
    """Parse the magic and the dims from the first bytes of an IDX file.

    ``head`` needs at least 4 + 4*ndim bytes (16 are always enough here).
    """
    if len(head) < 4:
        raise DataError(f"not an IDX file: {name} is only {len(head)} bytes; delete it and fetch it again")
    (magic,) = struct.unpack(">i", head[:4])
    ndim = _MAGIC_NDIM.get(magic)
    if ndim is None:
        raise DataError(
            f"not an MNIST IDX file: {name} has magic {magic} (expected {IDX_IMAGES_MAGIC} or "
            f"{IDX_LABELS_MAGIC}); delete it and fetch it again"
        )
    if len(head) < 4 + 4 * ndim:
        raise DataError(f"truncated IDX header in {name}; delete it and fetch it again")
    dims = struct.unpack(f">{ndim}i", head[4 : 4 + 4 * ndim])
    return magic, tuple(dims)


def decode_idx(data: bytes, *, name: str = "IDX data") -> np.ndarray:
    """Decode an IDX byte string into a read-only uint8 array of the header's shape."""
    _, dims = idx_header(data[:16], name=name)
    offset = 4 + 4 * len(dims)
    expected = offset + int(np.prod(dims))
    if len(data) != expected:
        raise DataError(
            f"IDX file {name} has {len(data)} bytes but its header {dims} implies {expected}; "
            "delete it and fetch it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def encode_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array with 1 dim (labels) or 3 dims (images) as IDX bytes."""
    if array.dtype != np.uint8:
        raise TypeError(f"IDX encoding needs uint8, got {array.dtype}")
    magic = {1: IDX_LABELS_MAGIC, 3: IDX_IMAGES_MAGIC}.get(array.ndim)
    if magic is None:
        raise ValueError(f"IDX encoding supports 1 or 3 dims, got shape {array.shape}")
    header = struct.pack(f">i{array.ndim}i", magic, *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def read_idx(path: Path | str) -> np.ndarray:
    """Read an (uncompressed) IDX file into a uint8 array."""
    return decode_idx(Path(path).read_bytes(), name=str(path))


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read the umask is to set it
    os.umask(mask)
    return mask


def set_default_mode(path: Path | str) -> None:
    """Give a mkstemp file (mode 0600) the mode a plain open() would: 0666 less the umask."""
    os.chmod(path, 0o666 & ~_umask())


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + os.replace.

    An interrupted write then leaves the old file or none, never a half file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        set_default_mode(tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_idx(path: Path | str, array: np.ndarray) -> str:
    """Write ``array`` as an IDX file atomically; return the md5 of the bytes written."""
    data = encode_idx(array)
    atomic_write_bytes(path, data)
    return md5_bytes(data)
