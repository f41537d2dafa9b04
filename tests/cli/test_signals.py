"""Signals save and never corrupt: each is sent after an observable event, never after a sleep."""

import os
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
import time

import pytest
from test_cli import ENV

from fitscope.core.store import saved as runs


class Proc:
    """A fitscope process whose stdout and stderr lines arrive on queues as they are written."""

    def __init__(self, *args, cwd):
        self.p = subprocess.Popen([sys.executable, "-m", "fitscope.tui.cli", *args], cwd=cwd, env=ENV, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: queue.Queue = queue.Queue()
        self.err: queue.Queue = queue.Queue()
        self.err_lines: list[str] = []
        for stream, q in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=lambda s=stream, q=q: [q.put(line) for line in s] + [q.put(None)],
                             daemon=True).start()

    def wait_line(self, q: queue.Queue, prefix: str) -> str:
        while True:
            line = q.get(timeout=300)  # a backstop only: torch may take long to load on a busy machine
            assert line is not None, f"ended first: {self.p.wait()} {''.join(self.err_lines)}"
            if q is self.err:
                self.err_lines.append(line)
            if prefix in line:
                return line

    def finish(self) -> tuple[int, str]:
        code = self.p.wait(timeout=120)
        while (line := self.err.get(timeout=60)) is not None:
            self.err_lines.append(line)
        return code, "".join(self.err_lines)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_save_what_the_run_has_and_exit_128_plus_n(tmp_path, sig):
    out = tmp_path / "run"
    proc = Proc("run", "--steps", "50000", "--out", str(out), "--set", "train.device=cpu", cwd=tmp_path)
    try:
        proc.wait_line(proc.out, "step ")  # training is under way
        proc.p.send_signal(sig)
        code, err = proc.finish()
    finally:
        proc.p.kill()
    assert code == 128 + sig, err
    assert "saving what the run has" in err
    assert "Traceback" not in err
    at = int(err.split("interrupted at step ")[1].split()[0])
    loaded = runs.load(out)
    assert loaded.state["exp"]["step"] == at
    assert loaded.summary["steps"] == at


def test_a_second_ctrl_c_during_the_save_does_not_abort_it(tmp_path):
    out = tmp_path / "run"
    # a big net: its checkpoint takes a while to write, so the second Ctrl+C lands during the save
    proc = Proc("run", "--steps", "300", "--out", str(out), "--set", "train.device=cpu", "--set", "data.points=50",
                "--set", "model.hidden=512,512,512", "--set", "train.optimizer=adam", "--set", "train.lr=0.0001",
                cwd=tmp_path)
    try:
        proc.wait_line(proc.out, "step ")
        proc.p.send_signal(signal.SIGINT)
        proc.wait_line(proc.err, "saving what the run has…")  # the save has begun
        proc.p.send_signal(signal.SIGINT)
        code, err = proc.finish()
    finally:
        proc.p.kill()
    assert code == 130, err
    assert "terminate called" not in err
    assert "Traceback" not in err
    loaded = runs.load(out)  # whole: every file of one save, hashes checked
    assert loaded.summary["steps"] == loaded.state["exp"]["step"] > 0


def test_ctrl_c_before_the_first_step_is_one_line(monkeypatch, capsys):
    from fitscope.tui import cli, headless, signals

    def interrupted(*args, **kw):
        raise signals.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(headless, "ThreadDriver", interrupted)  # the moment torch would load
    assert cli.main(["run", "--no-save", "--steps", "5"]) == 143
    assert capsys.readouterr().err == "fitscope: interrupted before the first step (SIGTERM)\n"


def test_a_full_console_still_leaves_the_run_saved(tmp_path):
    out = tmp_path / "run"
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "fitscope.tui.cli", "run", "--steps", "50", "--out", str(out)],
                           cwd=tmp_path, env=ENV, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("fitscope: cannot write the output")
    assert "Traceback" not in r.stderr
    assert runs.load(out).summary["steps"] == 50


def app_on_a_pty(cwd) -> tuple[subprocess.Popen, int, bytes]:
    """The app in a pseudo-terminal of 80x24, once it has drawn its footer: the process, the
    terminal's reading end (non-blocking) and what it has drawn so far."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    p = subprocess.Popen([sys.executable, "-m", "fitscope.tui.cli"], cwd=cwd, env={**ENV, "TERM": "xterm-256color",
                         "COLUMNS": "80", "LINES": "24"}, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        while b"compare" not in seen:  # the app has drawn its footer
            select.select([master], [], [], 60)
            try:
                seen += os.read(master, 65536)
            except BlockingIOError:
                continue
            except OSError:
                break
            assert p.poll() is None, seen[-500:]
    except BaseException:
        p.kill()
        os.close(master)
        raise
    return p, master, seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_the_app_on_sigterm_or_sighup_stops_its_engine_and_restores_the_terminal(tmp_path, sig):
    p, master, seen = app_on_a_pty(tmp_path)
    try:
        p.send_signal(sig)
        code = p.wait(timeout=60)
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        p.kill()
        os.close(master)
    assert code == 128 + sig
    tail = seen[seen.rindex(b"compare"):]
    assert b"\x1b[?1049l" in tail  # the alternate screen left
    assert b"\x1b[?25h" in tail  # the cursor shown again
    assert b"\x1b[?1000l" in tail  # mouse tracking off
    assert b"Traceback" not in seen


def test_signals_close_together_count_as_one_press_so_a_burst_never_abandons_the_save(monkeypatch):
    from fitscope.tui import signals

    exits = []
    monkeypatch.setattr(signals.os, "_exit", exits.append)
    clock = iter([100.0, 100.1, 100.2, 100.3, 101.5, 103.0])
    monkeypatch.setattr(signals.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(signals, "_seen", 0)
    monkeypatch.setattr(signals, "_last", -1e9)
    with pytest.raises(signals.Interrupted):
        signals._handler(signal.SIGINT, None)  # the first: stop and save
    for _ in range(3):
        signals._handler(signal.SIGINT, None)  # an impatient burst within a second: one press
    assert exits == []
    signals._handler(signal.SIGINT, None)  # a second press: said, ignored
    assert exits == []
    signals._handler(signal.SIGINT, None)  # a third, later: the save is abandoned
    assert exits == [130]


def _main_thread_blocked(pid: int) -> bool:
    """The app's main thread waits on a lock (Textual's full output queue), not on its event loop."""
    try:
        with open(f"/proc/{pid}/task/{pid}/wchan") as f:
            return "futex" in f.read()
    except OSError:
        return False


def test_the_app_exits_on_sighup_when_its_terminal_takes_no_more_output(tmp_path):
    """An SSH drop or a frozen terminal: Textual's writer blocks, its queue fills, the event loop
    stops for good, and a handler of the loop's never ran: the app hung until SIGKILL."""
    p, master, _ = app_on_a_pty(tmp_path)  # from now on nobody reads its terminal
    try:
        blocked = threading.Event()

        def watch() -> None:  # the terminal's buffer fills as the app trains and redraws
            since = None  # when the main thread was first seen waiting on a lock, in a row
            while p.poll() is None and not blocked.is_set():
                if not _main_thread_blocked(p.pid):
                    since = None
                elif since is None:
                    since = time.monotonic()
                elif time.monotonic() - since > 1.0:  # a second in a row: not a moment's wait for the GIL
                    blocked.set()
                select.select([], [], [], 0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        watcher.join(timeout=120)
        assert blocked.is_set() or not os.path.exists(f"/proc/{p.pid}/task/{p.pid}/wchan")
        p.send_signal(signal.SIGHUP)
        code = p.wait(timeout=60)
    finally:
        p.kill()
        os.close(master)
    assert code == 128 + signal.SIGHUP


def test_sigterm_saves_when_options_come_before_the_command(tmp_path):
    """`fitscope --set … run …` installed no handler: SIGTERM killed it with nothing saved."""
    out = tmp_path / "run"
    proc = Proc("--set", "train.device=cpu", "run", "--steps", "50000", "--out", str(out), cwd=tmp_path)
    try:
        proc.wait_line(proc.out, "step ")
        proc.p.send_signal(signal.SIGTERM)
        code, err = proc.finish()
    finally:
        proc.p.kill()
    assert code == 143, err
    assert "saving what the run has" in err
    assert runs.load(out).summary["steps"] > 0
