"""Processes seen through /proc (Linux), and waiting for a condition with a deadline, not a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float, what: str, every: float = 0.1) -> T:
    """``probe()``'s first true value, asked every ``every`` s; fails naming ``what`` (and the last value
    seen) once ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what} (last seen: {value!r})")
        time.sleep(every)  # between looks only: the deadline decides, not the nap


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid), or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1])


def running(pid: int) -> bool:
    """Alive and not a zombie (an ended child its parent has not yet reaped)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def children(pid: int, module: str | None = None) -> list[int]:
    """Running children of ``pid`` (those started as ``-m module`` when given)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == pid and stat[0] not in ("Z", "X"):
            if module is None or module in cmdline(int(entry.name)):
                found.append(int(entry.name))
    return found
