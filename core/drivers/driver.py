"""The one contract between a run and whoever drives it (the app, the headless CLI, tests).

Two drivers satisfy it — a thread (:mod:`thread_driver`) and a process that lives as long as
the app (:mod:`process_driver`) — plus ``ManualDriver``, which steps the Run in the caller's
thread for tests. Commands go in typed; snapshots come out in order, folded into a
:class:`Tracker` as they arrive, so a reader that looks rarely still loses no loss.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol, TypeVar

from fitscope.core.commands import Command
from fitscope.core.drivers.tracker import Tracker
from fitscope.core.snapshot import Snapshot

Subscriber = Callable[[Snapshot], None]
T = TypeVar("T")


class Driver(Protocol):
    tracker: Tracker
    failure: str | None  # set when the engine itself died (not a run's error)

    def send(self, cmd: Command[T]) -> Future[T]:
        """The command to the run; its answer (a ``T``), or Refused, comes in the future."""

    @property
    def latest(self) -> Snapshot | None: ...

    def subscribe(self, fn: Subscriber) -> None: ...

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float | None = None) -> Snapshot | None: ...

    def close(self, timeout: float = 5.0) -> None: ...


log = logging.getLogger("fitscope")


class Mailbox:
    """The receiving end shared by the drivers: latest snapshot, tracker, subscribers, waiting."""

    def __init__(self, history_cap: int = 10_000):
        self.tracker = Tracker(history_cap)
        self.failure: str | None = None
        self._latest: Snapshot | None = None
        self._changed = threading.Condition()
        self._subs: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> None:
        self._subs.append(fn)

    @property
    def latest(self) -> Snapshot | None:
        with self._changed:
            return self._latest

    def deliver(self, snap: Snapshot, failure: str | None = None) -> None:
        """The next snapshot; with ``failure``, the last one of an engine that died, said together
        (a waiter or subscriber that sees its error state sees the failure too)."""
        snap = self.tracker.feed(snap)
        with self._changed:
            self._latest = snap
            if failure is not None:
                self.failure = failure
            self._changed.notify_all()
        for fn in list(self._subs):
            try:
                fn(snap)
            except Exception:  # a broken subscriber must not stop training, nor vanish unsaid
                log.exception("a snapshot subscriber failed (%r); training goes on", fn)

    def fail(self, text: str) -> None:
        with self._changed:
            self.failure = text
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float | None = None) -> Snapshot | None:
        """Until ``predicate(latest)`` holds, the engine fails, or ``timeout`` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self.failure is None and (self._latest is None or not predicate(self._latest)):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            return self._latest
