"""Which torch device a run uses, and how many CPU threads suit it."""

from __future__ import annotations

import torch

from fitscope.core.errors import ConfigError

_DEFAULT_THREADS = torch.get_num_threads()

# Below this many multiply-adds a step (rows x weights x members), `auto` trains on the CPU: such a step
# is launch-bound on a GPU. Not measured here (no GPU yet): the estimate for the lesson's net
# (1-10-10-1, 300 points, ~4e4) is ~7k steps/s eager on a GPU against ~22k on 2 CPU cores, while the
# 1-256-256-1 net on 100,000 points (~7e9) is far faster there. `fitscope bench --device cuda` measures it.
AUTO_CPU_BELOW = 1_000_000

# TF32 (or bf16) matmuls would void every exactness claim between graph, eager and CPU steps; set for
# each run rather than trusting the process's default, which an environment or another library may change
MATMUL_PRECISION = "highest"


def available() -> list[str]:
    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names


def resolve(spec: str) -> torch.device:
    """auto picks CUDA, then MPS, then CPU; a device that is not there is a ConfigError."""
    return choose(spec)[0]


def choose(spec: str, work: int | None = None) -> tuple[torch.device, str | None]:
    """The device and, for auto, why it was picked (None when the device was named). ``work``: a
    step's multiply-adds; a smaller net than AUTO_CPU_BELOW goes to the CPU even with a GPU there."""
    names = available()
    if spec == "auto":
        gpus = [name for name in ("cuda", "mps") if name in names]
        if not gpus:
            return torch.device("cpu"), "device auto: no GPU found — training on the CPU"
        if work is not None and work < AUTO_CPU_BELOW:
            return torch.device("cpu"), (f"device auto: a small net ({work:,} multiply-adds a step, under "
                                         f"{AUTO_CPU_BELOW:,}) steps faster on the CPU than on {gpus[0]} — "
                                         "training on the CPU")
        return torch.device(gpus[0]), f"device auto: training on {gpus[0]}"
    if spec not in names:
        raise ConfigError("train.device", spec, "not available on this machine; available: " + ", ".join(["auto", *names]))
    return torch.device(spec), None


def set_precision() -> str:
    """The float32 matmul precision every run uses, set now; what summary.json records."""
    torch.set_float32_matmul_precision(MATMUL_PRECISION)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch.get_float32_matmul_precision()


def tune_threads(device: torch.device, work: int) -> None:
    """One intra-op thread is fastest for tiny nets: a step is ~26 small ops of pure overhead.

    ``work`` is roughly points x widest layer^2; past ~1e6 more threads start to pay.
    """
    if device.type == "cpu":
        torch.set_num_threads(1 if work < 1_000_000 else _DEFAULT_THREADS)


def total_memory(device: torch.device, releasing: int = 0) -> int | None:
    """What a new run on a GPU can have, in bytes (None on the CPU: the machine's memory is the limit
    there): the driver's free memory, what PyTorch's caching allocator holds unused (free to us, not to
    the driver), and ``releasing``, the bytes of the run this one replaces. Other processes' memory is
    not the run's to take."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = int(torch.cuda.memory_reserved(device)) - int(torch.cuda.memory_allocated(device))
        return int(free) + max(0, cached) + releasing
    return None


def memory_in_use(device: torch.device) -> int | None:
    """Bytes held by tensors on a GPU (None on the CPU)."""
    return int(torch.cuda.memory_allocated(device)) if device.type == "cuda" else None


def counter_dtype(device: torch.device) -> torch.dtype:
    """The device step counter's type: float64 as the host computes Adam's corrections, but MPS has no
    float64 (pytorch#122602); counted in float32, Adam's step size (its two bias corrections) is within
    1.1e-5 relative of float64's over the first million steps (tests/core/test_gpu_path.py)."""
    return torch.float32 if device.type == "mps" else torch.float64
