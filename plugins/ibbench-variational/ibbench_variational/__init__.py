"""ibbench-variational: InfoNCE, NWJ and SMILE as an ibbench plugin (entry point ``variational``).

Registered by lazy strings, so ``ibbench list`` imports no torch.
"""

from __future__ import annotations

from ibbench.api import hookimpl

__version__ = "0.1.0"


@hookimpl
def ibbench_register_estimators(register):
    register(
        "infonce",
        "ibbench_variational.bounds:InfoNCE",
        description="InfoNCE (CPC) bound, separable critic f(x).g(y) on all n^2 pairs; capped at log(batch)",
    )
    register(
        "nwj",
        "ibbench_variational.bounds:NWJ",
        description="NWJ / f-divergence bound E_P[T] - E_Q[e^(T-1)], MLP critic on all n^2 (x, y) pairs",
    )
    register(
        "smile",
        "ibbench_variational.bounds:SMILE",
        description="SMILE: DV estimate, e^T clipped to [e^-tau, e^tau] (not a bound), JS-trained separable critic",
    )
