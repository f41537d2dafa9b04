"""The driver the app uses: the Run in a worker process that lives as long as the app.

Training in a thread shares the interpreter lock with the UI, and every plotext frame stalls
the many tiny torch ops of a step; in a child process training has an interpreter of its own.
The worker starts at once and loads torch while the app draws its first frame; this module
(and so the app's process) never imports torch. Commands queue in the pipe meanwhile.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing as mp
import threading
import time
from concurrent.futures import Future

from fitscope.core.commands import Command, Refused, Reset
from fitscope.core.driver import Mailbox
from fitscope.core.snapshot import Level, MemberSnap, Notice, State
from fitscope.core.spec import RunSpec

_CTX = mp.get_context("spawn")  # fork would copy the UI's threads and locks into the child
CLOSE = "close"


def _child(commands, replies, publish_hz: float, pace: float | None) -> None:
    # imported here, in the child only: the worker module loads torch, which the app never does
    from fitscope.core import worker

    worker.serve(commands, replies, publish_hz, pace)


class ProcessDriver(Mailbox):
    def __init__(self, spec: RunSpec, *, publish_hz: float = 20.0, pace: float | None = None):
        super().__init__()
        self.started = time.monotonic()
        self.ready_at: float | None = None  # when the worker had loaded torch
        self._futures: dict[int, Future] = {}
        self._tokens = itertools.count()
        self._send_lock = threading.Lock()
        self._closing = False
        self._cmd_out, cmd_in = _CTX.Pipe(duplex=False)[::-1]
        reply_in, reply_out = _CTX.Pipe(duplex=False)
        self._replies = reply_in
        self._proc = _CTX.Process(target=_child, args=(cmd_in, reply_out, publish_hz, pace),
                                  name="fitscope-engine", daemon=True)
        self._proc.start()
        cmd_in.close()
        reply_out.close()
        self._reader = threading.Thread(target=self._read, name="fitscope-engine-reader", daemon=True)
        self._reader.start()
        self._first = self.send(Reset(spec))

    def send(self, cmd: Command) -> Future:
        future: Future = Future()
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
        return self._proc.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        self._closing = True
        try:
            with self._send_lock:
                self._cmd_out.send((CLOSE, None))
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(1)
        self._reader.join(1)

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
        last = self.latest
        if last is None:
            self.fail(text)
            return
        quiet = tuple(MemberSnap(m.label, m.variant, m.seed, m.loss, m.test_loss, m.best_loss, m.best_step,
                                 m.diverged_at, m.y_pred, last.step + 1, m.losses[:0]) for m in last.members)
        self.deliver(dataclasses.replace(last, seq=last.seq + 1, state=State.ERROR, members=quiet,
                                         notices=(Notice(Level.ERROR, text),), data=None))
        self.fail(text)
