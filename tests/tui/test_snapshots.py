"""SVG snapshots of the main screen and the help screen; update on purpose with
`pytest tests/tui/test_snapshots.py --snapshot-update` after a Textual upgrade or a UI change."""

import itertools

import pytest

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.thread_driver import ManualDriver
from fitscope.tui.app import FitscopeApp

CPU = FitConfig().with_value("train.device", "cpu")


def ticking_clock(dt: float = 0.1):
    """A clock that moves dt per reading: one Step(300) takes 0.1 s on it, on any machine."""
    ticks = itertools.count()
    return lambda: next(ticks) * dt


def trained_app() -> FitscopeApp:
    # the run's own clock, not the wall: the speed on screen (steps/s) is the same every time
    return FitscopeApp(CPU, engine_factory=lambda spec: ManualDriver(spec, clock=ticking_clock()))


async def after_the_lesson(pilot):
    pilot.app.driver.send(C.Step(300))  # a hand-stepped run: the same pixels every time
    pilot.app.refresh_view()
    await pilot.pause()


@pytest.mark.parametrize("size,colour", [((80, 24), False), ((120, 40), True)])
def test_main_screen(snap_compare, monkeypatch, size, colour):
    if colour:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:  # without colour, markers tell the data, fit and truth apart
        monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(trained_app(), terminal_size=size, run_before=after_the_lesson)


def test_help_screen(snap_compare):
    assert snap_compare(trained_app(), terminal_size=(100, 30), press=["question_mark"])
