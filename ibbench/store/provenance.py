"""What a result must carry to be trusted later: versions, git commit, device, host."""

from __future__ import annotations

import functools
import importlib.metadata as md
import os
import platform
from pathlib import Path
from typing import Any

from .git import git

RESULTS = "results"  # the folder of published stores, tables and figures (not code)
PACKAGES = ("ibbench", "torch", "torchvision", "numpy", "pydantic", "pluggy", "scikit-learn", "scipy")


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """Commit of the ibbench source tree and whether it had uncommitted changes (None outside git)."""
    root = Path(__file__).resolve().parents[2]  # ibbench/store/provenance.py -> the repository

    if os.environ.get("IBBENCH_GIT_COMMIT"):
        # set where the tree was copied to a machine whose .git is absent or stale (a lent GPU box)
        return {"commit": os.environ["IBBENCH_GIT_COMMIT"], "dirty": None, "from": "IBBENCH_GIT_COMMIT"}
    commit = git(root, "rev-parse", "HEAD", timeout=10)
    changes = uncommitted_code(root) if commit is not None else None
    return {"commit": commit, "dirty": bool(changes) if changes is not None else None}


def uncommitted_code(root: Path) -> list[str] | None:
    """``git status --porcelain`` lines (e.g. "M code.py") of the tracked files outside results/ with uncommitted changes (None outside
    git): the stores under results/ are what runs write, not code, so a store being filled is no dirty tree."""
    status = git(
        root, "status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){RESULTS}", timeout=10
    )
    return [line.strip() for line in status.splitlines()] if status is not None else None


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    for dist in md.distributions():  # third-party plugins, so a result names what produced it
        if any(ep.group == "ibbench" for ep in dist.entry_points):
            versions[dist.metadata["Name"]] = dist.version
    return versions


def processor(device) -> str:
    """The processor a run on ``device`` uses, as records name it: ``cpu:<model>`` or ``cuda:<name>``."""
    import torch

    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{cpu_model()}"


def device_description(device) -> str:
    """``processor(device)``, on a CPU with torch's thread count: e.g. ``cpu:AMD EPYC (1 threads)``."""
    import torch

    if device.type == "cuda":
        return processor(device)
    return f"{processor(device)} ({torch.get_num_threads()} threads)"


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(device) -> dict[str, Any]:
    return {
        "versions": library_versions(),
        "git": git_state(),
        "host": platform.node(),
        "platform": platform.platform(),
        "device": device_description(device),
    }
