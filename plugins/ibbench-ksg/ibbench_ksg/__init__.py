"""ibbench-ksg: the Kraskov-Stoegbauer-Grassberger k-NN estimator as an ibbench plugin.

Installing this distribution declares the entry point ``ksg = "ibbench_ksg"`` in
the group ``ibbench``; ibbench loads this module and calls the hook below.  The
estimator is registered by the lazy string ``"ibbench_ksg.estimator:KSG"``, so
importing this module (which ``ibbench --help`` and ``ibbench list`` do) imports
neither scipy nor torch: those load only when ``--estimator ksg`` is used.
"""

from __future__ import annotations

from ibbench.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def ibbench_register_estimators(register):
    register(
        "ksg",
        "ibbench_ksg.estimator:KSG",
        description="Kraskov-Stoegbauer-Grassberger k-NN estimator (algorithm 1)",
    )
