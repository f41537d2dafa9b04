"""The Run: one experiment of 1..64 members, synchronous — no thread, no pipe.

It applies typed commands, trains in chunks when asked (``tick``), detects divergence per
member, and produces immutable snapshots carrying loss deltas. The drivers only loop it and
carry commands and snapshots; pacing is the Run's. Tests step it by hand.

A façade over small parts: the pacer (pace, chunk sizes, steps/s), the ledger (last, best, dead),
the outbox (what the next snapshot tells), the sampler (the network's numbers); each command's
handler is in :mod:`handlers`, snapshots are built in :mod:`snapshot_build`, saved in :mod:`store`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from fitscope.core import commands as C
from fitscope.core.drivers.tracker import Tracker
from fitscope.core.engine import handlers as H
from fitscope.core.engine import lrplan
from fitscope.core.engine.handlers import MAX_STEP, steps_refusal
from fitscope.core.engine.ledger import Ledger
from fitscope.core.engine.outbox import Outbox
from fitscope.core.engine.pacer import Pacer
from fitscope.core.engine.sampler import Sampler
from fitscope.core.engine.snapshot_build import build
from fitscope.core.engine.training import Experiment, StateError
from fitscope.core.snapshot import Level, Snapshot, State
from fitscope.core.spec import RunSpec
from fitscope.core.store import folder as rundir
from fitscope.core.store import saved as runs
from fitscope.core.store import saving as store
from fitscope.core.store.folder import RunDirError

__all__ = ["MAX_STEP", "Run", "steps_refusal"]

T = TypeVar("T")
STATS_LOG_CAP = 10_000  # rows of the network's numbers kept for metrics.csv, thinned evenly past it
SAVE_ROWS = 100_000  # metrics.csv keeps every step up to this many per member ...
SAVE_ROWS_TOTAL = 1_600_000  # ... and this many in all (a 64-member race: 25,000 each)


def _save_cap(members: int) -> int:
    cap = min(SAVE_ROWS, SAVE_ROWS_TOTAL // members)
    return cap - cap % 2


class Run:
    kept_at: tuple[int, int] | None = None  # (run id, step) of the last save, or of the folder it was opened from
    def __init__(self, spec: RunSpec, *, publish_hz: float = 20.0, pace: float | None = None,
                 history_cap: int | None = None, clock: Callable[[], float] = time.monotonic, net_numbers: bool = True,
                 blocks: str | None = None):
        self.blocks = blocks  # how full-batch steps are grouped (CUDA graphs); None: the device's default
        self.net_numbers = net_numbers  # the network's numbers on the snapshot cadence (bench turns them off to compare)
        self.pacer = Pacer(clock, pace)
        self.outbox = Outbox(clock, 1.0 / publish_hz)
        self.history_cap, self.clock = history_cap, clock
        self.run_id = 0
        self.open(spec)

    # ---- set-up -------------------------------------------------------------------------------
    def open(self, spec: RunSpec, loaded: runs.Loaded | None = None) -> None:
        """A new run for ``spec`` in place of this one (from a saved folder when ``loaded``); a
        ConfigError or RunDirError leaves the current run as it was."""
        exp = Experiment(spec, self.blocks, replacing=getattr(self, "exp", None))
        if loaded is not None:
            try:
                exp.load(loaded.state["exp"])
            except (StateError, KeyError, TypeError, RuntimeError, IndexError, AttributeError, ValueError) as exc:
                raise RunDirError(f"{loaded.folder / 'checkpoint.pt'}: does not fit its config.toml ({exc})") from None
        # the data file as it was read now: a resume checks it is still the same
        self.data_record: dict[str, str] | None = None
        if spec.base.data.file:
            with contextlib.suppress(OSError):  # read a moment ago; gone since, nothing to keep
                self.data_record = rundir.data_record(spec.base.data.file)
        self.exp, self.spec = exp, spec
        self.run_id += 1
        H.pass_on_notice(self)  # e.g. a compile under way: said before the first step waits for it
        if self.run_id == 1 and exp.device_note and exp.device.type == "cpu":
            self.say(exp.device_note)
        self.state = State.READY
        self.budget = spec.base.train.steps
        self.elapsed = 0.0
        self.pacer.rate = 0.0
        k = len(exp.members)
        self.ledger = Ledger.empty(k)
        self.finite: dict[int, tuple[int, dict[str, Any]] | None] = {}  # a diverged member's last finite step and state
        self.diverged_at: int | None = None
        self.outbox.open(k)
        self.test_losses = exp.test_losses()  # per member, refreshed with each snapshot (None: no test data)
        self.pacer.started(0)
        self.pacer.restart(0)
        self.tracker = Tracker(self.history_cap or _save_cap(k))  # the run's own record, for saving
        self.inspected = 0
        self.sampler = Sampler(self.clock, STATS_LOG_CAP)
        self.home: Path | None = None  # the folder this run was opened from or last saved to
        self.prior: runs.Prior | None = None
        self.lrs = [[(1, m.cfg.train.lr)] for m in exp.members]  # per member: (from step, lr)
        self.plan = spec.base.train.lr_changes  # as opened: a Reset with a spec that carries it replays the run's
        if loaded is not None:
            store.restore(self, loaded)

    @property
    def dead(self) -> dict[int, int]:
        return self.ledger.dead

    @property
    def step(self) -> int:
        return self.exp.steps_done

    @property
    def trained_here(self) -> int:
        """Steps trained in this session (a reopened run began at its saved step)."""
        return self.step - (self.prior.step if self.prior else 0)

    def say(self, text: str, level: Level = Level.INFO) -> None:
        self.outbox.say(text, level)

    # ---- commands -----------------------------------------------------------------------------
    def apply(self, cmd: C.Command[T]) -> T:
        """Apply one command; raises Refused (and tells the next snapshot) if the state forbids it."""
        try:
            return cast(T, self._dispatch(cmd))
        except C.Refused as exc:
            self.say(str(exc), Level.ERROR)
            raise

    def _dispatch(self, cmd: C.Command[Any]) -> object:
        self.outbox.changed = True
        match cmd:
            case C.Toggle():
                return self._dispatch(C.Pause() if self.state == State.RUNNING else C.Start())
            case C.Start():
                H.on_start(self)
            case C.Pause():
                H.on_pause(self)
            case C.Step():
                H.on_step(self, cmd)
            case C.Reset():
                H.on_reset(self, cmd)
            case C.SetLr():
                H.on_set_lr(self, cmd)
            case C.SetSteps():
                H.on_set_steps(self, cmd)
            case _:
                return self._dispatch_other(cmd)
        return None

    def _dispatch_other(self, cmd: C.Command[Any]) -> object:
        match cmd:
            case C.SetPace():
                H.on_set_pace(self, cmd)
            case C.Save():
                return H.on_save(self, cmd)
            case C.Open():
                return H.on_open(self, cmd)
            case C.Inspect():
                H.on_inspect(self, cmd)
            case C.Timeline():
                return H.on_timeline(self, cmd)
            case C.SetDevice():
                H.on_set_device(self, cmd)
            case _:
                raise C.Refused(f"unknown command {cmd!r}")
        return None

    def error(self, exc: BaseException) -> None:
        """A step failed (out of memory, a device error): the run stops and says what happened."""
        self.state = State.ERROR
        self.say(H.error_text(exc), Level.ERROR)

    def close(self) -> None:
        if self.state == State.RUNNING:
            self.state = State.STOPPED
            self.outbox.changed = True

    # ---- training -----------------------------------------------------------------------------
    def tick(self) -> float | None:
        """Train one chunk if running. Returns seconds until more training is due (0: now), or
        None when idle (nothing to do until a command comes)."""
        if self.state != State.RUNNING:
            return None
        left = self.budget - self.step
        if left <= 0:
            self.state = State.DONE
            self.outbox.changed = True
            return None
        block = self.exp.stepper.block_steps
        n, wait = self.pacer.due(self.step, left, block)
        if n == 0:
            return wait
        t0 = self.clock()
        self.train(n)
        self.pacer.took(n, self.clock() - t0, block)
        if self.state == State.RUNNING and self.step >= self.budget:
            self.state = State.DONE
            self.outbox.changed = True
        self.pacer.measure(self.step)
        return 0.0

    def train(self, n: int) -> None:
        while n > 0 and self.state != State.DIVERGED:  # a planned lr change (train.lr_changes) starts a part
            store.planned_lr(self)
            part = lrplan.steps_before_next(self.spec.base.train.lr_changes, self.step + 1, n)
            self._train_part(part)
            n -= part

    def _train_part(self, n: int) -> None:
        first = self.step + 1
        if self.exp.stepper.wait():  # a compile finishing: off the clock of steps/s and elapsed
            self.pacer.started(self.step)
        t0 = self.clock()
        losses = self.exp.step(n)
        self.elapsed += self.clock() - t0
        H.pass_on_notice(self)  # e.g. a CUDA graph that could not be captured: said once
        self.outbox.stepped = True
        self._record(first, losses)

    def _record(self, first: int, losses: np.ndarray) -> None:
        """Losses [steps, members] of steps first, first+1, …; a NaN or inf stops that member."""
        for j in range(losses.shape[1]):
            if j in self.dead:
                continue
            col, died = self.ledger.take(j, first, losses[:, j])
            if died is not None:
                self.finite[j] = self.exp.last_finite(j, died)  # what a save keeps of it
                self.exp.stepper.stop(j)  # the others go on
                if len(self.exp.members) > 1:
                    self.say(f"{self.exp.members[j].label} diverged at step {died}")
            self.outbox.add(j, first, col)
        if len(self.dead) == len(self.exp.members) and self.state != State.DIVERGED:
            self.diverged_at = min(self.dead.values())
            self.state = State.DIVERGED
            self.say(f"diverged at step {self.diverged_at}: the loss became NaN or infinite "
                     "(try a lower train.lr)", Level.ERROR)

    # ---- snapshots ----------------------------------------------------------------------------
    def snapshot_due(self) -> bool:
        return self.outbox.due()

    def snapshot(self) -> Snapshot:
        """Everything since the previous snapshot; also kept in the run's own tracker."""
        self.outbox.sending()
        snap = build(self)
        self.outbox.sent()
        self.outbox.keep(snap, self.tracker)  # the run's own record; the data stays off the wire once sent
        return snap
