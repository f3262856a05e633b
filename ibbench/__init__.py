"""ibbench: benchmarks of mutual-information estimators against ground truth, and of information-bottleneck
training against cross-entropy.

In Python: ``ibbench.estimate_mi(x, y, estimator="ksg")`` on your arrays, ``ibbench.run(task=...,
estimator=..., trainer=...)`` for one benchmark cell, ``ibbench.task_sample(task, seed=...)`` for the
pairs a task's run estimates from, ``ibbench.load_results(path)`` for a store as a pandas DataFrame.  The plugin interface is ``ibbench.api``; a plugin marks its hooks with
``ibbench.hookimpl``."""

from importlib.metadata import PackageNotFoundError, version

from .api import hookimpl

try:
    __version__ = version("ibbench")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Result", "__version__", "estimate_mi", "hookimpl", "load_results", "run", "task_sample"]


def __getattr__(name: str):
    """The Python entry points, imported on first use (``import ibbench`` stays light for plugins)."""
    if name in ("Result", "estimate_mi", "run"):
        from . import estimate

        return getattr(estimate, name)
    if name == "task_sample":
        from .samples import task_sample

        return task_sample
    if name == "load_results":
        from .frames import load_results

        return load_results
    raise AttributeError(f"module 'ibbench' has no attribute {name!r}")
