"""How many steps a running Run trains per tick: the pace, chunk sizing and the steps/s shown.

Chunks follow the fast kernels' blocks: a chunk that starts on a block boundary and spans whole
blocks runs none of its steps eagerly (FastStepper.run steps a head or tail off the grid one by
one), so a chunk is cut to end on a boundary unless the budget ends first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

CHUNK_SECONDS = 0.01  # flat out, the driver looks at its commands about this often
BLOCK_WAIT = 0.05  # paced, a run waits up to this long to gather a whole block rather than step eagerly
RATE_WINDOW = 0.25  # steps/s is measured over windows of this many seconds ...
RATE_FIRST = 0.02  # ... and shown from this long after a start, until the first window is full


def aligned(step: int, n: int, block: int) -> int:
    """The most steps ≤ n after ``step`` that end on a block boundary (0: n does not reach one)."""
    if block <= 1:
        return n
    return max(0, (step + n) // block * block - step)


@dataclass
class Pacer:
    clock: Callable[[], float]
    pace: float | None = None  # steps per second; None: flat out
    chunk: int = 1
    rate: float = 0.0
    _pace_mark: tuple[float, int] | None = None
    _rate_mark: tuple[float, int] = field(default=(0.0, 0))
    _rate_windowed: bool = False

    def restart(self, step: int) -> None:
        """A fresh start of the measurements (a new run, another device): the chunk relearns its size."""
        self._rate_mark, self._rate_windowed, self.chunk = (self.clock(), step), False, 1

    def started(self, step: int) -> None:
        self._pace_mark = None
        self._rate_mark = (self.clock(), step)

    def set_pace(self, pace: float | None) -> None:
        self.pace = pace
        self._pace_mark = None

    def due(self, step: int, left: int, block: int) -> tuple[int, float]:
        """(steps to train now, 0.0) or (0, seconds until some are due)."""
        n = max(self.chunk, block) if block > 1 else self.chunk
        if self.pace:
            now = self.clock()
            if self._pace_mark is None:
                self._pace_mark = (now, step)
            t0, s0 = self._pace_mark
            allowed = int((now - t0) * self.pace) + 1 - (step - s0)
            if allowed <= 0:
                return 0, max(0.0, (step - s0) / self.pace - (now - t0))
            n = min(n, allowed)
            if n < left and aligned(step, n, block) == 0 and block / self.pace <= BLOCK_WAIT:
                need = aligned(step, block, block) or block  # to the next boundary
                return 0, max(0.0, (step - s0 + need - 1) / self.pace - (now - t0))
        if n >= left:
            return left, 0.0
        return aligned(step, n, block) or n, 0.0

    def took(self, n: int, seconds: float, block: int) -> None:
        """Aim for chunks of ~CHUNK_SECONDS; grow at most 2x at a time; whole blocks when blocked."""
        if n < self.chunk and not (block > 1 and n >= block):
            return  # cut short by the pace, the budget or a boundary: says little about the speed
        size = max(1, min(2 * n, int(n * CHUNK_SECONDS / max(seconds, 1e-6))))
        self.chunk = max(block, size - size % block) if block > 1 else size

    def measure(self, step: int) -> None:
        now = self.clock()
        mark_t, mark_steps = self._rate_mark
        if now - mark_t >= RATE_WINDOW:
            self.rate = (step - mark_steps) / (now - mark_t)
            self._rate_mark = (now, step)
            self._rate_windowed = True
        elif not self._rate_windowed and now - mark_t > RATE_FIRST:
            self.rate = (step - mark_steps) / (now - mark_t)  # until a full window
