"""A block of markup text that redraws in place, and a log whose new lines repaint only itself.

``Static.update`` re-lays out the whole screen on every call (its size may change); at 20
snapshots a second that cost ~80 ms a frame here. These widgets have a fixed size from the
stylesheet, so a new text only repaints them.
"""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Log


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


class LogView(Log):
    """The loss log. A new line repaints the log and its scrollbar, not the screen: a Log's growing
    virtual size re-lays out every widget (twice a second while training, 20–40 ms each here)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), repaint=True)  # not layout=True

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        height = self.scrollable_content_region.height
        if (old.height > height) != (new.height > height):
            self.refresh(layout=True)  # the scrollbar comes or goes: that is layout
        elif self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = new.height
