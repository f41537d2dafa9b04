import os

import pytest
from textual.widgets import Input, Log

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.snapshot import State
from fitscope.tui import keys
from fitscope.tui.app import ENGINES, PACES, WATCH, FitscopeApp
from fitscope.tui.help import HelpScreen
from fitscope.tui.widgets.charts import FitChart, LossChart
from fitscope.tui.widgets.settings import ChoiceField, SettingsPanel


def log_text(app) -> str:
    """The log as one text: messages wrap at its width."""
    return " ".join(line.strip() for line in app.query_one(Log).lines)


async def settle(pilot):
    pilot.app.refresh_view()
    await pilot.pause()


async def test_space_runs_and_pauses(app):
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.driver.latest.state == State.READY
        await pilot.press("space")
        assert app.driver.latest.state == State.RUNNING
        app.driver.pump(3)
        await pilot.press("space")
        snap = app.driver.latest
        assert snap.state == State.PAUSED
        assert snap.step > 0
        await settle(pilot)
        assert "paused" in str(app.query_one("#status").render())


async def test_n_steps_once_and_the_view_follows(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.press("n")
        await settle(pilot)
        assert app.driver.latest.step == 3
        status = str(app.query_one("#status").render())
        assert "step 3/300" in status
        assert any(line.startswith("     3 ") for line in app.query_one(Log).lines)  # step right-aligned in 6


async def test_pace_keys_change_the_pace(app):
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.pace_index == WATCH
        await pilot.press("right_square_bracket")
        assert app.pace_index == WATCH + 1
        assert app.driver.latest.pace == PACES[WATCH + 1][0]  # the run took it, not only the header
        for _ in range(10):
            await pilot.press("right_square_bracket")
        assert PACES[app.pace_index][0] is None  # flat out
        assert app.driver.latest.pace is None
        await pilot.press("left_square_bracket")
        assert app.driver.latest.pace == PACES[len(PACES) - 2][0]
        await settle(pilot)
        assert "pace 3k/s" in str(app.query_one("#status").render())


async def test_r_resets_weights_to_the_same_start(app):
    async with app.run_test(size=(120, 40)) as pilot:
        first = app.driver.latest.members[0].y_pred.copy()
        for _ in range(5):
            await pilot.press("n")
        assert not (app.driver.latest.members[0].y_pred == first).all()
        driver = app.driver
        await pilot.press("r")
        snap = app.driver.latest
        assert snap.step == 0
        assert (snap.members[0].y_pred == first).all()
        assert app.driver is driver
        assert len(driver.tracker.history(0)) == 0


async def test_d_draws_new_data_with_the_next_seed(app):
    async with app.run_test(size=(120, 40)) as pilot:
        y0 = app.driver.latest.data.y_train.copy()
        await pilot.press("d")
        snap = app.driver.latest
        assert snap.config.data.seed == 1
        assert not (snap.data.y_train == y0).all()
        assert app.query_one("#field-data-seed", Input).value == "1"


async def test_a_and_shift_a_cycle_activation(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        assert app.driver.latest.config.model.activation == "softplus"
        await pilot.press("a")
        assert app.driver.latest.config.model.activation == "tanh"
        await pilot.press("A")
        await pilot.press("A")
        assert app.driver.latest.config.model.activation == "relu"
        await pilot.press("A")
        assert app.driver.latest.config.model.activation == "identity"
        assert app.query_one("#field-model-activation", ChoiceField).value == "identity"


async def test_plus_minus_change_lr_live_without_reset(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(4):
            await pilot.press("n")
        await pilot.press("plus")
        snap = app.driver.latest
        assert snap.config.train.lr == pytest.approx(0.4)
        assert snap.step == 4
        assert float(app.driver.run.exp.stepper.groups[0].lr[0]) == pytest.approx(0.4)  # the kernels' own lr
        await pilot.press("minus")
        await pilot.press("minus")
        assert app.driver.latest.config.train.lr == pytest.approx(0.1)
        assert app.query_one("#field-train-lr", Input).value == "0.1"


async def test_lr_cap_is_a_message_not_a_crash(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(12):  # 0.2 * 2^12 > 100, the allowed maximum
            await pilot.press("plus")
        assert app.cfg.train.lr <= 100
        error = str(app.query_one("#error-train-lr").render())
        assert "train.lr" in error
        assert "(0, 100]" in error


async def test_t_and_l_toggle_truth_and_log_axis(app):
    async with app.run_test(size=(120, 40)) as pilot:
        fit, loss = app.query_one(FitChart), app.query_one(LossChart)
        await pilot.press("t")
        assert fit.show_truth is False
        assert "truth" not in str(fit.border_subtitle)
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
        await pilot.pause()  # the hand-driven save is done; its message is posted
        runs = list((tmp_path / "runs").iterdir())
        assert len(runs) == 1
        assert sorted(p.name for p in runs[0].iterdir()) == ["checkpoint.pt", "config.toml", "fit.csv", "fit.txt",
                                                             "metrics.csv", "run.json", "summary.json", "timeline.npz"]
        assert "Loss=" in (runs[0] / "fit.txt").read_text()  # the chart the app shows, as text
        assert any("saved run to" in n.message for n in app._notifications)


async def test_a_refused_command_is_said_in_the_log(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")  # nothing trained yet: the run refuses, and says why
        app.refresh_view()
        await pilot.pause()
        assert any("nothing to save yet" in line for line in app.log_view.lines)
        assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


async def test_ctrl_s_saves_an_svg(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        svgs = list(tmp_path.glob("fitscope-*.svg"))
        assert len(svgs) == 1
        assert svgs[0].read_text().startswith("<svg")


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
        from rich.console import Console

        console = Console(width=100, record=True, file=open(os.devnull, "w"))
        for static in app.screen.query("Static"):
            console.print(static.content)
        text = console.export_text()
        for key in ("space", "ctrl+s", "tab / shift+tab", "[ / ]", "+ / -"):
            assert key in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_q_quits_and_stops_the_engine():
    # a long budget: still running when q comes, however slow the machine
    cfg = FitConfig().with_values({"train.device": "cpu", "train.steps": 100_000})
    app = FitscopeApp(cfg, engine_factory=ENGINES["thread"])  # a real driver, training on its thread
    async with app.run_test(size=(120, 40)) as pilot:
        app.send(C.Start())
        assert app.driver.wait_for(lambda s: s.state == State.RUNNING, timeout=30).state == State.RUNNING
        await pilot.press("q")
    app.driver.join(5)
    assert not app.driver.alive
    assert app.driver.latest.state == State.STOPPED


async def test_every_binding_is_in_the_command_palette(app):
    async with app.run_test(size=(120, 40)):
        from textual.binding import Binding

        commands = list(app.get_system_commands(app.screen))
        titles = [c.title for c in commands]
        for row in keys.commands():  # every bound row but Textual's own Quit and Screenshot
            shown = app.get_key_display(Binding(row.key.split(",")[0], row.action))
            assert any(f"key: {shown}" in c.help for c in commands), row.key
        assert "Run / pause" in titles
        assert "Save run" in titles
        assert titles.count("Quit") == 1
        assert titles.count("Screenshot") <= 1
        raw = ("square_bracket", "equals_sign", "question_mark", "underscore")
        assert not any(name in c.help for c in commands for name in raw)  # no raw key names


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


async def test_settings_keys_while_the_engine_is_dead_change_nothing(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.fail("the engine process ended unexpectedly")  # as a died worker leaves it
        await pilot.press("plus", "a")
        assert app.cfg.train.lr == 0.2
        assert app.cfg.model.activation == "relu"
        assert app.query_one("#field-train-lr", Input).value == "0.2"


async def test_a_varied_setting_is_not_changed_by_its_key_in_a_race(app):
    from fitscope.core.spec import RunSpec

    async with app.run_test(size=(120, 40)) as pilot:
        app.switch_spec(RunSpec.race(app.cfg, {"model.activation": ["relu", "tanh"]}))
        await pilot.pause()
        run_id = app.driver.latest.run_id
        await pilot.press("a")
        assert app.driver.latest.run_id == run_id
        assert app.cfg.model.activation == "relu"


async def test_an_unexpected_error_ends_the_app_non_zero_with_one_line_and_a_traceback_file(app, monkeypatch):
    def boom():
        raise RuntimeError("boom in a key")

    monkeypatch.setattr(app.main, "action_step", boom)
    with pytest.raises(RuntimeError, match="boom"):
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("n")
    assert app.return_code == 1
    assert app.crash == "RuntimeError: boom in a key"
    assert app.crash_log is not None
    assert "boom in a key" in open(app.crash_log).read()
    assert app._exit_renderables == []  # no page of traceback: run_app prints the one line


async def test_the_done_row_gives_the_average_rate_over_the_time_it_ran(app):
    """It gave the engine's compute rate, labelled avg: 1,835/s at a pace of 100/s."""
    now = [100.0]
    async with app.run_test(size=(120, 40)) as pilot:
        app.log_view.clock = lambda: now[0]
        await pilot.press("space")
        app.driver.pump(1)
        await settle(pilot)
        assert app.driver.latest.state == State.RUNNING
        now[0] += 2.0  # the run's 300 steps take 2 s of wall time
        while app.driver.latest.state == State.RUNNING:
            app.driver.pump(5)
        await settle(pilot)
        done = [line for line in app.query_one(Log).lines if "  done" in line]
        assert done, done
        assert "   150/s avg" in done[-1], done  # 300 steps in 2 s
        app.send(C.Reset())
        app.send(C.Step(5))  # by hand only: no average to give
        await settle(pilot)
        last = app.query_one(Log).lines[-1]
        assert last.lstrip().startswith("5 ")
        assert "avg" not in last


async def test_g_without_a_gpu_says_so_under_the_device_field_and_training_goes_on(app):
    from fitscope.core import commands as C
    async with app.run_test(size=(120, 40)) as pilot:
        app.driver.send(C.Step(5))
        await settle(pilot)
        assert "cpu" in str(app.query_one("#status").render())  # the header names the device
        await pilot.press("g")
        await settle(pilot)
        import torch

        if torch.cuda.is_available():  # a GPU box: g moves the run there, and that is all this test can say
            assert app.driver.latest.device.startswith("cuda")
            return
        error = str(app.query_one("#error-train-device").render())
        assert "train.device: 'cuda'" in error
        assert "not available on this machine" in error
        assert app.cfg.train.device == "cpu"
        assert app.driver.latest.device == "cpu"
        assert "not available on this machine" in log_text(app)
        app.query_one("#fit").focus()
        await pilot.press("n")
        await settle(pilot)
        assert app.driver.latest.step == 6


async def test_a_new_log_line_repaints_the_log_not_the_whole_screen(app, monkeypatch):
    """A Log's growing virtual size re-laid out every widget, twice a second while training."""
    from textual.screen import Screen

    async with app.run_test(size=(120, 40)) as pilot:
        for i in range(40):  # past the log's height: its scrollbar is showing
            app.log_line(f"line {i}")
        log = app.log_view
        await pilot.pause()
        # the scrollbar's coming is a layout of its own (once): counted out, whenever it lands
        while not log.vertical_scrollbar.display or log._layout_required or app.screen._layout_required:
            await pilot.pause()
        layouts = []
        original = Screen._refresh_layout
        monkeypatch.setattr(Screen, "_refresh_layout", lambda self, *a, **kw: layouts.append(1) or original(self, *a, **kw))
        for i in range(10):
            app.log_line(f"more {i}")
            await pilot.pause()
        assert not layouts
        assert log.vertical_scrollbar.window_virtual_size == log.line_count == 50
        assert log.scroll_y == log.max_scroll_y
        assert log.lines[-1] == "more 9"


async def test_home_and_end_in_help_scroll_it_and_leave_the_run_alone(app):
    async with app.run_test(size=(100, 24)) as pilot:
        app.send(C.Step(300))
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.press("end")
        await pilot.pause()
        help_text = app.screen.query_one("#help")
        assert help_text.scroll_y == help_text.max_scroll_y > 0  # the help scrolled to its end
        await pilot.press("escape")
        await pilot.pause()
        assert app.fit_chart.frame is None  # the timeline behind did not move


async def test_space_on_the_timeline_goes_live_and_does_not_start_training(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.send(C.Step(50))
        await settle(pilot)
        await pilot.press("comma")
        await settle(pilot)
        assert app.fit_chart.frame is not None
        await pilot.press("space")
        await settle(pilot)
        assert app.fit_chart.frame is None
        assert app.driver.latest.state == State.PAUSED


async def test_i_on_a_diverged_run_says_why_there_are_no_numbers(app):
    async with app.run_test(size=(120, 40)) as pilot:
        app.change_setting("train.lr", "60")
        await pilot.pause()
        app.send(C.Step(40))
        await settle(pilot)
        assert app.driver.latest.state == State.DIVERGED
        await pilot.press("i")
        assert log_text(app).endswith("no numbers: the run diverged (its weights are NaN)")


async def test_at_60x20_escape_closes_the_settings_overlay_and_the_footer_keeps_quit(app):
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        quit_key = next(k for k in app.query("FooterKey") if k.key == "q")
        assert quit_key.region.width
        assert quit_key.region.right <= 60
        await pilot.press("s")
        await pilot.pause()
        main = app.screen_stack[0]
        assert main.has_class("settings-open")
        assert app.settings.has_class("-focused")
        await pilot.press("escape", "escape")  # the field, then the panel: the overlay closes with it
        await pilot.pause()
        assert not main.has_class("settings-open")
        assert app.focused is app.fit_chart


async def test_q_in_help_quits(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0 or not app.is_running


@pytest.mark.parametrize("title", ["Compare mode", "Open a saved run", "Write the settings", "Help"])
async def test_a_palette_command_with_a_field_focused_runs_it(app, title):
    """With a settings field focused the dialog actions raised SkipAction out of the palette: a crash."""
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("shift+tab")
        assert isinstance(app.focused, Input)
        command = next(c for c in app.get_system_commands(app.screen) if c.title.startswith(title))
        await command.callback()
        await pilot.pause()
        assert app.is_running
        assert app.screen is not app.screen_stack[0]


async def test_two_screenshots_in_one_second_are_two_files(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.strftime", lambda fmt, *a: "fitscope-20261129-120000")  # the same second
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(3):
            await pilot.press("ctrl+s")
        await pilot.pause()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fitscope-20261129-120000-2.svg", "fitscope-20261129-120000-3.svg", "fitscope-20261129-120000.svg"]


def test_a_narrow_log_row_keeps_whole_fields_never_half_a_number():
    """Cut at the log's edge, `dead 30%` read `dead 3` and an R² of 0.95 read `R² 0.`."""
    from fitscope.tui.app import fit_row

    base, fields = "   300 0.00470   1,234/s", ["  R² 0.951", " dead 30%", "  done"]
    assert fit_row(base, fields, 0) == base + "  R² 0.951 dead 30%  done"
    assert fit_row(base, fields, len(base) + 12) == base + "  R² 0.951"  # dead 30% does not fit: left out
    assert fit_row(base, fields, len(base) + 16) == base + "  R² 0.951  done"
    assert fit_row(base, fields, len(base) + 3) == base


async def test_the_done_row_says_done_in_a_narrow_log(app):
    """At 100×30 the row's `done` fell past the log's edge (it was cut, then left out)."""
    async with app.run_test(size=(100, 30)) as pilot:
        app.send(C.Start())
        while app.driver.latest.state == State.RUNNING:
            app.driver.pump(5)
        await settle(pilot)
        width = app.log_view.scrollable_content_region.width
        row = next(line for line in reversed(app.query_one(Log).lines) if line.lstrip().startswith("300 "))
        assert len(row) <= width, (row, width)
        assert row.endswith("  done") or row.endswith("  ✓"), (row, width)
