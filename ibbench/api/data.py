"""What a built task is: a sampler of pairs (x, y) that knows its truth where it can
(``TaskInstance``), and the structure it may reveal (``Channel``: y = F(x) + Gaussian noise)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import NotApplicableError
from .context import RunContext
from .values import Truth

if TYPE_CHECKING:  # torch is heavy: imported where it is used
    import torch


@dataclass
class Channel:
    """Z = F(X) + eps with eps ~ N(0, noise_std^2 I): the structure a task may reveal.

    AA-MINE passes x through (a frozen copy of) ``network``; the known-noise
    mixture estimator uses ``network`` and ``noise_std``.  ``support`` is the
    finite set X is uniform over, when there is one.
    """

    network: torch.nn.Module
    noise_std: float
    support: torch.Tensor | None = None


class TaskInstance(ABC):
    """A built task: draws samples, knows its truth where it can."""

    x_dim: int
    y_dim: int
    channel: Channel | None = None
    #: a task that *is* a fixed, finite set of pairs (your arrays) says how many; ``sample(n)`` then
    #: returns n distinct pairs for n <= n_pairs and raises ``DataError`` beyond.  Estimators use every
    #: pair when not told otherwise, and critic estimators split them into training and held-out pairs.
    #: None: a sampler, whose fresh draws play the held-out role.
    n_pairs: int | None = None
    #: a known upper bound on I(X;Y) in nats, when there is one: log N for X uniform over N points,
    #: log C for labels of C classes.  A held-out estimate above it is impossible and fails as diverged
    mi_ceiling: float | None = None

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n i.i.d. pairs (x, y) as float32 tensors of shape (n, x_dim), (n, y_dim), on the CPU or
        on the run's device."""

    def sample_features(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """For a task with a channel, n pairs (F(x), y) with y = F(x) + eps: the noise-free signal
        beside the noisy one (what AA-MINE's critic sees), as (n, F's width), (n, y_dim) tensors.

        The default runs ``channel.network`` on the x of ``sample``, without gradients; tasks
        that compute F(x) while sampling override it so F(x) is computed once.
        """
        import torch

        if self.channel is None:
            raise NotApplicableError(
                f"{type(self).__name__} has no channel y = F(x) + noise to sample F(x) from"
            )
        x, y = self.sample(n, generator)
        net = self.channel.network
        device = next(net.parameters(), x).device
        with torch.no_grad():
            return net(x.to(device)).flatten(1), y

    def truth(self, ctx: RunContext) -> Truth | None:
        """The true I(X;Y) in nats, or None where unknown."""
        return None

    def describe(self) -> dict[str, Any]:
        """Facts worth recording with a result (data source, closed-form parameters)."""
        return {}

    def fixed_pairs(self):
        """A finite task's ``n_pairs`` pairs in their stored order, as float64 numpy arrays of shape
        (n_pairs, x_dim), (n_pairs, y_dim): what ``ibbench.methods.preprocess`` fits its map on.  ValueError
        for a sampler.

        The default takes ``sample(n_pairs)`` under a fixed seed, in float32; a task that holds its
        pairs in more precision (your arrays) or in an order of its own returns them itself."""
        import torch

        if self.n_pairs is None:
            raise ValueError(f"{type(self).__name__} is a sampler (n_pairs is None): it has no fixed pairs")
        x, y = self.sample(self.n_pairs, torch.Generator(device="cpu").manual_seed(0))
        return x.detach().cpu().double().numpy(), y.detach().cpu().double().numpy()
