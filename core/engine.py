"""The background engine: loops a Trainer on its own thread, takes commands, publishes snapshots.

Commands go in through a queue (any caller thread); plain immutable :class:`Snapshot`s come out
to subscribers at a bounded rate, whatever the step rate. Every command sets ``_wake``, which
the trainer checks after each step, so pause and stop take effect within one step.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from pathlib import Path
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.data import DataView
from fitscope.core.history import HistoryView, LossHistory
from fitscope.core.trainer import Trainer

READY, RUNNING, PAUSED, DONE, DIVERGED, STOPPED, ERROR = (
    "ready", "running", "paused", "done", "diverged", "stopped", "error")
CHUNK_SECONDS = 0.01  # flat out, the engine looks at its queue about this often


@dataclass(frozen=True)
class Snapshot:
    seq: int
    state: str
    step: int
    budget: int
    train_loss: float | None
    test_loss: float | None
    steps_per_s: float
    elapsed: float
    x_grid: np.ndarray
    y_pred: np.ndarray
    data: DataView
    history: HistoryView
    test_history: tuple[tuple[int, float], ...]
    config: FitConfig
    device: str
    pace: float | None
    message: str = ""
    diverged_at: int | None = None
    members: tuple = ()  # a race: one MemberView per member (see core.compare_engine)


Subscriber = Callable[[Snapshot], None]


class Engine:
    def __init__(self, cfg: FitConfig, *, publish_hz: float = 20.0, pace: float | None = None,
                 history_cap: int = 10_000, threaded: bool = True):
        self.publish_interval = 1.0 / publish_hz
        self.history_cap = history_cap
        self._pace = pace
        self._q: queue.Queue = queue.Queue()
        self._wake = threading.Event()
        self._subs: list[Subscriber] = []
        self._open = True
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._changed = threading.Condition(self._lock)
        self._seq = 0
        self._state = self._last_state = READY
        self._last_pub = time.monotonic()
        self._rate_mark = (self._last_pub, 0)
        self._setup_error: BaseException | None = None
        self._threaded = threaded
        self._thread: threading.Thread | None = None
        if not threaded:  # commands run at once in the caller's thread; pump() trains
            self._setup(cfg)
            self._publish("")
            return
        # The trainer is built on the engine thread: tensors made on one thread and stepped on
        # another ran ~10 % slower here (measured with the bench).
        self._thread = threading.Thread(target=self._main, args=(cfg,), name="fitscope-engine", daemon=True)
        self._thread.start()
        self.wait_for(lambda s: s is not None or self._setup_error is not None)
        if self._setup_error is not None:
            raise self._setup_error

    # ---- commands (any thread) --------------------------------------------------------------
    def subscribe(self, fn: Subscriber) -> None:
        self._subs.append(fn)

    def start(self) -> None:
        self._send("run")

    def pause(self) -> None:
        self._send("pause")

    def toggle(self) -> None:
        self._send("toggle")

    def step(self, n: int = 1) -> None:
        self._send("step", n)

    def reset(self, cfg: FitConfig | None = None) -> None:
        """New weights (same seed), or a new config; the run goes back to ready."""
        self._send("reset", cfg)

    def update(self, *, lr: float | None = None, steps: int | None = None) -> None:
        """Changes that need no reset, applied between two steps."""
        self._send("update", {"lr": lr, "steps": steps})

    def save(self, path: str | Path | None = None) -> Future:
        """Write config, metrics and weights to ``path`` (default: a new runs/ directory)
        between two steps; the future gives the directory, or the error."""
        fut: Future = Future()
        if self._threaded and self._thread.is_alive():
            self._send("save", (path, fut))
        else:  # the engine has stopped: nothing else touches the trainer now
            self._command("save", (path, fut))
        return fut

    def set_pace(self, steps_per_s: float | None) -> None:
        self._send("pace", steps_per_s)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop training and end the thread; returns once it has ended."""
        self._send("close")
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def latest(self) -> Snapshot:
        with self._lock:
            return self._latest

    @property
    def trainer(self) -> Trainer:
        """For saving a run once training is paused or ended; not to be stepped from outside."""
        return self._trainer

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float | None = None) -> Snapshot:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not predicate(self._latest):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            return self._latest

    def wait_idle(self, timeout: float | None = None) -> Snapshot:
        """Wait until the run is no longer running (done, paused, diverged, stopped, error)."""
        return self.wait_for(lambda s: s.state != RUNNING and self._q.empty(), timeout)

    def _send(self, kind: str, arg=None) -> None:
        if not self._threaded:
            if self._open:
                self._open = self._tick([(kind, arg)], run=False)
            return
        self._q.put((kind, arg))
        self._wake.set()

    # ---- engine thread -----------------------------------------------------------------------
    def _main(self, cfg: FitConfig) -> None:
        try:
            self._setup(cfg)
        except BaseException as exc:  # handed to the constructor, in the caller's thread
            with self._changed:
                self._setup_error = exc
                self._changed.notify_all()
            return
        self._publish("")
        self._loop()

    def _setup(self, cfg: FitConfig) -> None:
        self._setup_from(Trainer(cfg), cfg)

    def _setup_from(self, trainer, cfg: FitConfig) -> None:
        self._trainer = trainer
        self._history = LossHistory(self.history_cap)
        self._tests: list[tuple[int, float]] = []
        self._state = READY
        self._budget = cfg.train.steps
        self._elapsed = 0.0
        self._rate = 0.0
        self._last_loss: float | None = None
        self._test_loss = self._trainer.test_loss()
        self._diverged_at: int | None = None
        self._run_mark: tuple[float, int] | None = None  # (time, steps) when running began, for pace
        self._chunk = 1
        self._rate_windowed = False

    def _loop(self) -> None:
        while self._tick(self._next_commands()):
            pass

    def _next_commands(self) -> list:
        self._wake.clear()
        commands = []
        try:
            commands.append(self._q.get(block=self._state != RUNNING))
            while True:
                commands.append(self._q.get_nowait())
        except queue.Empty:
            pass
        return commands

    def _tick(self, commands: list, run: bool = True) -> bool:
        """Handle commands, train one chunk if running, publish if due; False once closed."""
        try:
            message, stepped = None, False
            for i, (kind, arg) in enumerate(commands):
                if kind == "close":
                    if self._state == RUNNING:
                        self._state = STOPPED
                    self._publish("stopped")
                    self._finish_saves(commands[i + 1:])
                    return False
                msg, did = self._command(kind, arg)
                message = msg if msg is not None else message
                stepped = stepped or did
                self._rate_mark = (time.monotonic(), self._trainer.steps_done)
            if run and self._state == RUNNING:
                stepped = self._run_chunk() or stepped
            now = time.monotonic()
            mark_t, mark_steps = self._rate_mark
            if self._state == RUNNING and now - mark_t >= 0.25:
                self._rate = (self._trainer.steps_done - mark_steps) / (now - mark_t)
                self._rate_mark = (now, self._trainer.steps_done)
                self._rate_windowed = True
            elif self._state == RUNNING and not self._rate_windowed and now - mark_t > 0.02:
                self._rate = (self._trainer.steps_done - mark_steps) / (now - mark_t)  # until a full window
            due = stepped and now - self._last_pub >= self.publish_interval
            if message is not None or self._state != self._last_state or due or (stepped and self._state != RUNNING):
                self._publish(message or "")
        except Exception as exc:  # a failed step must reach the UI, not kill the process silently
            self._state = ERROR
            self._publish(f"error: {type(exc).__name__}: {exc}")
        return True

    def pump(self, chunks: int = 1) -> Snapshot:
        """Manual engines only: train ``chunks`` chunks now, in the caller's thread (for tests)."""
        if self._threaded:
            raise RuntimeError("pump() is for an Engine(threaded=False)")
        for _ in range(chunks):
            self._tick([])
        return self.latest

    def _finish_saves(self, pending: list) -> None:
        """Saves asked for just as the engine closed still happen: results are never lost."""
        while True:
            for kind, arg in pending:
                if kind == "save":
                    self._command(kind, arg)
            try:
                pending = [self._q.get_nowait()]
            except queue.Empty:
                return

    def _command(self, kind: str, arg) -> tuple[str | None, bool]:
        t = self._trainer
        if kind == "run":
            if self._state in (DIVERGED, ERROR):
                return f"{self._state}: reset (r) to train again", False
            if t.steps_done >= self._budget:
                return "budget reached: raise train.steps to go on", False
            self._state = RUNNING
            self._run_mark = None
            return "running", False
        if kind == "pause":
            if self._state == RUNNING:
                self._state = PAUSED
                return "paused", False
            return None, False
        if kind == "toggle":
            return self._command("pause" if self._state == RUNNING else "run", None)
        if kind == "step":
            if self._state in (DIVERGED, ERROR):
                return f"{self._state}: reset (r) to train again", False
            if self._state == RUNNING:
                self._state = PAUSED
            self._train(int(arg))
            if self._state not in (DIVERGED,):
                self._state = PAUSED
            return None, True
        if kind == "reset":
            try:
                self._setup(arg if arg is not None else t.cfg)
            except ConfigError as exc:  # e.g. a device that is not there: keep the old run
                return str(exc), False
            return "reset", True
        if kind == "update":
            if arg["lr"] is not None:
                t.set_lr(arg["lr"])
            if arg["steps"] is not None:
                self._budget = int(arg["steps"])
                t.cfg = t.cfg.with_value("train.steps", self._budget)
                if self._state == DONE and t.steps_done < self._budget:
                    self._state = PAUSED
            return "updated", False
        if kind == "save":
            from fitscope.core import runs  # runs imports this module

            path, fut = arg
            try:
                path = runs.new_run_dir() if path is None else path
                self._publish("")
                fut.set_result(self._save_to(path))
                return f"saved run to {path}", False
            except Exception as exc:
                fut.set_exception(exc)
                return f"save failed: {exc}", False
        if kind == "pace":
            self._pace = arg
            self._run_mark = None
            return None, False
        raise ValueError(f"unknown command {kind!r}")

    def _save_to(self, path):
        from fitscope.core import runs  # runs imports this module

        t = self._trainer
        return runs.save_run(path, t.cfg, self._latest, t.model)

    def _run_chunk(self) -> bool:
        t = self._trainer
        left = self._budget - t.steps_done
        if left <= 0:
            self._state = DONE
            return False
        n = self._chunk
        if self._pace:
            now = time.monotonic()
            if self._run_mark is None:
                self._run_mark = (now, t.steps_done)
            allowed = int((now - self._run_mark[0]) * self._pace) + 1 - (t.steps_done - self._run_mark[1])
            if allowed <= 0:
                self._wake.wait(max(0.0, (t.steps_done - self._run_mark[1]) / self._pace - (now - self._run_mark[0])))
                return False
            n = min(n, allowed)
        t0 = time.monotonic()
        self._train(min(n, left))
        took = time.monotonic() - t0
        if n == self._chunk:  # aim for chunks of ~CHUNK_SECONDS; grow at most 2x at a time
            self._chunk = max(1, min(2 * n, int(n * CHUNK_SECONDS / max(took, 1e-6))))
        if self._state == RUNNING and t.steps_done >= self._budget:
            self._state = DONE
        return True

    def _train(self, n: int) -> None:
        t = self._trainer
        first = t.steps_done + 1
        # only a command that is still waiting may cut this chunk short (not the one that asked for it)
        self._wake.clear()
        if not self._q.empty():
            self._wake.set()
        t0 = time.monotonic()
        losses = t.step(n, interrupt=self._wake)
        t1 = time.monotonic()
        start = self._elapsed
        self._elapsed += t1 - t0
        self._record(first, losses, start, self._elapsed)

    def _record(self, first: int, losses: np.ndarray, start: float, end: float) -> None:
        """Losses of steps first, first+1, ... into the history; a NaN or inf ends the run."""
        bad = ~np.isfinite(losses)
        if bad.any():
            i = int(np.argmax(bad))
            self._history.extend(first, losses[:i], start, start + (end - start) * i / len(losses))
            self._diverged_at = first + i
            self._last_loss = float(losses[i - 1]) if i else self._last_loss
            self._state = DIVERGED
            return
        self._history.extend(first, losses, start, end)
        if len(losses):
            self._last_loss = float(losses[-1])

    def _snapshot(self, message: str) -> Snapshot:
        t = self._trainer
        pred = t.predict()
        pred.setflags(write=False)
        return Snapshot(
            seq=self._seq, state=self._state, step=t.steps_done, budget=self._budget,
            train_loss=self._last_loss, test_loss=self._test_loss,
            steps_per_s=self._rate, elapsed=self._elapsed, x_grid=t.view.grid, y_pred=pred,
            data=t.view, history=self._history.view(), test_history=tuple(self._tests),
            config=t.cfg, device=str(t.device), pace=self._pace, message=message,
            diverged_at=self._diverged_at)

    def _read_test(self) -> None:
        """Test loss is read when a snapshot goes out (at most publish_hz times a second)."""
        t = self._trainer
        if self._test_loss is None or (self._tests and self._tests[-1][0] == t.steps_done):
            return
        self._test_loss = t.test_loss()
        self._tests.append((t.steps_done, self._test_loss))
        if len(self._tests) > self.history_cap:
            self._tests = self._tests[::2]

    def _publish(self, message: str) -> None:
        self._last_pub, self._last_state = time.monotonic(), self._state
        self._read_test()
        if self._state == DIVERGED and not message:
            message = f"diverged at step {self._diverged_at}"
        with self._lock:
            self._seq += 1
            snap = self._snapshot(message)
            self._latest = snap
            self._changed.notify_all()
        for fn in list(self._subs):
            try:
                fn(snap)
            except Exception:  # a broken subscriber must not stop training
                pass


def run_to_end(cfg: FitConfig, on_snapshot: Subscriber | None = None) -> tuple[Engine, Snapshot]:
    """Run ``cfg`` to its budget on a background engine and wait; for scripts and tests."""
    engine = Engine(cfg)
    if on_snapshot is not None:
        engine.subscribe(on_snapshot)
    engine.start()
    snap = engine.wait_for(lambda s: s.state in (DONE, DIVERGED, ERROR, STOPPED))
    return engine, snap


