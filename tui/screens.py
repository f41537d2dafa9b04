"""The base of the app's dialogs: the first field focused at once."""

from __future__ import annotations

import asyncio

from textual.screen import ModalScreen


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
