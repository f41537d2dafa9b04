"""The network's numbers as text, and the timeline as the app holds it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitscope.core.engine.sampler import NetNumbers
from fitscope.core.snapshot import Frames
from fitscope.tui.formatting import num, r2


@dataclass
class TimelineView:
    """The engine's frames, for the run they came from."""

    frames: Frames
    run_id: int

    @property
    def steps(self) -> np.ndarray:
        return self.frames.steps

    @property
    def fits(self) -> np.ndarray:
        return self.frames.fits

    @property
    def layers(self):
        return self.frames.layers


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.0f}%"


def inside_lines(stats: NetNumbers) -> list[str]:
    """Per hidden layer: dead units, weight norm, gradient norm, update/weight; then R²."""
    lines = [f"layer {i}: dead {_pct(dead)} · |W| {num(w, 3)} · |grad| {num(g, 3)} · update/W {num(u, 3)}"
             for i, (dead, w, g, u) in enumerate(zip(stats.dead, stats.weight_norm, stats.grad_norm,
                                                     stats.update_ratio), 1)]
    fit = f"R² train {r2(stats.r2_train, 4)}"
    if stats.r2_test is not None:
        fit += f" · test {r2(stats.r2_test, 4)}"
    return [*lines, fit]


def dead_share(stats: NetNumbers | None) -> float | None:
    """The share of dead units over all hidden layers (None where dead has no meaning)."""
    values = stats.dead_known if stats else []
    return float(np.mean(values)) if values else None


def inside_fields(stats: NetNumbers | None) -> list[str]:
    """A log row's R² and dead share, each a field a narrow log keeps whole or leaves out."""
    if not stats:
        return []
    dead = dead_share(stats)
    return [f"  R² {r2(stats.r2_train)}"] + ([f" dead {_pct(dead)}"] if dead is not None else [])
