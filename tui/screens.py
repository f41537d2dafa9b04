"""Modal screens: the help screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from fitscope.tui.widgets.settings import ChoiceField

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
    ("c", "compare mode: race variants (again: back to single)"),
    ("1 … 9", "in a race: solo that member (again: show all)"),
    ("h", "in a race: hide / show the selected member"),
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


VARY_CHOICES = {  # what varies -> (config key, default values)
    "activation": ("model.activation", "relu,softplus,tanh"),
    "optimizer": ("train.optimizer", "sgd,adam"),
    "lr": ("train.lr", "0.05,0.1,0.2,0.4"),
    "seeds": ("model.init_seed", "0,1,2,3,4"),
    "hidden": ("model.hidden", "10,10;32,32;64"),
}


class CompareSetup(ModalScreen):
    """Choose what varies and its values; enter starts the race, escape cancels."""

    BINDINGS = [Binding("escape", "app.pop_screen", "cancel")]

    def __init__(self, start):
        super().__init__()
        self.start = start  # called with (key, text); returns an error message or None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare-setup"):
            yield Static(Text("Compare: race variants side by side", style="bold"))
            yield Label("what varies (←/→)")
            yield ChoiceField("vary", tuple(VARY_CHOICES), "activation", id="vary-kind")
            yield Label("values (a list; hidden sizes: 10,10;32)")
            yield Input(VARY_CHOICES["activation"][1], id="vary-values")
            yield Static("", id="compare-error", classes="field-error")
            yield Static("enter starts the race · escape cancels · 2 to 64 members", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#vary-values").focus()

    def on_setting_submitted(self, msg) -> None:  # the ChoiceField cycled
        msg.stop()
        self.query_one("#vary-kind", ChoiceField).set_value(msg.raw)
        self.query_one("#vary-values", Input).value = VARY_CHOICES[msg.raw][1]

    def on_input_submitted(self, event) -> None:
        event.stop()
        kind = self.query_one("#vary-kind", ChoiceField).value
        error = self.start(VARY_CHOICES[kind][0], event.value)
        if error:
            self.query_one("#compare-error", Static).update(error)
        else:
            self.dismiss()
