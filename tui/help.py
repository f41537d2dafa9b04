"""The help screen: every key, from the key table."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from fitscope.tui.keys import help_rows


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark", "app.pop_screen", "close"), Binding("q", "app.quit", "quit")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))  # a description that wraps stays in its column
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for k, v in help_rows():
            table.add_row(k, v)
        with VerticalScroll(id="help"):
            yield Static(Text.assemble(("fitscope keys", "bold"), "  (escape closes; q quits)\n"))
            yield Static(table)
