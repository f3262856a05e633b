"""What the runner hands every plugin: the run's seed, device and budget, its named random streams,
progress and checkpoints (``RunContext``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is heavy: imported where it is used
    import torch


#: the stream estimators draw a task's pairs from (``RunContext.generator``): at one seed, every estimator
#: that samples the task sees the same pairs
TASK_SAMPLE_STREAM = "task.sample"


@dataclass
class RunContext:
    """What a plugin needs from the runner: seed, device, budget, progress bars, checkpoints."""

    seed: int
    device: torch.device
    budget: str = "quick"
    show_progress: bool | str = False  # True: tqdm bars; "lines": a short line per phase on stderr
    #: an ``ibbench.running.checkpoints.Checkpointer`` when the runner keeps snapshots of this run (suites do)
    checkpoint: Any = None
    #: the names this context was derived by (``child``), a prefix of every stream it draws
    namespace: str = ""

    def child(self, name: str, *, show_progress: bool | str | None = None) -> RunContext:
        """A context for one part of the run (a critic, a meter): the same seed, device and budget, no
        checkpoints, and random streams of its own, independent of every other name's."""
        progress = self.show_progress if show_progress is None else show_progress
        return RunContext(self.seed, self.device, self.budget, progress, None, f"{self.namespace}{name}/")

    def resume_state(self) -> dict[str, Any] | None:
        """The state a trainer last passed to ``save_state`` in a run of this spec that was killed, or None.

        Restore every part from it, then call ``ibbench.running.checkpoints.restore_global_rng(state["rng"])``
        last (building the parts draws from the global RNG)."""
        return self.checkpoint.load() if self.checkpoint is not None else None

    def save_state(self, progress: dict[str, Any], make_state) -> None:
        """Offer a snapshot at the end of a training step: ``make_state()`` (tensors, state dicts, plain
        data) is called and written only when one is due.  ``progress`` (e.g. {"step": 120}) goes in
        the record of a resumed run."""
        if self.checkpoint is not None:
            self.checkpoint.offer(progress, make_state)

    def generator(self, stream: str | int) -> torch.Generator:
        """A CPU generator for the random stream named ``stream`` (e.g. ``"beyond-normal.pairs"``; an
        int is the name ``str(stream)``) in this context's namespace: same seed -> same numbers.

        numpy's ``SeedSequence`` keyed by the run seed and the full name's bytes makes the streams of
        any two names independent.  Two parts that should see the same draws (CE and IB trainers their
        minibatches, estimators a task's pairs) share a name on purpose (``TASK_SAMPLE_STREAM``)."""
        import numpy as np
        import torch

        key = tuple(f"{self.namespace}{stream}".encode())
        words = np.random.SeedSequence(self.seed, spawn_key=key).generate_state(2, np.uint32)
        g = torch.Generator(device="cpu")
        g.manual_seed((int(words[0]) << 31) ^ int(words[1]))  # < 2**63: any torch seed
        return g

    def progress(self, total: int, desc: str, initial: int = 0):
        """A tqdm bar where the runner asked for bars (a terminal, not --quiet), rate-limited phase lines
        on stderr where it asked for "lines" (not a terminal), else silent (``ibbench.running.progress``)."""
        from ..running.progress import progress

        return progress(total, desc, initial, self.show_progress)
