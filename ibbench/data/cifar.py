"""CIFAR-10: import, verify and load it, offline first.  Two copies may live in ``DATA_DIR``:

- ``cifar-10-batches-py/``, the official python batches in torchvision's layout (it reads them); it wins.
- ``cifar10-imported/{train,test}.npz`` + ``source.json``: an image-folder tree ``{train,test}/<class>/*``
  decoded once, e.g. the lossy JPEG q75 copy in ``../shared/data``; ``source.json`` names it.

``load_cifar10`` returns the arrays and the source record that every number measured on them carries.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .mnist import SPLITS, make_dir, progress_bar, resolve_dir, torchvision_download, write_atomic

# The official label order, which is also the sorted order of the folder names.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_JPEG_Q75_SHA256 = "d34c68f61cca57aa9144c8f25bda427abb9921bd642d5857a2fc1a6b4416f965"  # ../shared/data
IMPORT_FORMAT = 1  # the layout of an imported copy (source.json + train/test .npz); bump when it changes
_LOSSY = {"PNG": False, "JPEG": True}  # the image formats read, by PIL's name
_MAX_TAR_BYTES = 1 << 30  # a tarball is read into memory: refuse what cannot be CIFAR-10 (a gzip bomb)
_OFFICIAL = {"name": "cifar10", "lossy": False, "description": "CIFAR-10 (official python batches)"}
_IMPORT_HINT = ("run `ibbench data import cifar10 PATH` with the official cifar-10-python.tar.gz "
                "or an image-folder tree / tarball")
_SOURCE_HINT = "give the official cifar-10-python.tar.gz, an image-folder tree or a tarball of one"


def cifar10_batches_dir(data_dir: Path | str | None = None) -> Path:
    return resolve_dir(data_dir) / "cifar-10-batches-py"


def cifar10_imported_dir(data_dir: Path | str | None = None) -> Path:
    return resolve_dir(data_dir) / "cifar10-imported"


def _batch_md5() -> dict[str, str]:
    """The official batch files and their md5s: torchvision's table."""
    from torchvision.datasets import CIFAR10

    return {**dict(CIFAR10.train_list + CIFAR10.test_list), CIFAR10.meta["filename"]: CIFAR10.meta["md5"]}


# ------------------------------------------------------------------------------------ import


def _read_tar(tar: Path) -> dict[str, bytes]:
    """The regular files of a tarball by name, read into memory.  tarfile's "data" filter refuses unsafe
    members ('..', links out of the tree, devices); an absolute name, which it would strip, is refused too."""
    files, total = {}, 0
    try:
        with tarfile.open(tar) as tf:
            for member in tf:
                if member.name.startswith("/"):
                    raise tarfile.AbsolutePathError(member)
                if (member := tarfile.data_filter(member, "/nonexistent-root")).isfile():
                    if (total := total + member.size) > _MAX_TAR_BYTES:
                        raise DataError(f"{tar} holds over {_MAX_TAR_BYTES >> 20} MiB; it is not CIFAR-10")
                    files[posixpath.normpath(member.name)] = tf.extractfile(member).read()  # type: ignore
    except tarfile.FilterError as exc:
        links = (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError, tarfile.SpecialFileError)
        what = "link or special file" if isinstance(exc, links) else "member"
        raise DataError(f"unsafe {what} {exc.tarinfo.name!r} in {tar} ({exc}); refusing to read it") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(f"corrupt or truncated tarball {tar} ({msg}); download or copy it again") from exc
    return files


def _import_official(files: dict[str, Any], folder: str, source: Path, dest: Path, staging: Path) -> None:
    """md5 the 7 official batch files (in ``folder`` of ``files``); write them all only if all match."""
    hint = ("this is not the official cifar-10-python.tar.gz; download it again from "
            "https://www.cs.toronto.edu/~kriz/cifar.html")
    md5s = _batch_md5()
    if missing := [n for n in md5s if folder + n not in files]:
        raise DataError(f"{source} lacks {', '.join(missing)}; {hint}")
    for name, md5 in md5s.items():
        blob = files[folder + name]
        (staging / name).write_bytes(data := blob if isinstance(blob, bytes) else blob.read_bytes())
        if (got := hashlib.md5(data).hexdigest()) != md5:
            raise DataError(f"wrong md5 for {name} in {source} ({got} != expected {md5}); {hint}")
    make_dir(dest)
    for name in md5s:
        os.replace(staging / name, dest / name)


def _group_tree(names: list[str], source: Path) -> dict[str, list[list[str]]]:
    """{split: [sorted image names of class 0, ..., of class 9]}, with ``train/`` and ``test/`` at the
    top or under one folder and exactly the 10 class folders in each."""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    prefix = f"{min(tops)}/" if len(tops) == 1 else ""
    groups: dict[str, dict[str, list[str]]] = {s: {} for s in SPLITS}
    for name in names:  # anything but train/ and test/ (a README, say) is left alone
        if name.startswith(prefix) and (parts := name.removeprefix(prefix).split("/"))[0] in groups:
            if len(parts) != 3:
                raise DataError(f"unexpected file {name} in {source}; "
                                f"expected {prefix}{parts[0]}/<class>/<image> only")
            groups[parts[0]].setdefault(parts[1], []).append(name)
    if not any(groups.values()):
        raise DataError(f"{source} has no train/ and test/ folders (top level: "
                        f"{', '.join(sorted(tops)) or 'no folders'}); expected ROOT/train/<class>/<image> "
                        "and ROOT/test/<class>/<image> or the official cifar-10-python.tar.gz")
    for split, by_class in groups.items():
        missing = [c for c in CIFAR10_CLASSES if c not in by_class]
        extra = sorted(set(by_class) - set(CIFAR10_CLASSES))
        problems = [f"missing or empty: {', '.join(missing)}"] * bool(missing)
        problems += [f"unexpected: {', '.join(extra)}"] * bool(extra)
        if problems:
            raise DataError(f"wrong class folders in {source}: {prefix}{split}/ ({'; '.join(problems)}); "
                            f"expected exactly {', '.join(CIFAR10_CLASSES)}")
    return {split: [sorted(by_class[c]) for c in CIFAR10_CLASSES] for split, by_class in groups.items()}


def _decode(blob: bytes | Path, name: str, source: Path) -> tuple[np.ndarray, str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(blob) if isinstance(blob, bytes) else blob) as im:
            if im.format not in _LOSSY:
                raise DataError(f"image {name} in {source} is {im.format}; expected PNG or JPEG files")
            if im.size != (32, 32):
                raise DataError(f"image {name} in {source} is {im.size[0]}x{im.size[1]}, expected 32x32; "
                                "this is not CIFAR-10")
            return np.asarray(im.convert("RGB"), dtype=np.uint8), im.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(f"cannot decode image {name} in {source} ({msg}); replace or remove it") from exc


def _import_tree(files: dict[str, Any], source: Path, sha256: str | None, dest: Path, staging: Path,
                 progress: bool) -> None:
    """The lossy-copy importer: decode a tree (labels from the sorted class folders, images in sorted
    name order) to {train,test}.npz, and write source.json, which names the copy, last."""
    grouped, formats = _group_tree(list(files), source), set()
    counts = {split: sum(map(len, groups)) for split, groups in grouped.items()}
    bar = progress_bar(total=sum(counts.values()), desc="decoding CIFAR-10", unit="img", enabled=progress)
    with bar:
        for split, groups in grouped.items():
            images = np.empty((counts[split], 32, 32, 3), dtype=np.uint8)
            for i, name in enumerate(n for group in groups for n in group):
                images[i], fmt = _decode(files[name], name, source)
                formats.add(fmt)
                bar.update()
            labels = np.repeat(np.arange(10, dtype=np.int64), list(map(len, groups)))
            np.savez(staging / f"{split}.npz", images=images, labels=labels)
    lossy = any(_LOSSY[f] for f in formats)
    text = f"imported image folder, {'+'.join(f for f in _LOSSY if f in formats)}{': lossy' * lossy}"
    if counts != {"train": 50000, "test": 10000}:  # a subset must not pass for the full data set
        text += f"; {counts['train']} train / {counts['test']} test images, not the full 50000/10000"
    meta = {"version": IMPORT_FORMAT, "origin": str(source.resolve()), "sha256": sha256, "lossy": lossy,
            "formats": sorted(formats), "counts": counts, "classes": list(CIFAR10_CLASSES),
            "per_class": {split: list(map(len, groups)) for split, groups in grouped.items()},
            "description": f"CIFAR-10 ({'JPEG q75 copy' if sha256 == CIFAR10_JPEG_Q75_SHA256 else text})",
            "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    make_dir(dest)
    (dest / "source.json").unlink(missing_ok=True)  # it marks a complete copy: dropped first, written last
    for split in SPLITS:
        os.replace(staging / f"{split}.npz", dest / f"{split}.npz")
    write_atomic(dest / "source.json", (json.dumps(meta, indent=1) + "\n").encode())


def import_cifar10(path: Path | str, data_dir: Path | str | None = None, *, progress: bool = False) -> Path:
    """Import CIFAR-10 from a local ``path`` into ``data_dir``; return ``data_dir``.

    ``path`` is the official ``cifar-10-python.tar.gz`` (or its extracted folder): md5-checked and
    written to ``cifar-10-batches-py/``.  Or an image-folder tree ``{train,test}/<class>/*`` of PNG or
    JPEG files (a folder, or a tarball with the tree at its top or under one folder): decoded to
    ``cifar10-imported/``.  Any problem is a ``DataError`` naming the file.
    """
    return import_cifar10_into(path, data_dir, progress=progress)[1]


def import_cifar10_into(path: Path | str, data_dir: Path | str | None = None, *,
                        progress: bool = False) -> tuple[Path, Path]:
    """``import_cifar10``, returning (the folder written, ``data_dir``)."""
    src, data_dir, sha256 = Path(path).expanduser(), resolve_dir(data_dir), None
    if not src.exists():
        raise DataError(f"CIFAR-10 source {src} does not exist; {_SOURCE_HINT}")
    if src.is_dir():
        files: dict[str, Any] = {p.relative_to(src).as_posix(): p for p in sorted(src.rglob("*"))
                                 if p.is_file()}
    elif tarfile.is_tarfile(src):
        with open(src, "rb") as f:
            sha256 = hashlib.file_digest(f, "sha256").hexdigest()
        files = _read_tar(src)
    else:
        raise DataError(f"CIFAR-10 source {src} is neither a folder nor a tar archive (or it is corrupt); "
                        + _SOURCE_HINT)
    # .DS_Store, macOS "._x.jpg" resource forks, __MACOSX/ folders: never images
    files = {n: f for n, f in files.items() if not any(p[:1] == "." or p == "__MACOSX" for p in n.split("/"))}
    batches = [n.removesuffix("data_batch_1") for n in files if n.rsplit("/", 1)[-1] == "data_batch_1"]
    make_dir(data_dir)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".ibbench-import-") as tmp:
        if batches:
            _import_official(files, batches[0], src, dest := cifar10_batches_dir(data_dir), Path(tmp))
        else:
            _import_tree(files, src, sha256, dest := cifar10_imported_dir(data_dir), Path(tmp), progress)
    return dest, data_dir


# -------------------------------------------------------------------------------------- load


def _verify_official(folder: Path) -> list[str]:
    """md5 the batch files in ``folder``; return the missing names.  A present file with the wrong md5 is
    a DataError naming it (a silent fall-back to a lossy imported copy would hide it)."""
    if not folder.is_dir():  # spares importing torchvision for its md5 table
        return [folder.name]
    missing = []
    for name, md5 in _batch_md5().items():
        try:
            with open(folder / name, "rb") as f:
                got = hashlib.file_digest(f, "md5").hexdigest()
        except (FileNotFoundError, NotADirectoryError):
            missing.append(name)
            continue
        if got != md5:
            raise DataError(f"corrupt CIFAR-10 file {folder / name} (md5 {got} != expected {md5}); "
                            f"delete it and {_IMPORT_HINT}")
    return missing


def _fetch_torchvision(data_dir: Path, *, progress: bool) -> None:
    make_dir(data_dir)
    with torchvision_download():  # it unpacks a cifar-10-python.tar.gz already in data_dir, offline
        from torchvision.datasets import CIFAR10

        CIFAR10(root=str(data_dir), train=True, download=True)


def _locate(data_dir: Path, *, allow_network: bool) -> dict[str, Any]:
    """The source record of the copy loads use: the official batches, else an imported copy, else
    (``allow_network``) the official batches from torchvision's download."""
    if not _verify_official(cifar10_batches_dir(data_dir)):
        return _OFFICIAL
    meta_path = cifar10_imported_dir(data_dir) / "source.json"
    if all(p.is_file() for p in (meta_path, *(meta_path.with_name(f"{s}.npz") for s in SPLITS))):
        try:
            meta = json.loads(meta_path.read_text())
            record = {"name": "cifar10", "lossy": bool(meta["lossy"]),
                      "description": str(meta["description"])}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"unreadable {meta_path} ({exc}); {_IMPORT_HINT} again") from exc
        if meta.get("version") != IMPORT_FORMAT:
            raise DataError(f"{meta_path.parent} was imported in format version {meta.get('version')!r} "
                            f"and this ibbench reads {IMPORT_FORMAT}; delete that folder and {_IMPORT_HINT} "
                            "again")
        return record
    tried = ""
    if allow_network:
        try:
            _fetch_torchvision(data_dir, progress=False)
            if not _verify_official(cifar10_batches_dir(data_dir)):
                return _OFFICIAL
            tried = " (torchvision download left files missing)"
        except DataError as exc:
            tried = f" ({exc})"
    raise DataError(f"CIFAR-10 not found in {data_dir}{tried}: {_IMPORT_HINT}")


def ensure_cifar10(data_dir: Path | str | None = None, *, allow_network: bool = True,
                   progress: bool = False) -> Path:
    """Return ``data_dir`` once CIFAR-10 is there (official batches, md5-verified, else an imported copy,
    else, if ``allow_network``, torchvision's download); else ``DataError``."""
    _locate(data_dir := resolve_dir(data_dir), allow_network=allow_network)
    return data_dir


def cifar10_source_description(data_dir: Path | str | None = None) -> str:
    """The line to report with any number measured on this copy, e.g. "CIFAR-10 (JPEG q75 copy)"."""
    return _locate(resolve_dir(data_dir), allow_network=False)["description"]


def load_cifar10(split: str, data_dir: Path | str | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fresh (images uint8 (N, 32, 32, 3), labels int64 (N,), source) of ``split`` ("train" or "test");
    ``source`` ({"name", "lossy", "description"}) belongs in any record of a number measured on them."""
    if split not in SPLITS:
        raise DataError(f"unknown CIFAR-10 split {split!r}; use one of {', '.join(SPLITS)}")
    if (source := _locate(data_dir := resolve_dir(data_dir), allow_network=True)) is _OFFICIAL:
        from torchvision.datasets import CIFAR10

        ds = CIFAR10(root=str(data_dir), train=split == "train", download=False)
        return np.ascontiguousarray(ds.data), np.asarray(ds.targets, dtype=np.int64), dict(source)
    path = cifar10_imported_dir(data_dir) / f"{split}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
        if images.dtype != np.uint8 or images.shape[1:] != (32, 32, 3) or labels.shape != (len(images),) or (
                labels.dtype.kind not in "iu" or labels.min(initial=0) < 0 or labels.max(initial=0) > 9):
            raise ValueError(f"{images.dtype} images {images.shape}, {labels.dtype} labels {labels.shape}")
    except Exception as exc:  # truncated or foreign: OSError, BadZipFile, KeyError, ValueError, ...
        raise DataError(f"corrupt imported CIFAR-10 file {path} ({exc}); delete {path.parent} and "
                        f"{_IMPORT_HINT} again") from exc
    return images, labels.astype(np.int64, copy=False), source
