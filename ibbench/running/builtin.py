"""ibbench's own tasks and estimators, registered through the same hooks a third party uses.

Targets are lazy ``"module:Attr"`` strings, so listing names imports no torch.
"""

from __future__ import annotations

from ..api import hookimpl

STAIRCASE_NATS = (2, 4, 6, 8, 10)  # Poole et al. 2019 / Song & Ermon 2020, d = 20


@hookimpl
def ibbench_register_tasks(register) -> None:
    _register_closed_form(register)
    _register_beyond_normal(register)
    _register_networks(register)


def _register_closed_form(register) -> None:
    """Synthetic tasks with closed-form or Monte-Carlo truth, and the arrays task."""
    register(
        "gaussian",
        "ibbench.tasks.gaussian:Gaussian",
        description="correlated Gaussians (sparse/dense, any dim, by rho or target MI); closed-form truth",
        truth=1.0,  # the default mi; each truth here is pinned to closed_form_truth by tests/test_plugins.py
    )
    for nats in STAIRCASE_NATS:
        register(
            f"gaussian-20d-{nats}nats",
            "ibbench.tasks.gaussian:Gaussian",
            description=f"staircase step: 20-d sparse Gaussian with {nats} nats",
            defaults={"dim": 20, "mi": float(nats)},
            truth=float(nats),
        )
    register(
        "student-t",
        "ibbench.tasks.student_t:StudentT",
        description="multivariate Student-t, Gaussian dispersion (sparse/dense), dof nu; mi = total; closed form",
        truth=1.0,
    )
    register(
        "gaussian-channel",
        "ibbench.tasks.gaussian_channel:GaussianChannel",
        description="Z = W X + b + eps, X ~ N(0,Sx); truth 1/2 log det(I + W Sx W^T / s^2)",
    )
    register(
        "mixture-channel",
        "ibbench.tasks.mixture_channel:MixtureChannel",
        description="Z = F_i(X) + eps, X uniform over MNIST/digits/synthetic, random MLP; Monte-Carlo truth",
    )
    register(
        "arrays",
        "ibbench.tasks.arrays:Arrays",
        description="your own (x, y) pairs from .npy/.npz/.csv files (task.x, task.y); used by `ibbench estimate`",
    )


def _register_beyond_normal(register) -> None:
    """bmi's 40 tasks under bmi's ids (Czyz et al. 2023), and the family with every field open."""
    from ..tasks.beyond_normal.catalogue import (
        BENCHMARK_IDS,
        BENCHMARK_PAIRS,
        BENCHMARK_TRUTHS,
        description,
        params_from_id,
    )

    target = "ibbench.tasks.beyond_normal.task:BeyondNormal"
    register(
        "beyond-normal",
        target,
        description="bmi's catalogue, composable: a base of closed-form MI through invertible transforms",
        truth=BENCHMARK_TRUTHS["1v1-normal-0.75"],  # its default base
    )
    for task_id in BENCHMARK_IDS:  # bmi's own ids, so results map one to one
        register(
            task_id,
            target,
            description=description(task_id),
            defaults={**params_from_id(task_id), "n_pairs": BENCHMARK_PAIRS},
            truth=BENCHMARK_TRUTHS[task_id],
        )


def _register_networks(register) -> None:
    """The paper's classification tasks (a dataset and a network) and the offline digits task."""
    tasks = "ibbench.tasks.network_tasks"
    register(
        "mnist-mlp",
        f"{tasks}:MNISTMLP",
        description="MNIST, MLP 784-512-512-10 (Table 1, Figs. 3-5); train_fraction 0.01 or 1",
    )
    register(
        "mnist-mlp-e2e",
        f"{tasks}:MNISTMLP",
        defaults={"hidden": [600, 400]},
        description="MNIST, MLP 784-600-400-10 (Table 3, end-to-end IB)",
    )
    register(
        "digits-mlp",
        f"{tasks}:DigitsMLP",
        defaults={"hidden": [64, 32]},
        description="scikit-learn 8x8 digits (offline, seconds), MLP 64-64-32-10; smoke-test task",
    )
    register(
        "cifar-conv",
        f"{tasks}:CIFARConv",
        description="CIFAR-10, CONV16x3 + max-pool, FC512-512-10 (Table 2)",
    )
    register(
        "cifar-conv6",
        f"{tasks}:CIFARConv6",
        description="CIFAR-10, CONV48-48-96-96-192-192, dropout, FC512-512-10 (Table 3)",
    )


@hookimpl
def ibbench_register_estimators(register) -> None:
    register(
        "binning",
        "ibbench.estimators.binning:Binning",
        description="binning plug-in, data-adaptive range (Shwartz-Ziv & Tishby 2017)",
    )
    register(
        "mine",
        "ibbench.estimators.mine:MINE",
        description="MINE, Donsker-Varadhan bound (Belghazi et al. 2018), optional EMA gradient",
    )
    register(
        "aa-mine",
        "ibbench.estimators.aa_mine:AAMINE",
        description="architecture-aware MINE: critic sees F_i(x) via a frozen copy of layers 1..i",
    )
    register(
        "mixture",
        "ibbench.estimators.mixture:MixtureEstimator",
        description="known-noise Gaussian-mixture plug-in (y = F(x) + Gaussian noise)",
    )


@hookimpl
def ibbench_register_trainers(register) -> None:
    register("ce", "ibbench.trainers.ce:CrossEntropy", description="cross-entropy, Adam lr 1e-3 (baseline)")
    register(
        "ce-wd",
        "ibbench.trainers.ce:CrossEntropyWeightDecay",
        description="cross-entropy + L2 weight decay (coefficient weight_decay)",
    )
    register(
        "ib-layerwise",
        "ibbench.trainers.ib_layerwise:LayerwiseIB",
        description="layer-by-layer IB, MINE + AA-MINE critics, linear readout (Sec. 5); beta=0: I(Y;L) only",
    )
    register(
        "ib-e2e",
        "ibbench.trainers.ib_e2e:EndToEndIB",
        description="end-to-end a CE - b I(Y;Yhat) + g I(X;Yhat+eps) (App. B)",
    )
    register(
        "greedy-ce",
        "ibbench.trainers.baselines:GreedyCE",
        description="control: greedy layer-wise CE (a linear head per layer, then frozen), fitted readout",
    )
    register(
        "random-features",
        "ibbench.trainers.baselines:RandomFeatures",
        description="control: layers 1..n-1 frozen at init, last layer fitted with cross-entropy",
    )


@hookimpl
def ibbench_register_executors(register) -> None:
    register(
        "local",
        "ibbench.executors.builtin:Local",
        description="this machine: in-process, or a process pool with --jobs N",
    )
    register(
        "slurm",
        "ibbench.executors.builtin:Slurm",
        description="Slurm through submitit, one job per cell (pip install ibbench[slurm])",
    )
