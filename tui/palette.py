"""The command palette (ctrl+p): every key binding of the app as an entry with a readable title, and
Textual's palette made safe for a burst of keys (over SSH a whole burst arrives at once).

Keys typed behind the one that closed the palette were still handled by it: `ctrl+p Enter Enter`
ran the command and then popped the main screen (ScreenStackError), a letter behind Escape started
a search in a palette already gone (NoMatches in a worker), and PgUp/PgDn before the list was laid
out raised KeyError in Textual's OptionList. Each stopped the app and lost an unsaved run.
"""

from __future__ import annotations

import inspect

from textual import events
from textual.actions import SkipAction
from textual.app import SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.message import Message
from textual.widgets import Button, Input, OptionList

_PALETTE = {
    "toggle_run": "Run / pause", "step": "One step", "pace(-1)": "Slower pace", "pace(1)": "Faster pace",
    "reset": "Reset weights", "new_data": "New data (next seed)", "activation(1)": "Next activation",
    "activation(-1)": "Previous activation", "lr(2.0)": "Double learning rate", "lr(0.5)": "Halve learning rate",
    "truth": "Show/hide true function", "log_axis": "Log/linear loss axis", "save_run": "Save run",
    "screenshot_svg": "Save SVG screenshot", "panel(1)": "Next panel", "panel(-1)": "Previous panel",
    "help": "Help: all keys", "quit": "Quit", "compare": "Compare mode: race variants / back to single",
    "hide_member": "Hide/show the selected member",
    "settings_overlay": "Settings (in a narrow window: open over the charts)",
    "restart_engine": "Restart the engine after it stopped",
    "open_run": "Open a saved run (to continue it)", "write_settings": "Write the settings to a TOML file",
    "reference": "Compare with a saved run (reference, drawn dashed)",
    "view": "Next view of the fit panel: fit, units, kinks", "ghosts": "Earlier fits on/off (the timeline's last three)",
    "frame(-1)": "Timeline: back a frame (paused)", "frame(1)": "Timeline: forward a frame (paused)",
    "frame_edge(0)": "Timeline: first frame", "frame_edge(1)": "Timeline: last frame",
    "replay": "Replay the fit's history", "inside_numbers": "The network's numbers into the log",
    "device": "Move the run between the CPU and the GPU",
    **{f"member({i})": f"Solo member {i} (again: show all)" for i in range(1, 10)},
}


def eval_args(text: str) -> tuple:
    text = text.strip()
    if not text:
        return ()
    return (float(text) if "." in text else int(text),)


def _bind(app, method, args):
    async def run() -> None:
        """The palette's choice, not a key typed in a field: a field left focused is not the target
        (a dialog key there would be a character), and an action that declines is simply not run."""
        if isinstance(app.focused, Input) and app.screen is app.screen_stack[0]:
            app.screen.set_focus(None)
        try:
            result = method(*args)
            if inspect.isawaitable(result):
                await result
        except SkipAction:
            pass

    return run


SYSTEM = {"quit", "screenshot_svg"}  # Textual's palette has its own Quit and Screenshot


def binding_commands(app):
    for binding in app.BINDINGS:
        if binding.action in SYSTEM:
            continue
        action, _, arg = binding.action.partition("(")
        method = getattr(app, f"action_{action}")
        args = eval_args(arg.rstrip(")"))  # literal ints/floats from our own table
        label = _PALETTE.get(binding.action, binding.description)
        keys = " or ".join(app.get_key_display(Binding(k, binding.action)) for k in binding.key.split(","))
        yield SystemCommand(label, f"key: {keys}", _bind(app, method, args))


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
