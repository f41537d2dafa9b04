"""The path dialog: open a saved run, write the settings, pick a reference run."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.suggester import Suggester
from textual.widgets import Input, Static

from fitscope.tui.screens import Dialog
from fitscope.tui.widgets.field import Field


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
