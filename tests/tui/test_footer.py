"""The footer at 60 columns keeps `? help` and `q quit` with a panel focused (#22): the panel's own
`esc back` came first and pushed `q quit` off the end."""

import re

from textual.widgets._footer import FooterKey

from fitscope.tui.widgets.footer import fitting


def shown(app) -> dict[str, FooterKey]:
    """The footer's keys by their action's name (a widget's key, bound as ``part('fit', 'view')``: ``view``)."""
    return {name(k.action): k for k in app.query(FooterKey)}


def name(action: str) -> str:
    part = re.fullmatch(r"part\('\w+', '(\w+)'\)", action)
    return part.group(1) if part else action


async def test_at_60_columns_a_focused_panel_leaves_help_and_quit_in_the_footer(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("s")
        await pilot.press("escape")  # out of the field: the panel has the focus
        await pilot.pause()
        assert app.focused is app.settings
        keys = shown(app)
        assert "leave" in keys  # the panel's esc back, first
        for action in ("app.help", "app.quit", "help", "quit"):
            if action in keys:
                assert keys[action].region.right <= 60, action
        assert {"help", "quit"} <= {a.removeprefix("app.") for a in keys}
        assert max(k.region.right for k in keys.values()) <= 60
    async with make_app().run_test(size=(120, 40)) as pilot:  # room for every key: none dropped
        await pilot.press("s", "escape")
        await pilot.pause()
        assert {"leave", "view", "settings_overlay", "help", "quit"} <= {
            a.removeprefix("app.") for a in shown(pilot.app)}


def test_fitting_drops_keys_from_the_middle_last_first():
    class Key(FooterKey):
        def __init__(self, key, description):
            super().__init__(key, key, description, key)

    keys = [Key("esc", "back"), Key("space", "run"), Key("r", "reset"), Key("v", "view"), Key("?", "help"),
            Key("q", "quit")]
    assert [k.key for k in fitting(keys, 100)] == ["esc", "space", "r", "v", "?", "q"]
    assert [k.key for k in fitting(keys, 47)] == ["esc", "space", "r", "v", "?", "q"]  # 47 columns: all fit
    assert [k.key for k in fitting(keys, 46)] == ["esc", "space", "r", "?", "q"]  # v view goes first
    assert [k.key for k in fitting(keys, 32)] == ["esc", "space", "?", "q"]
    assert [k.key for k in fitting(keys, 5)] == ["esc", "?", "q"]
