"""The paper's networks, as tasks: MNIST MLPs (Tables 1, 3), CIFAR-10 conv-nets (Tables 2, 3), digits MLP.

Each network is an ``nn.Sequential`` whose blocks are the layers L_i the
information plane measures; inputs are flat rows (conv-nets unflatten in
their first block), so every estimator sees x as a vector.
"""

from __future__ import annotations

import itertools

import numpy as np
from pydantic import Field
from torch import nn

from .classification import ClassificationParams, ClassificationTask

CIFAR_SHAPE = (3, 32, 32)


def mlp_blocks(widths: list[int]) -> nn.Sequential:
    """Linear+ReLU blocks, the last one linear (logits)."""
    blocks = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layer: list[nn.Module] = [nn.Linear(a, b)]
        if i < len(widths) - 2:
            layer.append(nn.ReLU())
        blocks.append(nn.Sequential(*layer))
    return nn.Sequential(*blocks)


class MLPParams(ClassificationParams):
    hidden: list[int] = Field(default_factory=lambda: [512, 512], min_length=1)  # hidden widths


def _mnist_arrays():
    from ..data import load_mnist, mnist_source_description
    from ..running.progress import fetch_progress_mode

    tr_x, tr_y = load_mnist("train", progress=fetch_progress_mode())  # a fetch reports as the run does
    te_x, te_y = load_mnist("test")

    def flat(a):
        return a.reshape(len(a), -1).astype(np.float32) / 255.0

    return (
        flat(tr_x),
        tr_y.astype(np.int64),
        flat(te_x),
        te_y.astype(np.int64),
        {"description": mnist_source_description(), "lossy": False, "dataset": "mnist"},
    )


class MNISTMLP(ClassificationTask):
    Params = MLPParams
    architecture = "MLP"

    def load_arrays(self, p):
        return _mnist_arrays()

    def build_network(self, p: MLPParams) -> nn.Sequential:
        return mlp_blocks([784, *p.hidden, 10])

    def layer_kinds(self, p: MLPParams) -> list[str]:
        return ["fc"] * (len(p.hidden) + 1)


class DigitsMLP(ClassificationTask):
    """scikit-learn's embedded 8x8 digits: no download, seconds to train; the smoke-test task.

    digits has no official split: a fixed stratified third (seed 0, 599
    images) is the test set for every run; the rest is the training set.
    """

    Params = MLPParams
    architecture = "MLP"

    def load_arrays(self, p):
        from sklearn.datasets import load_digits

        d = load_digits()
        x, y = d.data.astype(np.float32) / 16.0, d.target.astype(np.int64)
        rng = np.random.default_rng(0)
        test = np.zeros(len(y), bool)
        for c in range(10):
            members = rng.permutation(np.flatnonzero(y == c))
            test[members[: len(members) // 3]] = True
        return (
            x[~test],
            y[~test],
            x[test],
            y[test],
            {
                "description": "scikit-learn load_digits (1797 8x8 images; fixed 1/3 test split)",
                "lossy": False,
                "dataset": "digits",
            },
        )

    def build_network(self, p: MLPParams) -> nn.Sequential:
        return mlp_blocks([64, *p.hidden, 10])

    def layer_kinds(self, p: MLPParams) -> list[str]:
        return ["fc"] * (len(p.hidden) + 1)


def _cifar_arrays():
    from ..data import load_cifar10

    tr_x, tr_y, source = load_cifar10("train")
    te_x, te_y, _ = load_cifar10("test")
    # channels first, scaled to [0,1], standardised per channel with the training set's statistics
    tr = tr_x.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    te = te_x.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    mean, std = tr.mean((0, 2, 3), keepdims=True), tr.std((0, 2, 3), keepdims=True)
    tr, te = (tr - mean) / std, (te - mean) / std
    return (
        tr.reshape(len(tr), -1),
        tr_y.astype(np.int64),
        te.reshape(len(te), -1),
        te_y.astype(np.int64),
        {**source, "dataset": "cifar10"},
    )


class ConvParams(ClassificationParams):
    kernel: int = Field(3, ge=1)  # the paper does not give the kernel size; 3x3 with 'same' padding


def conv_block(
    c_in: int, c_out: int, kernel: int, pool: bool, dropout: float = 0.0, unflatten: bool = False
) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Unflatten(1, CIFAR_SHAPE)] if unflatten else []
    layers += [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def fc_block(a: int, b: int, relu: bool, dropout: float = 0.0, flatten: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()] if flatten else []
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(a, b))
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class CIFARConv(ClassificationTask):
    Params = ConvParams
    architecture = "CONV16-CONV16-CONV16-FC512-FC512-FC10"

    def load_arrays(self, p):
        return _cifar_arrays()

    def build_network(self, p: ConvParams) -> nn.Sequential:
        k = p.kernel
        return nn.Sequential(
            conv_block(3, 16, k, pool=True, unflatten=True),  # 16x16x16
            conv_block(16, 16, k, pool=True),  # 16x8x8
            conv_block(16, 16, k, pool=True),  # 16x4x4
            fc_block(16 * 4 * 4, 512, relu=True, flatten=True),
            fc_block(512, 512, relu=True),
            fc_block(512, 10, relu=False),
        )

    def layer_kinds(self, p: ConvParams) -> list[str]:
        return ["conv"] * 3 + ["fc"] * 3


class CIFARConv6(ClassificationTask):
    Params = ConvParams
    architecture = "CONV48-48-96-96-192-192-FC512-FC512-FC10, dropout"

    def load_arrays(self, p):
        return _cifar_arrays()

    def build_network(self, p: ConvParams) -> nn.Sequential:
        k, blocks, c_in = p.kernel, [], 3
        for i, c in enumerate((48, 48, 96, 96, 192, 192)):
            pool = i % 2 == 1
            blocks.append(conv_block(c_in, c, k, pool=pool, dropout=0.25 if pool else 0.0, unflatten=i == 0))
            c_in = c
        blocks += [
            fc_block(192 * 4 * 4, 512, relu=True, flatten=True),
            fc_block(512, 512, relu=True, dropout=0.5),
            fc_block(512, 10, relu=False, dropout=0.5),
        ]
        return nn.Sequential(*blocks)

    def layer_kinds(self, p: ConvParams) -> list[str]:
        return ["conv"] * 6 + ["fc"] * 3
