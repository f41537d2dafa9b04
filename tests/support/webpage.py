"""The served app seen through a real browser's page: its text row by row, its processes."""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.procs import children, wait_until

CHROMIUM = "/usr/bin/chromium"
# headless, and none of chromium's own network traffic (refused on a closed machine, many at a time)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START = 90.0  # seconds for a served app's first screen with training going (torch loads; the suite runs beside)
ENDS = 15.0  # seconds for an app and its worker to end once their page or server has gone (web_exit: ~3)

# textual-serve's page draws the terminal on a canvas (xterm.js) and keeps the Terminal in a closure:
# the first `x.terminal = …` that assigns an object with a buffer is caught on its way in, so the test
# reads what the page shows, row by row, as a person would see it
HOOK = """
Object.defineProperty(Object.prototype, 'terminal', {configurable: true, set(value) {
  if (value && value.buffer && !window.__terminal) window.__terminal = value;
  Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
}});
"""
SCREEN = """() => {
  const t = window.__terminal;
  if (!t) return '';
  const rows = [];
  for (let i = 0; i < t.rows; i++) {
    const line = t.buffer.active.getLine(i);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    server: subprocess.Popen
    port: int
    out: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def app(self) -> tuple[int, int]:
        """The page's app (the server's child) and its engine worker (the app's), once both run."""
        def both():
            apps = children(self.server.pid, "fitscope.tui.cli")
            workers = children(apps[0], "fitscope.core.drivers.worker") if len(apps) == 1 else []
            return (apps[0], workers[0]) if workers else None
        return wait_until(both, START, "the served app and its engine worker")


def screen_text(page) -> str:
    return page.evaluate(SCREEN)


def step(text: str) -> int | None:
    """The status bar's step counter."""
    found = re.search(r"step ([\d,]+)/", text)
    return int(found.group(1).replace(",", "")) if found else None


def open_app(browser, served: Served):
    """A page on the served app, its app training (the step counter past 0)."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.add_init_script(HOOK)
    page.goto(served.url)
    wait_until(lambda: (step(screen_text(page)) or 0) > 0, START, "the app's step counter in the page")
    page.locator(".xterm-screen").click()  # the keys go to the terminal
    return page
