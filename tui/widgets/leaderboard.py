"""The race's leaderboard: members sorted by loss, the diverged last with their step."""

from __future__ import annotations

from rich.markup import escape

from fitscope.core.snapshot import Snapshot, ranked
from fitscope.tui.formatting import num, r2
from fitscope.tui.inside_view import dead_share
from fitscope.tui.plotting import member_style

# plotext's colour names as Textual markup knows them (a name it does not know is not only
# wrong: each parse of it costs a fuzzy search for a suggestion, ~3 ms)
MARKUP_COLOURS = {"red+": "ansi_bright_red", "green+": "ansi_bright_green", "blue+": "ansi_bright_blue",
                  "magenta+": "ansi_bright_magenta", "yellow+": "ansi_bright_yellow", "cyan+": "ansi_bright_cyan",
                  "orange+": "darkorange", "orange": "orange"}


def member_tag(i: int, color: bool = True) -> str:
    """The member's line colour and its key (1–9), as markup; without colour, the character its
    line is drawn with (a digit, then letters), which for the first nine is its key."""
    colour, marker = member_style(i, color)
    if colour is None:
        return f"[bold]{marker}[/]"
    key = str(i + 1) if i < 9 else "·"
    return f"[{MARKUP_COLOURS.get(colour, colour)}]━{key}[/]"


def leaderboard(snap: Snapshot, hidden: set[int], solo: int | None, selected: int, color: bool = True,
                width: int | None = None) -> str:
    """member, train loss, test loss (when there is one), the step of its best loss, dead units and
    R² (when measured), state; in a narrow panel the optional columns go, R² and dead first, so a
    row never wraps and its state stays in line."""
    order = ranked(snap.members)
    name_w = max(6, *(len(m.label) for m in snap.members))
    has_test = any(m.test_loss is not None for m in snap.members)
    has_inside = any(m.stats for m in snap.members)
    state_w = max(2, *(len(f"✗ step {m.diverged_at}") for m in snap.members if m.diverged_at is not None)) \
        if any(m.diverged_at is not None for m in snap.members) else 2
    inside, best = has_inside, True
    if width is not None:
        def row_width() -> int:
            return 3 + name_w + 11 + 10 * has_test + 7 * best + 13 * inside + 1 + state_w

        if row_width() > width:
            inside = False
        if row_width() > width:
            best = False
    head = f"    {'member':<{name_w}} {'loss':>9}" + (f" {'test':>9}" if has_test else "")
    head += f" {'best@':>6}" if best else ""
    head += f" {'dead':>5} {'R²':>6}" if inside else ""
    head += " state"
    lines = [escape(head)]

    def fmt(v):
        return f"{num(v):>9}"

    for i in order:
        m = snap.members[i]
        row = f" {escape(m.label):<{name_w}} {fmt(m.loss)}" + (f" {fmt(m.test_loss)}" if has_test else "")
        if best:
            row += f" {str(m.best_step) if m.best_step is not None else '—':>6}"
        if inside:
            dead = dead_share(m.stats)
            fit = r2(m.stats.r2_train if m.stats else None)
            row += f" {'—' if dead is None else f'{100 * dead:.0f}%':>5} {fit:>6}"
        row += " " + ("ok" if m.diverged_at is None else f"✗ step {m.diverged_at}")
        dim = i in hidden or (solo is not None and solo != i)
        line = f"{'▸' if i == selected else ' '}{member_tag(i, color)}{row}"
        lines.append(f"[dim]{line}[/]" if dim else line)
    return "\n".join(lines)


def unit_tag(k: int, color: bool = True) -> str:
    """The colour of the k-th unit's curve in the units view (the fit keeps the first colour);
    without colour, the character it is drawn with."""
    colour, marker = member_style(k + 1, color)
    return f"[bold]{marker}[/]" if colour is None else f"[{MARKUP_COLOURS.get(colour, colour)}]━[/]"
