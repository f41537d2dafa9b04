"""The race set-up remembers and tells; an unsaved race is not left without asking."""

from textual.widgets import Input

from fitscope.core import commands as C
from fitscope.tui.race_setup import CompareSetup, Confirm, member_count


def field(app, name: str) -> Input:
    return app.screen.query_one(f"#vary-{name}", Input)


async def start_race(pilot, lr: str = "0.1,0.3", seeds: str = "2") -> None:
    app = pilot.app
    await pilot.press("c")
    assert isinstance(app.screen, CompareSetup)
    field(app, "train-lr").value = lr
    field(app, "seeds").value = seeds
    await pilot.press("enter")
    await pilot.pause()
    assert app.racing


async def test_the_setup_opens_with_the_last_races_entries(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await start_race(pilot)
        app.send(C.Step(5))
        await pilot.press("c", "c")  # asked, then back to a single run
        await pilot.pause()
        assert not app.racing
        await pilot.press("c")
        assert isinstance(app.screen, CompareSetup)
        assert field(app, "model-activation").value == "relu,softplus,tanh"
        assert field(app, "train-lr").value == "0.1,0.3"
        assert field(app, "seeds").value == "2"


async def test_the_setup_counts_members_as_you_type(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        count = app.screen.query_one("#compare-count")
        assert str(count.render()) == "3 × 1 seed = 3 members"
        app.screen.set_focus(field(app, "seeds"))
        await pilot.press("ctrl+u", "5")
        await pilot.pause()
        assert str(count.render()) == "3 × 5 seeds = 15 members"


def test_the_count_says_what_is_wrong():
    assert member_count({"train.lr": "0.1,0.2", "model.hidden": "10;20;30"}, "2") == "2 × 3 × 2 seeds = 12 members"
    assert member_count({"train.lr": "0.1"}, "1").endswith("(a race needs 2)")
    assert member_count({"train.lr": ",".join(["1"] * 9)}, "8").endswith("= 72 members (at most 64)")
    assert member_count({}, "x") == "seeds: a whole number from 1"


async def test_placeholders_read_as_examples_without_colour(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        fields = list(app.screen.query(Input))
        assert len(fields) == 8
        assert all(f.placeholder.startswith("e.g. ") for f in fields)  # the grey hints looked like values
        assert field(app, "train-lr").value == ""
        assert field(app, "model-activation").value == "relu,softplus,tanh"


async def test_c_in_an_unsaved_race_asks_and_escape_stays(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await start_race(pilot)
        app.send(C.Step(5))
        await pilot.press("c")
        assert isinstance(app.screen, Confirm)
        assert "not saved" in app.screen.question
        await pilot.press("escape")
        assert app.racing
        await pilot.press("c", "n")  # "start a new race (c)": set up from this one
        await pilot.pause()
        assert isinstance(app.screen, CompareSetup)
        assert field(app, "train-lr").value == "0.1,0.3"


async def test_q_in_an_unsaved_race_asks_first(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await start_race(pilot)
        app.send(C.Step(5))
        await pilot.press("q")
        assert isinstance(app.screen, Confirm)
        assert app.is_running
        await pilot.press("escape")
        assert app.is_running
        await pilot.press("q", "q")
        await pilot.pause()
        assert not app.is_running


async def test_a_saved_race_quits_at_once(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_race(pilot)
        app.send(C.Step(5))
        await pilot.press("e")
        for _ in range(5):
            await pilot.pause()
        assert app.saved_at == (app.driver.latest.run_id, 5)
        await pilot.press("c")
        assert app.screen.question == "This race is saved."
        await pilot.press("escape", "q")
        await pilot.pause()
        assert not app.is_running


async def test_a_race_opened_from_its_folder_quits_at_once(app, tmp_path, monkeypatch):
    """Opened as its folder holds it, nothing is lost by leaving (it asked "not saved" before)."""
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await start_race(pilot)
        app.send(C.Step(5))
        assert app.main.unsaved()
        path = app.send(C.Save()).result(timeout=30)  # the app's own save is not what tells it here
        app.send(C.Step(3))
        for _ in range(50):
            await pilot.pause()
            if app.driver.latest.step == 8:
                break
        assert app.main.unsaved()  # trained past its save
        assert app.main.open_run(str(path)) is None
        for _ in range(50):
            await pilot.pause()
            if app.driver.latest.kept_at == 5 and app.racing:
                break
        assert not app.main.unsaved()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
