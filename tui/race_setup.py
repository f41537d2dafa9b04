"""The race set-up dialog, and the question asked before an unsaved race is left.

The dialog opens with the last race's entries (the one the app left, or the one it runs), says how
many members they make as they are typed, and its examples read as examples (``e.g. …``) with or
without colour.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from fitscope.core.snapshot import Snapshot
from fitscope.core.spec import MAX_MEMBERS, RunSpec
from fitscope.tui.screens import Dialog
from fitscope.tui.widgets.field import Field

VARY_FIELDS = [  # (config key, label, example) — the settings a race can vary, in the dialog's order
    ("model.activation", "activation", "relu,softplus,tanh"),
    ("train.lr", "lr", "0.05,0.1,0.2,0.4"),
    ("train.optimizer", "optimizer", "sgd,adam"),
    ("model.hidden", "hidden", "10,10;32,32;64"),
    ("train.momentum", "momentum", "0,0.9"),
    ("train.weight_decay", "wt decay", "0,0.01"),
    ("model.init_seed", "init seed", "0,1,2"),
]
DEFAULT_VALUES = {"model.activation": "relu,softplus,tanh"}


@dataclass
class Entries:
    """What the dialog's fields hold: a list of values per varied setting, and the seeds."""

    values: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_VALUES))
    seeds: str = "1"

    @classmethod
    def of(cls, spec: RunSpec | None) -> Entries:
        """A race's entries as the dialog shows them (a single run: the defaults)."""
        if spec is None or not spec.racing:
            return cls()
        return cls({key: _text(key, values) for key, values in spec.vary}, str(spec.seeds))


def _text(key: str, values: tuple) -> str:
    if key == "model.hidden":
        return ";".join(",".join(map(str, h)) for h in values)
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def member_count(values: dict[str, str], seeds: str) -> str:
    """``3 × 5 seeds = 15 members``, counted from the fields as typed (checked only on enter)."""
    counts = [len(text.split(";" if key == "model.hidden" else ",")) for key, text in values.items()
              if text.strip()]
    text = seeds.strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        return "seeds: a whole number from 1"
    n = int(text)
    total = n
    for c in counts:
        total *= c
    parts = [str(c) for c in counts] + [f"{n} seed{'s' if n != 1 else ''}"]
    line = f"{' × '.join(parts)} = {total} member{'s' if total != 1 else ''}"
    if total > MAX_MEMBERS:
        line += f" (at most {MAX_MEMBERS})"
    elif total < 2:
        line += " (a race needs 2)"
    return line


def unsaved(snap: Snapshot | None, saved_at: tuple[int, int] | None) -> bool:
    """A race that has trained since it was last saved or opened (or never was): leaving it loses it."""
    return (snap is not None and snap.racing and snap.step > 0
            and saved_at != (snap.run_id, snap.step) and snap.kept_at != snap.step)


class CompareSetup(Dialog):
    """What varies, by keyboard: a list of values for each setting to vary (empty: not varied;
    several: their product), and how many init seeds. tab/↑/↓ move, enter starts, escape cancels."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "cancel"),
        Binding("down", "app.focus_next", "next field", show=False),
        Binding("up", "app.focus_previous", "previous field", show=False),
    ]

    def __init__(self, start, entries: Entries | None = None):
        super().__init__()
        self.start = start  # called with ({key: text}, seeds text); returns an error message or None
        self.entries = entries or Entries()

    def compose(self) -> ComposeResult:
        values = self.entries.values
        with VerticalScroll(id="compare-setup"):
            yield Static(Text("Compare: race variants side by side", style="bold"))
            yield Static("a list of values for each setting to vary; empty: not varied", classes="hint")
            for key, label, example in VARY_FIELDS:
                with Horizontal(classes="row"):
                    yield Label(label, classes="field-label")
                    yield Field(values.get(key, ""), placeholder=f"e.g. {example}", id=f"vary-{_id(key)}", name=key)
            with Horizontal(classes="row"):
                yield Label("seeds", classes="field-label")
                yield Field(self.entries.seeds, placeholder="e.g. 5", id="vary-seeds", name="seeds")
            yield Static(self._count(), id="compare-count")
            yield Static("", id="compare-error", classes="field-error")
            yield Static(f"tab ↑ ↓ move · enter starts the race · escape cancels · 2 to {MAX_MEMBERS} members",
                         classes="hint")

    def _fields(self) -> tuple[dict[str, str], str]:
        if not self.is_mounted:
            return dict(self.entries.values), self.entries.seeds
        values = {key: self.query_one(f"#vary-{_id(key)}", Input).value for key, _, _ in VARY_FIELDS}
        return values, self.query_one("#vary-seeds", Input).value

    def _count(self) -> str:
        return member_count(*self._fields())

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#compare-count", Static).update(Text(self._count()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.is_current:  # an escape closed the dialog before this enter was read
            return
        values, seeds = self._fields()
        values = {k: v for k, v in values.items() if v.strip()}
        error = self.start(values, seeds)
        if error:
            self.query_one("#compare-error", Static).update(error)
        else:
            self.entries.values, self.entries.seeds = values, seeds  # the next race starts from these
            self.dismiss()


def _id(key: str) -> str:
    return key.replace(".", "-")


class Confirm(ModalScreen):
    """One question, one key per answer (escape: neither, nothing happens)."""

    def __init__(self, question: str, answers: dict[str, tuple[str, Callable[[], object]]]):
        super().__init__()
        self.question, self.answers = question, answers
        for key, (what, _) in answers.items():
            self._bindings.bind(key, f"answer('{key}')", what)
        self._bindings.bind("escape", "app.pop_screen", "stay")

    def compose(self) -> ComposeResult:
        lines = [self.question] + [f"  {key}  {what}" for key, (what, _) in self.answers.items()]
        lines.append("  escape  stay")
        with VerticalScroll(id="confirm"):
            yield Static(Text("\n".join(lines)))

    async def action_answer(self, key: str) -> None:
        self.dismiss()
        done = self.answers[key][1]()
        if inspect.isawaitable(done):
            await done
