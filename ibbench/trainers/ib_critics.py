"""The two discriminators of IB training (paper Eq. 7) for one representation L = F(X):

    D_y on (one-hot y, L)      -> DV bound on I(Y; L)          (MINE)
    D_x on (x, L + eps)        -> DV bound on I(X; L + eps)    (AA-MINE, or plain MINE as an ablation)

They are trained on fresh batches of the training set with the net fixed
(``update``), and give the net differentiable bounds on its own batch
(``bounds``): gradient flows through L + eps into the layer being trained;
AA-MINE's view of x, F(x), is the same L detached, so no gradient flows
through it (the paper's frozen, synced copy of F gives the same numbers).

They follow the estimation protocol (``ibbench.critics.protocol``): inputs standardised on
the layer as it is when the critics are (re)fitted, pre-training until the held-out bound
plateaus (the paper's App. C: "until convergence", ``critic_pretrain_steps`` being the maximum),
and every reported estimate held out: D_y on pairs of the validation split, D_x on fresh noise.
ib-e2e's D_y reads L + eps too (``dy_noise``; ``bounds`` says why).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from ..api import RunContext, check_finite
from ..critics import (
    FINAL_PERM_STREAM,
    Critic,
    CriticData,
    CriticParams,
    CriticTrainer,
    Sampler,
    Standardise,
    check_possible,
    combine,
    critic_data,
    dv_bound,
    fit_to_plateau,
    heldout_bound,
    permutations,
    precision_scope,
)
from ..errors import DivergenceError
from ..estimators.aa_mine import AAMINE
from ..methods.infoplane import LabelLayerTask, NoisyLayerTask
from ..running.hardware import native_bf16
from ..tasks.networks import features
from ..training import ClassificationData, TrainerParams
from ..training.params import SMOKE_LINEAR_PROBES

CriticName = Literal["aa-mine", "mine"]


class IBParams(TrainerParams):
    critic_hidden: int = Field(1500, ge=1)  # the paper's 2 x 1500 LeakyReLU critics
    critic_depth: int = Field(2, ge=1)
    critic_lr: float = Field(1e-4, gt=0)  # the paper's 1e-4
    critic_batch: int = Field(256, ge=2)  # not given in the paper
    # "trained separately until convergence" first: the most pre-training updates; the critics stop
    # earlier when their held-out bound plateaus (checked every critic_eval_every updates)
    critic_pretrain_steps: int = Field(10000, ge=0)
    critic_eval_every: int = Field(100, ge=1)
    critic_patience: int = Field(5, ge=1)
    critic_steps: int = Field(10, ge=1)  # k: critic updates per network update (paper: 10)
    critic_eval_samples: int = Field(8192, ge=2)  # held-out pairs for the per-layer estimates
    critic_standardise: Standardise = (
        "per-coordinate"  # the critics' input map, set on the layer at pre-training
    )
    # the map then follows the layer: running statistics of the net's batches, this step size per batch.
    # A map fixed at the layer's start goes stale as the layer grows (logits under CE: inputs of
    # hundreds of standard deviations, and the critics' gradients with them)
    critic_standardise_momentum: float = Field(0.01, ge=0, le=1)
    # the critics' matmuls: "auto" is bf16 where the device multiplies bf16 natively, else fp32 (an
    # iteration ~1.3x cheaper on an AVX512-BF16 CPU; the held-out estimates are always taken in fp32)
    critic_precision: Literal["auto", "fp32", "bf16"] = "auto"
    ixt_critic: CriticName = "aa-mine"  # who plays D_x; "mine" is an ablation the paper never ran
    truth_points: int = Field(2000, ge=2)  # inputs X is uniform over for the Monte-Carlo truth of I(X; L+eps)

    def critic_params(self, device: torch.device) -> CriticParams:
        """The critics' parameters on ``device`` (``critic_precision`` resolved)."""
        precision = self.critic_precision
        if precision == "auto":
            precision = "bf16" if native_bf16(device) else "fp32"
        return CriticParams(
            precision=precision,
            hidden=self.critic_hidden,
            depth=self.critic_depth,
            lr=self.critic_lr,
            batch_size=self.critic_batch,
            steps=max(1, self.critic_pretrain_steps),
            eval_samples=self.critic_eval_samples,
            val_samples=min(4096, self.critic_eval_samples),
            eval_every=self.critic_eval_every,
            patience=self.critic_patience,
            trace_points=0,
            standardise=self.critic_standardise,
        )


class SharedBatchTrainer(CriticTrainer):
    """A ``CriticTrainer`` that also steps on pairs it is handed (``IBCritics.update``): ``loss_on``, a
    backward pass, then ``apply``.  Pre-training and evaluation are the base class's."""

    def loss_on(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss of one update on the joint pairs u (n, d_u), y (n, d_y), its shuffled pairs drawn
        from this trainer's stream, as ``step`` computes it on a batch of its own."""
        perm = permutations(1, u.shape[0], self.perm_gen, self.ctx.device)
        loss, _, self.log_ema = self._loss(u.unsqueeze(0), y.unsqueeze(0), perm, self.log_ema)
        return loss

    def apply(self) -> None:
        """The optimiser step on the gradients now in the critic's parameters; counts the update."""
        self.opt.step()
        self.steps_done += 1


class IBCritics:
    """D_y and/or D_x for the representation ``f`` (a network prefix, flattened).

    ``dy_noise``: D_y reads L + eps instead of L, so its bound is on I(Y; L + eps) <= I(Y; L) (see
    ``bounds``); D_x always reads L + eps.
    """

    def __init__(
        self,
        f: nn.Module,
        data: ClassificationData,
        noise_std: float,
        p: IBParams,
        ctx: RunContext,
        *,
        with_y: bool,
        with_x: bool,
        name: str,
        dy_noise: bool = False,
    ) -> None:
        self.f, self.noise_std, self.p, self.device = f, noise_std, p, ctx.device
        self.dy_noise = dy_noise
        self.n_classes = data.n_classes
        base = ctx.child(f"ib-critics.{name}", show_progress=False)  # its critics' own random streams
        cp = self.critic_params = p.critic_params(ctx.device)
        self.y: CriticTrainer | None = None
        self.x: CriticTrainer | None = None
        self.data: dict[str, CriticData] = {}
        self.ceilings: dict[str, float] = {}
        self.noisy = NoisyLayerTask(f, data.train_x, noise_std, ctx.device, truth_samples=1000)
        self.label = LabelLayerTask(f, data.train_x, data.train_y, data.n_classes, ctx.device, finite=False)
        if with_y:
            y_ctx = base.child("D_y")
            held = LabelLayerTask(f, data.val_x, data.val_y, data.n_classes, ctx.device, finite=False)
            train, heldout = self.label.sample, held.sample
            if dy_noise:
                train, heldout = self._noisy(train), self._noisy(heldout)
            self.data["iyt"] = critic_data(train, cp, y_ctx, heldout=heldout)
            self.ceilings["iyt"] = self.label.mi_ceiling
            critic = Critic(data.n_classes, self.label.y_dim, cp)
            self.y = SharedBatchTrainer(critic, self.data["iyt"].train, cp, y_ctx, "D_y")
        if with_x:
            x_ctx = base.child("D_x")
            if p.ixt_critic == "aa-mine":
                critic, sample = AAMINE().critic_for(self.noisy, cp, x_ctx), self.noisy.sample_features
            else:
                critic, sample = Critic(self.noisy.x_dim, self.noisy.y_dim, cp), self.noisy.sample
            self.data["ixt"] = critic_data(sample, cp, x_ctx)
            self.ceilings["ixt"] = self.noisy.mi_ceiling
            self.x = SharedBatchTrainer(critic, self.data["ixt"].train, cp, x_ctx, "D_x")
        self.noise_gen = base.generator("noise")
        self.batch_gen = base.generator("shared-batches")  # the inputs both critics' updates share

    def _noisy(self, sample: Sampler) -> Sampler:
        """``sample``'s pairs (u, L) as (u, L + eps), eps ~ N(0, noise_std^2 I) from the same generator."""

        def noisy(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
            u, l = sample(n, generator)  # noqa: E741 (the paper's L)
            return u, l + self.noise_std * torch.randn(l.shape, generator=generator).to(l.device)

        return noisy

    def trainers(self) -> list[CriticTrainer]:
        return [t for t in (self.y, self.x) if t is not None]

    def _named(self) -> list[tuple[str, CriticTrainer]]:
        return [(key, t) for key, t in (("iyt", self.y), ("ixt", self.x)) if t is not None]

    def pretrain(self) -> dict[str, Any]:
        """Standardise each critic's inputs on the layer as it is, then train it until its held-out
        bound plateaus (at most ``critic_pretrain_steps`` updates); returns each critic's held-out
        estimate, standard error, steps used and ``converged`` (keys 'iyt', 'ixt', ...)."""
        out: dict[str, Any] = {}
        for key, t in self._named():
            t.critic.standardise(*self.data[key].stats(), self.critic_params.standardise)
            if self.critic_params.steps > 0:
                stopper = fit_to_plateau(t, self.data[key], self.critic_params.steps)
                out[f"{key}_steps"], out[f"{key}_converged"] = stopper.steps_used, stopper.stopped
        out.update(self.estimates())
        return out

    def update(self, steps: int) -> None:
        """``steps`` updates of each critic on fresh batches of the net as it is now.

        With both critics, each update's batch of training inputs serves both: D_y steps on
        (one-hot y, L), D_x on (F(x), L + eps) (MINE's ablation: (x, L + eps)).  Each critic still
        sees fresh joint pairs of its own distribution; sharing them halves the forward passes of F,
        the costliest part of sampling, and the k batches go through F in one pass.  One backward
        pass gives both critics' gradients (their parameters are disjoint, so each gets the gradient
        of its own loss) and each steps its own Adam.
        """
        if self.y is None or self.x is None:
            for _ in range(steps):
                for t in self.trainers():
                    t.step()
            return
        n = self.critic_params.batch_size
        (onehot, l_y), (u_x, z) = self._shared_batches(steps * n)
        for i in range(steps):
            rows = slice(i * n, (i + 1) * n)
            loss_y = self.y.loss_on(onehot[rows], l_y[rows])
            loss_x = self.x.loss_on(u_x[rows], z[rows])
            self.y.opt.zero_grad(set_to_none=True)
            self.x.opt.zero_grad(set_to_none=True)
            (loss_y + loss_x).backward()
            self.y.apply()
            self.x.apply()

    def _shared_batches(
        self, n: int
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """D_y's and D_x's pairs from one draw of n training inputs: ((u_y, v_y), (u_x, v_x)), (n, .) each.

        ``update`` draws the k batches of its k steps at once (the net does not change between them):
        one pass of F over k n inputs runs at a better rate than k passes over n.
        """
        points = self.noisy.points
        idx = torch.randint(points.shape[0], (n,), generator=self.batch_gen).to(self.device)
        x = points.index_select(0, idx)
        # F in the critics' precision: bf16 rounds L by ~2^-8 of its size, far below the noise s_eps
        # (the critics' own first layer reads their inputs in that precision too)
        with precision_scope(self.critic_params.precision, self.device):
            l = features(self.f, x).float()  # noqa: E741 (the paper's L)
        z = torch.randn(l.shape, generator=self.batch_gen).to(self.device).mul_(self.noise_std).add_(l)
        u_x = l if self.p.ixt_critic == "aa-mine" else x
        return (self.label.onehot.index_select(0, idx), z if self.dy_noise else l), (u_x, z)

    def state_dict(self) -> dict[str, Any]:
        return {
            "trainers": [t.state_dict() for t in self.trainers()],
            "noise_gen": self.noise_gen.get_state(),
            "batch_gen": self.batch_gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for t, saved in zip(self.trainers(), state["trainers"], strict=True):
            t.load_state_dict(saved)
        self.noise_gen.set_state(state["noise_gen"])
        self.batch_gen.set_state(state["batch_gen"])

    def bounds(self, x: torch.Tensor, y: torch.Tensor, l: torch.Tensor) -> dict[str, torch.Tensor]:  # noqa: E741 (the paper's L)
        """DV bounds on the net's batch, differentiable in ``l`` = f(x): keys 'iyt' and 'ixt'.

        With ``dy_noise`` both critics read the same noisy z = L + eps, and the bound the net maximises
        is on I(Y; L + eps), a lower bound of I(Y; L) (data processing), as the DV bound itself is.  Why
        (ib-e2e, measured on digits): L's true I(Y; L) is H(Y) for any net whose L separates the classes,
        so its gradient is 0; what moves the net is the critic's smoothing, and a critic fitted to L on
        L's own scale (standardised inputs, or trained to a plateau on them) is scale-free: its gradient
        into L grows as 1 / spread(L).  A fresh net's logits have spread ~0.02, where that gradient is
        ~50x cross-entropy's on the net's weights and Adam follows it: logits that carry Y (a linear
        probe on them: 87 %) with no tie of coordinate to class (argmax: chance), and it stays that
        large with the bound at its ceiling log C (cluster tightening at the critic's resolution).
        Through eps the resolution is the IB functional's own noise s_eps for any critic: the gradient
        is ~spread(L) / s_eps^2 while L is small and vanishes once the classes lie many s_eps apart.
        """
        n, out = l.shape[0], {}
        perm = torch.randperm(n, generator=self.noise_gen).to(self.device)
        mode, momentum = self.critic_params.standardise, self.p.critic_standardise_momentum
        z = None  # L + eps, drawn only where a critic reads it (the random streams stay as they were)
        if self.x is not None or self.dy_noise:
            z = l + self.noise_std * torch.randn(l.shape, generator=self.noise_gen).to(self.device)
        if self.y is not None:
            onehot = nn.functional.one_hot(y, self.n_classes).float()
            ly = z if self.dy_noise else l
            if momentum:
                self.y.critic.standardise(onehot, ly, mode, momentum)
            out["iyt"] = dv_bound(*self.y.critic.joint_and_marginal(onehot, ly, perm))
        if self.x is not None:
            view = l.detach() if self.p.ixt_critic == "aa-mine" else x  # AA-MINE sees F(x), no gradient
            if momentum:
                self.x.critic.standardise(view, z, mode, momentum)
            out["ixt"] = dv_bound(*self.x.critic.joint_and_marginal(view, z, perm))
        return out

    def estimates(self, strict: bool = True) -> dict[str, Any]:
        """Each critic's held-out DV estimate (D_y: validation pairs; D_x: fresh noise) with its
        standard error (keys 'iyt', 'iyt_se', 'ixt', 'ixt_se'; nats).

        An impossible value (NaN, inf, below 0 or above the ceiling) raises DivergenceError when
        ``strict``.  Readings taken after the net is trained pass ``strict=False``: the net and its
        accuracy do not depend on them, so a diverged reading is not an estimate (its key is left
        out) but a note, ``{key}_diverged`` (the error) and ``{key}_diverged_value`` (what it read).
        """
        out: dict[str, Any] = {}
        for key, t in self._named():
            p32 = t.p.model_copy(update={"precision": "fp32"})  # the reported number in full precision
            members = heldout_bound(t.critic, self.data[key].final(), p32, t.ctx, FINAL_PERM_STREAM)
            value, se = combine(members)
            try:
                check_finite(value, f"{t.name} held-out estimate")
                check_possible(value, se, self.ceilings[key], t.name)
            except DivergenceError as exc:
                if strict:
                    raise
                out[f"{key}_diverged"], out[f"{key}_diverged_value"] = str(exc), value
                continue
            out[key], out[f"{key}_se"] = value, se
        return out


def critic_budgets(smoke: dict[str, Any], quick: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Budget presets of the IB trainers: the paper's critics unless shrunk (smoke, quick)."""
    critic_smoke = {
        "critic_hidden": 64,
        "critic_lr": 1e-3,
        "critic_batch": 128,
        "critic_pretrain_steps": 100,
        "critic_eval_every": 25,
        "critic_patience": 3,
        "critic_steps": 2,
        "critic_eval_samples": 1024,
        "truth_points": 300,
    }
    critic_quick = {"critic_hidden": 256, "critic_pretrain_steps": 3000, "critic_eval_samples": 4096}
    smoke = {**SMOKE_LINEAR_PROBES, **smoke}
    return {"smoke": {**critic_smoke, **smoke}, "quick": {**critic_quick, **quick}, "paper": {}}
