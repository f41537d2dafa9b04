"""Snapshots recorded once from the real engine and served back, so screens test drawing, not training.

A cassette is what the engines of one app did: for each driver the app made, its spec, the
snapshots it delivered and, for every command sent to it (by the app or the test), the command
and its answer, in order. ``RecordingDriver`` writes one around a Run stepped by hand;
``ReplayDriver`` serves it back and checks that each command is the one recorded. A screen drawn
from a cassette shows the numbers trained once, on whatever CPU made it: a chaotic member's last
digits, which another BLAS build or vector unit moves, are fixed data here.

Made by ``python tests/fixtures/record.py`` (regenerate on purpose, then retake the SVG
snapshots with ``--snapshot-update`` and look at what changed).
"""

from __future__ import annotations

import itertools
import pickle
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitscope.core.commands import Command, Refused
from fitscope.core.drivers.driver import Mailbox
from fitscope.core.drivers.thread import ManualDriver
from fitscope.core.snapshot import Snapshot
from fitscope.core.spec import RunSpec

FORMAT = 2  # 2: the network numbers as NetNumbers
RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


def ticking_clock(dt: float = 0.1):
    """A clock that moves dt per reading: the steps/s a recording shows are the same every time."""
    ticks = itertools.count()
    return lambda: next(ticks) * dt


# One driver's events, in order: ("snap", Snapshot) as delivered (before the tracker filled it in),
# ("send", command, ok, result-or-exception), ("pump", chunks), ("close",).
Event = tuple[Any, ...]


@dataclass
class Tape:
    spec: RunSpec
    events: list[Event] = field(default_factory=list)


class RecordingDriver(ManualDriver):
    def __init__(self, spec: RunSpec, tape: Tape, **run_kw):
        self.tape = tape
        super().__init__(spec, **run_kw)

    def deliver(self, snap: Snapshot) -> None:
        self.tape.events.append(("snap", snap))
        super().deliver(snap)

    def send(self, cmd: Command) -> Future:
        event: list[Any] = ["send", cmd, None, None]
        self.tape.events.append(event)  # the snapshot that follows the answer is recorded after it
        future = super().send(cmd)
        exc = future.exception()
        event[2:] = [exc is None, future.result() if exc is None else exc]
        return future

    def pump(self, chunks: int = 1) -> Snapshot:
        self.tape.events.append(("pump", chunks))
        return super().pump(chunks)

    def close(self, timeout: float = 5.0) -> None:
        self.tape.events.append(("close",))
        super().close(timeout)


class Recorder:
    """An engine factory that records every driver the app makes."""

    def __init__(self) -> None:
        self.tapes: list[Tape] = []

    def __call__(self, spec: RunSpec) -> RecordingDriver:
        self.tapes.append(Tape(spec))
        return RecordingDriver(spec, self.tapes[-1], clock=ticking_clock())

    def save(self, name: str) -> Path:
        path = RECORDED / f"{name}.pkl"
        path.parent.mkdir(parents=True, exist_ok=True)
        tapes = [Tape(t.spec, [tuple(e) for e in t.events]) for t in self.tapes]
        path.write_bytes(pickle.dumps({"format": FORMAT, "tapes": tapes}, protocol=5))
        return path


class ReplayMismatch(AssertionError):
    pass


class ReplayDriver(Mailbox):
    """One recorded driver served back: the Driver protocol, with no training behind it."""

    def __init__(self, tape: Tape, mismatches: list[str]):
        super().__init__()
        self._events = list(tape.events)
        self._mismatches = mismatches
        self._play()

    def _play(self) -> None:
        """Deliver the snapshots up to the next command, as the recorded driver delivered them."""
        while self._events and self._events[0][0] == "snap":
            self.deliver(self._events.pop(0)[1])

    def _expect(self, kind: str, *what: Any) -> Event | None:
        if self._events and self._events[0][0] == kind and self._events[0][1:1 + len(what)] == what:
            return self._events.pop(0)
        recorded = self._events[0][:2] if self._events else "the end of the recording"
        text = (f"the app sent {(kind, *what)} where the recording has {recorded}: the app's commands changed, "
                "regenerate with `python tests/fixtures/record.py`")
        self._mismatches.append(text)
        self.fail(text)
        return None

    def send(self, cmd: Command) -> Future:
        future: Future = Future()
        event = self._expect("send", cmd)
        if event is None:
            future.set_exception(Refused("not in the recording"))
            return future
        _, _, ok, value = event
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
        self._play()
        return future

    def pump(self, chunks: int = 1) -> Snapshot:
        self._expect("pump", chunks)
        self._play()
        latest = self.latest
        assert latest is not None
        return latest

    def close(self, timeout: float = 5.0) -> None:
        if self._events and self._events[0][0] == "close":
            self._events.pop(0)
            self._play()
        # closed before the recording's end (a test stops earlier than the recorder did): nothing to check


class Replay:
    """An engine factory that serves a cassette's drivers in the order the app asks for them."""

    def __init__(self, name: str):
        saved = pickle.loads((RECORDED / f"{name}.pkl").read_bytes())
        assert saved["format"] == FORMAT, f"{name}: a cassette of format {saved['format']}; regenerate it"
        self.name = name
        self._tapes: list[Tape] = saved["tapes"]
        self.mismatches: list[str] = []

    def __call__(self, spec: RunSpec) -> ReplayDriver:
        if not self._tapes:
            raise ReplayMismatch(f"{self.name}: the app made more engines than were recorded")
        tape = self._tapes.pop(0)
        if tape.spec != spec:
            self.mismatches.append(f"{self.name}: the app asked for {spec}, the recording has {tape.spec}")
        return ReplayDriver(tape, self.mismatches)
