"""The CIFAR-10 data layer: import, verify and load CIFAR-10, offline first.

Two layouts on disk, both under ``DATA_DIR``:

- ``cifar-10-batches-py/``: the official python batches (torchvision's layout,
  so ``torchvision.datasets.CIFAR10(root=DATA_DIR, download=False)`` reads
  them), each file md5-checked; a stamp file (``.ibbench-verified.json``,
  keyed on size, mtime and inode) spares re-hashing 178 MB on every call.
- ``cifar10-imported/{train,test}.npz`` + ``source.json``: images decoded from
  an image-folder tree (``ROOT/train/<class>/*``, ``ROOT/test/<class>/*``),
  e.g. the JPEG q75 copy in ``../shared/data``.  ``source.json`` says where
  they came from and whether they are lossy.

``import_cifar10`` fills one of them from a local path; ``ensure_cifar10``
finds either (official first), else tries torchvision's download; and
``load_cifar10`` returns numpy arrays plus a source record that every number
measured on the data should carry.  Every problem is a one-line ``DataError``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import sys
import tarfile
import time
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import DataError
from .idx import atomic_write_bytes, md5_bytes, md5_file
from .mnist import SPLITS, _probe, default_data_dir
from .restricted_pickle import restricted_loads

__all__ = [
    "CIFAR10_BATCH_MD5",
    "CIFAR10_CLASSES",
    "CIFAR10_JPEG_Q75_SHA256",
    "CIFAR10_TARBALL_MD5",
    "cifar10_batches_dir",
    "cifar10_imported_dir",
    "cifar10_source_description",
    "ensure_cifar10",
    "import_cifar10",
    "import_cifar10_into",
    "load_cifar10",
]

# Official label order; it is also the sorted order of the folder names.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR10_TARBALL_MD5 = "c58f30108f718f92721af3b95e74349a"  # cifar-10-python.tar.gz
# Per-file md5s of the official batches (torchvision's CIFAR10.train_list/test_list/meta).
CIFAR10_BATCH_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
_SPLIT_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
# The JPEG q75 re-encoding in ../shared/data (see its README).
CIFAR10_JPEG_Q75_SHA256 = "d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965"
_FULL_COUNTS = {"train": 50000, "test": 10000}

_BATCHES_DIR = "cifar-10-batches-py"
_IMPORTED_DIR = "cifar10-imported"
_STAMP_NAME = ".ibbench-verified.json"
# A stamp entry is trusted only for files last modified this long before the
# stamp was written: a rewrite within the mtime granularity keeps the mtime.
_RACY_NS = 2_000_000_000
_OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
IMPORT_FORMAT = 1  # the layout of an imported copy (source.json + train/test .npz); bump when it changes
_IMPORT_HINT = (
    "run `ibbench data import cifar10 PATH` with the official cifar-10-python.tar.gz "
    "or an image-folder tree / tarball"
)
_IMAGE_FORMATS = {"PNG": False, "JPEG": True}  # PIL format -> lossy
# A tarball is read into memory: refuse what cannot be CIFAR-10 (a gzip bomb, say).
_MAX_MEMBER_BYTES = 64 << 20  # an official batch is ~31 MB
_MAX_TOTAL_BYTES = 1 << 30
_OFFICIAL_DESCRIPTION = "CIFAR-10 (official python batches)"
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- paths


def _resolve_dir(data_dir: Path | str | None) -> Path:
    return default_data_dir() if data_dir is None else Path(data_dir).expanduser()


def cifar10_batches_dir(data_dir: Path | str | None = None) -> Path:
    """Where the official batches live: ``DATA_DIR/cifar-10-batches-py`` (torchvision's layout)."""
    return _resolve_dir(data_dir) / _BATCHES_DIR


def cifar10_imported_dir(data_dir: Path | str | None = None) -> Path:
    """Where an imported image-folder copy lives: ``DATA_DIR/cifar10-imported``."""
    return _resolve_dir(data_dir) / _IMPORTED_DIR


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {path} ({exc}); choose another data dir or set IBBENCH_DATA") from exc


def _file_hashes(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file in one pass."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


# ------------------------------------------------------------------- reading a source


def _safe_name(member: tarfile.TarInfo, tar: Path) -> str | None:
    """The member's normalised relative name; None for a directory; DataError if unsafe."""
    name = member.name.replace("\\", "/")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or (parts and parts[0].endswith(":")):
        raise DataError(
            f"unsafe member {member.name!r} in {tar} (absolute path or '..'); refusing to read this archive"
        )
    if member.isdir():
        return None
    if not member.isfile():  # links, devices, fifos: nothing CIFAR-10 needs
        raise DataError(
            f"unexpected link or special file {member.name!r} in {tar}; refusing to read this archive"
        )
    if member.size > _MAX_MEMBER_BYTES:
        raise DataError(
            f"member {member.name!r} in {tar} is {member.size} bytes, too large for CIFAR-10; "
            "this is not a CIFAR-10 archive"
        )
    return "/".join(parts)


def _read_tar(tar: Path) -> dict[str, bytes]:
    """All regular files of a tarball (any compression) by relative name, checked for safety."""
    hint = "download or copy it again"
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(tar, "r:*") as tf:
            for member in tf:
                name = _safe_name(member, tar)
                if name is None:
                    continue
                total += member.size
                if total > _MAX_TOTAL_BYTES:
                    raise DataError(
                        f"{tar} holds over {_MAX_TOTAL_BYTES >> 20} MiB; it is not a CIFAR-10 archive"
                    )
                f = tf.extractfile(member)
                data = f.read() if f is not None else b""
                if len(data) != member.size:
                    raise DataError(f"truncated tarball {tar} (member {member.name!r} is short); {hint}")
                files[name] = data
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(f"corrupt or truncated tarball {tar} ({msg}); {hint}") from exc
    if not files:
        raise DataError(f"tarball {tar} holds no files; {hint}")
    return files


def _list_dir(root: Path) -> dict[str, Path]:
    """Regular files under ``root`` by relative posix name."""
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            out[p.relative_to(root).as_posix()] = p
    return out


def _is_hidden(name: str) -> bool:
    # .DS_Store, macOS "._x.jpg" resource forks, __MACOSX/ folders: never images.
    return any(p.startswith(".") or p == "__MACOSX" for p in name.split("/"))


# ------------------------------------------------------------------ official batches


def _batch_arrays(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode one batch pickle into (images uint8 (N,32,32,3), labels int64 (N,))."""
    obj = restricted_loads(data, source=where)
    hint = f"it is not an official CIFAR-10 batch; {_IMPORT_HINT}"
    if not isinstance(obj, dict):
        raise DataError(f"{where} holds a {type(obj).__name__}, expected a dict; {hint}")
    x, y = obj.get("data"), obj.get("labels")
    if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == 3072):
        raise DataError(f"{where} has no uint8 'data' array of shape (N, 3072); {hint}")
    try:
        labels = np.asarray(y, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where} has non-integer 'labels'; {hint}") from exc
    if labels.shape != (len(x),) or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise DataError(
            f"{where} has {labels.shape} labels for {len(x)} images or labels outside 0..9; {hint}"
        )
    # The batches store planes (R, G, B) of 32x32; we hand out HWC like PIL does.
    images = np.ascontiguousarray(x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


def _check_meta(data: bytes, where: str) -> None:
    obj = restricted_loads(data, source=where)
    names = obj.get("label_names") if isinstance(obj, dict) else None
    if names is None or tuple(names) != CIFAR10_CLASSES:
        raise DataError(f"{where} does not list the 10 CIFAR-10 classes in order; {_IMPORT_HINT}")


def _import_official(batches: dict[str, bytes], source: Path, dest: Path, origin: str) -> None:
    """Check the 7 batch files (md5 + structure), then write them; nothing is written on failure."""
    hint = f"this is not the official cifar-10-python.tar.gz; download it again from {_OFFICIAL_URL}"
    missing = [n for n in CIFAR10_BATCH_MD5 if n not in batches]
    if missing:
        raise DataError(f"{source} lacks {', '.join(missing)}; {hint}")
    for name, expected in CIFAR10_BATCH_MD5.items():
        got = md5_bytes(batches[name])
        if got != expected:
            raise DataError(f"wrong md5 for {name} in {source} ({got} != expected {expected}); {hint}")
    for name in CIFAR10_BATCH_MD5:
        where = f"{source}!{name}"
        if name == "batches.meta":
            _check_meta(batches[name], where)
        else:
            _batch_arrays(batches[name], where)
    _mkdir(dest)
    with contextlib.suppress(FileNotFoundError):
        (dest / _STAMP_NAME).unlink()  # files are about to change
    for name in CIFAR10_BATCH_MD5:
        atomic_write_bytes(dest / name, batches[name])
    _write_stamp(dest, {}, origin)


def _official_names(names: list[str], source: Path) -> dict[str, str]:
    """Base name -> relative name of the batch files in a source (they must share one folder)."""
    found: dict[str, str] = {}
    for rel in names:
        base = rel.rsplit("/", 1)[-1]
        if base in CIFAR10_BATCH_MD5 and not _is_hidden(rel):
            if base in found:
                raise DataError(f"{source} holds {base} twice ({found[base]}, {rel}); give one CIFAR-10 copy")
            found[base] = rel
    folders = {rel.rsplit("/", 1)[0] if "/" in rel else "" for rel in found.values()}
    if len(folders) > 1:
        raise DataError(f"the CIFAR-10 batches in {source} are spread over {sorted(folders)}; give one copy")
    return found


# -------------------------------------------------------------------- stamp (official)


def _load_stamp(folder: Path) -> dict[str, Any]:
    try:
        stamp = json.loads((folder / _STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) and stamp.get("version") == 1 else {}


def _write_stamp(folder: Path, files: dict[str, Any], origin: str | None) -> None:
    stamp = {"version": 1, "stamped_at_ns": time.time_ns(), "origin": origin, "files": files}
    # A read-only data dir only costs a re-hash per call: not an error.
    with contextlib.suppress(OSError):
        atomic_write_bytes(folder / _STAMP_NAME, json.dumps(stamp, indent=1).encode())


def _verify_official(folder: Path) -> list[str]:
    """Check the batch files in ``folder``; return the missing names.

    A present file with the wrong md5 raises ``DataError`` naming it (a silent
    fall-back to a lossy imported copy would hide it).  Files whose (size,
    mtime, inode) match the stamp are not re-hashed.
    """
    stamp = _load_stamp(folder)
    entries: dict[str, Any] = stamp.get("files") or {}
    stamped_at = int(stamp.get("stamped_at_ns") or 0)
    missing: list[str] = []
    fresh: dict[str, Any] = {}
    hashed = False
    for name, md5 in CIFAR10_BATCH_MD5.items():
        path = folder / name
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            missing.append(name)
            continue
        entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino, "md5": md5}
        if entries.get(name) != entry or st.st_mtime_ns >= stamped_at - _RACY_NS:
            got = md5_file(path)
            if got != md5:
                raise DataError(
                    f"corrupt CIFAR-10 file {path} (md5 {got} != expected {md5}); "
                    f"delete it and {_IMPORT_HINT}"
                )
            hashed = True
        fresh[name] = entry
    if hashed and not missing:
        _write_stamp(folder, fresh, stamp.get("origin"))
    return missing


# ---------------------------------------------------------------- image-folder trees


def _tree_root(names: list[str], source: Path) -> str:
    """The prefix ('' or 'TOP/') under which ``train/`` and ``test/`` sit."""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    if {"train", "test"} <= tops:
        return ""
    if len(tops) == 1:
        (top,) = tops
        inner = {n.split("/", 2)[1] for n in names if n.startswith(top + "/") and n.count("/") >= 2}
        if {"train", "test"} <= inner:
            return top + "/"
    raise DataError(
        f"{source} has no train/ and test/ folders (top level: {', '.join(sorted(tops)) or 'no folders'}); "
        "expected ROOT/train/<class>/<image> and ROOT/test/<class>/<image> "
        "or the official cifar-10-python.tar.gz"
    )


def _group_tree(names: list[str], source: Path) -> dict[str, list[list[str]]]:
    """{split: [sorted image names of class 0, ..., class 9]}, checking the class folders."""
    prefix = _tree_root(names, source)
    groups: dict[str, dict[str, list[str]]] = {s: {} for s in SPLITS}
    for name in names:
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix) :].split("/")
        if parts[0] not in groups:
            continue  # README and the like next to train/ and test/
        if len(parts) != 3:
            raise DataError(
                f"unexpected file {name} in {source}; expected {prefix}{parts[0]}/<class>/<image> only"
            )
        groups[parts[0]].setdefault(parts[1], []).append(name)
    out: dict[str, list[list[str]]] = {}
    for split, by_class in groups.items():
        where = f"{source}: {prefix}{split}/"
        missing = [c for c in CIFAR10_CLASSES if c not in by_class]
        extra = sorted(set(by_class) - set(CIFAR10_CLASSES))
        if missing or extra:
            problems = [f"missing or empty: {', '.join(missing)}"] if missing else []
            problems += [f"unexpected: {', '.join(extra)}"] if extra else []
            what = "; ".join(problems)
            raise DataError(
                f"wrong class folders in {where} ({what}); expected exactly {', '.join(CIFAR10_CLASSES)}"
            )
        # Sorted class folders are the official label order; sorted names keep the within-class order.
        out[split] = [sorted(by_class[c]) for c in CIFAR10_CLASSES]
    return out


def _decode(blob: bytes | Path, name: str, source: Path) -> tuple[np.ndarray, str]:
    from PIL import Image, UnidentifiedImageError

    fp: Any = io.BytesIO(blob) if isinstance(blob, bytes) else blob
    try:
        with Image.open(fp) as im:
            fmt = im.format or "unknown"
            if fmt not in _IMAGE_FORMATS:
                raise DataError(f"image {name} in {source} is {fmt}; expected PNG or JPEG files")
            if im.size != (32, 32):
                w, h = im.size
                raise DataError(f"image {name} in {source} is {w}x{h}, expected 32x32; this is not CIFAR-10")
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(f"cannot decode image {name} in {source} ({msg}); replace or remove it") from exc
    return arr, fmt


def _decode_tree(
    files: dict[str, bytes] | dict[str, Path], source: Path, *, progress: bool
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], set[str], dict[str, list[int]]]:
    names = [n for n in files if not _is_hidden(n)]
    grouped = _group_tree(names, source)
    total = sum(len(g) for groups in grouped.values() for g in groups)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="decoding CIFAR-10 images", unit="img", file=sys.stderr, leave=False)
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    formats: set[str] = set()
    per_class: dict[str, list[int]] = {}
    try:
        for split, groups in grouped.items():
            n = sum(len(g) for g in groups)
            images = np.empty((n, 32, 32, 3), dtype=np.uint8)
            labels = np.empty(n, dtype=np.int64)
            i = 0
            for label, group in enumerate(groups):
                for name in group:
                    images[i], fmt = _decode(files[name], name, source)
                    labels[i] = label
                    formats.add(fmt)
                    i += 1
                if bar is not None:
                    bar.update(len(group))
            arrays[split] = (images, labels)
            per_class[split] = [len(g) for g in groups]
    finally:
        if bar is not None:
            bar.close()
    return arrays, formats, per_class


def _atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    """np.savez written atomically (a crash leaves the old file or none)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _tree_description(sha256: str | None, formats: set[str], counts: dict[str, int]) -> str:
    if sha256 == CIFAR10_JPEG_Q75_SHA256:
        return "CIFAR-10 (JPEG q75 copy)"
    kind = "+".join(sorted(formats, key=["PNG", "JPEG"].index))
    lossy = any(_IMAGE_FORMATS[f] for f in formats)
    text = f"imported image folder, {kind}{': lossy' if lossy else ''}"
    if counts != _FULL_COUNTS:  # a subset must not pass for the full data set
        text += f"; {counts['train']} train / {counts['test']} test images, not the full 50000/10000"
    return f"CIFAR-10 ({text})"


def _import_tree(
    files: dict[str, bytes] | dict[str, Path], source: Path, sha256: str | None, dest: Path, *, progress: bool
) -> None:
    arrays, formats, per_class = _decode_tree(files, source, progress=progress)
    counts = {s: len(arrays[s][1]) for s in SPLITS}
    meta = {
        "version": IMPORT_FORMAT,
        "origin": str(source.resolve()),
        "sha256": sha256,
        "lossy": any(_IMAGE_FORMATS[f] for f in formats),
        "formats": sorted(formats),
        "counts": counts,
        "per_class": per_class,
        "classes": list(CIFAR10_CLASSES),
        "description": _tree_description(sha256, formats, counts),
        "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _mkdir(dest)
    # source.json marks a complete copy: drop it first, write it last.
    with contextlib.suppress(FileNotFoundError):
        (dest / "source.json").unlink()
    for split, (images, labels) in arrays.items():
        _atomic_save_npz(dest / f"{split}.npz", images=images, labels=labels)
    atomic_write_bytes(dest / "source.json", (json.dumps(meta, indent=1) + "\n").encode())


# ------------------------------------------------------------------------- public


def import_cifar10(path: Path | str, data_dir: Path | str | None = None, *, progress: bool = False) -> Path:
    """Import CIFAR-10 from a local ``path`` into ``data_dir``; return ``data_dir``.

    ``path`` is the official ``cifar-10-python.tar.gz`` (or its extracted
    ``cifar-10-batches-py`` folder): checked against the official md5s and
    written to ``DATA_DIR/cifar-10-batches-py/``.  Or an image-folder tree
    ``ROOT/train/<class>/*.png|jpg`` + ``ROOT/test/<class>/*`` (a folder, or a
    tarball with the tree at its top or under one folder): decoded to
    ``DATA_DIR/cifar10-imported/{train,test}.npz`` with ``source.json``.
    Any problem is a ``DataError`` naming the file.
    """
    return import_cifar10_into(path, data_dir, progress=progress)[1]


def import_cifar10_into(
    path: Path | str, data_dir: Path | str | None = None, *, progress: bool = False
) -> tuple[Path, Path]:
    """``import_cifar10``, returning (the folder written, ``data_dir``)."""
    src = Path(path).expanduser()
    data_dir = _resolve_dir(data_dir)
    if not src.exists():
        raise DataError(
            f"CIFAR-10 source {src} does not exist; give the official cifar-10-python.tar.gz, "
            "an image-folder tree or a tarball of one"
        )
    sha256: str | None = None
    tar_md5: str | None = None
    files: dict[str, bytes] | dict[str, Path]
    if src.is_dir():
        files = _list_dir(src)
    else:
        if not tarfile.is_tarfile(src):
            raise DataError(
                f"CIFAR-10 source {src} is neither a folder nor a tar archive (or it is corrupt); "
                "give the official cifar-10-python.tar.gz, an image-folder tree or a tarball of one"
            )
        tar_md5, sha256 = _file_hashes(src)
        files = _read_tar(src)

    if any(n.rsplit("/", 1)[-1] == "data_batch_1" for n in files):
        batches: dict[str, bytes] = {}
        for base, rel in _official_names(list(files), src).items():
            blob = files[rel]
            batches[base] = blob if isinstance(blob, bytes) else blob.read_bytes()
        check = "tarball md5 ok" if tar_md5 == CIFAR10_TARBALL_MD5 else "per-file md5 ok"
        dest = cifar10_batches_dir(data_dir)
        _import_official(batches, src, dest, f"imported from {src.resolve()} ({check})")
        return dest, data_dir
    dest = cifar10_imported_dir(data_dir)
    _import_tree(files, src, sha256, dest, progress=progress)
    return dest, data_dir


def _imported_present(data_dir: Path) -> bool:
    d = cifar10_imported_dir(data_dir)
    return all((d / n).is_file() for n in ("source.json", "train.npz", "test.npz"))


def _fetch_torchvision(data_dir: Path, *, progress: bool) -> None:
    try:
        from torchvision.datasets import CIFAR10
    except ImportError as exc:
        raise DataError(f"torchvision is not importable ({exc})") from exc
    error = _probe(CIFAR10.url, 3.0)  # a blackholed network would otherwise hang in urlopen
    if error:
        raise DataError(f"torchvision's CIFAR-10 mirror is not reachable ({error})")
    try:
        # torchvision prints to stdout: keep stdout clean for the CLI's output.
        with contextlib.redirect_stdout(sys.stderr):
            CIFAR10(root=str(data_dir), train=True, download=True)
    except Exception as exc:  # URLError, RuntimeError, OSError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"torchvision download failed ({first})") from exc
    _write_stamp(cifar10_batches_dir(data_dir), {}, "downloaded by torchvision")


def _locate(data_dir: Path, *, allow_network: bool, progress: bool) -> str:
    """Which copy is there, "official" (wins) or "imported"; fetch with torchvision if allowed."""
    batches = cifar10_batches_dir(data_dir)
    if not _verify_official(batches):
        return "official"
    if _imported_present(data_dir):
        return "imported"
    tried = ""
    if allow_network:
        _mkdir(data_dir)
        try:
            _fetch_torchvision(data_dir, progress=progress)
            if not _verify_official(batches):
                return "official"
            tried = " (torchvision download left files missing)"
        except DataError as exc:
            tried = f" ({exc})"
    raise DataError(f"CIFAR-10 not found in {data_dir}{tried}: {_IMPORT_HINT}")


def ensure_cifar10(
    data_dir: Path | str | None = None, *, allow_network: bool = True, progress: bool = False
) -> Path:
    """Return ``data_dir`` once CIFAR-10 is there: official batches (md5-verified), else an
    imported copy, else (if ``allow_network``) torchvision's download; else ``DataError``."""
    data_dir = _resolve_dir(data_dir)
    _locate(data_dir, allow_network=allow_network, progress=progress)
    return data_dir


def _source_record(data_dir: Path, kind: str) -> dict[str, Any]:
    """{"name", "lossy", "description"} of the copy ``kind`` in ``data_dir``."""
    if kind == "official":
        return {"name": "cifar10", "lossy": False, "description": _OFFICIAL_DESCRIPTION}
    path = cifar10_imported_dir(data_dir) / "source.json"
    try:
        meta = json.loads(path.read_text())
        version = meta.get("version")
        record = {"name": "cifar10", "lossy": bool(meta["lossy"]), "description": str(meta["description"])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"unreadable {path} ({exc}); {_IMPORT_HINT} again") from exc
    if version != IMPORT_FORMAT:
        raise DataError(f"{path.parent} was imported in format version {version!r} and this ibbench reads "
                        f"{IMPORT_FORMAT}; delete that folder and {_IMPORT_HINT} again")
    return record


def cifar10_source_description(data_dir: Path | str | None = None) -> str:
    """The line to report with any number measured on this copy, e.g. "CIFAR-10 (JPEG q75 copy)"."""
    data_dir = _resolve_dir(data_dir)
    return _source_record(data_dir, _locate(data_dir, allow_network=False, progress=False))["description"]


@functools.lru_cache(maxsize=4)
def _read_official(split: str, folder: str, key: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    # ``key`` (the files' stat) makes a rewritten file a cache miss.
    parts = []
    for name in _SPLIT_BATCHES[split]:
        path = Path(folder) / name
        parts.append(_batch_arrays(path.read_bytes(), str(path)))
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    images.flags.writeable = False  # cached: callers get copies
    labels.flags.writeable = False
    return images, labels


@functools.lru_cache(maxsize=4)
def _read_imported(split: str, folder: str, key: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    path = Path(folder) / f"{split}.npz"
    hint = f"delete {folder} and {_IMPORT_HINT} again"
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    except (OSError, ValueError, KeyError, zlib.error, EOFError) as exc:
        raise DataError(f"corrupt imported CIFAR-10 file {path} ({exc}); {hint}") from exc
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise DataError(
            f"{path} holds {images.dtype} images {images.shape}, expected uint8 (N, 32, 32, 3); {hint}"
        )
    if (
        labels.shape != (len(images),)
        or labels.dtype != np.int64
        or (labels.size and not 0 <= labels.min() <= labels.max() <= 9)
    ):
        raise DataError(f"{path} holds labels {labels.dtype} {labels.shape} for {len(images)} images; {hint}")
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _stat_key(paths: list[Path]) -> tuple[Any, ...]:
    out = []
    for p in paths:
        st = p.stat()
        out.append((st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


def load_cifar10(split: str, data_dir: Path | str | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return (images uint8 (N, 32, 32, 3), labels int64 (N,), source) for ``split`` in {"train", "test"}.

    Official batches win over an imported copy; ``source`` is
    ``{"name": "cifar10", "lossy": bool, "description": str}`` and belongs in
    any record of a number measured on these images.  Arrays are read once
    per process (keyed on the files' path and mtime) and handed out as copies.
    """
    if split not in SPLITS:
        raise DataError(f"unknown CIFAR-10 split {split!r}; use one of {', '.join(SPLITS)}")
    data_dir = _resolve_dir(data_dir)
    kind = _locate(data_dir, allow_network=True, progress=False)
    source = _source_record(data_dir, kind)
    if kind == "official":
        folder = cifar10_batches_dir(data_dir)
        key = _stat_key([folder / n for n in _SPLIT_BATCHES[split]])
        images, labels = _read_official(split, str(folder.resolve()), key)
    else:
        folder = cifar10_imported_dir(data_dir)
        key = _stat_key([folder / f"{split}.npz", folder / "source.json"])
        images, labels = _read_imported(split, str(folder.resolve()), key)
    return images.copy(), labels.copy(), source
