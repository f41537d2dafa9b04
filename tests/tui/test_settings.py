import pytest
from textual.widgets import Input

from fitscope.core.snapshot import State

from support.devices import absent_cuda


async def edit(pilot, key: str, text: str):
    field = pilot.app.query_one(f"#field-{key.replace('.', '-')}", Input)
    field.focus()
    field.value = text
    await pilot.press("enter")
    await pilot.pause()
    return field


INVALID = [
    ("train.lr", "abc", "expected a number"),       # garbage
    ("train.lr", "-1", "(0, 100]"),                 # out of range
    ("train.lr", "", "expected a number"),          # empty
    ("data.points", "2.5", "whole number"),         # bad number
    ("data.points", "0", "from 1 to 1000000"),
    ("model.hidden", "[0]", "from 1 to 1024"),
    ("model.hidden", "ten", "layer sizes"),
    ("data.target", "y + 1", "unknown name 'y' at column 1"),
    ("data.target", "__import__('os')", "unknown function '__import__'"),
    ("data.target", "x.__class__", "attribute access is not allowed"),
    ("train.device", absent_cuda(), "not available"),
]


async def test_invalid_values_show_the_error_keep_the_old_value_and_leave_training(make_app):
    app = make_app()  # one app for every case, one after another, as a user would try them
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        for key, text, fragment in INVALID:
            case = f"{key}={text!r}"
            before = app.driver.latest
            field = await edit(pilot, key, text)
            shown = app.query_one(f"#error-{key.replace('.', '-')}")
            error = str(shown.render())
            assert key in error, case
            assert fragment in error, case
            assert shown.display, case
            assert shown.region.height >= 1, case  # on screen, under the field
            assert app.cfg == before.config, case  # previous value kept
            assert field.value == text, case  # the text as typed stays, with the reason under it, until fixed...
            assert app.driver.latest.step == before.step, case  # training untouched
            assert field.has_class("invalid"), case
            await pilot.press("escape")  # ...or until escape restores the old value
            assert field.value != text or text == str(before.config.get(key)), case
            assert str(app.query_one(f"#error-{key.replace('.', '-')}").render()) == "", case
            assert not shown.display or not shown.region.height, case
            assert not field.has_class("invalid"), case
            assert app.focused is app.settings, case
            await edit(pilot, key, text)
            await edit(pilot, key, str(before.config.get(key)) if key != "model.hidden" else "10, 10")
            assert str(app.query_one(f"#error-{key.replace('.', '-')}").render()) == "", case
            assert app.cfg == before.config, case


async def test_live_change_applies_while_running_without_reset(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space")
        app.driver.pump(2)
        step = app.driver.latest.step
        await edit(pilot, "train.steps", "5000")
        await edit(pilot, "train.lr", "0.05")
        snap = app.driver.latest
        assert snap.state == State.RUNNING
        assert snap.step >= step
        assert snap.budget == 5000
        assert snap.config.train.lr == 0.05


async def test_structural_change_resets_and_keeps_running(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("space")
        app.driver.pump(2)
        await edit(pilot, "model.hidden", "32, 32")
        snap = app.driver.latest
        assert snap.step == 0
        assert snap.config.model.hidden == (32, 32)
        assert snap.state == State.RUNNING  # it was running: the new net runs at once
        assert any("model.hidden = 32, 32: reset" in line for line in app.query_one("#log").lines)


async def test_choice_field_cycles_with_arrows(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#field-train-optimizer").focus()
        await pilot.press("right")
        assert app.driver.latest.config.train.optimizer == "adam"
        await pilot.press("left")
        assert app.driver.latest.config.train.optimizer == "sgd"


async def test_a_formula_target_trains(tmp_path, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await edit(pilot, "data.target", "sin(3*x) + 0.3*x**2")
        assert app.driver.latest.config.data.target == "sin(3*x) + 0.3*x**2"
        app.query_one("#fit").focus()
        for _ in range(3):
            await pilot.press("n")
        assert app.driver.latest.step == 3


async def test_own_file_field_bad_file_then_the_fixture(make_app, tmp_path):
    from pathlib import Path

    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1\n")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await edit(pilot, "data.file", str(bad))
        error = str(app.query_one("#error-data-file").render())
        assert "line 2: expected 2 columns (x, y), found 1" in error
        assert app.cfg.data.file == ""
        app.query_one("#field-data-split").focus()
        await pilot.press("right")  # none -> random
        fixture = Path(__file__).resolve().parents[1] / "fixtures" / "wave.csv"
        await edit(pilot, "data.file", str(fixture))
        snap = app.driver.latest
        assert snap.config.data.file == str(fixture)
        assert len(snap.data.x_test) == 40
        app.query_one("#fit").focus()
        await pilot.press("n")
        app.refresh_view()
        await pilot.pause()
        assert "wave.csv" in str(app.status_bar.render())
        assert "test" in str(app.fit_chart.border_subtitle)  # the held-out points have their own marker
        assert any("dropped 2 of 202 rows" in line for line in app.log_view.lines)


@pytest.mark.parametrize("name,content,why", [
    ("huge.csv", b"x,y\n1,2\n1e39,3\n", "row 2: x = 1e+39 is beyond the range"),
    ("fake.npz", b"PK\x03\x04garbage", "not a readable .npz file"),
    ("renamed.npz", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}", "not a readable .npy file"),
    ("latin1.csv", "x,y\n1,caf\xe9\n".encode("latin-1"), "is not a number"),
])
async def test_a_bad_data_file_is_the_fields_error_and_the_run_keeps_its_data(make_app, tmp_path, name, content, why):
    (tmp_path / name).write_bytes(content)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#fit").focus()
        await pilot.press("n", "n")
        await edit(pilot, "data.file", str(tmp_path / name))
        assert why in str(app.query_one("#error-data-file").render())
        snap = app.driver.latest
        assert app.is_running
        assert snap.config.data.file == ""
        assert snap.step == 2
        assert snap.state == State.PAUSED


PRESETS = ["cubic", "sine", "abs", "step", "sawtooth", "gaussian", "sinc", "poly", "exp(-x**2) * cos(6*x)"]


async def test_every_preset_trains_from_the_app(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for target in PRESETS:
            await edit(pilot, "data.target", target)
            assert app.driver.latest.config.data.target == target
            app.query_one("#fit").focus()
            for _ in range(3):
                await pilot.press("n")
            snap = app.driver.latest
            assert snap.step == 3, target
            assert snap.train_loss is not None, target


async def test_a_refused_reset_keeps_the_run_and_the_app_in_step(make_app):
    # the device is checked where torch is, in the run: it refuses the reset and keeps training as it was
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        driver, before = app.driver, app.driver.latest
        await edit(pilot, "train.device", absent_cuda())
        app.refresh_view()
        await pilot.pause()
        assert app.driver is driver
        assert app.driver.latest.run_id == before.run_id
        assert app.spec == app.driver.latest.spec  # the app's settings are the run's again
        assert "not available" in " ".join(line.strip() for line in app.log_view.lines)  # the run's notice, in the log
        assert "switching" not in str(app.status_bar.render())
        app.query_one("#fit").focus()
        await pilot.press("a")  # the next reset uses the run's device, and goes through
        snap = app.driver.latest
        assert snap.run_id != before.run_id
        assert snap.config.model.activation == "softplus"
        assert snap.config.train.device == "cpu"


async def test_escape_leaves_the_settings_for_the_fit_chart(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#field-train-lr").focus()
        await pilot.press("escape")  # field -> panel
        assert app.focused is app.settings
        await pilot.press("escape")  # panel -> the fit chart
        assert app.focused is app.query_one("#fit")
        await pilot.press("escape")  # and no further: nothing breaks
        assert app.focused is app.query_one("#fit")
        assert app.is_running


async def test_the_settings_rows_come_after_the_first_frame_and_work():
    from fitscope.core.config import FitConfig
    from fitscope.core.drivers.thread import ManualDriver
    from fitscope.tui.app import FitscopeApp

    app = FitscopeApp(FitConfig().with_value("train.device", "cpu"), engine_factory=lambda spec: ManualDriver(spec),
                      lazy_settings=True)
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.settings.populated:
            await pilot.pause()
        await pilot.pause()
        assert app.query_one("#field-train-lr", Input).value == "0.2"
        await pilot.press("shift+tab")  # from the fit chart back into the settings: the first field
        assert app.focused is app.query_one("#field-data-target")
        await edit(pilot, "train.lr", "0.05")
        assert app.driver.latest.config.train.lr == 0.05


async def test_moving_between_fields_restyles_the_fields_not_the_whole_panel(make_app):
    """The panel's focus border was `:focus-within`, so every ↑/↓ restyled all ~90 of its rows."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("shift+tab")  # into the settings
        restyled: list[int] = []
        update_nodes = app.stylesheet.update_nodes

        def counting(nodes, *a, **kw):
            nodes = list(nodes)
            restyled.append(len(nodes))
            return update_nodes(nodes, *a, **kw)

        app.stylesheet.update_nodes = counting
        for _ in range(4):
            await pilot.press("down")
        await pilot.pause()
        assert restyled, restyled
        assert max(restyled) < 20, restyled
        assert app.settings.has_class("-focused")  # its border still says the focus is in it
        await pilot.press("escape", "escape")  # the field, then the panel: focus leaves the settings
        await pilot.pause()
        assert not app.settings.has_class("-focused")


async def test_escape_right_after_enter_leaves_no_error_under_the_restored_value(make_app):
    """`sin(3*y) enter escape` in one burst: escape ran before the refusal came back, which then
    put its reason under the field escape had just restored (#22)."""
    from test_burst_focus import burst

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await burst(pilot, "s", "ctrl+u", *"sin(3*y)", "enter", "escape")
        assert app.settings.field("data.target").value == "cubic"
        error = app.query_one("#error-data-target")
        assert str(error.render()) == ""
        assert not app.settings.field("data.target").has_class("invalid")
        assert app.cfg.data.target == "cubic"


async def test_the_same_bad_text_typed_again_after_escape_is_refused_again(make_app):
    """Escape forgets the text it took back: typed again and left, it is checked (and refused) again,
    rather than kept in the field unsent as a text already refused."""
    from test_burst_focus import burst

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s", "ctrl+u", *"sin(3*y)", "enter")
        await pilot.press("escape", "down")
        assert app.focused is app.settings.field("data.target")
        await burst(pilot, "ctrl+u", *"sin(3*y)", "down")
        assert "unknown name 'y'" in str(app.query_one("#error-data-target").render())


async def test_own_data_shows_its_facts_not_the_targets_fields_and_names_its_axes(make_app, tmp_path):
    """With a file the panel said `target cubic`, `points 300`, `x_min -1`…, the legend offered a
    truth there is none of, and the axes had no names (#22)."""
    from conftest import CPU

    path = tmp_path / "pandas.csv"
    path.write_text(",time,height\n" + "".join(f"{i},{i / 4 - 2:.2f},{(i / 4 - 2) ** 2:.3f}\n" for i in range(21)))
    app = make_app(CPU.with_value("data.file", str(path)))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        app.refresh_view()
        await pilot.pause()
        facts = str(app.query_one("#data-facts").render())
        assert "pandas.csv" in facts
        assert "21 rows · x -2 … 3" in facts
        assert "columns time, height" in facts
        for key in ("data.target", "data.points", "data.x_min", "data.x_max", "data.noise"):
            assert not app.query_one(f"#row-{key.replace('.', '-')}").display, key
        for key in ("data.file", "data.x_column", "data.y_column", "data.split"):
            assert app.query_one(f"#row-{key.replace('.', '-')}").display, key
        assert "truth" not in str(app.fit_chart.border_subtitle)
        chart = str(app.fit_chart.render())
        assert "time" in chart
        assert "↑ height" in chart
        await edit(pilot, "data.file", "")  # back to the lesson's target: its fields again, no facts
        app.refresh_view()
        await pilot.pause()
        assert app.query_one("#row-data-target").display
        assert not app.query_one("#row-data-x_column").display
        assert not app.query_one("#data-facts").display
        assert "truth" in str(app.fit_chart.border_subtitle)
        assert "↑" not in str(app.fit_chart.render())


async def test_escape_takes_back_the_reason_its_edit_put_under_another_field(make_app):
    """x_min typed past x_max: the reason goes under x_max; escape in x_min restored -1 and left
    the reason there, about a value no longer typed (#22, a new user's trial)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.settings.field("data.x_min").focus()
        await pilot.press("ctrl+u", "5", "enter")
        await pilot.pause()
        assert "data.x_min (5)" in str(app.query_one("#error-data-x_max").render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.settings.field("data.x_min").value == "-1"
        assert str(app.query_one("#error-data-x_max").render()) == ""
        assert not app.settings.field("data.x_max").has_class("invalid")
