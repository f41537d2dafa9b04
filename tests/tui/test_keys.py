
import pytest
from textual.widgets import Input, Log

from fitscope.core.engine import PAUSED, READY, RUNNING
from fitscope.tui.app import PACES, WATCH, FitscopeApp
from fitscope.tui.screens import HelpScreen
from fitscope.tui.widgets.charts import FitChart, LossChart
from fitscope.tui.widgets.settings import ChoiceField, SettingsPanel



async def settle(pilot):
    pilot.app.refresh_view()
    await pilot.pause()


async def test_space_runs_and_pauses(app):
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.engine.latest.state == READY
        await pilot.press("space")
        assert app.engine.latest.state == RUNNING
        app.engine.pump(3)
        await pilot.press("space")
        snap = app.engine.latest
        assert snap.state == PAUSED and snap.step > 0
        await settle(pilot)
        assert "paused" in str(app.query_one("#status").render())


async def test_n_steps_once_and_the_view_follows(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.press("n")
        await settle(pilot)
        assert app.engine.latest.step == 3
        status = str(app.query_one("#status").render())
        assert "step 3/300" in status
        assert any("      3" in line for line in app.query_one(Log).lines)


async def test_pace_keys_change_the_pace(app):
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.pace_index == WATCH
        await pilot.press("right_square_bracket")
        assert app.engine.latest.pace == PACES[WATCH + 1][0] or app.pace_index == WATCH + 1
        for _ in range(10):
            await pilot.press("right_square_bracket")
        assert PACES[app.pace_index][0] is None  # flat out
        await pilot.press("left_square_bracket")
        await pilot.press("n")  # any command publishes the engine's state
        assert app.engine.latest.pace == PACES[len(PACES) - 2][0]
        await settle(pilot)
        assert "pace 3k/s" in str(app.query_one("#status").render())


async def test_r_resets_weights_to_the_same_start(app):
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.engine.latest.y_pred.copy()
        for _ in range(5):
            await pilot.press("n")
        assert not (app.engine.latest.y_pred == first).all()
        await pilot.press("r")
        snap = app.engine.latest
        assert snap.step == 0 and (snap.y_pred == first).all()


async def test_d_draws_new_data_with_the_next_seed(app):
    async with app.run_test(size=(120, 40)) as pilot:
        y0 = app.engine.latest.data.y_train.copy()
        await pilot.press("d")
        snap = app.engine.latest
        assert snap.config.data.seed == 1 and not (snap.data.y_train == y0).all()
        assert app.query_one("#field-data-seed", Input).value == "1"


async def test_a_and_shift_a_cycle_activation(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        assert app.engine.latest.config.model.activation == "softplus"
        await pilot.press("a")
        assert app.engine.latest.config.model.activation == "tanh"
        await pilot.press("A")
        await pilot.press("A")
        assert app.engine.latest.config.model.activation == "relu"
        await pilot.press("A")
        assert app.engine.latest.config.model.activation == "identity"
        assert app.query_one("#field-model-activation", ChoiceField).value == "identity"


async def test_plus_minus_change_lr_live_without_reset(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(4):
            await pilot.press("n")
        await pilot.press("plus")
        snap = app.engine.latest
        assert snap.config.train.lr == pytest.approx(0.4) and snap.step == 4  # no reset
        assert app.engine.trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.4)
        await pilot.press("minus")
        await pilot.press("minus")
        assert app.engine.latest.config.train.lr == pytest.approx(0.1)
        assert app.query_one("#field-train-lr", Input).value == "0.1"


async def test_lr_cap_is_a_message_not_a_crash(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(12):  # 0.2 * 2^12 > 100, the allowed maximum
            await pilot.press("plus")
        assert app.cfg.train.lr <= 100
        error = str(app.query_one("#error-train-lr").render())
        assert "train.lr" in error and "(0, 100]" in error


async def test_t_and_l_toggle_truth_and_log_axis(app):
    async with app.run_test(size=(120, 40)) as pilot:
        fit, loss = app.query_one(FitChart), app.query_one(LossChart)
        await pilot.press("t")
        assert fit.show_truth is False and "truth" not in str(fit.border_subtitle)
        await pilot.press("t")
        assert fit.show_truth is True
        await pilot.press("l")
        assert loss.log_y is False
        await pilot.press("l")
        assert loss.log_y is True


async def test_e_saves_the_run(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.press("e")
        await pilot.pause(0.2)
        runs = list((tmp_path / "runs").iterdir())
        assert len(runs) == 1
        assert sorted(p.name for p in runs[0].iterdir()) == ["config.toml", "metrics.csv", "model.pt"]
        assert any("saved run to" in n.message for n in app._notifications)


async def test_ctrl_s_saves_an_svg(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        svgs = list(tmp_path.glob("fitscope-*.svg"))
        assert len(svgs) == 1 and svgs[0].read_text().startswith("<svg")


async def test_tab_moves_between_panels(app):
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.focused is app.query_one("#fit")
        await pilot.press("tab")
        assert app.focused is app.query_one("#log")
        await pilot.press("tab")
        assert app.focused is app.query_one("#field-data-target")
        await pilot.press("down")
        assert app.focused is app.query_one("#field-data-points")
        await pilot.press("shift+tab")
        assert app.focused is app.query_one("#log")
        await pilot.press("shift+tab")
        assert app.focused is app.query_one("#fit")


async def test_question_mark_opens_help(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("Static").render())
        for key in ("space", "ctrl+s", "tab / shift+tab", "[ / ]", "+ / -"):
            assert key in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_q_quits_and_stops_the_engine(make_app):
    app = FitscopeApp(make_app().cfg)  # the real threaded engine
    async with app.run_test(size=(120, 40)) as pilot:
        app.engine.start()
        await pilot.press("q")
    app.engine._thread.join(2)
    assert not app.engine._thread.is_alive()


async def test_every_binding_is_in_the_command_palette(app):
    async with app.run_test(size=(120, 40)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for binding in app.BINDINGS:
            assert any(binding.key in c.help for c in app.get_system_commands(app.screen)), binding.key
        assert "Run / pause" in titles and "Save run" in titles


async def test_small_terminals_do_not_crash(app):
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        assert not app.query_one(SettingsPanel).display  # collapsed
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert app.query_one(SettingsPanel).display
        await pilot.resize_terminal(20, 6)
        await pilot.press("n")
        await settle(pilot)
    assert app.return_code in (None, 0)


async def test_a_failing_chart_shows_text_instead_of_crashing(app, monkeypatch):
    import fitscope.tui.widgets.charts as charts

    def broken(*a, **k):
        raise ValueError("plotext edge case")

    async with app.run_test(size=(120, 40)) as pilot:
        monkeypatch.setattr(charts, "draw_fit", broken)
        await pilot.press("n")
        app.refresh_view()
        await pilot.pause()
        assert "chart unavailable: ValueError: plotext edge case" in str(app.fit_chart.render())
        monkeypatch.undo()
        await pilot.press("n")
        app.refresh_view()
        await pilot.pause()
        assert "Loss=" in str(app.fit_chart.render())
