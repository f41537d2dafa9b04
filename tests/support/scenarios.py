"""What each SVG snapshot shows: the app's settings, its size and the steps that bring it there.

The same steps run twice: once by ``tests/fixtures/record.py`` over the real engine (recording
what it does), and in every snapshot test over that recording.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.widgets import Input

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.spec import RunSpec

CPU = FitConfig().with_value("train.device", "cpu")


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


async def nothing(pilot):
    await pilot.pause()


async def after_the_lesson(pilot):
    pilot.app.driver.send(C.Step(300))
    await settle(pilot)


async def lesson_race(pilot):
    app = pilot.app
    app.switch_spec(RunSpec.race(app.cfg, {"model.activation": ["relu", "softplus", "tanh"]}))
    await pilot.pause()
    app.driver.send(C.Step(300))
    await settle(pilot)


async def race_of_15(pilot, members: bool) -> None:
    """The lesson's question: relu, softplus and tanh over 5 seeds each, the board focused and scrolled."""
    app = pilot.app
    app.switch_spec(RunSpec.race(app.cfg, {"model.activation": ["relu", "softplus", "tanh"]}, 5))
    await pilot.pause()
    app.driver.send(C.Step(300))
    await settle(pilot)
    await pilot.press("tab")
    if members:
        await pilot.press("m")
        await pilot.pause()
    await pilot.press("end", "up")  # to the foot of the board and one back
    await settle(pilot)


async def race_of_15_variants(pilot):
    await race_of_15(pilot, members=False)


async def race_of_15_members(pilot):
    await race_of_15(pilot, members=True)


async def lr_race_with_a_diverged_member(pilot):
    app = pilot.app
    app.switch_spec(RunSpec.race(app.cfg, {"train.lr": [0.05, 0.2, 0.8, 3.0]}))
    await pilot.pause()
    app.driver.send(C.Step(200))
    await settle(pilot)


async def diverged_single(pilot):
    pilot.app.driver.send(C.Step(40))  # one command, so the log's lines do not hang on the redraw timer
    await settle(pilot)


async def settings_overlay(pilot):
    pilot.app.driver.send(C.Step(300))
    for field in pilot.app.query(Input):  # a blinking cursor is drawn or not by the wall clock (a loaded machine)
        field.cursor_blink = False
    await pilot.press("s")
    await settle(pilot)


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


async def help_screen(pilot):
    await pilot.press("question_mark")
    await pilot.pause()


@dataclass(frozen=True)
class Scenario:
    cfg: FitConfig
    size: tuple[int, int]
    steps: Callable[..., Awaitable[None]]


SCENARIOS: dict[str, Scenario] = {
    "main-80x24": Scenario(CPU, (80, 24), after_the_lesson),
    "main-120x40": Scenario(CPU, (120, 40), after_the_lesson),
    "help": Scenario(CPU, (100, 30), help_screen),
    "race-120x40": Scenario(CPU, (120, 40), lesson_race),
    "race-80x24": Scenario(CPU, (80, 24), lesson_race),
    "race15-variants-120x40": Scenario(CPU, (120, 40), race_of_15_variants),
    "race15-variants-80x24": Scenario(CPU, (80, 24), race_of_15_variants),
    "race15-members-120x40": Scenario(CPU, (120, 40), race_of_15_members),
    "race15-members-80x24": Scenario(CPU, (80, 24), race_of_15_members),
    "lr-race-diverged": Scenario(CPU, (100, 30), lr_race_with_a_diverged_member),
    "diverged-single": Scenario(CPU.with_value("train.lr", 60), (100, 30), diverged_single),
    "settings-60x20": Scenario(CPU, (60, 20), settings_overlay),
    "too-small": Scenario(CPU, (36, 10), after_the_lesson),
    "units": Scenario(CPU, (120, 40), units_view),
    "kinks": Scenario(CPU, (120, 40), kinks_view),
    "race-units": Scenario(CPU, (120, 40), units_of_a_race_member),
    "frame": Scenario(CPU, (120, 40), a_scrubbed_frame),
}
