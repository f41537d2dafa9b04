"""SVG snapshots of the app's screens, drawn from recorded engine snapshots (tests/fixtures/recorded/).

The engine's numbers are fixed data here: a chaotic race member's last digits, which another BLAS
build or vector unit moves, cannot change a pixel. What is tested is the drawing. Update on
purpose: `python tests/fixtures/record.py` when the engine's snapshots or the app's commands
change, `pytest tests/tui/test_snapshots.py --snapshot-update` after a Textual upgrade or a UI
change — and look at the differences before committing them.
"""

import pytest

from fitscope.core import commands as C
from fitscope.core.commands import Refused
from fitscope.core.spec import RunSpec
from fitscope.tui.app import FitscopeApp

from support.replay import Replay
from support.scenarios import SCENARIOS


def replayed(snap_compare, name: str, *, press=()) -> bool:
    scenario = SCENARIOS[name]
    replay = Replay(name)
    app = FitscopeApp(scenario.cfg, engine_factory=replay)
    same = snap_compare(app, terminal_size=scenario.size, run_before=scenario.steps, press=list(press))
    assert not replay.mismatches, replay.mismatches
    return same


@pytest.mark.parametrize("name,colour", [("main-80x24", False), ("main-120x40", True)])
def test_main_screen(snap_compare, monkeypatch, name, colour):
    if colour:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:  # without colour, markers tell the data, fit and truth apart
        monkeypatch.setenv("NO_COLOR", "1")
    assert replayed(snap_compare, name)


def test_help_screen(snap_compare):
    assert replayed(snap_compare, "help")


@pytest.mark.parametrize("name", ["race-120x40", "race-80x24"])
def test_race_screen(snap_compare, name):
    assert replayed(snap_compare, name)


@pytest.mark.parametrize("name", ["race15-variants-120x40", "race15-variants-80x24", "race15-members-120x40",
                                  "race15-members-80x24"])
def test_a_race_of_15_with_the_board_focused_and_scrolled(snap_compare, name):
    """relu, softplus, tanh × 5 seeds: one row per variant (its median member drawn), or every member."""
    assert replayed(snap_compare, name)


def test_a_diverged_member_in_an_lr_race(snap_compare):
    assert replayed(snap_compare, "lr-race-diverged")


def test_a_diverged_single_run(snap_compare):
    assert replayed(snap_compare, "diverged-single")


def test_60x20_with_the_settings_open_over_the_charts(snap_compare):
    assert replayed(snap_compare, "settings-60x20")


def test_too_small(snap_compare):
    assert replayed(snap_compare, "too-small")


@pytest.mark.parametrize("name", ["units", "kinks", "race-units", "frame"])
def test_inside_views(snap_compare, name):
    assert replayed(snap_compare, name)


def test_a_replay_refuses_a_command_it_did_not_record():
    """The recording is checked, not trusted: an app that sends other commands fails loudly."""
    replay = Replay("main-80x24")
    driver = replay(RunSpec(SCENARIOS["main-80x24"].cfg))
    assert driver.latest is not None
    assert driver.latest.step == 0
    future = driver.send(C.Step(7))  # the recording's first command is the app's SetPace
    assert isinstance(future.exception(), Refused)
    assert driver.failure is not None
    assert "regenerate with `python tests/fixtures/record.py`" in replay.mismatches[0]
