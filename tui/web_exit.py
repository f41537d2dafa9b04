"""An app served to a browser ends when its page or its server goes.

textual-serve runs each page's app as its child, with Textual's web driver reading the page's keys
from stdin and writing the screen to stdout (both pipes to the server). When the server goes (a
kill, a crash) nobody tells the app: the driver's input thread ends quietly at stdin's end, and the
app went on drawing into a pipe no one read — seen for 82 minutes at 95 % of a core. A closed page
is told (the server sends "quit"), but only while the server lives.

So a watcher thread waits for any sign that the other end has gone — stdin hung up, stdout's reader
gone, the parent process replaced — and then asks the app to stop as a hang-up would (training
stopped, nothing saved, the saved run folders as they were: a save is whole or not there), and ends
the process at once if that has not happened within a few seconds (its writes may fail and stall
the shutdown). The engine worker ends with it: it sees its command pipe close.
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


def _watch(fds: tuple[int, ...], parent: int, stop: Callable[[], None]) -> None:
    while gone(fds, parent, POLL) is None:
        pass
    stop()
    threading.Event().wait(GRACE)  # a daemon thread: a clean exit ends it first
    os._exit(CODE)


def watch(app, on_gone: Callable[[], None]) -> threading.Thread | None:
    """From the app's event loop (``on_mount``): when the app is served to a browser, call
    ``on_gone`` on the loop once its page or server has gone, and end the process ``GRACE``
    seconds later if it still runs. Does nothing in a terminal (a hang-up there is SIGHUP)."""
    if not app.is_web:
        return None
    loop = asyncio.get_running_loop()

    def stop() -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed: the grace timer ends it
            loop.call_soon_threadsafe(on_gone)

    thread = threading.Thread(target=_watch, args=((0, 1), os.getppid(), stop), daemon=True, name="fitscope-web-exit")
    thread.start()
    return thread
