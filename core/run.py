"""The Run: one experiment of 1..64 members, synchronous — no thread, no pipe.

It applies typed commands, trains in chunks when asked (``tick``), detects divergence per
member, and produces immutable snapshots carrying loss deltas. The drivers only loop it and
carry commands and snapshots; pacing is the Run's. Tests step it by hand.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fitscope.core import commands as C
from fitscope.core import device as device_mod
from fitscope.core import lrplan, rundir, runs, store
from fitscope.core.errors import ConfigError
from fitscope.core.health import health
from fitscope.core.ledger import Ledger
from fitscope.core.pacer import Pacer
from fitscope.core.rundir import RunDirError
from fitscope.core.sampler import Sampler
from fitscope.core.snapshot import Frames, Level, MemberSnap, Notice, Snapshot, State
from fitscope.core.spec import RunSpec
from fitscope.core.tracker import Tracker
from fitscope.core.training import Experiment, StateError

MAX_STEP = 100_000  # one Step command trains at once; more would hold commands back
STATS_SHARE = 0.05  # the network's numbers take at most about this share of the time
STATS_LOG_CAP = 10_000  # rows of them kept for metrics.csv, thinned evenly past it
LAYERS_LIMIT = 50_000  # parameters of the inspected member sent with each snapshot
FRAMES_LIMIT = 4_000_000  # numbers of fits a Timeline answer carries (16 MB as float32)


SAVE_ROWS = 100_000  # metrics.csv keeps every step up to this many per member ...
SAVE_ROWS_TOTAL = 1_600_000  # ... and this many in all (a 64-member race: 25,000 each)


def steps_refusal(steps: int, path: str, trained: int) -> str:
    """One wording for a total that leaves nothing to train."""
    most = 100_000_000  # train.steps' own limit: a suggestion past it would be refused in turn
    if trained >= most:
        return f"--steps {steps:,}: {path} has trained {trained:,} steps, the most a run may have"
    return (f"--steps {steps:,}: {path} has trained {trained:,} steps already — give a larger total, "
            f"e.g. --steps {min(2 * trained, most)}")


def _save_cap(members: int) -> int:
    cap = min(SAVE_ROWS, SAVE_ROWS_TOTAL // members)
    return cap - cap % 2


class Run:
    def __init__(self, spec: RunSpec, *, publish_hz: float = 20.0, pace: float | None = None,
                 history_cap: int | None = None, clock: Callable[[], float] = time.monotonic, inside: bool = True,
                 blocks: str | None = None):
        self.blocks = blocks  # how full-batch steps are grouped (CUDA graphs); None: the device's default
        self.inside = inside  # the network's numbers on the snapshot cadence (bench turns them off to compare)
        self.publish_interval = 1.0 / publish_hz
        self.pacer = Pacer(clock, pace)
        self.history_cap = history_cap
        self.clock = clock
        self.run_id = 0
        self._seq = 0
        self._notices: list[Notice] = []
        self._open(spec)

    # ---- set-up -------------------------------------------------------------------------------
    def _open(self, spec: RunSpec, loaded: runs.Loaded | None = None) -> None:
        # a ConfigError here leaves the current run as it was
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
        if self.run_id == 1 and exp.device_note and exp.device.type == "cpu":
            self._say(exp.device_note)
        self.state = State.READY
        self.budget = spec.base.train.steps
        self.elapsed = 0.0
        self.pacer.rate = 0.0
        k = len(exp.members)
        self.ledger = Ledger.empty(k)
        self._finite: dict[int, tuple[int, dict[str, Any]] | None] = {}  # a diverged member's last finite step and state
        self.diverged_at: int | None = None
        self._delta_first = [1] * k
        self._delta: list[list[np.ndarray]] = [[] for _ in range(k)]
        self._kept = [1] * k  # per member, the first step the run's own tracker does not have yet
        self._data_sent = False
        self._test = exp.test_losses()
        self.pacer.started(0)
        self.pacer.restart(0)
        self._last_pub = -math.inf
        self._changed = True
        self._stepped = False
        self.tracker = Tracker(self.history_cap or _save_cap(k))  # the run's own record, for saving
        self.inspected = 0
        self.sampler = Sampler(self.clock, STATS_LOG_CAP)
        self.home: Path | None = None  # the folder this run was opened from or last saved to
        self.prior: runs.Prior | None = None
        self.lrs = [[(1, m.cfg.train.lr)] for m in exp.members]  # per member: (from step, lr)
        if loaded is not None:
            store.restore(self, loaded)

    @property
    def dead(self) -> dict[int, int]:
        return self.ledger.dead

    @property
    def pace(self) -> float | None:
        return self.pacer.pace

    @property
    def rate(self) -> float:
        return self.pacer.rate

    @property
    def step(self) -> int:
        return self.exp.steps_done

    @property
    def _trained_here(self) -> int:
        """Steps trained in this session (a reopened run began at its saved step)."""
        return self.step - (self.prior.step if self.prior else 0)

    def _say(self, text: str, level: Level = Level.INFO) -> None:
        self._notices.append(Notice(level, text))
        self._changed = True

    # ---- commands -----------------------------------------------------------------------------
    def apply(self, cmd: C.Command) -> Any:
        """Apply one command; raises Refused (and tells the next snapshot) if the state forbids it."""
        try:
            return self._apply(cmd)
        except C.Refused as exc:
            self._say(str(exc), Level.ERROR)
            raise

    def _apply(self, cmd: C.Command) -> Any:
        self._changed = True
        match cmd:
            case C.Toggle():
                return self._apply(C.Pause() if self.state == State.RUNNING else C.Start())
            case C.Start():
                return self._on_start()
            case C.Pause():
                return self._on_pause()
            case C.Step():
                return self._on_step(cmd)
            case C.Reset():
                return self._on_reset(cmd)
            case C.SetLr():
                return self._set_lr(cmd.lr)
            case C.SetSteps():
                return self._on_set_steps(cmd)
            case C.SetPace():
                return self._on_set_pace(cmd)
        return self._apply_other(cmd)

    def _apply_other(self, cmd: C.Command) -> Any:
        """The commands that do not train: files, views, devices."""
        match cmd:
            case C.Save():
                return self._on_save(cmd)
            case C.Inspect():
                return self._on_inspect(cmd)
            case C.Timeline():
                return self._on_timeline(cmd)
            case C.Open():
                return self._on_open(cmd)
            case C.SetDevice():
                return self._move(cmd.device)
        raise C.Refused(f"unknown command {cmd!r}")

    def _check_budget(self) -> None:
        if self.step >= self.budget:
            raise C.Refused(f"the step budget ({self.budget:,}) is reached — raise train.steps to go on")

    def _on_start(self) -> None:
        self._check_trainable("run")
        self._check_budget()
        self.state = State.RUNNING
        self.pacer.started(self.step)

    def _on_pause(self) -> None:
        if self.state == State.RUNNING:
            self.state = State.PAUSED

    def _on_step(self, cmd: C.Step) -> None:
        self._check_trainable("step")
        if not 1 <= cmd.n <= MAX_STEP:
            raise C.Refused(f"step: {cmd.n} is not valid — expected 1 to {MAX_STEP:,} steps at once")
        self._check_budget()
        self.state = State.PAUSED
        self._train(min(cmd.n, self.budget - self.step))
        if self.state == State.PAUSED and self.step >= self.budget:
            self.state = State.DONE

    def _on_reset(self, cmd: C.Reset) -> None:
        try:
            self._open(cmd.spec or self.spec)
        except ConfigError as exc:  # e.g. a device that is not there: keep the old run
            raise C.Refused(str(exc)) from None
        except (OSError, ValueError, RuntimeError, MemoryError) as exc:  # whatever else building met
            raise C.Refused(f"these settings cannot run: {type(exc).__name__}: {str(exc)[:200]}") from None
        self._say("reset")

    def _on_set_steps(self, cmd: C.SetSteps) -> None:
        self._set_base("train.steps", cmd.steps)
        self.budget = self.spec.base.train.steps
        if self.state == State.DONE and self.step < self.budget:
            self.state = State.PAUSED
        elif self.state in (State.RUNNING, State.PAUSED) and self.step >= self.budget:
            self.state = State.DONE

    def _on_set_pace(self, cmd: C.SetPace) -> None:
        if cmd.steps_per_s is not None and not cmd.steps_per_s > 0:
            raise C.Refused(f"pace: {cmd.steps_per_s} is not valid — expected steps per second > 0, or flat out")
        self.pacer.set_pace(cmd.steps_per_s)

    def _on_save(self, cmd: C.Save) -> str:
        if self.step == 0:
            raise C.Refused("nothing to save yet: the run has not trained a step")
        try:
            path = store.save(self, cmd)
        except (OSError, RunDirError) as exc:  # a full disk or a read-only folder: said; the run goes on
            raise C.Refused(f"save failed: {exc}") from None
        self._say(f"saved run to {path}")
        return str(path)

    def _member_index(self, what: str, member: int) -> None:
        if not 0 <= member < len(self.exp.members):
            raise C.Refused(f"{what}: there is no member {member + 1}")

    def _on_inspect(self, cmd: C.Inspect) -> None:
        self._member_index("inspect", cmd.member)
        self.inspected = cmd.member

    def _on_timeline(self, cmd: C.Timeline) -> Frames:
        self._member_index("timeline", cmd.member)
        steps, fits, layers = self.exp.frames()
        keep = np.arange(len(steps))
        if fits.size > FRAMES_LIMIT:  # a big race: every member's fit, at fewer moments
            keep = np.unique(np.linspace(0, len(steps) - 1, max(2, FRAMES_LIMIT // fits[0].size)).astype(int))
        mine = [(w[keep], b[keep]) for w, b in layers[cmd.member]] if layers else None
        return Frames(steps[keep], self.exp.view.grid, fits[keep].astype(np.float32), cmd.member, mine)

    def _on_open(self, cmd: C.Open) -> RunSpec:
        try:
            loaded = runs.load(cmd.path)
            spec = loaded.spec
            trained = loaded.state["exp"]["step"]
            if cmd.steps is not None:
                if cmd.steps < trained:
                    raise C.Refused(steps_refusal(cmd.steps, cmd.path, trained))
                spec = spec.with_base(spec.base.with_value("train.steps", cmd.steps))
            self._open(spec, loaded)
        except (RunDirError, ConfigError) as exc:
            raise C.Refused(str(exc)) from None
        except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:  # a crafted file past the checks
            raise C.Refused(f"{cmd.path}: cannot open it ({type(exc).__name__}: {str(exc)[:120]}); "
                            "the current run is kept") from None
        self._say(f"opened {loaded.folder} at step {self.step:,} of {self.budget:,}")
        return self.spec

    def _move(self, name: str) -> None:
        """The run to another device: its weights, optimiser state, data order and timeline go
        with it; the step count, the losses and every record of the run stay as they are."""
        if self.state == State.ERROR:
            raise C.Refused("device: the run stopped on an error — reset (r) first")
        try:
            target = device_mod.resolve(name)
        except ConfigError as exc:
            raise C.Refused(str(exc)) from None
        if target == self.exp.device:
            raise C.Refused(f"device: the run is on {target} already")
        was = self.exp.device
        try:
            self._relocate(self.spec.with_base(self.spec.base.with_value("train.device", name)))
        except ConfigError as exc:
            raise C.Refused(str(exc)) from None
        except (RuntimeError, MemoryError) as exc:
            raise C.Refused(f"device: cannot move to {target}: {type(exc).__name__}: {str(exc)[:200]}") from None
        self._say(f"moved from {was} to {target} at step {self.step:,}")

    def _relocate(self, spec: RunSpec) -> None:
        """The experiment rebuilt for ``spec`` (another device) and the run's state carried into it."""
        state, timeline = self.exp.state(), self.exp.timeline
        exp = Experiment(spec, self.blocks)  # the memory budget is checked for the new device
        exp.load(state)
        exp.timeline = timeline.to(exp.device, exp.stepper.block_steps)
        for j in self.dead:
            exp.stepper.stop(j)
        self.exp, self.spec = exp, spec
        self.pacer.restart(self.step)

    def _check_trainable(self, what: str) -> None:
        if self.state == State.DIVERGED:
            raise C.Refused(f"{what}: the run diverged at step {self.diverged_at} — reset (r) to train again")
        if self.state == State.ERROR:
            raise C.Refused(f"{what}: the run stopped on an error — reset (r) to train again")

    def _set_base(self, key: str, value: Any) -> None:
        try:
            self.spec = self.spec.with_base(self.spec.base.with_value(key, value))
        except ConfigError as exc:
            raise C.Refused(str(exc)) from None

    def _set_lr(self, lr: float) -> None:
        if "train.lr" in self.spec.varied:
            raise C.Refused("lr is what this race varies: start a new race to change it")
        self._set_base("train.lr", lr)
        self._set_base("train.lr_changes", lrplan.live(self.spec.base.train.lr_changes, self.step + 1, lr))  # replayed
        self.exp.members = self.spec.members()
        for j in range(len(self.exp.members)):
            if j not in self.dead:
                self.exp.stepper.set_lr(j, self.spec.base.train.lr)
                self.lrs[j].append((self.step + 1, self.spec.base.train.lr))

    def error(self, exc: BaseException) -> None:
        """A step failed (out of memory, a device error): the run stops and says what happened."""
        self.state = State.ERROR
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if isinstance(exc, MemoryError) or "allocate" in text or "out of memory" in text.lower():
            self._say(f"error: out of memory while training ({type(exc).__name__}: {text[:160]}) — lower "
                      "data.points or model.hidden, or use train.batch_size", Level.ERROR)
            return
        self._say(f"error: {type(exc).__name__}: {text[:300]}", Level.ERROR)

    def close(self) -> None:
        if self.state == State.RUNNING:
            self.state = State.STOPPED
            self._changed = True

    # ---- training -----------------------------------------------------------------------------
    def tick(self) -> float | None:
        """Train one chunk if running. Returns seconds until more training is due (0: now), or
        None when idle (nothing to do until a command comes)."""
        if self.state != State.RUNNING:
            return None
        left = self.budget - self.step
        if left <= 0:
            self.state = State.DONE
            self._changed = True
            return None
        block = self.exp.stepper.block_steps
        n, wait = self.pacer.due(self.step, left, block)
        if n == 0:
            return wait
        t0 = self.clock()
        self._train(n)
        self.pacer.took(n, self.clock() - t0, block)
        if self.state == State.RUNNING and self.step >= self.budget:
            self.state = State.DONE
            self._changed = True
        self.pacer.measure(self.step)
        return 0.0

    def _train(self, n: int) -> None:
        while n > 0 and self.state != State.DIVERGED:  # a planned lr change (train.lr_changes) starts a part
            store.planned_lr(self)
            part = lrplan.steps_before_next(self.spec.base.train.lr_changes, self.step + 1, n)
            self._train_part(part)
            n -= part

    def _train_part(self, n: int) -> None:
        first = self.step + 1
        t0 = self.clock()
        losses = self.exp.step(n)
        self.elapsed += self.clock() - t0
        if self.exp.stepper.notice:  # e.g. a CUDA graph that could not be captured: said once
            self._say(self.exp.stepper.notice, Level.WARNING)
            self.exp.stepper.notice = None
        self._stepped = True
        self._record(first, losses)

    def _record(self, first: int, losses: np.ndarray) -> None:
        """Losses [steps, members] of steps first, first+1, …; a NaN or inf stops that member."""
        for j in range(losses.shape[1]):
            if j in self.dead:
                continue
            col, died = self.ledger.take(j, first, losses[:, j])
            if died is not None:
                self._finite[j] = self.exp.last_finite(j, died)  # what a save keeps of it
                self.exp.stepper.stop(j)  # the others go on
                if len(self.exp.members) > 1:
                    self._say(f"{self.exp.members[j].label} diverged at step {died}")
            if not self._delta[j]:
                self._delta_first[j] = first
            self._delta[j].append(col)
        if len(self.dead) == len(self.exp.members) and self.state != State.DIVERGED:
            self.diverged_at = min(self.dead.values())
            self.state = State.DIVERGED
            self._say(f"diverged at step {self.diverged_at}: the loss became NaN or infinite "
                      "(try a lower train.lr)", Level.ERROR)

    # ---- snapshots ----------------------------------------------------------------------------
    def snapshot_due(self) -> bool:
        if self._changed:
            return True
        return self._stepped and self.clock() - self._last_pub >= self.publish_interval

    def snapshot(self) -> Snapshot:
        """Everything since the previous snapshot; also kept in the run's own tracker."""
        self._last_pub = self.clock()
        self._changed = self._stepped = False
        self._seq += 1
        snap = self._build()
        self._delta = [[] for _ in self._delta]
        self._data_sent = True
        self._notices = []
        self._keep(snap)  # the run's own record; the data stays off the wire once sent
        return snap

    def _measure_inside(self) -> None:
        """The network's numbers, on the snapshot cadence but at most ~STATS_SHARE of the time."""
        if self.inside:
            self.sampler.measure(self.step, self.state == State.RUNNING, STATS_SHARE,  # no NaN nets:
                                 lambda: [None if j in self.dead else row for j, row in enumerate(self.exp.stats())])

    def _build(self) -> Snapshot:
        """The snapshot as of now; it takes nothing away (``snapshot`` does)."""
        if self._test is not None and self.step:
            self._test = self.exp.test_losses()
        self._measure_inside()
        preds = self.exp.predict()
        layers = self._layers(self.inspected)
        members = []
        for j, m in enumerate(self.exp.members):
            pred = np.full_like(preds[j], np.nan) if j in self.dead else preds[j]  # its line stops
            pred.setflags(write=False)
            led = self.ledger
            best = float(led.best[j]) if np.isfinite(led.best[j]) else None
            delta = np.concatenate(self._delta[j]) if self._delta[j] else np.zeros(0)
            first = self._delta_first[j] if self._delta[j] else self.step + 1
            members.append(MemberSnap(
                m.label, m.variant or m.label, m.seed,
                None if np.isnan(led.last[j]) else float(led.last[j]),
                None if self._test is None or j in self.dead else float(self._test[j]),
                best, int(led.best_step[j]) if best is not None else None, self.dead.get(j), pred, first, delta,
                self.sampler.latest[j] if self.sampler.latest else None, layers if j == self.inspected else None,
                self._health(j, pred)))
        return Snapshot(
            seq=self._seq, run_id=self.run_id, state=self.state, step=self.step, budget=self.budget,
            steps_per_s=self.rate if self.state == State.RUNNING else self._trained_here / max(self.elapsed, 1e-9),
            elapsed=self.elapsed, data=None if self._data_sent else self.exp.view,
            members=tuple(members), spec=self.spec, device=str(self.exp.device), pace=self.pace,
            notices=tuple(self._notices), diverged_at=self.diverged_at, stats_step=self.sampler.step,
            inspected=self.inspected, memory=device_mod.memory_in_use(self.exp.device))

    def _health(self, j: int, pred: np.ndarray) -> str:
        led, (lo, hi) = self.ledger, self.exp.view.y_range
        first, last = (None if np.isnan(v) else float(v) for v in (led.first[j], led.last[j]))
        return health(first, last, self.dead.get(j), pred if self.step else None, hi - lo)

    def _layers(self, j: int) -> tuple[tuple[np.ndarray, np.ndarray], ...] | None:
        """Member j's (W, b) per layer in numpy, when small enough to send with every snapshot."""
        state = self.exp.stepper.state_dict(j)
        if sum(t.numel() for t in state.values()) > LAYERS_LIMIT or j in self.dead:
            return None
        return tuple((state[f"{2 * i}.weight"].double().numpy(), state[f"{2 * i}.bias"].double().numpy())
                     for i in range(len(state) // 2))

    def _keep(self, snap: Snapshot) -> None:
        """Into the run's own tracker (what Save writes): only the losses it does not have yet."""
        members = []
        for j, m in enumerate(snap.members):
            skip = min(len(m.losses), max(0, self._kept[j] - m.first))
            members.append(dataclasses.replace(m, first=m.first + skip, losses=m.losses[skip:]))
            self._kept[j] = max(self._kept[j], m.first + len(m.losses))
        self.tracker.feed(dataclasses.replace(snap, members=tuple(members)))
