"""The engine process's main loop: one Run at a time, commands in and snapshots out over pipes.

Started once per app; a Reset with a new spec replaces the run in place, so switching single
and race or changing settings never restarts the process (nor reloads torch).
"""

from __future__ import annotations

import gc
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from fitscope.core.commands import Refused, Reset
from fitscope.core.drivers.thread import serve_turn
from fitscope.core.engine.run import Run

CLOSE = "close"


def serve(commands: Connection, replies: Connection, publish_hz: float, pace: float | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's ctrl+c is the app's to handle
    # torch's ~170,000 objects, set aside: a full collection then takes ~0 ms, not ~80, training stopped
    gc.freeze()
    replies.send(("ready", None))
    run: Run | None = None
    wait: float | None = None
    while True:
        items = []
        try:
            if wait != 0 and commands.poll(wait):  # poll(None) blocks until a command comes
                items.append(commands.recv())
            while commands.poll(0):
                items.append(commands.recv())
        except (EOFError, OSError):  # the app went away: stop training, end the process
            items.append((CLOSE, None))
        while items and run is None:  # until the app's first settings come, there is nothing to train
            token, cmd = items.pop(0)
            if token == CLOSE:
                return
            run = _first_run(cmd, _Reply(replies, token), publish_hz, pace)
        if run is None:
            wait = None
            continue
        turn = [(cmd if token != CLOSE else CLOSE, None if token == CLOSE else _Reply(replies, token))
                for token, cmd in items]
        closed, wait = serve_turn(run, turn, lambda snap: replies.send(("snap", snap)), CLOSE)
        if closed:
            return


def _first_run(cmd: Any, reply: _Reply, publish_hz: float, pace: float | None) -> Run | None:
    if not (isinstance(cmd, Reset) and cmd.spec is not None):
        reply.set_exception(Refused("no run yet: the engine is waiting for its first settings"))
        return None
    try:
        run = Run(cmd.spec, publish_hz=publish_hz, pace=pace)
    except Exception as exc:
        reply.set_exception(exc)
        return None
    reply.set_result(None)
    return run


class _Reply:
    """A Future's two setters, sent back to the app tagged with the command's token."""

    def __init__(self, conn: Connection, token: int):
        self.conn, self.token = conn, token

    def set_result(self, result: Any) -> None:
        self.conn.send(("reply", (self.token, result, None)))

    def set_exception(self, exception: BaseException) -> None:
        try:
            self.conn.send(("reply", (self.token, None, exception)))
        except Exception:  # an exception that cannot be pickled still reaches the app, as text
            self.conn.send(("reply", (self.token, None, RuntimeError(f"{type(exception).__name__}: {exception}"))))

    def done(self) -> bool:
        return False


def main(argv: list[str]) -> None:
    """``python -m fitscope.core.drivers.worker CMD_FD REPLY_FD PUBLISH_HZ PACE`` (what the ProcessDriver runs)."""
    cmd_fd, reply_fd, publish_hz, pace = argv
    serve(Connection(int(cmd_fd), writable=False), Connection(int(reply_fd), readable=False), float(publish_hz),
          None if pace == "None" else float(pace))


if __name__ == "__main__":
    main(sys.argv[1:])
