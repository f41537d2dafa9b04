"""Fields whose keys act in the order they were typed, in the field they were meant for.

In a burst of keys (pasted, or arriving together over SSH) Textual hands every key to the widget
focused when the key is read, and runs the bindings of a key that bubbles up (↓, tab, enter,
ctrl+u…) later, from the app's queue; printable characters go in at once. So `ctrl+u my.toml
enter` submitted an empty field (Textualize/textual#6605), and `↓ ↓ 7` typed the 7 into the field
the ↓s were leaving (it replaced the target: a run on the constant 7). Here a key's binding — the
field's own, or its panel's, dialog's or screen's — runs where the key arrives, in order, and a
key that arrives after the focus has moved on is handed to the widget focused now.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import Input


async def in_order(widget: Widget, event: events.Key) -> bool:
    """Handle ``event`` where it is meant to land; True when done (the widget's own handling skipped)."""
    focused = widget.screen.focused if widget.is_attached else None
    if focused is not None and focused is not widget:
        # queued here before a key ahead of it moved the focus on: it belongs to the field focused now
        event.stop()
        event.prevent_default()
        focused.post_message(events.Key(event.key, event.character))
        return True
    if event.is_printable and isinstance(widget, Input):
        return False  # typed into the field
    for node in widget.ancestors_with_self:
        if node is widget.app:
            break  # the app's own keys (q, space…) it reads from its queue as ever
        for binding in node._bindings.key_to_bindings.get(event.key, ()):
            # a binding that does not apply here (e.g. a scroll) lets the key go on
            if not binding.priority and await widget.app.run_action(binding.action, node):
                event.stop()
                event.prevent_default()
                return True
    return False


class Field(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not await in_order(self, event):
            await super()._on_key(event)
