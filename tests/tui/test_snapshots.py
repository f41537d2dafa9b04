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


def trained_app(cfg: FitConfig = CPU) -> FitscopeApp:
    # the run's own clock, not the wall: the speed on screen (steps/s) is the same every time
    return FitscopeApp(cfg, engine_factory=lambda spec: ManualDriver(spec, clock=ticking_clock()))


async def after_the_lesson(pilot):
    pilot.app.driver.send(C.Step(300))  # a hand-stepped run: the same pixels every time
    await settle(pilot)


@pytest.mark.parametrize("size,colour", [((80, 24), False), ((120, 40), True)])
def test_main_screen(snap_compare, monkeypatch, size, colour):
    if colour:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:  # without colour, markers tell the data, fit and truth apart
        monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(trained_app(), terminal_size=size, run_before=after_the_lesson)


def test_help_screen(snap_compare):
    assert snap_compare(trained_app(), terminal_size=(100, 30), press=["question_mark"])


async def settle(pilot):
    """Until both charts show the latest snapshot at their present size (a resize after a draw
    marks them for another), then without toasts (they fade on the wall clock)."""
    app = pilot.app
    for _ in range(50):
        app.refresh_view()
        await pilot.pause()
        seq = app.driver.latest.seq
        if app.fit_chart.drawn_seq == seq and app.loss_chart.drawn_seq == seq:
            break
    app.clear_notifications()
    await pilot.pause()


async def lesson_race(pilot):
    from fitscope.core.spec import RunSpec

    app = pilot.app
    app._switch(RunSpec.race(app.cfg, {"model.activation": ["relu", "softplus", "tanh"]}))
    await pilot.pause()
    app.driver.send(C.Step(300))
    await settle(pilot)


async def lr_race_with_a_diverged_member(pilot):
    from fitscope.core.spec import RunSpec

    app = pilot.app
    app._switch(RunSpec.race(app.cfg, {"train.lr": [0.05, 0.2, 0.8, 3.0]}))
    await pilot.pause()
    app.driver.send(C.Step(200))
    await settle(pilot)


async def diverged_single(pilot):
    pilot.app.driver.send(C.Step(40))  # one command, so the log's lines do not hang on the redraw timer
    await settle(pilot)


async def settings_overlay(pilot):
    pilot.app.driver.send(C.Step(300))
    await pilot.press("s")
    await settle(pilot)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_race_screen(snap_compare, size):
    assert snap_compare(trained_app(), terminal_size=size, run_before=lesson_race)


def test_a_diverged_member_in_an_lr_race(snap_compare):
    assert snap_compare(trained_app(), terminal_size=(100, 30), run_before=lr_race_with_a_diverged_member)


def test_a_diverged_single_run(snap_compare):
    app = trained_app(CPU.with_value("train.lr", 60))
    assert snap_compare(app, terminal_size=(100, 30), run_before=diverged_single)


def test_60x20_with_the_settings_open_over_the_charts(snap_compare):
    assert snap_compare(trained_app(), terminal_size=(60, 20), run_before=settings_overlay)


def test_too_small(snap_compare):
    assert snap_compare(trained_app(), terminal_size=(36, 10), run_before=after_the_lesson)


async def units_view(pilot):
    pilot.app.driver.send(C.Step(300))
    await pilot.press("v")
    await settle(pilot)


async def kinks_view(pilot):
    pilot.app.driver.send(C.Step(300))
    await pilot.press("v", "v")
    await settle(pilot)


async def units_of_a_race_member(pilot):
    await lesson_race(pilot)
    await pilot.press("3", "v")  # tanh: the selected member's units
    await settle(pilot)


async def a_scrubbed_frame(pilot):
    pilot.app.driver.send(C.Step(300))
    await settle(pilot)
    for key in ("home", "full_stop", "full_stop", "full_stop", "full_stop", "full_stop"):  # step 5
        await pilot.press(key)
        await pilot.pause()
    await settle(pilot)


@pytest.mark.parametrize("before", [units_view, kinks_view, units_of_a_race_member, a_scrubbed_frame],
                         ids=["units", "kinks", "race-units", "frame"])
def test_inside_views(snap_compare, before):
    assert snap_compare(trained_app(), terminal_size=(120, 40), run_before=before)
