"""The engine in a child process: the same commands and snapshots as :class:`Engine`.

Training in a thread shares the interpreter lock with the UI: every plotext frame the app draws
stalls the many tiny torch ops of a step. In a child process training has an interpreter of its
own. The child runs an ordinary threaded Engine; its snapshots come back over a pipe, the
(large, rarely changing) data view only when it changed.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing as mp
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Callable

from fitscope.core.config import FitConfig
from fitscope.core.engine import Engine, Snapshot

Subscriber = Callable[[Snapshot], None]
_CTX = mp.get_context("spawn")  # fork would copy the UI's threads and locks into the child


def _child(spec, pace, publish_hz: float, commands, snapshots) -> None:
    try:
        if isinstance(spec, FitConfig):
            engine = Engine(spec, pace=pace, publish_hz=publish_hz)
        else:  # a race: a list of members
            from fitscope.core.compare_engine import CompareEngine

            engine = CompareEngine(spec, pace=pace, publish_hz=publish_hz)
    except BaseException as exc:
        snapshots.send(("error", exc))
        return
    sent_data = [None]
    lock = threading.Lock()

    def forward(snap: Snapshot) -> None:
        with lock:
            same = snap.data is sent_data[0]
            sent_data[0] = snap.data
            snapshots.send(("snap", dataclasses.replace(snap, data=None) if same else snap))

    forward(engine.latest)
    engine.subscribe(forward)
    while True:
        try:
            kind, arg = commands.recv()
        except EOFError:  # the parent went away: stop training, end the process
            kind, arg = "close", None
        if kind == "close":
            engine.stop()
            return
        if kind == "save":
            path, token = arg
            future = engine.save(path)

            def report(f, token=token):
                with lock:
                    snapshots.send(("saved", (token, None if f.exception() else f.result(), f.exception())))

            future.add_done_callback(report)
            continue
        args, kwargs = arg
        getattr(engine, kind)(*args, **kwargs)  # start, pause, toggle, step, reset, update, set_pace


class ProcessEngine:
    """``spec``: a FitConfig for a single run, or a list of compare Members for a race."""

    def __init__(self, spec, *, publish_hz: float = 20.0, pace: float | None = None):
        self._latest: Snapshot | None = None
        self._changed = threading.Condition()
        self._subs: list[Subscriber] = []
        self._saves: dict[int, Future] = {}
        self._tokens = itertools.count()
        self._cmd_out, cmd_in = _CTX.Pipe()
        snap_out, self._snap_in = _CTX.Pipe()
        self._proc = _CTX.Process(target=_child, args=(spec, pace, publish_hz, cmd_in, snap_out),
                                  name="fitscope-engine", daemon=True)
        self._proc.start()
        cmd_in.close()
        snap_out.close()
        self._error: BaseException | None = None
        self._stopping = False
        self._reader = threading.Thread(target=self._read, name="fitscope-engine-reader", daemon=True)
        self._reader.start()
        self.wait_for(lambda s: s is not None or self._error is not None)
        if self._error is not None:
            self._proc.join(5)
            raise self._error

    # ---- the Engine interface -------------------------------------------------------------
    def subscribe(self, fn: Subscriber) -> None:
        self._subs.append(fn)

    def start(self) -> None:
        self._send("start")

    def pause(self) -> None:
        self._send("pause")

    def toggle(self) -> None:
        self._send("toggle")

    def step(self, n: int = 1) -> None:
        self._send("step", n)

    def reset(self, cfg: FitConfig | None = None) -> None:
        self._send("reset", cfg)

    def update(self, *, lr: float | None = None, steps: int | None = None) -> None:
        self._send("update", lr=lr, steps=steps)

    def set_pace(self, steps_per_s: float | None) -> None:
        self._send("set_pace", steps_per_s)

    def save(self, path: str | Path | None = None) -> Future:
        future: Future = Future()
        token = next(self._tokens)
        self._saves[token] = future
        if not self._cmd("save", (path, token)):
            future.set_exception(RuntimeError("the engine has stopped"))
        return future

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self._cmd("close", None)
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(1)
        self._reader.join(1)

    @property
    def latest(self) -> Snapshot:
        with self._changed:
            return self._latest

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float | None = None) -> Snapshot:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not predicate(self._latest):
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or (self._latest is not None and not self._reader.is_alive()):
                    break
                self._changed.wait(left if left is not None else 0.5)
            return self._latest

    def wait_idle(self, timeout: float | None = None) -> Snapshot:
        return self.wait_for(lambda s: s.state != "running", timeout)

    # ---- plumbing ------------------------------------------------------------------------
    def _send(self, method: str, *args, **kwargs) -> None:
        self._cmd(method, (args, kwargs))

    def _cmd(self, kind: str, arg) -> bool:
        try:
            self._cmd_out.send((kind, arg))
            return True
        except (BrokenPipeError, OSError):
            return False

    def _read(self) -> None:
        data = None
        while True:
            try:
                kind, payload = self._snap_in.recv()
            except (EOFError, OSError):
                break
            if kind == "error":
                with self._changed:
                    self._error = payload
                    self._changed.notify_all()
                break
            if kind == "saved":
                token, path, exc = payload
                future = self._saves.pop(token)
                future.set_exception(exc) if exc is not None else future.set_result(path)
                continue
            snap = payload
            if snap.data is None:
                snap = dataclasses.replace(snap, data=data)
            data = snap.data
            with self._changed:
                self._latest = snap
                self._changed.notify_all()
            for fn in list(self._subs):
                try:
                    fn(snap)
                except Exception:
                    pass
        with self._changed:
            if not self._stopping and self._latest is not None:  # the child died: say so, keep the last state
                self._latest = dataclasses.replace(self._latest, state="error", seq=self._latest.seq + 1,
                                                   message="error: the engine process ended unexpectedly")
            self._changed.notify_all()
