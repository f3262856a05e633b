"""Shared fixtures: a fresh registry, a CLI runner, MNIST imported from ../shared/data into a tmp dir."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ibbench.api import RunContext
from ibbench.running.plugins import load_registry

REPO = Path(__file__).resolve().parents[1]
# the integration tests' data: MNIST's 4 IDX files and the CIFAR-10 JPEG copy, read only
SHARED_DATA = Path(os.environ.get("IBBENCH_TEST_DATA") or REPO.parent / "shared" / "data")
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def find_mnist(test_data: Path, ibbench_data: str | None) -> Path:
    """The folder of MNIST's 4 IDX files (.gz or not) the tests import: ``test_data/mnist``, else the
    product's own data dir ($IBBENCH_DATA, where `ibbench data get mnist` put them: MNIST/raw/), else
    the first (absent: the tests that need it skip, naming it)."""
    shared = test_data / "mnist"
    if not shared.is_dir() and ibbench_data:
        own = Path(ibbench_data).expanduser() / "MNIST" / "raw"
        if all((own / name).is_file() or (own / f"{name}.gz").is_file() for name in MNIST_FILES):
            return own
    return shared


SHARED_MNIST = find_mnist(SHARED_DATA, os.environ.get("IBBENCH_DATA"))
SHARED_CIFAR = SHARED_DATA / "cifar10-jpeg-q75.tar.gz"


# the warning every command prints about a plugin installed in this environment that failed to load
SKIPPED_PLUGIN = re.compile(r"ibbench: warning: plugin '([^']*)' from distribution \S+ was skipped: ")


def stderr_lines(stderr: str, keep: tuple[str, ...] = ()) -> list[str]:
    """The non-blank lines of ``stderr``, less the skip warnings of installed plugins other than
    those in ``keep``: a broken third-party plugin in the environment must not fail a test that
    counts lines, while a test that broke a plugin keeps (and checks) the line about it."""
    lines = []
    for line in stderr.splitlines():
        skipped = SKIPPED_PLUGIN.match(line.strip())
        if line.strip() and (skipped is None or skipped.group(1) in keep):
            lines.append(line.strip())
    return lines


@pytest.fixture
def registry():
    return load_registry()


@pytest.fixture
def ctx():
    return RunContext(seed=0, device=torch.device("cpu"), budget="smoke")


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """MNIST verified into a fresh data dir (copied: ../shared/data is read-only)."""
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"integration data not found at {SHARED_MNIST} (set IBBENCH_TEST_DATA or IBBENCH_DATA)")
    from ibbench.data import ensure_mnist

    data_dir = tmp_path_factory.mktemp("data")
    ensure_mnist(data_dir, source=SHARED_MNIST, progress=False, allow_network=False)
    return data_dir


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory):
    """The shared JPEG q75 copy of CIFAR-10 imported into a fresh data dir (about 8 s on 2 cores)."""
    if not SHARED_CIFAR.is_file():
        pytest.skip(f"shared CIFAR-10 copy not found at {SHARED_CIFAR} (set IBBENCH_TEST_DATA)")
    from ibbench.data import import_cifar10

    return import_cifar10(SHARED_CIFAR, tmp_path_factory.mktemp("cifar-data"))


@pytest.fixture
def with_mnist(mnist_dir, monkeypatch):
    monkeypatch.setenv("IBBENCH_DATA", str(mnist_dir))
    return mnist_dir


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``ibbench`` entry point as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ibbench.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
    )
