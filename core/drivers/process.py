"""The driver the app uses: the Run in a worker process that lives as long as the app.

Training in a thread shares the interpreter lock with the UI, and every plotext frame stalls
the many tiny torch ops of a step; in a child process training has an interpreter of its own.
The worker starts at once and loads torch while the app draws its first frame; this module
(and so the app's process) never imports torch. Commands queue in the pipe meanwhile.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from fitscope.core.commands import Command, Refused, Reset
from fitscope.core.drivers.driver import Mailbox
from fitscope.core.snapshot import Level, MemberSnap, Notice, State
from fitscope.core.spec import RunSpec

CLOSE = "close"
T = TypeVar("T")


class ProcessDriver(Mailbox):
    def __init__(self, spec: RunSpec, *, publish_hz: float = 20.0, pace: float | None = None):
        super().__init__()
        self.started = time.monotonic()
        self.ready_at: float | None = None  # when the worker had loaded torch
        self._futures: dict[int, Future[Any]] = {}
        self._tokens = itertools.count()
        self._send_lock = threading.Lock()
        self._closing = False
        # a plain `python -m fitscope.core.drivers.worker` over two pipes: unlike multiprocessing's spawn, it
        # does not re-import the app's main module (textual and all) before it can load torch
        cmd_r, cmd_w = os.pipe()
        reply_r, reply_w = os.pipe()
        self._stderr = tempfile.TemporaryFile()  # a crash's last words, for the message; never the screen
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "fitscope.core.drivers.worker", str(cmd_r), str(reply_w), repr(publish_hz), repr(pace)],
            pass_fds=(cmd_r, reply_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(cmd_r)
        os.close(reply_w)
        self._cmd_out = Connection(cmd_w, readable=False)
        self._replies = Connection(reply_r, writable=False)
        self._reader = threading.Thread(target=self._read, name="fitscope-engine-reader", daemon=True)
        self._reader.start()
        self._first = self.send(Reset(spec))

    def send(self, cmd: Command[T]) -> Future[T]:
        future: Future[T] = Future()
        token = next(self._tokens)
        self._futures[token] = future
        try:
            with self._send_lock:
                self._cmd_out.send((token, cmd))
        except (BrokenPipeError, OSError):
            self._futures.pop(token, None)
            future.set_exception(Refused("the engine has stopped — press R to restart it"))
        return future

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def exit_code(self) -> int | None:
        """The worker's exit status once it has ended (None while it runs)."""
        return self._proc.poll()

    def kill(self) -> None:
        """End the worker at once, as a crash would (what the app must survive)."""
        self._proc.kill()

    def close(self, timeout: float = 5.0) -> None:
        self._closing = True
        try:
            with self._send_lock:
                self._cmd_out.send((CLOSE, None))
        except (BrokenPipeError, OSError):
            pass
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(1)
        self._reader.join(1)
        self._cmd_out.close()
        self._stderr.close()

    def _read(self) -> None:
        while True:
            try:
                kind, payload = self._replies.recv()
            except (EOFError, OSError):
                break
            if kind == "ready":
                self.ready_at = time.monotonic()
            elif kind == "reply":
                token, value, exc = payload
                future = self._futures.pop(token, None)
                if future is not None:
                    future.set_exception(exc) if exc is not None else future.set_result(value)
                if exc is not None and future is self._first:  # the first settings could not start a run
                    self.fail(str(exc))
            else:
                self.deliver(payload)
        for future in self._futures.values():
            if not future.done():
                future.set_exception(Refused("the engine has stopped — press R to restart it"))
        if not self._closing:
            self._died()

    def _died(self) -> None:
        """The worker ended unexpectedly: say so, and keep the last state on screen."""
        text = "the engine process ended unexpectedly — press R to restart it"
        try:
            self._proc.wait(1)
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            if lines:
                text = f"the engine process ended unexpectedly ({lines[-1][:200]}) — press R to restart it"
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        last = self.latest
        if last is None:
            self.fail(text)
            return
        quiet = tuple(MemberSnap(m.label, m.variant, m.seed, m.loss, m.test_loss, m.best_loss, m.best_step,
                                 m.diverged_at, m.y_pred, last.step + 1, m.losses[:0], health=m.health)
                      for m in last.members)
        self.deliver(dataclasses.replace(last, seq=last.seq + 1, state=State.ERROR, members=quiet,
                                         notices=(Notice(Level.ERROR, text),), data=None), failure=text)
