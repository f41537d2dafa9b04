"""The settings panel: every config field, grouped Data / Model / Training."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from fitscope.core import config as config_mod
from fitscope.core.config import FitConfig, data_label
from fitscope.core.snapshot import DataView
from fitscope.tui.formatting import short
from fitscope.tui.messages import SettingSubmitted
from fitscope.tui.widgets.field import Field, in_order

# keys the engine takes live; every other change resets the run
LIVE_KEYS = {"train.lr", "train.steps", "train.device"}

GROUPS = {
    "Data": ["data.target", "data.points", "data.x_min", "data.x_max", "data.sampling", "data.noise",
             "data.noise_level", "data.split", "data.test_fraction", "data.file", "data.x_column", "data.y_column",
             "data.seed"],
    "Model": ["model.hidden", "model.activation", "model.init_seed"],
    "Training": ["train.optimizer", "train.lr", "train.momentum", "train.weight_decay", "train.batch_size",
                 "train.steps", "train.loss", "train.device"],
}
CHOICES = {
    "data.sampling": config_mod.SAMPLINGS, "data.noise": config_mod.NOISE_KINDS, "data.split": config_mod.SPLITS,
    "model.activation": config_mod.ACTIVATIONS, "train.optimizer": config_mod.OPTIMIZERS, "train.loss": config_mod.LOSSES,
}


LABELS = {"model.init_seed": "w seed", "data.noise_level": "level", "data.test_fraction": "test frac",
          "train.weight_decay": "wt decay",
          "train.batch_size": "batch", "train.optimizer": "optim", "model.activation": "act",
          "data.sampling": "sampling", "train.momentum": "momentum", "data.x_column": "x column",
          "data.y_column": "y column"}
# what a generated target has and your own data has not, and the other way round
GENERATED_ONLY = {"data.target", "data.points", "data.x_min", "data.x_max", "data.sampling", "data.noise",
                  "data.noise_level"}
FILE_ONLY = {"data.x_column", "data.y_column"}


def applies(key: str, cfg: FitConfig) -> bool:
    return key not in (FILE_ONLY if not cfg.data.file else GENERATED_ONLY)


def facts(view: DataView | None, cfg: FitConfig) -> str:
    """Your own data in a line or two: the file, its rows, its x range and the columns fitted."""
    if not cfg.data.file:
        return ""
    name = data_label(cfg.data)
    if view is None:
        return f"{name} (reading…)"
    rows = len(view.x_train) + len(view.x_test)
    lo, hi = view.x_range
    cols = f"\ncolumns {view.x_name}, {view.y_name}" if view.x_name and view.y_name else ""
    return f"{name}\n{rows:,} rows · x {short(lo)} … {short(hi)}{cols}"


def show(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ChoiceField(Static, can_focus=True):
    """A select that never opens an overlay: ←/→ (or enter) cycle the options."""

    BINDINGS = [
        Binding("right,enter", "cycle(1)", "next", show=False),
        Binding("left", "cycle(-1)", "previous", show=False),
    ]

    def __init__(self, key: str, options: tuple[str, ...], value: str, **kw):
        super().__init__(**kw)
        self.key, self.options, self.value = key, options, value

    async def _on_key(self, event: events.Key) -> None:
        await in_order(self, event)  # ←/→ or a move here, or handed on to where the focus went

    def render(self) -> str:
        return f"‹ {self.value} ›"

    def set_value(self, value: str) -> None:
        self.value = value
        self.refresh()

    def action_cycle(self, delta: int) -> None:
        i = (self.options.index(self.value) + delta) % len(self.options)
        self.post_message(SettingSubmitted(self.key, self.options[i]))


class SettingsPanel(VerticalScroll):
    BINDINGS = [
        Binding("down", "app.focus_next", "next field", show=False),
        Binding("up", "app.focus_previous", "previous field", show=False),
        # shown: in a field the footer hides every key that would type (Textual's rule), so this is
        # what says how to leave it
        Binding("escape", "leave", "back"),
    ]

    def __init__(self, cfg: FitConfig, lazy: bool = True, **kw):
        super().__init__(**kw)
        self.cfg = cfg
        self.lazy = lazy
        self.populated = False
        self._submitted: dict[str, str] = {}  # per field, the text last sent
        # fields whose text escape took back: a refusal of it still on its way is not shown under
        # them (a burst `enter escape` handles the escape before the app hears of the enter)
        self._withdrawn: set[str] = set()
        self._caused: dict[str, set[str]] = {}  # per edited field, the other fields its refusal is shown under
        self._view: DataView | None = None  # the data shown in the facts line

    def compose(self):
        if not self.lazy:
            self.populated = True
            yield from self._rows()

    # `-focused` stands for `:focus-within`, which would restyle all ~90 rows at every move between
    # fields (~50 ms each here); a class changes only when focus comes in or goes out
    def on_focus(self) -> None:
        self.set_class(True, "-focused")

    def on_descendant_focus(self) -> None:
        self.set_class(True, "-focused")

    def on_blur(self) -> None:
        self.call_after_refresh(self._focus_left)

    def on_descendant_blur(self) -> None:
        self.call_after_refresh(self._focus_left)

    def _focus_left(self) -> None:
        node: DOMNode | None = self.screen.focused if self.is_attached else None
        while node is not None and node is not self:
            node = node.parent
        self.set_class(node is self, "-focused")

    def on_mount(self) -> None:
        if self.lazy:  # ~90 widgets: mounted after the app's first frame, which they would delay by ~0.35 s
            self.call_after_refresh(self._populate)

    def _populate(self) -> None:
        self.mount_all(self._rows())
        self.populated = True

    def _rows(self) -> list[Widget]:
        rows: list[Widget] = []
        for group, keys in GROUPS.items():
            rows.append(Label(group, classes="group"))
            if group == "Data":
                rows.append(Static(facts(self._view, self.cfg), id="data-facts", classes="facts"))
                rows[-1].display = bool(self.cfg.data.file)
            for key in keys:
                name = LABELS.get(key, key.split(".")[1])
                mark = "" if key in LIVE_KEYS else " ↻"
                value = self.cfg.get(key)
                field: Widget = (ChoiceField(key, CHOICES[key], value, id=f"field-{_id(key)}", classes="field")
                                 if key in CHOICES else
                                 Field(show(value), id=f"field-{_id(key)}", classes="field", name=key))
                rows.append(Horizontal(Label(f"{name}{mark}", classes="field-label", id=f"label-{_id(key)}"), field,
                                       classes="row", id=f"row-{_id(key)}"))
                rows.append(Static("", id=f"error-{_id(key)}", classes="field-error"))
                rows[-2].display = applies(key, self.cfg)
        rows.append(Static("↻ applies with a reset", classes="hint"))
        return rows

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        key = event.input.name or ""  # every field's Input is named after its config key
        if event.input.value != event.value:  # escape (or more typing) came first: not what it holds now
            return
        self._withdrawn.discard(key)
        self._submitted[key] = event.value
        self.post_message(SettingSubmitted(key, event.value))

    def on_input_blurred(self, event: Input.Blurred) -> None:
        """Leaving an edited field applies it too, so an edit is never silently lost (a text
        already submitted and refused is not sent again: its reason is under the field)."""
        key = event.input.name or ""
        if event.value != show(self.cfg.get(key)) and event.value != self._submitted.get(key):
            self._withdrawn.discard(key)
            self._submitted[key] = event.value
            self.post_message(SettingSubmitted(key, event.value))

    async def action_leave(self) -> None:
        """Escape backs out one level: a field (its old value back) -> the panel -> the fit chart."""
        focused = self.app.focused
        if isinstance(focused, (Input, ChoiceField)):
            key = focused.name if isinstance(focused, Input) else focused.key
            if isinstance(focused, Input) and key:
                focused.value = show(self.cfg.get(key))  # restored before the blur, so nothing is applied
                self._submitted.pop(key, None)  # the same text typed again is sent again
                self._withdrawn.add(key)
            if key:
                self.clear_error(key)
            self.screen.set_focus(self)  # at once, before the keys queued behind this one
            return
        main = self.app.screen_stack[0]
        if main.has_class("settings-open"):  # the overlay of a narrow window closes with it
            main.remove_class("settings-open")
        await self.app.run_action("focus_panel('fit')")

    def field(self, key: str) -> Widget:
        return self.query_one(f"#field-{_id(key)}")

    def show_config(self, cfg: FitConfig, revert: str | None = None) -> None:
        """Show ``cfg``; a field being edited keeps its text, unless it is ``revert``."""
        if self._view is not None and cfg.data != self.cfg.data:
            self._view = None  # the facts of other data: until the next snapshot says
        self.cfg = cfg
        if not self.populated:  # the rows, when they come, are made from self.cfg
            return
        self._show_applicable(cfg)
        for keys in GROUPS.values():
            for key in keys:
                widget = self.field(key)
                if isinstance(widget, ChoiceField):
                    widget.set_value(cfg.get(key))
                elif isinstance(widget, Input) and (not widget.has_focus or key == revert):
                    widget.value = show(cfg.get(key))

    def show_data(self, view: DataView | None) -> None:
        """The data the run trains on, for the facts line of your own data (the app calls this
        when a snapshot brings new data)."""
        self._view = view
        if self.populated:
            self._update_facts(self.cfg)

    def _show_applicable(self, cfg: FitConfig) -> None:
        """Only the fields that apply: a file has no target, points or x range of its own to set
        (each changed only when it changes: a restyle of the rows would restart the cursor's blink)."""
        shown = {"#data-facts": bool(cfg.data.file)}
        shown.update({f"#row-{_id(key)}": applies(key, cfg) for key in GENERATED_ONLY | FILE_ONLY})
        for selector, on in shown.items():
            widget = self.query_one(selector)
            if widget.display != on:
                widget.display = on
        for key in GENERATED_ONLY | FILE_ONLY:
            if not applies(key, cfg) and self.query_one(f"#error-{_id(key)}").has_class("shown"):
                self.clear_error(key)
        self._update_facts(cfg)

    def _update_facts(self, cfg: FitConfig) -> None:
        text, line = facts(self._view, cfg), self.query_one("#data-facts", Static)
        if str(line.render()) != text:
            line.update(text)

    def show_error(self, key: str, message: str, cause: str | None = None) -> None:
        """The reason under ``key``; ``cause``: the field whose edit it refuses (x_max's bound, when
        x_min was typed), so that escaping or fixing that field takes the reason away too."""
        if not self.populated or key in self._withdrawn:
            return
        if cause is not None and cause != key:
            self._caused.setdefault(cause, set()).add(key)
        error = self.query_one(f"#error-{_id(key)}", Static)
        error.update(message)
        error.add_class("shown")
        self.field(key).add_class("invalid")

    def clear_error(self, key: str) -> None:
        if not self.populated:
            return
        for k in {key, *self._caused.pop(key, ())}:
            error = self.query_one(f"#error-{_id(k)}", Static)
            error.update("")
            error.remove_class("shown")
            self.field(k).remove_class("invalid")

def _id(key: str) -> str:
    return key.replace(".", "-")
