"""The training batches of a network: an endless shuffled stream that a checkpoint can resume."""

from __future__ import annotations

from typing import Any

import torch

# the stream every trainer draws its minibatches from: at one seed, CE and IB nets see the same order
BATCHES_STREAM = "train.batches"


class BatchStream:
    """Endless shuffled minibatches, a new permutation every epoch (drawn from ``gen``).

    Its position is state (the generator as it was before this epoch's
    permutation, and the batch index), so a checkpoint can resume the stream
    at the very batch where it stopped.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, size: int, gen: torch.Generator) -> None:
        self.x, self.y, self.gen = x, y, gen
        self.size = min(size, x.shape[0])
        self.per_epoch = x.shape[0] // self.size  # the ragged tail of a permutation is dropped
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.epoch_gen_state = self.gen.get_state()
        self.perm = torch.randperm(self.x.shape[0], generator=self.gen)
        self.position = 0

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.position == self.per_epoch:
            self._new_epoch()
        idx = self.perm[self.position * self.size : (self.position + 1) * self.size]
        self.position += 1
        return self.x[idx], self.y[idx]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_gen_state": self.epoch_gen_state, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["epoch_gen_state"])
        self._new_epoch()
        self.position = state["position"]
