"""The command palette (ctrl+p): every action of the key table as an entry with a readable title, and
Textual's palette made safe for a burst of keys (over SSH a whole burst arrives at once).

Keys typed behind the one that closed the palette were still handled by it: `ctrl+p Enter Enter`
ran the command and then popped the main screen (ScreenStackError), a letter behind Escape started
a search in a palette already gone (NoMatches in a worker), and PgUp/PgDn before the list was laid
out raised KeyError in Textual's OptionList. Each stopped the app and lost an unsaved run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.message import Message
from textual.widgets import Button, Input, OptionList

from fitscope.tui import keys


def binding_commands(app: App) -> Iterator[SystemCommand]:
    """Every bound row of the key table, run by Textual's own ``run_action`` where its key runs it."""
    for row in keys.commands():
        shown = " or ".join(app.get_key_display(Binding(k, row.action)) for k in row.key.split(","))
        yield SystemCommand(row.title, f"key: {shown}", _runner(app, row))


def _runner(app: App, row: keys.Key) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        """The palette's choice, not a key typed in a field: a field left focused is not the target
        (a dialog key there would be a character), and an action that declines is simply not run."""
        main = app.screen_stack[0]
        if isinstance(app.focused, Input) and app.screen is main:
            app.screen.set_focus(None)
        target = app if row.where == "app" else main.query_one("#board") if row.where == "board" else main
        await target.run_action(keys.action_of(row))

    return run


_INPUT = (events.Key, Input.Changed, Input.Submitted, Button.Pressed, OptionList.OptionSelected,
          OptionList.OptionHighlighted)


class Palette(CommandPalette):
    _closed_once = False

    def dismiss(self, result=None):
        self._closed_once = True
        return super().dismiss(result)

    async def _on_message(self, message: Message) -> None:
        if self._closed_once and isinstance(message, _INPUT):
            message.stop()  # queued behind the key that closed the palette: it is no longer the palette's
            return
        await super()._on_message(message)

    def _action_command_list(self, action: str) -> None:
        if self._closed_once:
            return
        try:
            super()._action_command_list(action)
        except (KeyError, IndexError):  # a page key before the list's lines are laid out: nothing to page
            pass

    def _action_escape(self) -> None:
        if not self._closed_once:
            super()._action_escape()

    def _action_cursor_down(self) -> None:
        if not self._closed_once:
            super()._action_cursor_down()
