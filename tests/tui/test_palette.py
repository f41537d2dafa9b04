"""The command palette under fast and odd keys: it never stops the app (an unsaved run was lost)."""

import random

import pytest
from conftest import manual_app
from textual import events

CHARS = {"enter": "\r", "escape": "\x1b", "tab": "\t", "space": " ", "backspace": "\x7f"}


async def burst(pilot, *keys):
    """Keys as a terminal delivers a burst: all queued before the app handles the first (Pilot's own
    press waits for the app between keys, and never met these crashes)."""
    for key in keys:
        char = CHARS.get(key, key if len(key) == 1 else None)
        pilot.app.post_message(events.Key(key, char))
    for _ in range(5):
        await pilot.pause()

BURSTS = [
    ("ctrl+p", "enter", "enter"),
    ("ctrl+p", "pageup"),
    ("ctrl+p", "pagedown"),
    ("ctrl+p", "pagedown", "pageup", "enter"),
    ("ctrl+p", "enter", "escape", "ctrl+p", "enter", "enter", "enter"),
    ("ctrl+p", "down", "down", "enter", "enter", "escape", "escape"),
    ("ctrl+p", "h", "e", "l", "p", "enter", "enter", "escape"),
]


@pytest.mark.parametrize("keys", BURSTS, ids=["-".join(b) for b in BURSTS])
async def test_a_palette_burst_never_stops_the_app(keys):
    app = manual_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await burst(pilot, *keys)
        await burst(pilot, "escape", "escape", "escape")
        await pilot.pause()
        assert app.is_running, app.crash
        assert app.crash is None, app.crash
        assert app.driver.latest is not None


@pytest.mark.parametrize("seed", range(6))
async def test_random_palette_keys_never_stop_the_app(seed):
    rng = random.Random(seed)
    pool = ["ctrl+p", "enter", "escape", "pageup", "pagedown", "up", "down", "home", "end", "tab", "a", "x",
            "backspace", "space"]
    app = manual_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(8):
            await burst(pilot, "ctrl+p", *(rng.choice(pool) for _ in range(10)))
        await pilot.pause()
        assert app.crash is None, app.crash
