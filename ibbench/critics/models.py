"""The critic networks of MINE and AA-MINE (Belghazi et al. 2018), and their FLOP counts.

The critic is T(u, y) = g([u, y]) with g an MLP (the paper: 2 hidden layers
of 1500, LeakyReLU) and u the critic's view of x: x itself for MINE, the
noise-free signal F_i(x) for AA-MINE (``TaskInstance.sample_features``).

One critic step puts the n joint pairs (u_i, y_i) and the n shuffled
marginal pairs (u_i, y_perm(i)) through g in one pass, and shares g's first
layer between them: with W = [W_u, W_y],

    W [u_i, y_j] + b = (W_u u_i) + (W_y y_j) + b,

so u W_u^T and y W_y^T are computed once and the marginal pre-activations are
a gather of the second (2n x d_in x h multiply-adds become n x d_in x h).

``ensemble = K`` trains K critics (K weight initialisations, K streams of
negative pairs) as one batched network: every weight gets a leading K axis
and every matmul is a batched matmul.  Adam is elementwise, so one optimiser
on the stacked weights is K independent optimisers.  By default the members
share the training batches (sampling, e.g. a network forward for AA-MINE,
is paid once) and evaluate on pairs of their own; ``ensemble_data =
"independent"`` gives each member its own batches as well.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from .params import CriticParams, Standardise

SCALE_FLOOR = 0.1  # per-coordinate scales never below this share of the side's overall RMS
SIMD_WIDTH = 16  # float32 lanes of AVX-512; also a multiple of what tensor cores want


def mlp_head(in_dim: int, hidden: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def mlp_flops(widths: list[int], rows: int) -> float:
    """Forward matmul FLOPs of an MLP with these widths on ``rows`` inputs."""
    return 2.0 * rows * sum(a * b for a, b in itertools.pairwise(widths))


def critic_step_flops(u_dim: int, y_dim: int, hidden: int, depth: int, batch: int, members: int = 1) -> float:
    """Matmul FLOPs of one critic step (K members), a multiply-add counted as 2.

    Forward: the shared first layer on n rows (u W_u, y W_y), the other layers
    on the 2n joint + marginal rows.  Backward: a weight gradient for every
    layer (same FLOPs as its forward) and an input gradient for every layer
    but the first (its inputs need none).
    """
    n, rest = batch, [hidden] * depth + [1]
    first = 2.0 * n * (u_dim + y_dim) * hidden
    later = mlp_flops(rest, 2 * n)
    return members * (2 * first + 3 * later)


def _affine(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """h W + b for each member: (K, R, a) x (K, a, c) -> (K, R, c); a plain addmm when K = 1."""
    if w.shape[0] == 1:
        # squeeze, not [0]: indexing's backward allocates and zero-fills the whole stacked tensor
        return torch.addmm(b.squeeze(0), h.squeeze(0), w.squeeze(0)).unsqueeze(0)
    return torch.baddbmm(b, h, w)


class Critic(nn.Module):
    """K >= 1 critics T_k(u, y) = g_k([u, y]); member k starts as the k-th ``mlp_head`` drawn from torch's RNG.

    Weights are stored stacked, (K, in, out), so one critic and an ensemble run the same code; g's
    first layer is kept as its two blocks W_u (K, d_u, h) and W_y (K, d_y, h).

    The hidden width is padded up to a multiple of ``SIMD_WIDTH`` with inert units: their incoming
    and outgoing weights and their biases start at zero, so their activation is 0 and every gradient
    reaching their weights is 0 (the outgoing weight is 0, and the incoming activation is 0); Adam
    then never moves them.  The function is the h-wide critic's; the matmuls get aligned rows
    (a 1500-wide critic ran its matmuls at ~140 GFLOP/s on AVX-512, a 1504-wide one at ~185).
    """

    def __init__(self, u_dim: int, y_dim: int, p: CriticParams) -> None:
        super().__init__()
        self.u_dim, self.y_dim, self.members, self.hidden = u_dim, y_dim, p.ensemble, p.hidden
        heads = [mlp_head(u_dim + y_dim, p.hidden, p.depth) for _ in range(p.ensemble)]
        linears = [[m for m in head if isinstance(m, nn.Linear)] for head in heads]
        pad = -p.hidden % SIMD_WIDTH

        def stacked(get, pad_in: int = 0, pad_out: int = 0) -> nn.Parameter:
            w = torch.stack([get(ls).detach() for ls in linears])
            return nn.Parameter(nn.functional.pad(w, (0, pad_out, 0, pad_in)).contiguous())

        last = len(linears[0]) - 1
        self.weights = nn.ParameterList(
            [
                stacked(lambda ls: ls[0].weight[:, :u_dim].T, 0, pad),
                stacked(lambda ls: ls[0].weight[:, u_dim:].T, 0, pad),
            ]
            + [
                stacked(lambda ls, i=i: ls[i].weight.T, pad, 0 if i == last else pad)
                for i in range(1, last + 1)
            ]
        )
        self.biases = nn.ParameterList(
            stacked(lambda ls, i=i: ls[i].bias.unsqueeze(0), 0, 0 if i == last else pad)
            for i in range(last + 1)
        )
        # the input standardisation (u - shift_u) / scale_u, (y - shift_y) / scale_y: identity until
        # ``standardise`` sets it from training pairs; buffers, so it travels with the weights
        for side, dim in (("u", u_dim), ("y", y_dim)):
            self.register_buffer(f"shift_{side}", torch.zeros(dim))
            self.register_buffer(f"scale_{side}", torch.ones(dim))

    @torch.no_grad()
    def standardise(
        self,
        u: torch.Tensor,
        y: torch.Tensor,
        mode: Standardise = "per-coordinate",
        momentum: float | None = None,
    ) -> dict:
        """Fix the input map from training pairs u (n, d_u), y (n, d_y); returns what it set, for the record.

        Each side is centred by its mean and divided by its standard deviation (computed in float64):
        an invertible affine map, so the MI is unchanged, and the critic's inputs are then the same
        whatever the units of x and y.  "per-coordinate" divides each coordinate by its own std,
        floored at ``SCALE_FLOOR`` times the side's overall RMS: a nearly constant coordinate (a dead
        ReLU unit, a border pixel) would otherwise turn its rare excursions into outliers of 1e4 (DV
        bounds of -30 nats were seen).  "global" divides by the overall RMS only; "none" keeps the
        identity.  ``momentum`` m: move the map a step m towards these pairs' statistics instead
        (shift and scale <- (1 - m) old + m new), to follow a layer that drifts as it trains, the way
        batch norm keeps running statistics.
        """
        stats = {}
        for side, t in (("u", u), ("y", y)):
            t = t.detach().reshape(t.shape[0], -1).double()
            shift, scale = t.mean(0), torch.ones(t.shape[1], dtype=torch.float64, device=t.device)
            if mode != "none":
                sd = t.std(0, correction=0)
                rms = sd.pow(2).mean().sqrt()
                scale = (
                    sd.clamp_min(SCALE_FLOOR * rms) if mode == "per-coordinate" else rms.expand(t.shape[1])
                )
                scale = scale.clamp_min(torch.finfo(torch.float32).tiny)  # a constant side is only centred
            else:
                shift = torch.zeros_like(shift)
            if momentum is not None:
                shift = torch.lerp(getattr(self, f"shift_{side}").double(), shift, momentum)
                scale = torch.lerp(getattr(self, f"scale_{side}").double(), scale, momentum)
            getattr(self, f"shift_{side}").copy_(shift)
            getattr(self, f"scale_{side}").copy_(scale)
            stats[side] = {
                "mean_abs_shift": shift.abs().mean().item(),
                "scale_min": scale.min().item(),
                "scale_max": scale.max().item(),
            }
        return {"mode": mode, **stats}

    def joint_and_marginal(self, u: torch.Tensor, y: torch.Tensor, perm: torch.Tensor):
        """T on the joint pairs (u_i, y_i) and the marginal pairs (u_i, y_perm(i)), in one pass.

        u (K, n, d_u), y (K, n, d_y), perm (K, n) -> two (K, n) tensors; 2-d u, y and 1-d perm
        (one critic) give two (n,) tensors.
        """
        single = u.dim() == 2
        if single:
            u, y, perm = u.unsqueeze(0), y.unsqueeze(0), perm.unsqueeze(0)
        k, n = u.shape[0], u.shape[1]
        hu, hy = self._first_layer(u, y)  # shared by the joint and the marginal half
        rows = torch.cat([torch.arange(n, device=perm.device).expand(k, n), perm], 1)  # y_i, then y_perm(i)
        if k == 1:
            hy_both = hy.squeeze(0).index_select(0, rows.squeeze(0)).unsqueeze(0)
        else:
            hy_both = torch.gather(hy, 1, rows.unsqueeze(-1).expand(k, 2 * n, hy.shape[-1]))
        t = self._rest((hy_both.view(k, 2, n, -1) + hu.unsqueeze(1)).view(k, 2 * n, -1))
        t_joint, t_marg = t[:, :n], t[:, n:]
        return (t_joint.squeeze(0), t_marg.squeeze(0)) if single else (t_joint, t_marg)

    def scores(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """T(u_i, y_j) for every i, j: (K, n, n), or (n, n) for 2-d inputs (the n^2 pairs that
        InfoNCE-type bounds need; the first layer's products are still computed once per point)."""
        single = u.dim() == 2
        if single:
            u, y = u.unsqueeze(0), y.unsqueeze(0)
        k, n = u.shape[0], u.shape[1]
        hu, hy = self._first_layer(u, y)
        t = self._rest((hu.unsqueeze(2) + hy.unsqueeze(1)).reshape(k, n * n, -1)).view(k, n, n)
        return t.squeeze(0) if single else t

    def _first_layer(self, u: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """W_u u + b and W_y y on the standardised inputs, once per point: (K, n, h) each."""
        u = (u - self.shift_u.to(u.dtype)) / self.scale_u.to(u.dtype)
        y = (y - self.shift_y.to(y.dtype)) / self.scale_y.to(y.dtype)
        if u.shape[0] > 1:
            hy = torch.bmm(y, self.w_y)
        else:
            hy = torch.mm(y.squeeze(0), self.w_y.squeeze(0)).unsqueeze(0)
        return _affine(u, self.w_u, self.biases[0]), hy

    def _rest(self, h: torch.Tensor) -> torch.Tensor:
        """The layers after the first on pre-activations (K, R, h) -> T, (K, R), in float32 even
        under bf16 autocast: the bounds need the precision."""
        for w, b in zip(self.weights[2:], self.biases[1:], strict=True):
            h = _affine(nn.functional.leaky_relu(h, 0.2, inplace=True), w, b)
        return h.squeeze(-1).float()

    @property
    def w_u(self) -> nn.Parameter:
        return self.weights[0]

    @property
    def w_y(self) -> nn.Parameter:
        return self.weights[1]


class SeparableCritic(Critic):
    """K >= 1 separable critics T_k(u, y) = f_k(u) . g_k(y) (Poole et al. 2019, the critic of contrastive
    learning): f and g are MLPs of ``depth`` hidden layers of ``hidden`` LeakyReLU(0.2) units mapping
    each side to an ``embed``-dim vector, so all n^2 scores of a batch are one (n, embed) x (embed, n)
    matmul instead of n^2 passes through a joint network.  Same interface and input standardisation
    as ``Critic``; weights stacked (K, in, out) per member.
    """

    def __init__(self, u_dim: int, y_dim: int, p: CriticParams, embed: int = 32) -> None:
        nn.Module.__init__(self)
        self.u_dim, self.y_dim, self.members, self.hidden, self.embed = (
            u_dim,
            y_dim,
            p.ensemble,
            p.hidden,
            embed,
        )

        def encoder(in_dim: int) -> tuple[nn.ParameterList, nn.ParameterList]:
            nets = [
                nn.Sequential(*list(mlp_head(in_dim, p.hidden, p.depth))[:-1], nn.Linear(p.hidden, embed))
                for _ in range(p.ensemble)
            ]
            linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
            weights = nn.ParameterList(
                nn.Parameter(torch.stack([ls[i].weight.detach().T for ls in linears]).contiguous())
                for i in range(len(linears[0]))
            )
            biases = nn.ParameterList(
                nn.Parameter(torch.stack([ls[i].bias.detach().unsqueeze(0) for ls in linears]))
                for i in range(len(linears[0]))
            )
            return weights, biases

        self.f_weights, self.f_biases = encoder(u_dim)
        self.g_weights, self.g_biases = encoder(y_dim)
        for side, dim in (("u", u_dim), ("y", y_dim)):
            self.register_buffer(f"shift_{side}", torch.zeros(dim))
            self.register_buffer(f"scale_{side}", torch.ones(dim))

    @staticmethod
    def _encode(h: torch.Tensor, weights: nn.ParameterList, biases: nn.ParameterList) -> torch.Tensor:
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            if i:
                h = nn.functional.leaky_relu(h, 0.2)
            h = _affine(h, w, b)
        return h.float()

    def embeddings(self, u: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f(u) (K, n, embed) and g(y) (K, n, embed) on the standardised inputs."""
        u = (u - self.shift_u.to(u.dtype)) / self.scale_u.to(u.dtype)
        y = (y - self.shift_y.to(y.dtype)) / self.scale_y.to(y.dtype)
        return self._encode(u, self.f_weights, self.f_biases), self._encode(y, self.g_weights, self.g_biases)

    def joint_and_marginal(self, u: torch.Tensor, y: torch.Tensor, perm: torch.Tensor):
        single = u.dim() == 2
        if single:
            u, y, perm = u.unsqueeze(0), y.unsqueeze(0), perm.unsqueeze(0)
        fu, gy = self.embeddings(u, y)
        g_perm = torch.gather(gy, 1, perm.unsqueeze(-1).expand(-1, -1, gy.shape[-1]))
        t_joint, t_marg = (fu * gy).sum(-1), (fu * g_perm).sum(-1)
        return (t_joint.squeeze(0), t_marg.squeeze(0)) if single else (t_joint, t_marg)

    def scores(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        single = u.dim() == 2
        if single:
            u, y = u.unsqueeze(0), y.unsqueeze(0)
        fu, gy = self.embeddings(u, y)
        t = torch.bmm(fu, gy.transpose(1, 2))
        return t.squeeze(0) if single else t
