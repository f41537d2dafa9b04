"""A real browser on `fitscope serve`: Debian's chromium driven by playwright (no browser download).

Missing pieces fail the tests, they do not skip them: CI installs chromium (.ci/run) and the test
extra brings playwright and textual-serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from support.procs import wait_until
from support.webpage import START, Served, free_port

CHROMIUM = "/usr/bin/chromium"
# headless, and none of chromium's own network traffic (refused on a closed machine, many at a time)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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


