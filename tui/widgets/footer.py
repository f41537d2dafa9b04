"""The footer that keeps its ends when the window is narrow.

Textual's Footer lays its keys out in one row and cuts what does not fit. The focused widget's
keys come first (a panel's `esc back`), so at 60 columns a focused panel pushed `q quit` off the
end. This one drops keys from the middle instead — the focused widget's own first, and `? help`
and `q quit` last are kept (help lists every key) — and lays them out again when the width changes.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

KEEP_LAST = 2  # help and quit


def key_width(key: FooterKey) -> int:
    """Columns a key takes in the compact footer: its key, a space, its description."""
    return len(key.key_display) + (1 + len(key.description) if key.description else 0)


def fitting(keys: list[Widget], width: int) -> list[Widget]:
    """``keys`` without as many of the middle ones (the last first) as it takes to fit ``width``;
    a key's gap to the next is one column."""
    keep = list(keys)

    def total() -> int:
        return sum(key_width(k) if isinstance(k, FooterKey) else 0 for k in keep) + max(0, len(keep) - 1)

    while total() > width and len(keep) > 1 + KEEP_LAST:
        del keep[-1 - KEEP_LAST]
    return keep


class KeyFooter(Footer):
    _fitted_to = 0  # the width the keys were last laid out for

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        # the footer spans the screen: its width is known before its first layout gives it a size
        width = self.size.width or (self.screen.size.width if self.is_attached else 0)
        self._fitted_to = width
        if width and all(isinstance(k, FooterKey) for k in keys):
            keys = fitting(keys, width)
        yield from keys

    def on_mount(self) -> None:
        # told the keys once it runs: the screen's first word on its bindings can come while the
        # footer is mounted but not yet running, and Textual drops such a listener
        super().on_mount()
        self._bindings_ready = True
        self.refresh(recompose=True)

    def on_resize(self) -> None:
        if self.size.width != self._fitted_to:
            self.refresh(recompose=True)
