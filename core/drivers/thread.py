"""Drivers that train in this process: a background thread, and by hand (for tests)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from fitscope.core.commands import Command, Refused, Save
from fitscope.core.drivers.driver import Mailbox
from fitscope.core.engine.run import Run
from fitscope.core.snapshot import Snapshot
from fitscope.core.spec import RunSpec

_CLOSE = object()
T = TypeVar("T")
T_in = TypeVar("T_in", contravariant=True)


class Reply(Protocol[T_in]):
    """Where a command's answer goes: a Future in this process, a tagged pipe message from the worker."""

    def set_result(self, result: T_in) -> None: ...

    def set_exception(self, exception: BaseException) -> None: ...


def apply(run: Run, cmd: Command[T], future: Reply[T]) -> None:
    """One command into the run; its result, refusal or failure into the future."""
    try:
        future.set_result(run.apply(cmd))
    except Refused as exc:
        future.set_exception(exc)
    except Exception as exc:  # a save that hit a full disk, a device error: said, not fatal
        run.error(exc)
        future.set_exception(exc)


def close_run(run: Run, later: list[tuple[Command[Any], Reply[Any]]]) -> None:
    """Stop training; a save asked for as the app closed still happens: results are never lost."""
    run.close()
    for cmd, future in later:
        if isinstance(cmd, Save):
            apply(run, cmd, future)
        elif future is not None:
            future.set_exception(Refused("the engine has stopped"))


def serve_turn(run: Run, items: Sequence[tuple[Any, Reply[Any] | None]], publish: Callable[[Snapshot], None],
               closing: object) -> tuple[bool, float | None]:
    """One turn of the serve loop, written once for the thread driver and the worker process: the
    commands in order (``closing`` in place of a command ends the run, a save after it still
    happens), then a chunk of training and a snapshot when one is due. Returns (closed, seconds to
    wait before the next turn, None: until a command comes)."""
    for i, (cmd, reply) in enumerate(items):
        if cmd is closing:
            close_run(run, [(c, r) for c, r in items[i + 1:] if c is not closing and r is not None])
            publish(run.snapshot())
            return True, None
        assert reply is not None
        apply(run, cmd, reply)
    wait = tick(run)
    if run.snapshot_due():
        publish(run.snapshot())
    return False, wait


def tick(run: Run) -> float | None:
    try:
        return run.tick()
    except Exception as exc:  # a failed step must reach the UI, not kill the driver silently
        run.error(exc)
        return None


class ThreadDriver(Mailbox):
    def __init__(self, spec: RunSpec, *, publish_hz: float = 20.0, pace: float | None = None, net_numbers: bool = True):
        super().__init__()
        self._net_numbers = net_numbers
        self._q: queue.Queue[Any] = queue.Queue()
        self._setup_error: BaseException | None = None
        # the Run is built on its own thread: tensors made on one thread and stepped on another
        # ran ~10 % slower here
        self._thread = threading.Thread(target=self._main, args=(spec, publish_hz, pace),
                                        name="fitscope-engine", daemon=True)
        self._thread.start()
        self.wait_for(lambda s: True)
        if self._setup_error is not None:
            raise self._setup_error

    def send(self, cmd: Command[T]) -> Future[T]:
        future: Future[T] = Future()
        if not self._thread.is_alive():
            future.set_exception(Refused("the engine has stopped"))
            return future
        self._q.put((cmd, future))
        return future

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the engine's thread to end (after close, or a quit)."""
        self._thread.join(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._q.put((_CLOSE, None))
        self._thread.join(timeout)

    def _main(self, spec: RunSpec, publish_hz: float, pace: float | None) -> None:
        try:
            run = Run(spec, publish_hz=publish_hz, pace=pace, net_numbers=self._net_numbers)
        except BaseException as exc:  # handed to the constructor, in the caller's thread
            self._setup_error = exc
            self.fail(f"{type(exc).__name__}: {exc}")
            return
        self.deliver(run.snapshot())
        wait: float | None = None
        while True:
            items = []
            try:
                items.append(self._q.get(timeout=wait) if wait != 0 else self._q.get_nowait())
                while True:
                    items.append(self._q.get_nowait())
            except queue.Empty:
                pass
            closed, wait = serve_turn(run, items, self.deliver, _CLOSE)
            if closed:
                return


class ManualDriver(Mailbox):
    """The Run in the caller's thread: commands apply at once, ``pump`` trains. For tests."""

    def __init__(self, spec: RunSpec, **run_kw: Any):
        super().__init__()
        self.run = Run(spec, **run_kw)
        self.deliver(self.run.snapshot())

    def send(self, cmd: Command[T]) -> Future[T]:
        future: Future[T] = Future()
        apply(self.run, cmd, future)
        self.deliver(self.run.snapshot())
        return future

    def pump(self, chunks: int = 1) -> Snapshot:
        for _ in range(chunks):
            tick(self.run)
        self.deliver(self.run.snapshot())
        latest = self.latest
        assert latest is not None
        return latest

    def close(self, timeout: float = 5.0) -> None:
        self.run.close()
        self.deliver(self.run.snapshot())
