"""The race's leaderboard: focus, scrolling, picking any member, variants, failure words, widths."""

import pytest

from fitscope.core import commands as C
from fitscope.core.spec import RunSpec
from fitscope.tui import race
from fitscope.tui.formatting import num
from fitscope.tui.widgets.leaderboard import Leaderboard, member_tag

LESSON = {"model.activation": ["relu", "softplus", "tanh"]}


async def racing(pilot, vary, seeds=1, steps=50, cfg=None):
    app = pilot.app
    app.switch_spec(RunSpec.race(cfg or app.cfg, vary, seeds))
    await pilot.pause()
    app.driver.send(C.Step(steps))
    app.refresh_view()
    await pilot.pause()
    return app.driver.latest


async def test_tab_focuses_the_board_and_its_keys_reach_every_member_of_64(app):
    async with app.run_test(size=(100, 30)) as pilot:
        snap = await racing(pilot, {}, seeds=64, steps=1)
        assert len(snap.members) == 64
        await pilot.press("tab")
        assert app.focused is app.board
        await pilot.press("home")  # the cursor starts on member 1, wherever it ranks
        picked = {app.selected}
        for _ in range(63):
            await pilot.press("down")
            picked.add(app.selected)
        assert picked == set(range(64))
        await pilot.press("home")
        assert app.selected == app.board.row_members[0]
        await pilot.press("end")
        assert app.board.cursor_row == 63
        await pilot.press("pageup")
        assert app.board.cursor_row < 63
        await pilot.press("pagedown")
        assert app.board.cursor_row == 63
        assert app.fit_chart.member == app.selected  # the inside views follow the pick


async def test_enter_solos_a_member_past_nine_and_h_hides_it(app):
    async with app.run_test(size=(120, 40)) as pilot:
        snap = await racing(pilot, {"train.lr": [0.05 * k for k in range(1, 13)]})
        await pilot.press("tab", "home")
        for _ in range(12):
            if app.selected >= 9:
                break
            await pilot.press("down")
        assert app.selected >= 9
        member = app.selected
        await pilot.press("enter")
        await pilot.pause()
        assert app.visible_members(snap) == [member]
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("h")
        assert member not in app.visible_members(snap)
        assert len(app.visible_members(snap)) == 11


def test_members_past_nine_have_a_real_tag():
    assert member_tag(9).endswith("━10[/]")
    assert member_tag(14).endswith("━15[/]")
    assert "·" not in member_tag(12)


@pytest.mark.parametrize("size,rows", [((120, 40), 12), ((100, 30), 8)])
async def test_the_board_grows_with_the_window(app, size, rows):
    async with app.run_test(size=size) as pilot:
        await racing(pilot, LESSON, seeds=5)
        await pilot.press("tab", "m")  # members: 15 rows
        await pilot.pause()
        assert app.board.content_region.height - 1 >= rows  # it was 7 at any height


async def test_seeds_open_on_variants_and_m_toggles_members(app):
    async with app.run_test(size=(120, 40)) as pilot:
        snap = await racing(pilot, LESSON, seeds=5)
        board = app.board
        assert board.by_variant
        assert len(board.lines()) == 1 + 3
        medians = sorted(race.medians(snap).values())
        assert app.visible_members(snap) == medians  # one curve per variant
        legend = str(app.fit_chart.border_subtitle)
        assert "relu" in legend
        assert "s0" not in legend  # named by variant
        assert "s2" not in legend
        await pilot.press("tab", "m")
        await pilot.pause()
        assert not board.by_variant
        assert len(board.lines()) == 1 + 15
        assert app.visible_members(snap) == list(range(15))  # all members on request


async def test_the_variant_view_and_compare_print_the_same_numbers(app):
    async with app.run_test(size=(120, 40)) as pilot:
        snap = await racing(pilot, {"train.lr": [0.2, 60.0]}, seeds=3, steps=40)
        text, _ = race.table(snap)
        printed = {line.split()[0]: line.split()[1:4] for line in text.splitlines()[2:]}
        shown = {line.split()[1]: line.split()[2:5] for line in app.board.lines()[1:]}
        assert shown == printed
        assert printed["60"] == ["—", "—", "—"]  # every seed diverged: no final loss
        assert app.board.lines()[-1].endswith("3 failed")
        assert "3 failed: diverged @" in text


async def test_failure_words_sort_last_and_are_logged_once(app):
    cfg = app.cfg.with_value("train.optimizer", "adam")
    async with app.run_test(size=(120, 40)) as pilot:
        await racing(pilot, {"train.lr": [0.01, 0.8, 30.0]}, steps=300, cfg=cfg)
        rows = app.board.lines()[1:]
        assert rows[0].split()[1] == "0.01"
        assert rows[0].endswith("ok")
        assert rows[1].endswith("collapsed")
        assert rows[2].endswith("blew up")
        assert "blew up: >10× step-1 loss" in str(app.board.border_subtitle)
        app.driver.send(C.Step(1))
        app.refresh_view()
        await pilot.pause()
        logged = [line for line in app.log_view.lines if "blew up" in line]
        assert logged == ["30: blew up (its loss ended over 10× its step-1 loss)"]
        assert any(line.startswith("0.8: collapsed") for line in app.log_view.lines)
        header = str(app.status_bar.render())
        best = app.driver.latest.lead
        assert f"best 0.01 {num(best.loss, 4)}" in header  # whose loss it is


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_no_header_or_row_runs_out_of_the_board_at_100_columns_and_below(app, size):
    async with app.run_test(size=(120, 40)) as pilot:
        await racing(pilot, {"model.activation": ["relu", "softplus"], "train.lr": [0.2, 60.0]}, steps=40)
        await pilot.resize_terminal(*size)  # a finished race: no snapshot comes to redraw it
        await pilot.pause()
        board = app.board
        width = board.content_region.width
        for by_variant in (False, True):
            board.by_variant = by_variant
            await pilot.pause()
            assert all(len(line) <= width - 1 for line in board.lines()), (width, board.lines())
            assert board.lines()[0].rstrip().endswith("state")
            assert "diverged @" in board.lines()[-1] or "failed" in board.lines()[-1]
            assert board.virtual_size.width <= width  # nothing to scroll sideways to
            assert len(str(board.border_subtitle)) <= width


async def test_the_legend_names_the_columns_and_words(app):
    async with app.run_test(size=(120, 40)) as pilot:
        await racing(pilot, LESSON)
        assert not app.board.by_variant  # one seed: members
        legend = str(app.board.border_subtitle)
        assert "best@" in legend
        assert "blew up" not in legend  # the words it explains are the ones on the board


async def test_the_board_is_a_leaderboard_with_id_board(app):
    async with app.run_test(size=(120, 40)):
        assert isinstance(app.query_one("#board"), Leaderboard)
