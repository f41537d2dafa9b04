"""A text field whose own keys act in the order they were typed.

Textual runs an Input's bindings (backspace, ctrl+u, enter, the arrows…) from the app's queue
after the key bubbles up, while printable characters go in at once: in a burst of keys (pasted,
or arriving together over SSH) `ctrl+u` then `my.toml` then enter submitted an empty field
(Textualize/textual#6605). Here a binding of the field runs where the key arrives, in order.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class Field(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                # a binding that does not apply here (e.g. ↓, a scroll) lets the key go on to the panel's
                if not binding.priority and await self.app.run_action(binding.action, self):
                    event.stop()
                    event.prevent_default()
                    return
        await super()._on_key(event)
