"""Donsker-Varadhan critics, shared by MINE and AA-MINE (Belghazi et al. 2018).

    I(X;Y) >= E_P[T(u,y)] - log E_{P_U x P_Y}[exp T(u,y)]          (DV bound)

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

import contextlib
import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from ..api import Params, RunContext

Precision = Literal["fp32", "tf32", "bf16"]
Standardise = Literal["per-coordinate", "global", "none"]
SCALE_FLOOR = 0.1  # per-coordinate scales never below this share of the side's overall RMS
SIMD_WIDTH = 16  # float32 lanes of AVX-512; also a multiple of what tensor cores want


class CriticParams(Params):
    hidden: int = Field(1500, ge=1)  # width of g's hidden layers; the paper's 1500
    depth: int = Field(2, ge=1)  # hidden layers of g; the paper's 2
    lr: float = Field(1e-4, gt=0)  # Adam; the paper's 1e-4
    batch_size: int = Field(512, ge=2)  # not given in the paper
    # the MOST critic updates: training stops earlier once the held-out bound plateaus (the paper
    # trains "to convergence"); a run that hits this maximum is recorded as not converged
    steps: int = Field(10000, ge=1)
    eval_samples: int = Field(16384, ge=2)  # fresh pairs for the final estimate (a sampler task)
    eval_every: int = Field(100, ge=1)  # M: the held-out bound is evaluated every M updates
    patience: int = Field(5, ge=1)  # evaluations without an improvement before training stops
    # an improvement counts when it exceeds min_delta nats and min_delta_se held-out standard errors
    # (a gain within the bound's own sampling error is not one the held-out set can resolve)
    min_delta: float = Field(0.01, ge=0)
    min_delta_se: float = Field(1.0, ge=0)
    val_samples: int = Field(4096, ge=2)  # a sampler task: the fixed fresh pairs of the held-out curve
    heldout_fraction: float = Field(0.5, gt=0, lt=1)  # a finite set of pairs: the share held out (bmi: 1/2)
    standardise: Standardise = "per-coordinate"  # inputs centred and scaled on training pairs
    standardise_samples: int = Field(4096, ge=2)  # a sampler task: fresh pairs the statistics come from
    ema: float | None = Field(None, gt=0, lt=1)  # rate of MINE's bias-corrected gradient; None: plain DV
    trace_points: int = Field(20, ge=0)  # how many training-curve points to record
    refresh_steps: int = Field(1000, ge=0)  # warm-started updates per re-measurement of a drifting layer
    ensemble: int = Field(1, ge=1)  # K critics in one batched step: mean and spread of K estimates
    # "shared": the K members train on the same batches (own init, own negative pairs, own evaluation
    # pairs): sampling is paid once.  "independent": each member draws its own batches too
    ensemble_data: Literal["shared", "independent"] = "shared"
    precision: Precision = "fp32"  # "bf16": autocast g's matmuls; "tf32": TF32 matmuls (CUDA only)
    compile: bool = False  # torch.compile the training step (pays off for small critics on a GPU)


CRITIC_BUDGETS = {
    "smoke": {"hidden": 64, "steps": 300, "batch_size": 256, "lr": 1e-3, "eval_samples": 4096,
              "refresh_steps": 50, "eval_every": 25, "patience": 4, "val_samples": 1024},
    # quick keeps the paper's lr and depth and shrinks width: at lr 5e-4 AA-MINE's DV bound
    # oscillated between -12 and +26 nats at noise var 1e-3 on MNIST; at 1e-4 it climbed steadily.
    # steps is a maximum: most quick fits stop on the held-out plateau well before it
    "quick": {"hidden": 256, "steps": 5000, "batch_size": 256, "lr": 1e-4, "eval_samples": 8192,
              "refresh_steps": 1000, "eval_every": 100, "patience": 5},
    "paper": {"eval_every": 200},  # the paper's critic (widths, lr); steps and batch are our choice
}


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
    return 2.0 * rows * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def critic_step_flops(u_dim: int, y_dim: int, hidden: int, depth: int, batch: int,
                      members: int = 1) -> float:
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
        self.weights = nn.ParameterList([stacked(lambda ls: ls[0].weight[:, :u_dim].T, 0, pad),
                                         stacked(lambda ls: ls[0].weight[:, u_dim:].T, 0, pad)] + [
            stacked(lambda ls, i=i: ls[i].weight.T, pad, 0 if i == last else pad) for i in range(1, last + 1)])
        self.biases = nn.ParameterList(
            stacked(lambda ls, i=i: ls[i].bias.unsqueeze(0), 0, 0 if i == last else pad) for i in range(last + 1))
        # the input standardisation (u - shift_u) / scale_u, (y - shift_y) / scale_y: identity until
        # ``standardise`` sets it from training pairs; buffers, so it travels with the weights
        for side, dim in (("u", u_dim), ("y", y_dim)):
            self.register_buffer(f"shift_{side}", torch.zeros(dim))
            self.register_buffer(f"scale_{side}", torch.ones(dim))

    @torch.no_grad()
    def standardise(self, u: torch.Tensor, y: torch.Tensor, mode: Standardise = "per-coordinate",
                    momentum: float | None = None) -> dict:
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
                scale = sd.clamp_min(SCALE_FLOOR * rms) if mode == "per-coordinate" else rms.expand(t.shape[1])
                scale = scale.clamp_min(torch.finfo(torch.float32).tiny)  # a constant side is only centred
            else:
                shift = torch.zeros_like(shift)
            if momentum is not None:
                shift = torch.lerp(getattr(self, f"shift_{side}").double(), shift, momentum)
                scale = torch.lerp(getattr(self, f"scale_{side}").double(), scale, momentum)
            getattr(self, f"shift_{side}").copy_(shift)
            getattr(self, f"scale_{side}").copy_(scale)
            stats[side] = {"mean_abs_shift": shift.abs().mean().item(), "scale_min": scale.min().item(),
                           "scale_max": scale.max().item()}
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
        for w, b in zip(self.weights[2:], self.biases[1:]):
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
        self.u_dim, self.y_dim, self.members, self.hidden, self.embed = u_dim, y_dim, p.ensemble, p.hidden, embed

        def encoder(in_dim: int) -> tuple[nn.ParameterList, nn.ParameterList]:
            nets = [nn.Sequential(*list(mlp_head(in_dim, p.hidden, p.depth))[:-1], nn.Linear(p.hidden, embed))
                    for _ in range(p.ensemble)]
            linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
            weights = nn.ParameterList(
                nn.Parameter(torch.stack([ls[i].weight.detach().T for ls in linears]).contiguous())
                for i in range(len(linears[0])))
            biases = nn.ParameterList(nn.Parameter(torch.stack([ls[i].bias.detach().unsqueeze(0) for ls in linears]))
                                      for i in range(len(linears[0])))
            return weights, biases

        self.f_weights, self.f_biases = encoder(u_dim)
        self.g_weights, self.g_biases = encoder(y_dim)
        for side, dim in (("u", u_dim), ("y", y_dim)):
            self.register_buffer(f"shift_{side}", torch.zeros(dim))
            self.register_buffer(f"scale_{side}", torch.ones(dim))

    @staticmethod
    def _encode(h: torch.Tensor, weights: nn.ParameterList, biases: nn.ParameterList) -> torch.Tensor:
        for i, (w, b) in enumerate(zip(weights, biases)):
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


def dv_bound(t_joint: torch.Tensor, t_marg: torch.Tensor) -> torch.Tensor:
    """E_P[T] - log E_Q[e^T] along the last axis, with logsumexp for the second term."""
    return t_joint.mean(-1) - (torch.logsumexp(t_marg, -1) - math.log(t_marg.shape[-1]))


def dv_estimate_with_stderr(t_joint: torch.Tensor, t_marg: torch.Tensor) -> tuple[float, float]:
    """The DV bound on a large evaluation set (1-d) and its delta-method standard error."""
    m = t_joint.shape[0]
    w = torch.exp(t_marg - t_marg.max())  # e^T / e^max: the ratio is all the delta method needs
    var = t_joint.var() / m + w.var() / (m * w.mean() ** 2)
    return dv_bound(t_joint, t_marg).item(), math.sqrt(var.item())


Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
#: (critic, u (K, n, d_u), y (K, n, d_y)) -> (what training maximises, the bound to report), each (K,).
#: The default objective is the DV bound on joint and shuffled pairs; plugins pass others (InfoNCE, NWJ).
Objective = Callable[["Critic", torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@contextlib.contextmanager
def precision_scope(precision: Precision, device: torch.device):
    """bf16: autocast matmuls to bfloat16 (CPU with AVX512-BF16/AMX, or CUDA); tf32: TF32 matmuls on CUDA."""
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    elif precision == "tf32" and device.type == "cuda":
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old
    else:
        yield


def draw(sample: Sampler, members: int, n: int, generator: torch.Generator, device: torch.device,
         shared: bool = False):
    """n pairs per member as (K, n, .) tensors on ``device``, from one call to the sampler:
    K n pairs, or (``shared``) the same n pairs for every member."""
    if shared:
        u, y = sample(n, generator)
        return (u.to(device).unsqueeze(0).expand(members, -1, -1),
                y.to(device).unsqueeze(0).expand(members, -1, -1))
    u, y = sample(members * n, generator)
    return u.to(device).view(members, n, -1), y.to(device).view(members, n, -1)


def permutations(members: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """K independent permutations of range(n), (K, n)."""
    if members == 1:
        return torch.randperm(n, generator=generator).unsqueeze(0).to(device)
    return torch.argsort(torch.rand(members, n, generator=generator), dim=1).to(device)


def make_adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam, fused into one kernel where torch has it (CPU and CUDA): the update is memory-bound."""
    return torch.optim.Adam(params, lr=lr, fused=device.type in ("cpu", "cuda"))


class CriticTrainer:
    """Maximises the DV bound (or ``objective``) on batches from ``sample`` (the paper's Algorithm 1),
    one update per ``step``; can be resumed (warm start).  How long to train and what to report is
    the protocol's (``ibbench.estimators.protocol``)."""

    def __init__(self, critic: Critic, sample: Sampler, p: CriticParams, ctx: RunContext, name: str,
                 objective: Objective | None = None) -> None:
        self.critic, self.sample, self.p, self.ctx, self.name = critic.to(ctx.device), sample, p, ctx, name
        self.objective = objective
        self.data_gen, self.perm_gen = ctx.generator(stream=1), ctx.generator(stream=2)
        self.opt = make_adam(critic.parameters(), p.lr, ctx.device)
        self.log_ema: torch.Tensor | None = None  # log of the moving average of E_Q[e^T], per member
        self.trace: list[list[float]] = []
        self.steps_done = 0
        self._loss = torch.compile(self._loss_and_bound, dynamic=False) if p.compile else self._loss_and_bound

    def _loss_and_bound(self, u: torch.Tensor, y: torch.Tensor, perm: torch.Tensor, log_ema):
        """The loss to minimise (summed over members), the members' DV bounds and the updated EMA."""
        with precision_scope(self.p.precision, self.ctx.device):
            t_joint, t_marg = self.critic.joint_and_marginal(u, y, perm)
        bound = dv_bound(t_joint, t_marg)
        if self.p.ema is None:
            return -bound.sum(), bound, None
        # MINE's bias correction: grad log E[e^T] = E[grad T e^T] / E[e^T], with the
        # denominator replaced by a moving average; the surrogate below has that gradient.
        ema = self.p.ema
        log_mean = torch.logsumexp(t_marg, -1) - math.log(t_marg.shape[-1])
        lm = log_mean.detach()
        new_ema = lm if log_ema is None else torch.logaddexp(log_ema + math.log1p(-ema), lm + math.log(ema))
        return -(t_joint.mean(-1) - torch.exp(log_mean - new_ema)).sum(), bound, new_ema

    def step(self) -> torch.Tensor:
        """One update of every member; returns the members' bounds on the batch, (K,)."""
        p, device, k = self.p, self.ctx.device, self.critic.members
        u, y = draw(self.sample, k, p.batch_size, self.data_gen, device, shared=p.ensemble_data == "shared")
        if self.objective is not None:
            with precision_scope(p.precision, device):
                surrogate, bound = self.objective(self.critic, u, y)
            loss = -surrogate.sum()
        else:
            perm = permutations(k, p.batch_size, self.perm_gen, device)
            loss, bound, self.log_ema = self._loss(u, y, perm, self.log_ema)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.steps_done += 1
        return bound.detach()

    def state_dict(self) -> dict[str, Any]:
        """Weights, Adam moments, random streams, EMA and trace: a loaded trainer steps on exactly as
        this one would."""
        return {"critic": self.critic.state_dict(), "opt": self.opt.state_dict(),
                "data_gen": self.data_gen.get_state(), "perm_gen": self.perm_gen.get_state(),
                "log_ema": self.log_ema, "trace": self.trace, "steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.opt.load_state_dict(state["opt"])
        self.data_gen.set_state(state["data_gen"])
        self.perm_gen.set_state(state["perm_gen"])
        self.log_ema = None if state["log_ema"] is None else state["log_ema"].to(self.ctx.device)
        self.trace, self.steps_done = state["trace"], state["steps_done"]
