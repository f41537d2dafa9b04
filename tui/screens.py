"""The race set-up dialog, and the base of the app's dialogs."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from fitscope.tui.widgets.field import Field

VARY_FIELDS = [  # (config key, label, example) — the settings a race can vary, in the dialog's order
    ("model.activation", "activation", "relu,softplus,tanh"),
    ("train.lr", "lr", "0.05,0.1,0.2,0.4"),
    ("train.optimizer", "optimizer", "sgd,adam"),
    ("model.hidden", "hidden", "10,10;32,32;64"),
    ("train.momentum", "momentum", "0,0.9"),
    ("train.weight_decay", "wt decay", "0,0.01"),
    ("model.init_seed", "init seed", "0,1,2"),
]


class Dialog(ModalScreen):
    """A modal whose first field has focus before the app reads the key after the one that opened
    it, so a fast typist's keys land in the dialog (the app awaits ``ready``)."""

    FIRST = "Input"  # the field focused first

    def __init__(self) -> None:
        super().__init__()
        self.ready = asyncio.Event()

    def on_mount(self) -> None:
        # set_focus at once: Widget.focus() is queued behind the keys already waiting
        self.set_focus(self.query_one(self.FIRST))
        self.ready.set()


class CompareSetup(Dialog):
    """What varies, by keyboard: a list of values for each setting to vary (empty: not varied;
    several: their product), and how many init seeds. tab/↑/↓ move, enter starts, escape cancels."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "cancel"),
        Binding("down", "app.focus_next", "next field", show=False),
        Binding("up", "app.focus_previous", "previous field", show=False),
    ]

    def __init__(self, start, values: dict[str, str] | None = None, seeds: int = 1):
        super().__init__()
        self.start = start  # called with ({key: text}, seeds text); returns an error message or None
        self.values = values if values is not None else {"model.activation": "relu,softplus,tanh"}
        self.seeds = seeds

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare-setup"):
            yield Static(Text("Compare: race variants side by side", style="bold"))
            yield Static("a list of values for each setting to vary; empty: not varied", classes="hint")
            for key, label, example in VARY_FIELDS:
                with Horizontal(classes="row"):
                    yield Label(label, classes="field-label")
                    yield Field(self.values.get(key, ""), placeholder=example, id=f"vary-{_id(key)}", name=key)
            with Horizontal(classes="row"):
                yield Label("seeds", classes="field-label")
                yield Field(str(self.seeds), id="vary-seeds", name="seeds")
            yield Static("", id="compare-error", classes="field-error")
            yield Static("tab ↑ ↓ move · enter starts the race · escape cancels · 2 to 64 members", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.is_current:  # an escape closed the dialog before this enter was read
            return
        values = {key: self.query_one(f"#vary-{_id(key)}", Input).value for key, _, _ in VARY_FIELDS}
        error = self.start({k: v for k, v in values.items() if v.strip()}, self.query_one("#vary-seeds", Input).value)
        if error:
            self.query_one("#compare-error", Static).update(error)
        else:
            self.dismiss()


def _id(key: str) -> str:
    return key.replace(".", "-")
