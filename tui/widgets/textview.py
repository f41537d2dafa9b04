"""A block of markup text that redraws in place.

``Static.update`` re-lays out the whole screen on every call (its size may change); at 20
snapshots a second that cost ~80 ms a frame here. These widgets have a fixed size from the
stylesheet, so a new text only repaints them.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget


class TextView(Widget):
    def __init__(self, markup: str = "", **kw):
        super().__init__(**kw)
        self._markup = markup

    @property
    def markup(self) -> str:
        return self._markup

    def update(self, markup: str) -> None:
        if markup != self._markup:
            self._markup = markup
            self.refresh()

    def render(self) -> Content:
        return Content.from_markup(self._markup)
