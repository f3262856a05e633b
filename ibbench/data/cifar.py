"""CIFAR-10: import, verify and load it, offline first.  ``DATA_DIR`` may hold the official python batches
``cifar-10-batches-py/`` (unpacked and md5-checked by torchvision; they win), or ``cifar10-imported.npz``:
an image-folder tree ``{train,test}/<class>/*`` decoded once (e.g. the lossy JPEG q75 copy in
``../shared/data``).  ``load_cifar10`` returns the arrays and the source record naming the copy, which every
number measured on them carries."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, first_line
from ..running.progress import progress as progress_bar
from ..store.atomic import atomic_write
from .common import SPLITS, make_dir, resolve_dir, torchvision_download

# The official label order, which is also the sorted order of the folder names.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_JPEG_Q75_SHA256 = "d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965"  # ../shared/data
IMPORT_FORMAT = 2  # the layout of cifar10-imported.npz; bump when it changes
_LOSSY = {"PNG": False, "JPEG": True}  # the image formats read, by PIL's name
_OFFICIAL = {"name": "cifar10", "lossy": False, "description": "CIFAR-10 (official python batches)"}
_HINT = "run `ibbench data import cifar10 PATH` with the official cifar-10-python.tar.gz or an image folder"


def _torchvision(data_dir: Path | None = None, train: bool = True, download: bool = False) -> Any:
    """torchvision's CIFAR10, or (``data_dir``) its md5-checked data set there (``download``: or fetched)."""
    from torchvision.datasets import CIFAR10

    if data_dir is None:
        return CIFAR10
    with torchvision_download() if download else contextlib.nullcontext():
        return CIFAR10(root=str(data_dir), train=train, download=download)


def _unpack(tar: Path, dest: Path) -> Path:
    """Unpack with tarfile's "data" filter, which refuses '..', links out of the tree and devices."""
    try:
        with tarfile.open(tar) as tf:
            tf.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        raise DataError(f"unsafe member {exc.tarinfo.name!r} in {tar} ({exc}); refusing to read it") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated tarball {tar} ({first_line(exc)}); copy it again") from exc
    return dest


def _samples(root: Path, source: Path) -> dict[str, list[tuple[str, int]]]:
    """{split: [(path, label)]} of ``root/{train,test}/<class>/*`` (or of its one folder), by torchvision's
    ``make_dataset``: labels in the official order, names sorted, hidden files skipped."""
    from torchvision.datasets.folder import make_dataset

    tops = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    root = tops[0] if len(tops) == 1 and not (root / "train").is_dir() else root
    labels, out = {c: i for i, c in enumerate(CIFAR10_CLASSES)}, {}
    for split in SPLITS:
        found = {p.name for p in (root / split).iterdir() if p.is_dir()} if (root / split).is_dir() else set()
        odd = ", ".join(sorted(set(CIFAR10_CLASSES) ^ found)) if found else "all 10 missing"
        try:
            if odd:
                raise FileNotFoundError(f"missing or unexpected class folders: {odd}")
            out[split] = make_dataset(root / split, labels, is_valid_file=lambda p: Path(p).name[0] != ".")
        except FileNotFoundError as exc:  # also make_dataset's: a class folder without files
            raise DataError(
                f"{source}: {split}/ has {first_line(exc)}; expected {{train,test}}/<class>/<image>, classes "
                f"{', '.join(CIFAR10_CLASSES)}, or the official cifar-10-python.tar.gz "
                f"(md5 {_torchvision().tgz_md5})"
            ) from exc
    return out


def _decode(path: str, root: Path, source: Path) -> tuple[np.ndarray, str]:
    """One 32x32 PNG or JPEG image as uint8 (32, 32, 3), and its format."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format not in _LOSSY or im.size != (32, 32):
                raise ValueError(f"a {im.size[0]}x{im.size[1]} {im.format}, expected 32x32 PNG or JPEG")
            return np.asarray(im.convert("RGB"), dtype=np.uint8), im.format
    except (OSError, ValueError, SyntaxError) as exc:  # OSError: also PIL's UnidentifiedImageError
        name = Path(path).relative_to(root).as_posix()
        raise DataError(
            f"cannot decode image {name} in {source} ({first_line(exc)}); replace or remove it"
        ) from exc


def _decode_tree(root: Path, source: Path, sha256: str | None, progress: bool | str) -> dict[str, Any]:
    """The lossy-copy importer: every image of the tree, its labels, and the source record naming it."""
    samples, out, formats = _samples(root, source), {}, set()
    counts = {split: len(pairs) for split, pairs in samples.items()}
    with progress_bar(sum(counts.values()), "decoding CIFAR-10", mode=progress) as bar:
        for split, pairs in samples.items():
            images = []
            for path, _ in pairs:
                images.append((decoded := _decode(path, root, source))[0])
                formats.add(decoded[1])
                bar.update()
            out[f"{split}_images"], out[f"{split}_labels"] = np.stack(images), np.array([y for _, y in pairs])
    text = f"imported image folder, {'+'.join(f for f in _LOSSY if f in formats)}"
    text += ": lossy" * (lossy := any(_LOSSY[f] for f in formats))
    if counts != {"train": 50000, "test": 10000}:  # a subset must not pass for the full data set
        text += f"; {counts['train']} train / {counts['test']} test images, not the full 50000/10000"
    text = "JPEG q75 copy" if sha256 == CIFAR10_JPEG_Q75_SHA256 else text
    meta = {"version": IMPORT_FORMAT, "name": "cifar10", "lossy": lossy, "description": f"CIFAR-10 ({text})",
            "origin": str(source.resolve()), "sha256": sha256, "counts": counts}  # fmt: skip
    return {**out, "meta": json.dumps(meta)}


def import_cifar10(path: Path | str, data_dir: Path | str | None = None, *,
                   progress: bool | str = False) -> Path:  # fmt: skip
    """Import CIFAR-10 from a local ``path`` into ``data_dir``; return ``data_dir``.  ``path`` is the official
    ``cifar-10-python.tar.gz`` (known by its md5, unpacked by torchvision), or an image-folder tree
    ``{train,test}/<class>/*`` of 32x32 PNG or JPEG files (a folder, or a tarball with the tree at its top or
    in one folder), decoded to ``cifar10-imported.npz``.  Raises ``DataError``."""
    src, data_dir = Path(path).expanduser(), resolve_dir(data_dir)
    if not (src.is_dir() or (src.is_file() and tarfile.is_tarfile(src))):
        what = "is neither a folder nor a tar archive" if src.exists() else "does not exist"
        raise DataError(f"CIFAR-10 source {src} {what}; give cifar-10-python.tar.gz or an image folder")
    make_dir(data_dir)
    if src.is_file() and hashlib.md5(src.read_bytes()).hexdigest() == _torchvision().tgz_md5:
        if (tgz := data_dir / "cifar-10-python.tar.gz").resolve() != src.resolve():
            shutil.copyfile(src, tgz)
        _torchvision(data_dir, download=True)  # offline: torchvision finds its archive (md5) in data_dir
        return data_dir
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".ibbench-import-") as tmp:
        root = src if src.is_dir() else _unpack(src, Path(tmp) / "tree")
        sha256 = hashlib.sha256(src.read_bytes()).hexdigest() if src.is_file() else None
        with atomic_write(data_dir / "cifar10-imported.npz") as fh:
            np.savez(fh, **_decode_tree(root, src, sha256, progress))
    return data_dir


def _read_imported(path: Path, split: str | None = None) -> tuple[dict[str, Any], Any, Any]:
    """The source record of an imported copy and, for a ``split``, its (images, labels)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if (meta := json.loads(str(z["meta"])))["version"] != IMPORT_FORMAT:
                raise ValueError(f"format version {meta['version']}; this ibbench reads {IMPORT_FORMAT}")
            images, labels = (z[f"{split}_images"], z[f"{split}_labels"]) if split else (None, None)
        return {k: meta[k] for k in ("name", "lossy", "description")}, images, labels
    except Exception as exc:  # truncated, foreign or older: OSError, BadZipFile, KeyError, ValueError, ...
        raise DataError(
            f"unreadable CIFAR-10 copy {path} ({first_line(exc)}); delete it and {_HINT} again"
        ) from exc


def _locate(data_dir: Path, *, allow_network: bool) -> dict[str, Any]:
    """The source record of the copy loads use: the official batches (a bad one is a DataError, not a silent
    fall-back to a lossy copy), else an imported copy, else (``allow_network``) torchvision's download."""
    from torchvision.datasets.utils import check_integrity

    if (official := data_dir / "cifar-10-batches-py").is_dir():
        files = [*(tv := _torchvision()).train_list, *tv.test_list, (tv.meta["filename"], tv.meta["md5"])]
        if bad := [name for name, md5 in files if not check_integrity(str(official / name), md5)]:
            raise DataError(
                f"missing or corrupt CIFAR-10 files in {official}: {', '.join(bad)}; delete it and {_HINT}"
            )
        return _OFFICIAL
    if (imported := data_dir / "cifar10-imported.npz").is_file():
        return _read_imported(imported)[0]
    why = ""
    if allow_network:
        try:
            _torchvision(data_dir, download=True)
            return _OFFICIAL
        except DataError as exc:
            why = f" ({exc})"
    raise DataError(f"CIFAR-10 not found in {data_dir}{why}: {_HINT}")


def cifar10_source_description(data_dir: Path | str | None = None) -> str:
    """The line to report with any number measured on this copy, e.g. "CIFAR-10 (JPEG q75 copy)"."""
    return _locate(resolve_dir(data_dir), allow_network=False)["description"]


def load_cifar10(split: str, data_dir: Path | str | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fresh (images uint8 (N, 32, 32, 3), labels int64 (N,), source) of ``split`` ("train" or "test");
    ``source`` ({"name", "lossy", "description"}) belongs in any record of a number measured on them."""
    if split not in SPLITS:
        raise DataError(f"unknown CIFAR-10 split {split!r}; use one of {', '.join(SPLITS)}")
    if (source := _locate(data_dir := resolve_dir(data_dir), allow_network=True)) is _OFFICIAL:
        ds = _torchvision(data_dir, train=split == "train")
        return np.ascontiguousarray(ds.data), np.asarray(ds.targets, dtype=np.int64), dict(source)
    source, images, labels = _read_imported(data_dir / "cifar10-imported.npz", split)
    return images, labels.astype(np.int64), source
