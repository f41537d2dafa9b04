"""Every key of the app, once: the bindings, the footer, the command palette and the help screen
are made from this table (and a test holds the README's key list to it).

A row's ``where`` says whose action it is: ``app`` (the engine's lifecycle), ``main`` (the main
screen) or the id of the widget on the main screen that owns the action (``fit``, ``loss``,
``timeline``; ``board``, the leaderboard, binds its own keys: they act while it has the focus).
The main screen binds its own keys and its widgets' keys, so a key acts wherever
the focus is on it, as it always has; the action itself is the widget's. Rows without an action
are keys a widget handles itself (a field's arrows, Textual's ctrl+p and ctrl+q), told in the help.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.widgets import Input


@dataclass(frozen=True)
class Key:
    key: str  # Textual's key names, comma-separated aliases ("plus,equals_sign")
    action: str  # run by its owner ("" for a key handled elsewhere)
    title: str  # the command palette's entry
    where: str  # "app", "main", or the id of the widget that owns the action
    footer: tuple[int, str] | None = None  # (place, word) in the footer
    priority: bool = False  # acts before the focused widget sees the key (see below)
    help: tuple[str, str] | None = None  # the help's line: (keys as shown, what they do); None: the line above tells


# keys that open a dialog are priority keys, so the keys typed right after them wait in order and
# land in the dialog, not in the screen below while the dialog mounts
KEYS = [
    Key("space", "toggle_run", "Run / pause", "main", (1, "run"), help=("space", "run / pause")),
    Key("n", "step", "One step", "main", help=("n", "one step")),
    Key("left_square_bracket", "pace(-1)", "Slower pace", "main",
        help=("[ / ]", "slower / faster pace (watch … flat out)")),
    Key("right_square_bracket", "pace(1)", "Faster pace", "main"),
    Key("r", "reset", "Reset weights", "main", (2, "reset"), help=("r", "reset weights (same seed)")),
    Key("d", "new_data", "New data (next seed)", "main", help=("d", "new data: next seed (reset)")),
    Key("a", "activation(1)", "Next activation", "main",
        help=("a / A", "next / previous activation (reset)")),
    Key("A", "activation(-1)", "Previous activation", "main"),
    Key("plus,equals_sign", "lr(2.0)", "Double learning rate", "main",
        help=("+ / -", "double / halve the learning rate, live")),
    Key("minus,underscore", "lr(0.5)", "Halve learning rate", "main"),
    Key("t", "truth", "Show/hide true function", "fit", help=("t", "show / hide the true function")),
    Key("l", "log_axis", "Log/linear loss axis", "loss", help=("l", "log / linear loss axis")),
    Key("e", "save_run", "Save run", "main", help=(
        "e", "save the run (config, metrics, checkpoint, chart, summary) to runs/; again: the same folder")),
    Key("ctrl+o", "open_run", "Open a saved run (to continue it)", "main", priority=True,
        help=("ctrl+o", "open a saved run to continue it (tab completes folder names)")),
    Key("ctrl+w", "write_settings", "Write the settings to a TOML file", "main", priority=True,
        help=("ctrl+w", "write the current settings to a TOML file (fitscope --config FILE reads it)")),
    Key("b", "reference", "Compare with a saved run (reference, drawn dashed)", "main", priority=True,
        help=("b", "compare with a saved run: its fit and loss dashed beside the live ones (empty: none)")),
    Key("ctrl+s", "screenshot_svg", "Save SVG screenshot", "app", help=("ctrl+s", "save an SVG screenshot")),
    Key("tab", "panel(1)", "Next panel", "app", priority=True, help=("tab / shift+tab", "move between panels")),
    Key("shift+tab", "panel(-1)", "Previous panel", "app", priority=True),
    Key("s", "settings_overlay", "Settings (in a narrow window: open over the charts)", "main", (4, "settings"),
        help=("s", "the settings; in a narrow window they open over the charts (again: close)")),
    Key("up", "", "", "settings", help=("↑ / ↓", "move between settings fields")),
    Key("down", "", "", "settings"),
    Key("left", "", "", "settings", help=("← / →", "change a choice field")),
    Key("right", "", "", "settings"),
    Key("enter", "", "", "settings", help=("enter", "apply an edited field (↻ = applies with a reset)")),
    Key("escape", "", "", "settings", help=(
        "escape", "back one level: a field (its old value back) → the panel → the chart; closes a dialog")),
    Key("v", "view", "Next view of the fit panel: fit, units, kinks", "fit", (5, "view"), help=(
        "v", "the fit panel's view: fit → units (what each unit of the last hidden layer adds; their sum plus "
             "the bias is the fit) → kinks (where a ReLU fit's slope changes, and its count of linear pieces; "
             "smooth activations have none, and the view says so)")),
    Key("o", "ghosts", "Earlier fits on/off (the timeline's last three)", "fit",
        help=("o", "earlier fits: the last three timeline frames, faint")),
    Key("comma", "frame(-1)", "Timeline: back a frame (paused)", "timeline", help=(
        ", / .", "paused: back / forward through the fit's history (the timeline); home / end: first / last")),
    Key("full_stop", "frame(1)", "Timeline: forward a frame (paused)", "timeline"),
    # home and end are priority keys: in a field they move its cursor and in help they scroll it
    # (the action declines there), in order with the keys around them
    Key("home", "frame_edge(0)", "Timeline: first frame", "timeline", priority=True),
    Key("end", "frame_edge(1)", "Timeline: last frame", "timeline", priority=True),
    Key("p", "replay", "Replay the fit's history", "timeline", help=("p", "replay the fit's whole history in ~3 s")),
    Key("i", "inside_numbers", "The network's numbers into the log", "main", help=(
        "i", "the network's numbers into the log: per layer dead units, weight and gradient norms, update/weight; R²")),
    Key("g", "device", "Move the run between the CPU and the GPU", "main",
        help=("g", "move the run between the CPU and the GPU, live (its step and losses stay)")),
    Key("c", "compare", "Compare mode: race variants / back to single", "main", (3, "compare"), priority=True,
        help=("c", "compare mode: race variants (again: back to single)")),
    *[Key(str(i), f"member({i})", f"Solo member {i} (again: show all)", "main",
          help=("1 … 9", "in a race: solo that member (again: show all)") if i == 1 else None) for i in range(1, 10)],
    Key("h", "hide_member", "Hide/show the selected member", "main",
        help=("h", "in a race: hide / show the selected member")),
    Key("m", "toggle_view", "Leaderboard: variants / members", "board", (0, "variants/members"), help=(
        "m", "the leaderboard (tab to it): a row per variant or per member; ↑ ↓ pick, enter solos, home / end")),
    Key("home", "scroll_top", "Leaderboard: first row", "board"),
    Key("end", "scroll_bottom", "Leaderboard: last row", "board"),
    Key("ctrl+p", "", "", "textual", help=("ctrl+p", "command palette: every action")),
    Key("question_mark", "help", "Help: all keys", "app", (6, "help"), priority=True, help=("?", "this help")),
    Key("R", "restart_engine", "Restart the engine after it stopped", "app",
        help=("R", "restart the engine after it stopped (with the current settings)")),
    Key("q", "quit", "Quit", "app", (7, "quit"), help=("q", "quit (stops training); in a field, escape first")),
    Key("ctrl+q", "", "", "textual", help=("ctrl+q", "quit from anywhere")),
]

WIDGETS = ("fit", "loss", "timeline")  # the main screen's widgets that own keys


def action_of(row: Key) -> str:
    """The action string as its binder runs it: a widget's action goes to the widget by its id."""
    return f"part({row.where!r}, {row.action!r})" if row.where in WIDGETS else row.action


def bindings(*where: str) -> list[BindingType]:
    """The bindings of the rows owned by ``where``, those shown in the footer first, in its order."""
    rows = [row for row in KEYS if row.action and row.where in where]
    rows.sort(key=lambda row: row.footer[0] if row.footer else len(KEYS))
    return [Binding(row.key, action_of(row), row.footer[1] if row.footer else row.title, show=row.footer is not None,
                    priority=row.priority) for row in rows]


def help_rows() -> list[tuple[str, str]]:
    return [row.help for row in KEYS if row.help is not None]


def commands() -> list[Key]:
    """The rows the command palette offers (Textual's palette has its own Quit and Screenshot)."""
    return [row for row in KEYS if row.action and row.action not in ("quit", "screenshot_svg")]


SHOWN = {"left_square_bracket": "[", "right_square_bracket": "]", "plus": "+", "minus": "-", "comma": ",",
         "full_stop": ".", "question_mark": "?", "up": "↑", "down": "↓", "left": "←", "right": "→"}


def shown(key: str) -> str:
    """A key as the README writes it (its first name, not the aliases)."""
    first = key.split(",")[0]
    return SHOWN.get(first, first)


async def key_now(app: App, event: events.Key) -> bool:
    """Run a key's binding as the app reads the key. Textual runs a non-priority binding only
    after the key has gone to the focused widget and bubbled back, behind the keys already
    queued: in a burst (`s ↓ ↓ 7` over SSH) the moves acted after the 7 had been typed into the
    field they were leaving. A character for a field goes in here too, so that it keeps its
    place among the keys around it. True when the key has acted."""
    focused = app.focused
    if isinstance(focused, Input) and event.is_printable and event.character is not None:
        if await app._check_bindings(event.key, priority=True):
            return True
        selection = focused.selection  # what Input's own key handler does, at the key's turn
        if selection.is_empty:
            focused.insert_text_at_cursor(event.character)
        else:
            focused.replace(event.character, *selection)
        return True
    return await app._check_bindings(event.key, priority=True) or await app._check_bindings(event.key)
