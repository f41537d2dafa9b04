"""Which torch device a run uses, and how many CPU threads suit it."""

from __future__ import annotations

import torch

from fitscope.core.errors import ConfigError

_DEFAULT_THREADS = torch.get_num_threads()


def available() -> list[str]:
    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names


def resolve(spec: str) -> torch.device:
    """auto picks CUDA, then MPS, then CPU; a device that is not there is a ConfigError."""
    names = available()
    if spec == "auto":
        for name in ("cuda", "mps", "cpu"):
            if name in names:
                return torch.device(name)
    if spec not in names:
        raise ConfigError("train.device", spec, "not available on this machine; available: " + ", ".join(["auto", *names]))
    return torch.device(spec)


def tune_threads(device: torch.device, work: int) -> None:
    """One intra-op thread is fastest for tiny nets: a step is ~26 small ops of pure overhead.

    ``work`` is roughly points x widest layer^2; past ~1e6 more threads start to pay.
    """
    if device.type == "cpu":
        torch.set_num_threads(1 if work < 1_000_000 else _DEFAULT_THREADS)


def total_memory(device: torch.device) -> int | None:
    """A GPU's free memory in bytes, what a run there can have (None on the CPU: the machine's
    memory is the limit there)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return None


def memory_in_use(device: torch.device) -> int | None:
    """Bytes held by tensors on a GPU (None on the CPU)."""
    return int(torch.cuda.memory_allocated(device)) if device.type == "cuda" else None
