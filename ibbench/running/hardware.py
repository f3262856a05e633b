"""What the machine's arithmetic can do natively; decides ``precision = "auto"``."""

from __future__ import annotations

import functools

import torch

#: CPU flags (Linux /proc/cpuinfo) of instructions that multiply bfloat16 natively: AVX512-BF16
#: (AMD Zen 4 on, Intel Cooper Lake) and AMX (Intel Sapphire Rapids on).  Without them torch
#: emulates bf16 matmuls, several times slower than float32.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (CUDA: compute capability >= 8)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return any(flag in _cpu_flags() for flag in BF16_CPU_FLAGS)
    return False
