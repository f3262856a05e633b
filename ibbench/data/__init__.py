"""Datasets: where they live on disk, how they are fetched and verified.  Every problem is a one-line
``ibbench.errors.DataError``; every record names the copy its numbers were measured on."""

from .cifar import CIFAR10_CLASSES, cifar10_source_description, import_cifar10, load_cifar10
from .common import MNIST_MD5, mnist_raw_dir
from .common import resolve_dir as default_data_dir  # the public name: with no argument, the default
from .mnist import ensure_mnist, load_mnist, mnist_source_description, verify_mnist
