"""Modal screens: the help screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("space", "run / pause"),
    ("n", "one step"),
    ("[ / ]", "slower / faster pace (watch … flat out)"),
    ("r", "reset weights (same seed)"),
    ("d", "new data: next seed (reset)"),
    ("a / A", "next / previous activation (reset)"),
    ("+ / -", "double / halve the learning rate, live"),
    ("t", "show / hide the true function"),
    ("l", "log / linear loss axis"),
    ("e", "save the run (config, metrics, model) to runs/"),
    ("ctrl+s", "save an SVG screenshot"),
    ("tab / shift+tab", "move between panels"),
    ("↑ / ↓", "move between settings fields"),
    ("← / →", "change a choice field"),
    ("enter", "apply an edited field (↻ = applies with a reset)"),
    ("escape", "leave the settings panel"),
    ("ctrl+p", "command palette: every action"),
    ("?", "this help"),
    ("q", "quit (stops training)"),
]


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "close")]

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in KEYS)
        text = Text("fitscope keys", style="bold")
        text.append("  (escape closes)\n\n", style="")
        for k, v in KEYS:
            text.append(f"  {k:<{width}}", style="bold")
            text.append(f"  {v}\n")
        with VerticalScroll(id="help"):
            yield Static(text)
