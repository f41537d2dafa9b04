"""Every key binding of the app as a command-palette entry (ctrl+p), with a readable title."""

from __future__ import annotations

import inspect

from textual.actions import SkipAction
from textual.app import SystemCommand
from textual.binding import Binding
from textual.widgets import Input

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
