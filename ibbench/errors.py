"""Errors a user can act on: one line naming what is wrong and what to do.

The CLI prints ``str(error)`` and exits non-zero; it never shows a traceback
for these.
"""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type's name if it has none), to quote in a one-line error."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


class IbbenchError(Exception):
    """Base class: the message is the whole story, on one line."""

    exit_code = 2


class SpecError(IbbenchError):
    """A spec, a parameter or a --set value is invalid."""


class UnknownNameError(IbbenchError):
    """A task, estimator or trainer name that no plugin registered."""


class PluginError(IbbenchError):
    """A plugin failed to import or register."""


class DataError(IbbenchError):
    """A dataset is missing, partial or corrupt."""


class NotApplicableError(IbbenchError):
    """An estimator cannot run on a task (e.g. AA-MINE without a known network)."""


class StoreError(IbbenchError):
    """The results store cannot be read or written."""


class DivergenceError(IbbenchError):
    """Training produced NaN, inf or an impossible value: a scientific failure, recorded, not fatal
    to a sweep.  ``extras`` (the held-out curve, ...) go into the failed record."""

    def __init__(self, message: str, extras: dict | None = None) -> None:
        super().__init__(message)
        self.extras = extras or {}


class CellTimeoutError(IbbenchError):
    """A suite cell ran past its time limit (``--cell-timeout``): a failed record, and the suite goes on."""
