"""SVG snapshots of the main screen and the help screen; update on purpose with
`pytest tests/tui/test_snapshots.py --snapshot-update` after a Textual upgrade or a UI change."""

import pytest

from fitscope.core.config import FitConfig
from fitscope.core.engine import Engine
from fitscope.tui.app import FitscopeApp

CPU = FitConfig().with_value("train.device", "cpu")


def trained_app() -> FitscopeApp:
    return FitscopeApp(CPU, engine_factory=lambda c: Engine(c, threaded=False))


async def after_the_lesson(pilot):
    pilot.app.engine.step(300)  # a hand-stepped engine: the same pixels every time
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
