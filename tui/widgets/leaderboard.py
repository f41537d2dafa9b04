"""The race's leaderboard: members sorted by loss, the diverged last with their step."""

from __future__ import annotations

from rich.markup import escape

from fitscope.core.snapshot import Snapshot, ranked
from fitscope.tui.plotting import member_style

RICH_COLOURS = {"red+": "bright_red", "green+": "bright_green", "blue+": "bright_blue",
                "magenta+": "bright_magenta", "yellow+": "bright_yellow", "cyan+": "bright_cyan",
                "orange+": "dark_orange", "orange": "orange3"}


def member_tag(i: int) -> str:
    """The member's line colour and its key (1–9), as markup."""
    colour, _ = member_style(i, True)
    key = str(i + 1) if i < 9 else "·"
    return f"[{RICH_COLOURS.get(colour, colour)}]━{key}[/]"


def leaderboard(snap: Snapshot, hidden: set[int], solo: int | None, selected: int) -> str:
    """member, train loss, test loss (when there is one), the step of its best loss, state."""
    order = ranked(snap.members)
    name_w = max(6, *(len(m.label) for m in snap.members))
    has_test = any(m.test_loss is not None for m in snap.members)
    head = f"    {'member':<{name_w}} {'loss':>8}" + (f" {'test':>8}" if has_test else "") + f" {'best@':>6} state"
    lines = [escape(head)]

    def fmt(v):
        return f"{v:8.5f}" if v is not None else f"{'—':>8}"

    for i in order:
        m = snap.members[i]
        best = str(m.best_step) if m.best_step is not None else "—"
        row = f" {escape(m.label):<{name_w}} {fmt(m.loss)}" + (f" {fmt(m.test_loss)}" if has_test else "")
        row += f" {best:>6} {m.state}"
        dim = i in hidden or (solo is not None and solo != i)
        line = f"{'▸' if i == selected else ' '}{member_tag(i)}{row}"
        lines.append(f"[dim]{line}[/]" if dim else line)
    return "\n".join(lines)
