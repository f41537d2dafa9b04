"""An app served to a browser ends when the server at the other end of its pipes goes (tui/web_exit.py),
shown without a browser: the app under Textual's web driver, as textual-serve starts it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading

from fitscope.tui import web_exit

from support.procs import children, running, wait_until

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def test_a_pipe_whose_other_end_closed_is_seen_at_once():
    read_end, write_end = os.pipe()
    try:
        assert web_exit.gone((read_end, write_end), os.getppid()) is None
        os.close(write_end)
        assert web_exit.gone((read_end,), os.getppid(), timeout=5) == f"fd {read_end} closed"
    finally:
        os.close(read_end)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        assert web_exit.gone((write_end,), os.getppid(), timeout=5) == f"fd {write_end} closed"
    finally:
        os.close(write_end)


def test_a_parent_replaced_is_seen():
    assert web_exit.gone((), os.getppid()) is None
    assert web_exit.gone((), parent=-1) == "parent gone"


class Drain(threading.Thread):
    """Reads the app's screen output (so it never blocks on a full pipe) until told to stop, then
    closes the pipe: what a server that vanishes leaves the app with."""

    def __init__(self, fd: int):
        super().__init__(daemon=True)
        self.fd, self.seen, self.stop = fd, bytearray(), threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if select.select([self.fd], [], [], 0.1)[0]:
                data = os.read(self.fd, 65536)
                if not data:
                    break
                self.seen += data
        os.close(self.fd)


def server_vanishes(tmp_path, steps: str, when: str) -> int:
    """The app under the web driver, its pipes closed once the screen shows ``when``: its exit status,
    once it and its worker have ended."""
    env = dict(os.environ, TEXTUAL_DRIVER=WEB_DRIVER, COLUMNS="100", ROWS="30", TMPDIR=str(tmp_path))
    with open(tmp_path / "stderr", "wb") as err:
        app = subprocess.Popen([sys.executable, "-m", "fitscope.tui.cli", "--steps", steps], cwd=tmp_path, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    assert app.stdin is not None
    assert app.stdout is not None
    drain = Drain(os.dup(app.stdout.fileno()))
    app.stdout.close()
    drain.start()
    try:
        worker = wait_until(lambda: children(app.pid, "fitscope.core.drivers.worker"), 60, "the engine worker")[0]
        wait_until(lambda: when.encode() in drain.seen, 60, f"{when!r} on the screen")
        app.stdin.close()  # the server's ends of both pipes go, as when it is killed
        drain.stop.set()
        code = app.wait(timeout=15)
        wait_until(lambda: not running(worker), 15, "the engine worker to end")
        return code
    finally:
        if app.poll() is None:  # what a failed test left: the app's whole group, its worker too
            os.killpg(app.pid, signal.SIGKILL)
            app.wait(5)


def test_a_drawing_app_ends_with_its_worker_when_the_server_vanishes(tmp_path):
    code = server_vanishes(tmp_path, "100000", "▶ running")
    # before the fix the broken pipe was a crash: exit 1 and a traceback file in the temp folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stderr"]  # nothing saved, nothing left
    assert code == 128 + signal.SIGHUP, (tmp_path / "stderr").read_text()


def test_an_idle_app_ends_when_the_server_vanishes(tmp_path):
    """A finished run draws nothing: no write fails, only the watcher can tell (before: it waited for good)."""
    code = server_vanishes(tmp_path, "5", "✓ done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stderr"]
    assert code == 128 + signal.SIGHUP, (tmp_path / "stderr").read_text()
