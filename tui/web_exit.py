"""An app served to a browser ends when its page or its server goes.

textual-serve runs each page's app as its child, with Textual's web driver reading the page's keys
from stdin and writing the screen to stdout (both pipes to the server). When the server goes (a
kill, a crash) nobody tells the app: the driver's input thread ends quietly at stdin's end. An idle
app (its run done or paused) then waits for good; a drawing one meets a broken pipe, which ended it
as a crash (a traceback file left in the temp folder) — and which an app was seen drawing on into
for 82 minutes at 95 % of a core. A closed page is told (the server sends "quit"), but only while
the server lives.

So a watcher thread waits for any sign that the other end has gone — stdin hung up, stdout's reader
gone, the parent process replaced — and a write that fails is the same news. Then stdout goes to
/dev/null (the last frames and the exit packet must not fail), the app is asked to stop as a hang-up
would (training stopped, nothing saved, the saved run folders as they were: a save is whole or not
there), and the process is ended at once if that has not happened within a few seconds. The engine
worker ends with it: it sees its command pipe close.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable

POLL = 0.25  # seconds between looks at the parent (a hang-up on the pipes wakes the watcher at once)
GRACE = 3.0  # seconds the app has to end cleanly once its page has gone
CODE = 128 + signal.SIGHUP  # the exit status of a terminal hung up: the same story


def gone(fds: tuple[int, ...], parent: int, timeout: float = 0.0) -> str | None:
    """Why the page's end has gone (None while it is there), waiting up to ``timeout`` seconds for a
    hang-up on ``fds`` — a pipe's read end hangs up when its writer goes, its write end errs when
    its reader goes."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, 0)  # no events asked for: poll still reports POLLHUP, POLLERR, POLLNVAL
    for fd, flags in poller.poll(timeout * 1000):
        if flags & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            return f"fd {fd} closed"
    if os.getppid() != parent:
        return "parent gone"
    return None


def _silence(fd: int) -> None:
    """Writes to ``fd`` go nowhere from now on, and never fail: the app's last frames and its exit
    packet would otherwise raise in the middle of the shutdown (a crash report for a closed page)."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def watch(app, on_gone: Callable[[], None]) -> threading.Thread | None:
    """From the app's event loop (``on_mount``): when the app is served to a browser, call
    ``on_gone`` on the loop once its page or server has gone, and end the process ``GRACE``
    seconds later if it still runs. Does nothing in a terminal (a hang-up there is SIGHUP)."""
    if not app.is_web:
        return None
    loop = asyncio.get_running_loop()
    once = threading.Lock()

    def stop() -> None:
        if not once.acquire(blocking=False):
            return  # the first sign ends it; the rest are the same news
        _silence(1)
        with contextlib.suppress(RuntimeError):  # the loop already closed: the grace timer ends it
            loop.call_soon_threadsafe(on_gone)
        threading.Thread(target=_end_later, daemon=True, name="fitscope-web-exit-timer").start()

    _guard_writes(app._driver, stop)
    parent = os.getppid()

    def wait() -> None:
        while gone((0, 1), parent, POLL) is None:
            pass
        stop()

    thread = threading.Thread(target=wait, daemon=True, name="fitscope-web-exit")
    thread.start()
    return thread


def _guard_writes(driver, stop: Callable[[], None]) -> None:
    """A write that fails because the page's end has gone (the watcher may not have woken yet) stops
    the app as the watcher would, rather than raising into whatever was drawing."""
    write = getattr(driver, "_write", None)  # Textual's web driver: os.write on stdout, for every packet
    if write is None:
        return

    def guarded(data: bytes) -> int:
        try:
            return write(data)
        except OSError:
            stop()
            return len(data)

    driver._write = guarded


def _end_later() -> None:
    threading.Event().wait(GRACE)  # a daemon thread: a clean exit ends it first
    os._exit(CODE)
