"""A device name that is absent on any machine, with or without GPUs."""

import torch


def absent_cuda() -> str:
    """One index past the last GPU: `cuda:7` is a real device on an 8-GPU box."""
    return f"cuda:{torch.cuda.device_count()}"
