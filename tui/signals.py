"""Signals on the command line: SIGINT, SIGTERM and SIGHUP stop a headless run the same way —
it saves what it has and exits 128 + the signal's number. A second signal while it saves is
said and ignored; a third, a second or more later, abandons the save (the run folder keeps its
last whole save). Signals less than a second apart count as one."""

from __future__ import annotations

import os
import signal
import sys
import time

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NAMES = {signal.SIGINT: "Ctrl+C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_seen = 0
_last = -1e9
BURST = 1.0  # seconds: signals closer together are one press (an impatient Ctrl+C Ctrl+C Ctrl+C)


def _handler(signum: int, frame) -> None:
    global _seen, _last
    now = time.monotonic()
    if _seen and now - _last < BURST:
        return
    _last = now
    _seen += 1
    if _seen == 1:
        raise Interrupted(signum)
    if _seen == 2:
        _say("fitscope: saving what the run has — send it again to abandon the save")
        return
    _say("fitscope: save abandoned; the run folder keeps its last whole save")
    os._exit(128 + signum)  # no unwinding while a thread may be inside torch: nothing half-written stays


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def install() -> None:
    global _seen, _last
    _seen, _last = 0, -1e9
    for sig in SIGNALS:
        signal.signal(sig, _handler)


def code(exc: BaseException) -> int:
    return 128 + getattr(exc, "signum", signal.SIGINT)


def name(exc: BaseException) -> str:
    return NAMES.get(getattr(exc, "signum", signal.SIGINT), "a signal")
