"""Without colour (NO_COLOR, set for the whole suite by tests/conftest.py) every legend names a
series by the marker it is drawn with, and focus and invalid fields show by style, not colour."""

import pytest
from textual.widgets import Input

from fitscope.core import commands as C
from fitscope.core.spec import RunSpec


def chart_text(chart) -> str:
    return "\n".join(strip.text for strip in chart._strips)


async def trained(pilot, steps: int = 300):
    app = pilot.app
    app.driver.send(C.Step(steps))
    for _ in range(50):
        app.refresh_view()
        await pilot.pause()
        if app.fit_chart.drawn_seq == app.driver.latest.seq:
            break


@pytest.fixture(autouse=True)
def no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")


async def test_the_fit_legend_shows_the_markers_drawn(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await trained(pilot)
        legend = str(app.fit_chart.border_subtitle)
        assert "━" not in legend
        assert "┄" not in legend
        drawn = chart_text(app.fit_chart)
        for glyph in ("▀", "•"):  # the fit (half blocks) and the truth (dots)
            assert glyph in legend
            assert glyph in drawn


async def test_a_race_legend_and_leaderboard_name_members_by_their_character(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.switch_spec(RunSpec.race(app.cfg, {"model.activation": ["relu", "tanh"]}))
        await trained(pilot, 50)
        legend = str(app.fit_chart.border_subtitle)
        assert "━" not in legend
        assert "1" in legend
        assert "2" in legend
        board = app.board.lines()
        assert not any("━" in line for line in board)
        assert board[1].split()[0].lstrip("▸") in ("1", "2")


async def test_focus_and_invalid_fields_show_without_colour(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("shift+tab")
        field = app.focused
        assert isinstance(field, Input)
        assert field.styles.text_style.reverse
        settings = app.query_one("#settings")
        assert settings.styles.border_top[0] == "heavy"
        await pilot.press("ctrl+u", *"zzz", "enter")
        assert field.has_class("invalid")
        assert field.styles.text_style.underline
        await pilot.press("tab")  # the fit panel
        assert app.query_one("#fit").styles.border_top[0] == "heavy"
