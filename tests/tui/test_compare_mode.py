import pytest
from textual.widgets import Input

from fitscope.core import commands as C
from fitscope.tui.race_setup import CompareSetup

KIND = ["model.activation", "train.lr", "train.optimizer", "model.hidden"]


async def open_setup(pilot, kind_steps: int = 0, values: str | None = None, seeds: str | None = None):
    """Open the dialog; put ``values`` in the field of KIND[kind_steps] (clearing the default
    activation list when another setting varies); enter."""
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CompareSetup)
    screen = pilot.app.screen
    key = KIND[kind_steps]
    if key != "model.activation" and values is not None:
        screen.query_one("#vary-model-activation", Input).value = ""
    field = screen.query_one(f"#vary-{key.replace('.', '-')}", Input)
    field.focus()
    if values is not None:
        field.value = values
    elif key == "train.optimizer":
        field.value = "sgd,adam"
        screen.query_one("#vary-model-activation", Input).value = ""
    if seeds is not None:
        screen.query_one("#vary-seeds", Input).value = seeds
    await pilot.press("enter")
    await pilot.pause()
    return screen


async def test_an_lr_race_by_keyboard_alone(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CompareSetup)
        assert app.focused is app.screen.query_one("#vary-model-activation")
        await pilot.press("end", "ctrl+u", "tab", *"0.05,0.2,0.8", "down", "down", "down", "down", "down",
                          "tab", "ctrl+u", "2", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, CompareSetup)
        assert app.racing
        labels = [m.label for m in app.driver.latest.members]
        assert labels == ["0.05 s0", "0.05 s1", "0.2 s0", "0.2 s1", "0.8 s0", "0.8 s1"]


async def test_two_settings_vary_as_their_product(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#vary-train-lr", Input).value = "0.1,0.2"
        await pilot.press("enter")
        await pilot.pause()
        assert [m.label for m in app.driver.latest.members] == [
            f"{a} {lr}" for a in ("relu", "softplus", "tanh") for lr in ("0.1", "0.2")]
        assert app.spec.varied == {"model.activation": ("relu", "softplus", "tanh"), "train.lr": (0.1, 0.2)}


async def test_escape_cancels_the_setup(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c", "tab", "x", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareSetup)
        assert not app.racing


async def test_c_starts_the_default_activation_race_and_c_goes_back(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await open_setup(pilot)
        assert not isinstance(app.screen, CompareSetup)
        assert app.racing
        snap = app.driver.latest
        assert [m.label for m in snap.members] == ["relu", "softplus", "tanh"]
        app.send(C.Step(50))
        app.refresh_view()
        await pilot.pause()
        lines = app.board.lines()[1:]
        losses = [m.loss for m in sorted(app.driver.latest.members, key=lambda m: m.loss)]
        assert [ln.split()[1] for ln in lines] == [
            m.label for m in sorted(app.driver.latest.members, key=lambda m: m.loss)]  # sorted by loss
        assert f"{losses[0]:.5f}" in lines[0]
        assert "race of 3" in str(app.status_bar.render())
        assert app.query_one("#board").display
        assert not app.query_one("#log").display
        driver = app.driver
        await pilot.press("c", "c")  # c asks (this race is not saved): c again goes back
        snap = app.driver.latest
        assert app.driver is driver  # one driver for the app's life: back to single is a reset in it
        assert not app.racing
        assert not snap.racing
        assert len(snap.members) == 1
        assert snap.step == 0
        assert snap.config.model.activation == "relu"
        await pilot.pause()
        assert app.query_one("#log").display
        assert not app.query_one("#board").display
        assert any("back to a single run" in line for line in app.log_view.lines)


BAD_LISTS = [
    (0, "relu,,tanh", "none empty"),
    (0, "relu,tanh,relu", "lists relu twice"),
    (0, "relu,swish", "expected one of"),
    (1, "0.1,abc", "expected a number"),
    (1, ",".join(str(i) for i in range(65)), "at most 64 members"),
    (0, "relu", "at least 2 members"),
]


async def test_bad_lists_show_a_clear_message_and_keep_the_setup_open(app):
    async with app.run_test(size=(120, 40)) as pilot:
        for steps, values, why in BAD_LISTS:
            screen = await open_setup(pilot, steps, values)
            assert isinstance(app.screen, CompareSetup), values
            assert not app.racing, values
            assert why in str(screen.query_one("#compare-error").render()), values
            await pilot.press("escape")
            assert not isinstance(app.screen, CompareSetup)


async def test_optimizer_race_via_the_kind_choice(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await open_setup(pilot, 2)  # optimizer: sgd,adam
        assert [m.label for m in app.driver.latest.members] == ["sgd", "adam"]


async def test_number_keys_solo_and_h_hides(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await open_setup(pilot)
        app.send(C.Step(5))
        snap = app.driver.latest
        assert app.visible_members(snap) == [0, 1, 2]
        await pilot.press("2")
        assert app.visible_members(snap) == [1]
        await pilot.press("2")
        assert app.visible_members(snap) == [0, 1, 2]
        await pilot.press("3")
        await pilot.press("3")  # select 3, show all again
        await pilot.press("h")
        assert app.visible_members(snap) == [0, 1]
        app.refresh_view()
        await pilot.pause()
        assert "tanh" not in str(app.fit_chart.border_subtitle)
        await pilot.press("h")
        assert app.visible_members(snap) == [0, 1, 2]
        await pilot.press("9")  # no 9th member: a message, nothing else
        assert app.visible_members(snap) == [0, 1, 2]


async def test_number_keys_outside_a_race_only_say_so(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1")
        await pilot.press("h")
        assert any("compare mode" in n.message for n in app._notifications)


async def test_a_diverging_member_is_marked_on_the_leaderboard(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await open_setup(pilot, 1, "0.2,60")
        app.send(C.Step(30))
        app.refresh_view()
        await pilot.pause()
        board = app.board.lines()
        step = app.driver.latest.members[1].diverged_at
        assert step is not None
        assert board[-1].endswith(f"diverged @{step}")
        assert board[1].endswith("ok")
        width = app.board.content_region.width
        assert all(len(line) <= width for line in board)  # the state column stays inside


def test_every_member_colour_is_one_textual_markup_knows():
    """An unknown colour name renders wrong and costs a fuzzy 'did you mean' search per parse."""
    from textual.color import Color

    from fitscope.tui.plotting import PALETTE
    from fitscope.tui.widgets.leaderboard import MARKUP_COLOURS, member_tag

    for i in range(len(PALETTE)):
        tag = member_tag(i)
        name = tag[1:tag.index("]")]
        Color.parse(name)  # raises ColorParseError for e.g. 'bright_red'
    assert set(MARKUP_COLOURS) <= set(PALETTE)


def type_at_once(app, *keys: str) -> None:
    """Keys as a fast typist sends them: all queued before the app handles the first."""
    from textual import events
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_keys_typed_right_after_c_land_in_the_setup(app):
    """They went to the screen below while the dialog mounted, so only the default race started."""
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        type_at_once(app, "c", "tab", *"0.1,0.3", "enter")
        await pilot.pause()
        await pilot.pause()
        assert not isinstance(app.screen, CompareSetup)
        assert app.spec.vary == (("model.activation", ("relu", "softplus", "tanh")), ("train.lr", (0.1, 0.3)))


async def test_keys_typed_right_after_ctrl_o_land_in_the_path_field(app):
    from fitscope.tui.dialogs import PathDialog
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        type_at_once(app, "ctrl+o", *"abc")
        await pilot.pause()
        assert isinstance(app.screen, PathDialog)
        assert app.screen.query_one(Input).value == "runs/abc"


async def test_dialog_keys_are_characters_in_a_field(app):
    """c, b and ? are priority keys now; in a settings field they must still be typed."""
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("shift+tab")
        field = app.focused
        assert isinstance(field, Input)
        await pilot.press("end", "c", "b", "question_mark")
        assert field.value.endswith("cb?")
        assert app.screen is app.screen_stack[0]


@pytest.mark.parametrize("keys", [("c", "enter"), ("b", "ctrl+u", "enter")])  # each enter closes its dialog
async def test_enter_then_escape_at_once_in_a_dialog_leaves_the_app_running(app, keys):
    """The escape closed the dialog before its enter was read; the enter then dismissed the app's
    own screen (ScreenStackError) — found by the key fuzz test."""
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        type_at_once(app, *keys, "escape")
        for _ in range(3):
            await pilot.pause()
        assert app.is_running
        assert app.return_code is None
        assert app.screen is app.screen_stack[0]


async def test_a_burst_of_keys_in_a_field_acts_in_the_order_typed(app, tmp_path, monkeypatch):
    """A field's own keys (ctrl+u, backspace, enter) ran after the characters typed after them."""
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        type_at_once(app, "ctrl+w", "ctrl+u", *"my.toml", "enter")
        for _ in range(4):
            await pilot.pause()
        assert (tmp_path / "my.toml").is_file()
        assert app.screen is app.screen_stack[0]
        app.query_one("#field-data-target").focus()
        await pilot.pause()
        type_at_once(app, "end", "backspace", "backspace", "x")
        await pilot.pause()
        assert app.focused.value == "cubx"


async def test_tab_completes_the_path_typed_before_it(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "20261129-180002-cubic-relu").mkdir(parents=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        type_at_once(app, "b", "ctrl+u", *"runs/2026", "tab")
        for _ in range(4):
            await pilot.pause()
        assert app.screen.query_one(Input).value == "runs/20261129-180002-cubic-relu"


async def test_a_narrow_leaderboard_drops_columns_rather_than_wrap_its_rows(app):
    """At 100 columns a diverged member's state wrapped onto a line of its own."""
    from fitscope.core.spec import RunSpec

    async with app.run_test(size=(100, 30)) as pilot:
        app.switch_spec(RunSpec.race(app.cfg, {"train.lr": [0.05, 0.2, 0.8, 3.0]}))
        await pilot.pause()
        app.driver.send(C.Step(300))
        app.refresh_view()
        await pilot.pause()
        board = app.query_one("#board")
        rows = board.lines()
        width = board.content_region.width
        assert all(len(line) <= width for line in rows), (width, rows)
        assert len(rows) == 5
        assert "diverged @" in rows[-1]
        assert rows[0].rstrip().endswith("state")
