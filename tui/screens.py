"""Modal screens: the help screen, dialogs with a first field focused at once, the path dialog."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from fitscope.tui.widgets.field import Field

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
    ("e", "save the run (config, metrics, checkpoint, chart, summary) to runs/; again: the same folder"),
    ("ctrl+o", "open a saved run to continue it (tab completes folder names)"),
    ("ctrl+w", "write the current settings to a TOML file (fitscope --config FILE reads it)"),
    ("b", "compare with a saved run: its fit and loss dashed beside the live ones (empty: none)"),
    ("ctrl+s", "save an SVG screenshot"),
    ("tab / shift+tab", "move between panels"),
    ("s", "the settings; in a narrow window they open over the charts (again: close)"),
    ("↑ / ↓", "move between settings fields"),
    ("← / →", "change a choice field"),
    ("enter", "apply an edited field (↻ = applies with a reset)"),
    ("escape", "back one level: a field (its old value back) → the panel → the chart; closes a dialog"),
    ("v", "the fit panel's view: fit → units (what each unit of the last hidden layer adds; their sum plus "
          "the bias is the fit) → kinks (where a ReLU fit's slope changes, and its count of linear pieces; "
          "smooth activations have none, and the view says so)"),
    ("o", "earlier fits: the last three timeline frames, faint"),
    (", / .", "paused: back / forward through the fit's history (the timeline); home / end: first / last"),
    ("p", "replay the fit's whole history in ~3 s"),
    ("i", "the network's numbers into the log: per layer dead units, weight and gradient norms, update/weight; R²"),
    ("g", "move the run between the CPU and the GPU, live (its step and losses stay)"),
    ("c", "compare mode: race variants (again: back to single)"),
    ("1 … 9", "in a race: solo that member (again: show all)"),
    ("h", "in a race: hide / show the selected member"),
    ("ctrl+p", "command palette: every action"),
    ("?", "this help"),
    ("R", "restart the engine after it stopped (with the current settings)"),
    ("q", "quit (stops training); in a field, escape first"),
    ("ctrl+q", "quit from anywhere"),
]


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark", "app.pop_screen", "close"), Binding("q", "app.quit", "quit")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))  # a description that wraps stays in its column
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for k, v in KEYS:
            table.add_row(k, v)
        with VerticalScroll(id="help"):
            yield Static(Text.assemble(("fitscope keys", "bold"), "  (escape closes; q quits)\n"))
            yield Static(table)


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


def complete_path(value: str, folders_only: bool = True) -> str | None:
    """``value`` completed to a folder (or file) name below it; with several, the newest name (run
    folders begin with their date), so ``runs/`` completes to the latest run."""
    head, sep, prefix = value.rpartition("/")
    base = Path(os.path.expanduser(head or "/")) if sep else Path(".")
    try:
        names = sorted((p.name for p in base.iterdir()
                        if p.name.startswith(prefix) and not p.name.startswith(".")
                        and (p.is_dir() or not folders_only)), reverse=True)
    except OSError:
        return None
    return f"{head}{sep}{names[0]}" if names and names[0] != prefix else None


class FolderSuggester(Suggester):
    def __init__(self, folders_only: bool = True):
        super().__init__(use_cache=False, case_sensitive=True)
        self.folders_only = folders_only

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value, self.folders_only)


class PathDialog(Dialog):
    """One path field: tab or → takes the suggested completion, enter submits, escape cancels.

    ``submit(text)`` returns an error for the field (the dialog stays, text kept) or None."""

    BINDINGS = [Binding("escape", "app.pop_screen", "cancel")]

    def __init__(self, title: str, hint: str, value: str, submit, *, folders_only: bool = True,
                 listing: str = ""):
        super().__init__()
        self.title_text, self.hint, self.value, self.submit = title, hint, value, submit
        self.folders_only, self.listing = folders_only, listing

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="path-dialog"):
            yield Static(Text(self.title_text, style="bold"))
            yield Field(self.value, id="path", suggester=FolderSuggester(self.folders_only), select_on_focus=False)
            yield Static("", id="path-error", classes="field-error")
            yield Static(self.hint, classes="hint")
            if self.listing:
                yield Static(Text(self.listing), id="path-listing", classes="hint")

    def complete(self) -> None:
        """Tab: the field completed, as → takes a shown suggestion."""
        field = self.query_one("#path", Input)
        done = complete_path(field.value, self.folders_only)
        if done:
            field.value = done
            field.cursor_position = len(done)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.is_current:  # an escape closed the dialog before this enter was read
            return
        error = self.submit(event.value.strip())
        if error:
            self.query_one("#path-error", Static).update(Text(error))
        else:
            self.dismiss()
