"""A restricted unpickler for third-party numpy pickles (e.g. the classic mnist.pkl.gz).

A plain ``pickle.load`` runs whatever callable the file names, so a pickle
from a package index is code execution.  This unpickler resolves only the
three globals a numpy array pickle needs; any other global is refused with a
``DataError`` that names it.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import IO, Any

from ..errors import DataError

# (module, name) pairs a pickled ndarray may name.  numpy 2 moved numpy.core to
# numpy._core; old pickles still say numpy.core, new ones numpy._core.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
)

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "restricted_load", "restricted_loads"]


def _multiarray_reconstruct() -> Any:
    # Resolve via numpy._core first: importing numpy.core warns on numpy 2.
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise DataError("cannot find numpy's multiarray._reconstruct; reinstall numpy")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that loads numpy arrays and nothing else."""

    def __init__(self, file: IO[bytes], *, encoding: str = "latin1", source: str = "pickle") -> None:
        # latin1: Python 2 numpy pickles store array bytes as str.
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise DataError(
                f"refused to unpickle global {module}.{name} from {self._source} "
                "(only numpy arrays are allowed); the file is not a plain numpy pickle, do not use it"
            )
        if name == "_reconstruct":
            return _multiarray_reconstruct()
        import numpy

        return getattr(numpy, name)

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(
            f"refused persistent id {pid!r} in {self._source}; the file is not a plain numpy pickle"
        )


def restricted_load(file: IO[bytes], *, encoding: str = "latin1", source: str = "pickle") -> Any:
    """Unpickle from a binary file object, allowing numpy arrays only.

    Any failure (refused global, truncated or malformed stream) is a ``DataError``
    mentioning ``source``.
    """
    try:
        return RestrictedUnpickler(file, encoding=encoding, source=source).load()
    except DataError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
    ) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"cannot unpickle {source}: {msg}; the file is corrupt or not a numpy pickle"
        ) from exc


def restricted_loads(data: bytes, *, encoding: str = "latin1", source: str = "pickle") -> Any:
    """Unpickle a byte string, allowing numpy arrays only (see ``restricted_load``)."""
    return restricted_load(io.BytesIO(data), encoding=encoding, source=source)
