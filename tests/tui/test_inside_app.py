"""The inside of the network in the app: views by key, the timeline while paused, replay, numbers."""

import numpy as np
from textual.widgets import Log

from fitscope.core import commands as C
from fitscope.core.snapshot import State


async def settle(pilot):
    pilot.app.refresh_view()
    await pilot.pause()
    pilot.app.refresh_view()
    await pilot.pause()


def log_text(app) -> str:
    return " ".join(str(line).strip() for line in app.query_one("#log", Log).lines)  # messages wrap


async def test_v_cycles_the_fit_panel_through_fit_units_kinks(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(300))
        await settle(pilot)
        seen = []
        for _ in range(3):
            await pilot.press("v")
            await settle(pilot)
            seen.append((app.fit_chart.view, str(app.fit_chart.border_title)))
        assert [v for v, _ in seen] == ["units", "kinks", "fit"]
        assert seen[0][1].startswith("Units")
        assert seen[1][1] == "Kinks"
        shown = {key for key, active in app.screen.active_bindings.items() if active.binding.show}
        assert "v" in shown  # the footer offers the view key


async def test_the_units_view_titles_its_curves_and_the_kinks_view_counts_pieces(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(300))
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert "top 8 of 10 units + the rest + bias" in str(app.fit_chart.render())
        assert app.fit_chart.unit_labels[-1] == "others (+2)"
        assert "u" in str(app.fit_chart.border_subtitle)
        await pilot.press("v")
        await settle(pilot)
        assert "linear pieces" in str(app.fit_chart.render())


async def test_scrubbing_moves_through_frames_only_while_paused_and_space_returns_live(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(120))
        await settle(pilot)
        await pilot.press("comma")
        await pilot.pause()
        frame = app.fit_chart.frame
        assert frame is not None
        assert frame.step == 119
        assert frame.count == 121
        assert "◀ frame 120/121" in str(app.status_bar.render())
        await pilot.press("home")
        await pilot.pause()
        assert app.fit_chart.frame.step == 0
        await pilot.press("end")
        await pilot.pause()
        assert app.fit_chart.frame.step == 120
        np.testing.assert_allclose(app.fit_chart.frame.fits[0], app.driver.latest.members[0].y_pred, atol=1e-5)
        await pilot.press("space")
        await settle(pilot)
        assert app.fit_chart.frame is None
        assert app.driver.latest.state == State.PAUSED
        await pilot.press("space")
        app.driver.pump(2)
        await settle(pilot)
        assert app.fit_chart.frame is None  # training again: the live fit
        before = len(app._notifications)
        await pilot.press("comma")
        assert any("pause first" in n.message for n in list(app._notifications)[before:])


async def test_replay_walks_the_whole_history_then_returns_live(app):
    async with app.run_test(size=(80, 24)) as pilot:
        app.driver.send(C.Step(60))
        await settle(pilot)
        shown = []
        player = app.main.player
        real = player.show_frame
        player.show_frame = lambda delta=0, at=None: (shown.append(at), real(delta=delta, at=at))
        await pilot.press("p")
        await pilot.pause()
        assert app.replaying
        while app.replaying:  # the replay's own timer ends it (~3 s)
            await pilot.pause(0.1)
        assert app.fit_chart.frame is None  # back to the live fit
        assert shown == list(range(61))  # every frame, first to last, in order


async def test_i_logs_the_networks_numbers_and_the_log_lines_carry_r2(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(300))
        await settle(pilot)
        await pilot.press("i")
        text = log_text(app)
        assert "relu at step 300:" in text
        assert "layer 1: dead" in text
        assert "layer 2: dead" in text
        assert "R² train 0.9" in text


async def test_a_race_member_picked_by_number_is_the_one_inspected(app):
    from fitscope.core.spec import RunSpec

    async with app.run_test(size=(120, 40)) as pilot:
        app.switch_spec(RunSpec.race(app.cfg, {"model.activation": ["relu", "tanh"]}))
        await pilot.pause()
        app.driver.send(C.Step(50))
        await pilot.press("2")
        await settle(pilot)
        snap = app.driver.latest
        assert snap.inspected == 1
        assert snap.members[1].layers is not None
        assert snap.members[0].layers is None
        assert app.fit_chart.member == 1
        assert "dead" in app.board.lines()[0]
        assert "R²" in app.board.lines()[0]


async def test_earlier_fits_are_drawn_faint_when_asked(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(30))
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        await settle(pilot)
        assert len(app.fit_chart.ghosts) == 3
        assert app.driver.latest.state == State.PAUSED


async def test_space_during_a_replay_returns_to_the_live_fit_at_once(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(60))
        await settle(pilot)
        await pilot.press("p")
        await pilot.pause()
        assert app.replaying
        await pilot.press("space")
        assert not app.replaying
        assert app.fit_chart.frame is None
        assert app.driver.latest.state == State.PAUSED  # "space live": the live fit, the run as it was


async def test_home_and_end_move_a_fields_cursor_and_otherwise_jump_the_timeline(app):
    from textual.widgets import Input

    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(30))
        await settle(pilot)
        field = app.settings.query_one("#field-data-points", Input)
        field.focus()
        await pilot.pause()
        await pilot.press("home")
        assert field.cursor_position == 0
        assert app.fit_chart.frame is None
        app.settings.query_one("#field-model-activation").focus()  # a choice field, in the settings panel
        await pilot.pause()
        await pilot.press("home")
        await pilot.pause()
        assert app.fit_chart.frame is not None
        assert app.fit_chart.frame.step == 0
