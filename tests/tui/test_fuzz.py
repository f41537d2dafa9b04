"""Random keys in every state: the app stays alive, logs no exception, and its header stays sane."""

import random

import pytest
from textual.command import CommandPalette

from fitscope.core import commands as C
from fitscope.core.snapshot import State
from fitscope.tui.dialogs import PathDialog
from fitscope.tui.help import HelpScreen
from fitscope.tui.race_setup import CompareSetup, Confirm

NAMED = ["space", "n", "left_square_bracket", "right_square_bracket", "r", "d", "a", "A", "plus", "minus", "t",
         "l", "e", "tab", "shift+tab", "c", "h", "R", "s", "g", "question_mark", "escape", "enter", "up", "down",
         "left", "right", "backspace", "home", "end", "ctrl+o", "ctrl+w", "b", *"123456789",
         "ctrl+p", "pageup", "pagedown"]  # the palette: its bursts once stopped the app
PRINTABLE = ["b", "x", "z", "0", "full_stop", "comma", "semicolon", "5", "e", "9"]  # a hand mashing a field


async def setup(pilot, state: str) -> None:
    app = pilot.app
    if state == "running":
        await pilot.press("space")
    elif state == "paused":
        app.send(C.Step(20))
    elif state == "done":
        app.send(C.Step(300))
    elif state == "diverged":
        app.change_setting("train.lr", "60")
        await pilot.pause()
        app.send(C.Step(40))
    elif state == "race":
        await pilot.press("c", "enter")
    elif state == "dialog":
        await pilot.press("c")
    elif state == "help":
        await pilot.press("question_mark")
    elif state == "field":
        app.query_one("#field-train-lr").focus()
    await pilot.pause()


@pytest.mark.parametrize("state", ["ready", "running", "paused", "done", "diverged", "race", "dialog", "help",
                                   "field"])
async def test_random_keys_never_break_the_app(state, make_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `e` saves runs here
    rng = random.Random(f"fitscope-{state}")
    app = make_app()
    async with app.run_test(size=(64, 20)) as pilot:  # small: every layout rule in play, and a cheap frame
        await setup(pilot, state)
        if state == "diverged":
            assert app.driver.latest.state == State.DIVERGED
        for i in range(300):
            key = rng.choice(NAMED) if rng.random() < 0.7 else rng.choice(PRINTABLE)
            app.simulate_key(key)  # through the app's own queue, in order, as a fast typist's keys
            if i % 10 == 9:
                await pilot.pause()
                app.driver.pump(3)  # some training between the keys
                app.refresh_view()
        await pilot.pause()
        app.refresh_view()
        assert app.is_running
        assert app.return_code is None
        snap = app.driver.latest
        header = str(app.status_bar.render())
        frame = app.fit_chart.frame
        assert f"step {snap.step:,}/{snap.budget:,}" in header or "switching" in header or (
            frame is not None and f"◀ frame {frame.index + 1}/{frame.count}" in header)
        dialogs = (CompareSetup, Confirm, HelpScreen, PathDialog, CommandPalette)
        assert isinstance(app.screen, dialogs) or app.screen is app.screen_stack[0]
        assert app.spec.count() == len(snap.members) or app.switching
