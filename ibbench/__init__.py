"""ibbench: benchmarks of mutual-information estimators against ground truth, and of information-bottleneck
training against cross-entropy.  The plugin interface is ``ibbench.api``; a plugin marks its hooks with
``ibbench.hookimpl``."""

from importlib.metadata import PackageNotFoundError, version

from .api import hookimpl

try:
    __version__ = version("ibbench")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "hookimpl"]
