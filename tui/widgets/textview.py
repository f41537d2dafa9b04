"""A block of markup text that redraws in place, and a log whose new lines repaint only itself.

``Static.update`` re-lays out the whole screen on every call (its size may change); at 20
snapshots a second that cost ~80 ms a frame here. These widgets have a fixed size from the
stylesheet, so a new text only repaints them.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.content import Content
from textual.geometry import Region, Size
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
            old, self._markup = self._markup, markup
            span = changed_span(old, markup) if self.size.height == 1 else None
            self.refresh(*[span] if span is not None else [])

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


def changed_span(old: str, new: str) -> Region | None:
    """The columns where one line of plain markup changed, or None (styles, several lines).

    The screen repaints the box around all it must redraw in a frame: the status line changing
    in full, with the charts below, repainted the settings panel too (~20 ms a frame)."""
    a, b = Content.from_markup(old), Content.from_markup(new)
    if a.spans or b.spans or "\n" in a.plain or "\n" in b.plain:
        return None
    a_text, b_text = a.plain, b.plain
    start = 0
    while start < min(len(a_text), len(b_text)) and a_text[start] == b_text[start]:
        start += 1
    x = cell_len(b_text[:start])
    a_len, b_len = cell_len(a_text), cell_len(b_text)
    if a_len != b_len:  # what follows moved too
        return Region(x, 0, max(a_len, b_len) - x, 1)
    end = 0
    while end < len(b_text) - start and a_text[-1 - end] == b_text[-1 - end]:
        end += 1
    width = b_len - x - cell_len(b_text[len(b_text) - end:])
    return Region(x, 0, width, 1) if width > 0 else None
