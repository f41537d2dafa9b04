"""`fitscope serve` in headless Chromium: the page drives the app with keys and shows what it does, and
when the page or the server goes, no process is left behind.

Debian's chromium driven by playwright (no browser download). Missing pieces fail the tests, they do
not skip them: CI installs chromium (.ci/run) and the test extra brings playwright and textual-serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from support.procs import running, wait_until
from support.webpage import ARGS, CHROMIUM, ENDS, START, Served, free_port, open_app, screen_text, step


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is not installed: pip install -e ".[test]" brings it')
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no browser at {CHROMIUM}: apt-get install -y chromium (.ci/run does it when it is missing)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def serve(tmp_path) -> Iterator:
    started: list[Served] = []

    def start(*app_args: str) -> Served:
        port = free_port()
        out = tmp_path / f"serve-{port}.txt"
        with open(out, "wb") as sink:
            server = subprocess.Popen([sys.executable, "-m", "fitscope.tui.cli", "serve", "--port", str(port), *app_args],
                                      cwd=tmp_path, env=dict(os.environ, TMPDIR=str(tmp_path)), stdout=sink,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        served = Served(server, port, out)
        started.append(served)
        wait_until(lambda: "ssh -L" in out.read_text() or server.poll() is not None, START, "the server's first lines")
        assert server.poll() is None, out.read_text()
        return served

    yield start
    for served in started:  # what a failed test left behind: the server's group holds its apps and workers
        if served.server.poll() is None:
            served.server.kill()
        served.server.wait(5)
        try:
            os.killpg(served.server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def advancing(page, past: int) -> int | None:
    """The step counter once it has moved past ``past`` (None until then)."""
    now = step(screen_text(page)) or 0
    return now if now > past else None


def race_shown(text: str) -> bool:
    """The status bar says a race of 3 and the leaderboard lists its members."""
    return "race of 3" in text and "3 members" in text and all(f"{act} " in text for act in ("relu", "softplus", "tanh"))


def test_keys_drive_the_app_and_a_closed_page_leaves_no_process(browser, serve):
    served = serve("--steps", "100000")  # the counter keeps moving while the test looks
    page = open_app(browser, served)
    first = wait_until(lambda: step(screen_text(page)), 10, "a step count")
    wait_until(lambda: advancing(page, first), 30, "the step counter advancing")
    page.keyboard.press("Space")  # pause
    wait_until(lambda: "paused" in screen_text(page), 30, "the app paused")
    paused_at = wait_until(lambda: step(screen_text(page)), 10, "a step count")
    page.keyboard.press("Space")  # run again
    wait_until(lambda: advancing(page, paused_at), 30, "the step counter advancing after space")
    page.keyboard.press("c")
    wait_until(lambda: "Compare: race variants" in screen_text(page), 30, "the race set-up")
    page.keyboard.press("Enter")  # the set-up's defaults: relu, softplus and tanh
    wait_until(lambda: race_shown(screen_text(page)), 60, "the race's members on the page")
    app, worker = served.app()
    page.close()
    wait_until(lambda: not running(app) and not running(worker), ENDS, "the app and its worker to end")
    assert served.server.poll() is None  # the server stays for the next page
    assert not list(served.out.parent.glob("fitscope-crash-*"))  # no crash report for a page closed


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_a_server_gone_leaves_no_process(browser, serve, sig):
    served = serve()  # the lesson's 300 steps, then idle: an app drawing nothing has no write to fail
    page = open_app(browser, served)
    wait_until(lambda: "✓ done" in screen_text(page), 60, "the run done")
    app, worker = served.app()
    served.server.send_signal(sig)  # killed: the app is told nothing; terminated: textual-serve waited a minute
    wait_until(lambda: not running(app) and not running(worker), ENDS, "the app and its worker to end")
    assert served.server.wait(ENDS) == (-sig if sig == signal.SIGKILL else 0)
    assert not list(served.out.parent.glob("fitscope-crash-*"))  # no crash report for a page gone
    page.close()
