"""The main screen's keys that move between its panels and that run a race: set one up (`c`),
leave it, solo (`1`…`9`), hide (`h`), and the leaderboard's picks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode
from textual.widget import Widget

from fitscope.core import commands as C
from fitscope.core.spec import RunSpec
from fitscope.tui.editing import Editing
from fitscope.tui.race_setup import CompareSetup, Confirm, Entries
from fitscope.tui.widgets.leaderboard import Leaderboard

if TYPE_CHECKING:
    from fitscope.tui.widgets.charts import FitChart


class MainKeys(Editing):
    """A part of the main screen; the main screen provides what is declared here."""

    panels: dict[str, Widget]
    board: Leaderboard
    fit_chart: FitChart
    race_entries: Entries

    def action_settings_overlay(self) -> None:
        """In a narrow window the settings panel is hidden; `s` opens it over the charts (again: closes)."""
        if not self.has_class("narrow"):
            self.focus_panel("settings")
            return
        opening = not self.has_class("settings-open")
        self.set_class(opening, "settings-open")
        if opening:
            self.call_after_refresh(self.focus_panel, "settings")
        else:
            self.set_focus(self.fit_chart)

    def panel(self, delta: int) -> None:
        visible = [name for name, p in self.panels.items() if p.display]
        current = next((name for name in visible if self._within(self.panels[name])), None)
        i = visible.index(current) if current in visible else -1
        self.focus_panel(visible[(i + delta) % len(visible)])

    def focus_panel(self, name: str) -> None:
        # set_focus at once: Widget.focus() is queued behind the keys already waiting, so in a burst
        # (`s ↓ ↓ 7`) the moves and the 7 went to the widget focused before
        panel = self.panels[name]
        if name == "settings":
            fields = [w for w in panel.query(".field") if w.focusable]
            if fields:
                self.set_focus(fields[0])
                return
        self.set_focus(panel)

    def _within(self, panel: Widget) -> bool:
        node: DOMNode | None = self.focused
        while node is not None:
            if node is panel:
                return True
            node = node.parent
        return False

    # ---- a race -----------------------------------------------------------------------------
    async def action_compare(self) -> None:
        self.main_keys_only()
        if not self.host.racing:
            await self.open_dialog(CompareSetup(self.start_race, self.race_entries))
            return
        self.race_entries = Entries.of(self.host.spec)

        def leave() -> None:
            self.switch_spec(RunSpec(self.host.cfg))
            self.log_line("back to a single run")

        async def new_race() -> None:
            await self.open_dialog(CompareSetup(self.start_race, self.race_entries))

        saved = "This race is not saved (e saves it)." if self.unsaved() else "This race is saved."
        await self.app.push_screen(Confirm(saved, {"c": ("back to a single run", leave),
                                                   "n": ("a new race, set up from this one", new_race)}))

    def action_member(self, n: int) -> None:
        snap = self.host.driver.latest
        if snap is None or not snap.racing:
            self.notify("1–9 pick a member in compare mode (c)", timeout=2)
            return
        i = n - 1
        if i >= len(snap.members):
            self.notify(f"there are {len(snap.members)} members", timeout=2)
            return
        self.solo = None if self.solo == i else i
        self.selected = i
        self.inspect(i)
        self.redraw()

    def inspect(self, i: int) -> None:
        if self.fit_chart.member != i:  # whose units, kinks and timeline
            self.fit_chart.member = i
            self.host.send(C.Inspect(i))
            self.player.forget()

    def on_leaderboard_picked(self, msg: Leaderboard.Picked) -> None:
        self.selected = msg.member
        self.inspect(msg.member)
        self.redraw()

    def on_leaderboard_chosen(self, msg: Leaderboard.Chosen) -> None:
        self.action_member(msg.member + 1)

    def on_leaderboard_toggled(self, msg: Leaderboard.Toggled) -> None:
        self.redraw()
        self.fit_chart.legend()

    def action_hide_member(self) -> None:
        snap = self.host.driver.latest
        if snap is None or not snap.racing:
            self.notify("h hides a member in compare mode (c)", timeout=2)
            return
        self.hidden ^= {self.selected}
        self.redraw()
