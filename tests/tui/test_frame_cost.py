"""What a training frame repaints: the numbers that changed, never the settings panel beside them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.geometry import Region
from textual.widget import Widget

from fitscope.core import commands as C
from fitscope.tui.widgets.settings import SettingsPanel
from fitscope.tui.widgets.textview import changed_span


@pytest.mark.parametrize("old, new, span", [
    ("fitscope  cubic   step 10/300", "fitscope  cubic   step 11/300", Region(24, 0, 1, 1)),
    ("a  step 9", "a  step 10", Region(8, 0, 2, 1)),  # longer: all that follows moved
    ("a  step 10", "a  step 9", Region(8, 0, 2, 1)),
    ("x³ · 10", "x³ · 12", Region(6, 0, 1, 1)),
    ("same", "same", None),  # nothing to repaint: the whole widget, as Textual would
    ("[b]bold[/b] 1", "[b]bold[/b] 2", None),  # styled text: the whole line
    ("one\nline", "one\nlime", None),
    ("abc", "xbc", Region(0, 0, 1, 1)),
])
def test_changed_span(old, new, span):
    assert changed_span(old, new) == span


async def test_a_training_frame_does_not_repaint_the_settings_panel(app, monkeypatch):
    """The status line spans the screen: repainted whole along with the charts, the box around
    both took in the settings panel's ~90 widgets (~10 ms a frame)."""
    painted: list[Widget] = []
    render_lines = Widget.render_lines

    def counted(self, crop):
        painted.append(self)
        return render_lines(self, crop)

    async with app.run_test(size=(120, 40)) as pilot:
        app.send(C.Start())
        app.driver.pump(2)
        app.refresh_view()
        await pilot.pause()
        settings = app.query_one(SettingsPanel)
        monkeypatch.setattr(Widget, "render_lines", counted)
        for _ in range(3):
            before = app.status_bar.markup
            app.driver.pump(2)
            app.refresh_view()
            await pilot.pause()
            assert app.status_bar.markup != before  # the step moved on: the status line changed
        assert app.fit_chart in painted
        assert app.status_bar in painted
        inside = [w for w in painted if w is settings or settings in w.ancestors]
        assert not [w for w in inside if w is not settings], "the settings' rows were repainted"


def test_the_app_sets_start_up_objects_aside_from_the_collector_once_it_runs():
    code = """
import asyncio, gc
from fitscope.core.config import FitConfig
from fitscope.core.drivers.thread import ManualDriver
from fitscope.tui.app import FitscopeApp

async def main():
    before = gc.get_freeze_count()
    app = FitscopeApp(FitConfig().with_value("train.device", "cpu"), engine_factory=ManualDriver, freeze_heap=True)
    async with app.run_test(size=(100, 30)) as pilot:
        app.refresh_view()
        await pilot.pause()
        print(before, gc.get_freeze_count())

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    before, after = map(int, out.stdout.split())
    assert after > 10_000
    assert after > before
