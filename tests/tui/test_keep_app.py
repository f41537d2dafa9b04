"""Runs you keep, in the app: open one (ctrl+o), write the settings (ctrl+w), a reference run (b)."""

from textual.widgets import Input, Log

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.engine.run import Run
from fitscope.core.snapshot import State
from fitscope.core.spec import RunSpec, from_toml
from fitscope.tui.dialogs import PathDialog

CPU = FitConfig().with_value("train.device", "cpu")


def saved(folder, cfg=CPU, steps=40, race=False):
    spec = RunSpec.race(cfg, {"model.activation": ["relu", "tanh"]}) if race else RunSpec(cfg)
    run = Run(spec)
    run.apply(C.Step(steps))
    run.apply(C.Save(str(folder), fit_text="chart"))
    return run


def log_text(app) -> str:
    return " ".join(str(line).strip() for line in app.query_one("#log", Log).lines)  # messages wrap


async def settle(pilot):
    pilot.app.refresh_view()
    await pilot.pause()


async def type_path(pilot, text: str) -> Input:
    """Short paths typed key by key (the completion follows each key); long ones pasted at once."""
    field = pilot.app.screen.query_one("#path", Input)
    field.value = ""
    if len(text) <= 40:
        await pilot.press(*text)
    else:
        field.value = text
        field.cursor_position = len(text)
        await pilot.pause()
    return field


async def test_ctrl_o_completes_a_folder_name_and_opens_the_run_ready_to_continue(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved(tmp_path / "runs" / "20260101-000000-old", CPU.with_value("train.lr", 0.1), steps=10)
    saved(tmp_path / "runs" / "20261129-120000-cubic-relu", CPU.with_value("model.hidden", (12, 6)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, PathDialog)
        assert "20261129-120000-cubic-relu" in str(app.screen.query_one("#path-listing").render())
        field = await type_path(pilot, "runs/2026112")
        await pilot.pause()
        await pilot.press("tab")  # the newest folder that begins so
        assert field.value == "runs/20261129-120000-cubic-relu"
        await pilot.press("enter")
        await pilot.pause()
        await settle(pilot)
        assert not isinstance(app.screen, PathDialog)
        snap = app.driver.latest
        assert snap.step == 40
        assert snap.state == State.READY
        assert app.cfg.model.hidden == (12, 6)
        assert app.settings.query_one("#field-model-hidden", Input).value == "12, 6"
        assert "opened runs/20261129-120000-cubic-relu at step 40 of 300" in log_text(app)
        await pilot.press("n")  # and it goes on from there
        assert app.driver.latest.step == 41


async def test_ctrl_o_on_something_that_is_not_a_run_says_so_under_the_field(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk").mkdir()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "ctrl+o")
        await type_path(pilot, "junk")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PathDialog)
        assert "junk: no saved run here (no run.json)" in str(app.screen.query_one("#path-error").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, PathDialog)
        assert app.driver.latest.step == 1


async def test_a_damaged_checkpoint_is_said_and_the_run_kept(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved(tmp_path / "r")
    (tmp_path / "r" / "checkpoint.pt").write_bytes(b"broken")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "ctrl+o")
        await type_path(pilot, "r")
        await pilot.press("enter")
        await pilot.pause()
        await settle(pilot)
        assert app.driver.latest.step == 2
        assert app.cfg == CPU
        assert "checkpoint.pt: does not match its save" in log_text(app)


async def test_ctrl_w_writes_the_settings_and_asks_before_replacing_a_file(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text("old")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")  # softplus
        await pilot.press("ctrl+w")
        await type_path(pilot, "mine.toml")
        await pilot.press("enter")
        assert "mine.toml exists: enter again to replace it" in str(app.screen.query_one("#path-error").render())
        assert (tmp_path / "mine.toml").read_text() == "old"
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, PathDialog)
        assert from_toml((tmp_path / "mine.toml").read_text()).base.model.activation == "softplus"


async def test_b_draws_a_saved_run_dashed_and_logs_both_final_losses(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref = saved(tmp_path / "ref", CPU.with_value("train.lr", 0.05), steps=30)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await type_path(pilot, "ref")
        await pilot.press("enter")
        await pilot.pause()
        assert app.reference is not None
        assert app.fit_chart.reference is app.reference
        want = ref.snapshot().members[0].loss
        assert app.reference.final_loss == want
        assert len(app.reference.losses) == 30
        await settle(pilot)
        assert "ref=" in str(app.fit_chart.render())  # the title names it
        assert "- ref" in str(app.fit_chart.border_subtitle)  # and the legend (no colour here: "-" dashes)
        await settle(pilot)
        app.send(C.SetSteps(5))
        app.send(C.Step(5))
        await settle(pilot)
        assert app.driver.latest.state == State.DONE
        assert "· reference ref" in log_text(app)
        await pilot.press("b")
        await type_path(pilot, "")
        await pilot.press("enter")
        await pilot.pause()
        assert app.reference is None
        assert app.fit_chart.reference is None


async def test_path_fields_never_crash_the_app_and_name_what_a_path_is(app, tmp_path, monkeypatch):
    import os

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "afile").write_text("x")
    saved(tmp_path / "mine", steps=3)
    cases = [("ctrl+w", "x" * 300 + ".toml", "the name is too long"),
             ("ctrl+w", "a/" * 3000 + "b.toml", "the name is too long"),
             ("ctrl+w", "pipe", "pipe: it is a FIFO (a pipe), not a file"),
             ("b", "y" * 300, "the name is too long"),
             ("ctrl+o", "afile", "afile: not a folder (it is a file)"),
             ("ctrl+o", "nowhere", "nowhere: no such folder")]
    async with app.run_test(size=(120, 40)) as pilot:
        for key, path, why in cases:
            await pilot.press(key)
            await type_path(pilot, path)
            await pilot.press("enter")
            await pilot.pause()
            assert app.is_running, (key, path)
            assert isinstance(app.screen, PathDialog), (key, path)
            assert why in str(app.screen.query_one("#path-error").render()), (key, path)
            await pilot.press("escape")
        assert (tmp_path / "pipe").exists()
        assert not (tmp_path / "pipe").is_file()
        await pilot.press("ctrl+o")
        await type_path(pilot, "~/mine")  # a home-relative path
        await pilot.press("enter")
        await pilot.pause()
        await settle(pilot)
        assert app.driver.latest.step == 3
