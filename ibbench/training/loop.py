"""The training loop every network trainer runs, and its schedules.

A trainer supplies what differs (the step, what an evaluation records, what its checkpoint holds
besides its parts); ``TrainingLoop`` does what is the same for all of them:

1. **Restore.**  ``ctx.resume_state()`` once, at construction: None for a fresh run.  ``use(parts)``
   registers the parts a checkpoint holds (net, optimiser, batch stream, model selection, probe,
   critics, ...) and, the first time in a resumed run, loads them, the global RNG last.
2. **First probe point.**  ``begin`` measures the information plane at step 0 (fresh runs only),
   then opens the progress bar.
3. **Steps.**  ``run(step, first, last)``: for each step the next batch of the stream goes to
   ``step(i, x, y)`` on the run's device; at the steps of ``evals`` ``on_eval(i, out)`` runs (model
   selection), at those of ``measures`` the probe measures; then the bar moves and a snapshot is
   offered (``ctx.save_state``), written only when one is due.

A layer-wise trainer calls ``run`` once per layer, with ``offset`` placing its steps on the run's
axis; ``end`` closes the bar.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import torch

from ..api import RunContext
from .batches import BatchStream
from .state import restore_parts, state_of


def schedule(total: int, points: int) -> set[int]:
    """``points`` step indices spread over 1..total, the last one always included."""
    return {max(1, round(total * k / points)) for k in range(1, points + 1)}


Step = Callable[[int, torch.Tensor, torch.Tensor], Any]


class TrainingLoop:
    """Restore, the first probe point, the progress bar, batches, the evaluation and probe schedules
    and checkpoint offers of one training run of ``total`` steps (all layers together).

    ``checkpoints=False``: a trainer that keeps no snapshots (it neither resumes nor offers any).
    """

    def __init__(
        self,
        ctx: RunContext,
        name: str,
        total: int,
        stream: BatchStream,
        probe: Any = None,
        *,
        checkpoints: bool = True,
    ) -> None:
        self.ctx, self.name, self.total, self.stream, self.probe = ctx, name, total, stream, probe
        self.checkpoints = checkpoints
        #: what the killed run this one resumes left (``make_state``'s dict), or None for a fresh run
        self.state: dict[str, Any] | None = ctx.resume_state() if checkpoints else None
        self.parts: dict[str, Any] = {}
        self._restored = False
        self.bar = None

    @property
    def resumed(self) -> bool:
        return self.state is not None

    def use(self, parts: dict[str, Any]) -> bool:
        """Make ``parts`` (name -> object with ``state_dict``, or None) what snapshots hold; in a resumed
        run the first call loads them from the snapshot, then the global RNG.  True when it did."""
        self.parts = parts
        if self.state is None or self._restored:
            return False
        restore_parts(self.state, parts)
        self._restored = True
        return True

    def begin(self, initial: int = 0, **tags: Any) -> None:
        """The information plane at step 0 (a fresh run with a probe), then the progress bar, ``initial``
        steps already done."""
        if self.probe is not None and self.state is None:
            self.probe.measure(0, **tags)
        self.bar = self.ctx.progress(self.total, self.name, initial=initial)

    def run(
        self,
        step: Step,
        first: int,
        last: int,
        *,
        evals: Collection[int] = (),
        on_eval: Callable[[int, Any], None] | None = None,
        measures: Collection[int] = (),
        offset: int = 0,
        tags: dict[str, Any] | None = None,
        where: Callable[[int], dict[str, Any]] | None = None,
        extra_state: Callable[[], dict[str, Any]] | None = None,
    ) -> Any:
        """Steps ``first``..``last``; returns the last ``step``'s output (None when there was none).

        ``evals``, ``measures``: steps (counted as ``first``..``last`` count) after which ``on_eval(i, out)``
        runs and the probe measures (at ``offset + i``, with ``tags``).  A snapshot's progress is
        ``where(i)`` ({"step": i} by default); it holds that, ``extra_state()`` (what the trainer keeps
        besides its parts: traces, summaries) and each part's state.
        """
        device, out = self.ctx.device, None
        for i in range(first, last + 1):
            x, y = next(self.stream)
            out = step(i, x.to(device), y.to(device))
            if i in evals:
                on_eval(i, out)
            if self.probe is not None and i in measures:
                self.probe.measure(offset + i, **(tags or {}))
            self.bar.update(1)
            if self.checkpoints:
                progress = where(i) if where is not None else {"step": i}
                self.ctx.save_state(
                    progress,
                    lambda progress=progress: {
                        **progress,
                        **(extra_state() if extra_state is not None else {}),
                        **state_of(self.parts),
                    },
                )
        return out

    def end(self) -> None:
        self.bar.close()
