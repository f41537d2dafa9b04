"""A memory budget, checked before a run allocates anything: an estimate of the bytes it will
hold against a limit (``train.memory_limit`` GB, or half of this machine's memory or the GPU's).

The estimate is deliberately on the high side of what the kernels hold (measured: the fast
kernels keep ~4 float32 arrays per unit per row while stepping, the flat buffers ~9 numbers per
parameter; autograd about as much), so a run that passes does not end in the kernel's OOM killer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from fitscope.core.errors import ConfigError
from fitscope.core.spec import RunSpec

FLOAT = 4
DATA_BYTES_PER_POINT = 48  # x and y in float32 and float64, their train/test copies, generation temporaries
PARAM_BYTES = 40  # weights, gradients, optimiser state, per-element hyper-parameters, owner index
ACTIVATION_ARRAYS = 4  # per unit per row: input, pre-activation, its gradient, the activation's gradient
FORWARD_ARRAYS = 3  # per unit per row in the numbers' forward pass (measured: peak RSS within ~10 % of it)
FIXED = 64 << 20  # the grid, snapshots, histories: small, and not worth estimating finely


class MemoryBudgetError(ConfigError):
    """A run that would not fit: the estimate, the limit and the settings that drive it."""

    def __init__(self, message: str):
        ValueError.__init__(self, message)
        self.field, self.value, self.allowed = "train.memory_limit", None, message

    def __reduce__(self) -> tuple[type[ConfigError], tuple[Any, ...]]:
        return (MemoryBudgetError, (str(self),))


@dataclass(frozen=True)
class Estimate:
    total: int
    data: int
    params: int
    activations: int


def estimate(spec: RunSpec, rows_in_file: int | None = None) -> Estimate:
    base = spec.base
    points = rows_in_file if rows_in_file is not None else base.data.points
    members = spec.members()
    rows = points if base.train.batch_size == 0 else min(points, base.train.batch_size)
    tested = int(points * base.data.test_fraction) if base.data.split != "none" else 0
    # the network's numbers (dead units per layer, R²) run every training point through every layer,
    # whatever the batch size; the chart's grid and the test loss are smaller passes
    forward_rows = max(400, tested, points - tested)
    params = activations = 0
    for m in members:
        widths = [1, *m.cfg.model.hidden, 1]
        params += sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
        layers = sum(w + 1 for w in widths)
        # a step holds every layer for its batch; that forward pass holds every layer, and temporaries
        activations += (layers * rows * ACTIVATION_ARRAYS + layers * forward_rows * FORWARD_ARRAYS) * FLOAT
    data = points * DATA_BYTES_PER_POINT
    return Estimate(data + params * PARAM_BYTES + activations + FIXED, data, params * PARAM_BYTES, activations)


def machine_bytes() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(total)


def limit(spec: RunSpec, device_total: int | None = None) -> tuple[int, str]:
    """(bytes, how it was chosen) — ``device_total``: what a run on a GPU can have there (device.total_memory:
    free memory, the allocator's unused cache and a replaced run's bytes; other processes' memory is not the
    run's to take)."""
    gb = spec.base.train.memory_limit
    if gb > 0:
        total = device_total if device_total is not None else machine_bytes()
        if gb * 1e9 > total:  # more than there is: the kernel's OOM killer would answer instead
            return total, f"all of this {'GPU' if device_total is not None else 'machine'}'s memory: " \
                          f"train.memory_limit={gb:g} GB is more than it has"
        return int(gb * 1e9), "train.memory_limit"
    if device_total is not None:
        return device_total * 9 // 10, "90 % of the GPU's free memory"
    cap = address_space_limit()
    if cap is not None and cap < machine_bytes():
        return cap // 2, "half of this process's address-space limit (ulimit -v)"
    return machine_bytes() // 2, "half of this machine's memory"


def address_space_limit() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)


def size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}".replace(".0 ", " ")
    return f"{n / 1e3:,.0f} kB"


def check(spec: RunSpec, device_total: int | None = None, rows_in_file: int | None = None) -> Estimate:
    """Raise MemoryBudgetError when the run's estimate passes the limit; the estimate otherwise."""
    est = estimate(spec, rows_in_file)
    cap, why = limit(spec, device_total)
    if est.total <= cap:
        return est
    base = spec.base
    hidden = base.model.hidden
    layers = (f"{len(hidden)} layer{'s' if len(hidden) > 1 else ''} of {max(hidden):,}" if len(set(hidden)) == 1
              else f"layers of {', '.join(map(str, hidden))}")
    k = len(spec.members())
    points = rows_in_file if rows_in_file is not None else base.data.points
    biggest = max(("data", est.data), ("params", est.params), ("activations", est.activations), key=lambda t: t[1])[0]
    advice = {"activations": "lower data.points or model.hidden, or race fewer members",
              "data": "lower data.points or use a smaller file",
              "params": "lower model.hidden or race fewer members"}[biggest]
    raise MemoryBudgetError(
        f"the run needs ~{size(est.total)} for {points:,} points × {layers} × {k} member{'s' if k > 1 else ''}; "
        f"the limit is {size(cap)} ({why}) — {advice}, or raise train.memory_limit (GB)")
