"""A Run's snapshot as of now, built from its parts: the ledger's losses, the outbox's deltas and
notices, the sampler's network numbers, each member's fit and health, the inspected member's layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fitscope.core.engine import device as device_mod
from fitscope.core.engine.health import health
from fitscope.core.snapshot import MemberSnap, Snapshot, State

if TYPE_CHECKING:
    from fitscope.core.engine.run import Run

STATS_SHARE = 0.05  # the network's numbers take at most about this share of the time
LAYERS_LIMIT = 50_000  # parameters of the inspected member sent with each snapshot


def build(run: Run) -> Snapshot:
    """The snapshot as of now; it takes nothing away (``Run.snapshot`` does)."""
    if run.test_losses is not None and run.step:
        run.test_losses = run.exp.test_losses()
    sample_net_numbers(run)
    preds = run.exp.predict()
    layers = inspected_layers(run, run.inspected)
    members = tuple(member(run, j, preds[j], layers if j == run.inspected else None)
                    for j in range(len(run.exp.members)))
    return Snapshot(
        seq=run.outbox.seq, run_id=run.run_id, state=run.state, step=run.step, budget=run.budget,
        steps_per_s=run.pacer.rate if run.state == State.RUNNING else run.trained_here / max(run.elapsed, 1e-9),
        elapsed=run.elapsed, data=None if run.outbox.data_sent else run.exp.view,
        members=members, spec=run.spec, device=str(run.exp.device), pace=run.pacer.pace,
        notices=tuple(run.outbox.notices), diverged_at=run.diverged_at, stats_step=run.sampler.step,
        inspected=run.inspected, memory=device_mod.memory_in_use(run.exp.device),
        kept_at=run.kept_at[1] if run.kept_at is not None and run.kept_at[0] == run.run_id else None)


def member(run: Run, j: int, pred: np.ndarray, layers: tuple[tuple[np.ndarray, np.ndarray], ...] | None) -> MemberSnap:
    m, led = run.exp.members[j], run.ledger
    pred = np.full_like(pred, np.nan) if j in run.dead else pred  # its line stops
    pred.setflags(write=False)
    best = float(led.best[j]) if np.isfinite(led.best[j]) else None
    first, delta = run.outbox.pending(j, run.step)
    return MemberSnap(
        m.label, m.variant or m.label, m.seed,
        None if np.isnan(led.last[j]) else float(led.last[j]),
        None if run.test_losses is None or j in run.dead else float(run.test_losses[j]),
        best, int(led.best_step[j]) if best is not None else None, run.dead.get(j), pred, first, delta,
        run.sampler.latest[j] if run.sampler.latest else None, layers, member_health(run, j, pred))


def sample_net_numbers(run: Run) -> None:
    """The network's numbers, on the snapshot cadence but at most ~STATS_SHARE of the time."""
    if run.net_numbers:
        run.sampler.measure(run.step, run.state == State.RUNNING, STATS_SHARE,  # no NaN nets:
                            lambda: [None if j in run.dead else row for j, row in enumerate(run.exp.stats())])


def member_health(run: Run, j: int, pred: np.ndarray) -> str:
    led, (lo, hi) = run.ledger, run.exp.view.y_range
    first, last = (None if np.isnan(v) else float(v) for v in (led.first[j], led.last[j]))
    return health(first, last, run.dead.get(j), pred if run.step else None, hi - lo)


def inspected_layers(run: Run, j: int) -> tuple[tuple[np.ndarray, np.ndarray], ...] | None:
    """Member j's (W, b) per layer in numpy, when small enough to send with every snapshot."""
    state = run.exp.stepper.state_dict(j)
    if sum(t.numel() for t in state.values()) > LAYERS_LIMIT or j in run.dead:
        return None
    return tuple((state[f"{2 * i}.weight"].double().numpy(), state[f"{2 * i}.bias"].double().numpy())
                 for i in range(len(state) // 2))
