"""`fitscope check`: the engine's GPU path proved on this machine, one result per check.

On CUDA the blocks are CUDA graphs; without it the same checks run with eager blocks (the graphs'
bookkeeping, on the CPU) and those that need a GPU are skipped with the reason. What each proves is
what the README's *On a GPU* section claims.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from fitscope.core.checks.base import NO_GPU, OPTIMISERS, Result
from fitscope.core.checks.blocks import BlockChecks
from fitscope.core.checks.system import SystemChecks

__all__ = ["NO_GPU", "Checks", "Result", "environment"]


class Checks(BlockChecks, SystemChecks):
    """Every check, in the order they run; one that crashes is that check's FAIL, never the end of the others."""

    def all(self) -> list[Callable[[], None]]:
        return [self.precision, self.blocks_step, *[self._equal(o) for o in OPTIMISERS],
                *[self._autograd(o) for o in ("sgd", "adam", "rmsprop")], self.race_member, self.lr_change,
                self.divergence, self.capture_failure, self.wrong_device, self.chunk_alignment, self.device_move,
                self.memory_budget, self.worker, self.cli, self.bench]

    def run(self) -> list[Result]:
        for fn in self.all():
            try:
                fn()
            except Exception as exc:  # a crash is that check's FAIL, never the end of the others
                text = str(exc).splitlines()[0][:200] if str(exc) else ""
                self.add(getattr(fn, "__name__", "check"), False, f"{type(exc).__name__}: {text}")
        return self.results


def environment(checks: Checks) -> dict[str, Any]:
    env: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": checks.device,
                           "blocks": checks.blocks}
    if checks.gpu:
        p = torch.cuda.get_device_properties(torch.device(checks.device))
        env |= {"gpu": p.name, "sm": f"{p.major}.{p.minor}", "gpus": torch.cuda.device_count()}
    return env
