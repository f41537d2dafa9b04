"""The race's leaderboard: a focusable table of members (or of variants, over their seeds) that
scrolls, whose cursor picks the member the inside views, solo and hide act on.

Members sort by loss with every failed member after every healthy one; the state column says each
member's health word (core/engine/health.py). With seeds > 1 it opens on one row per variant (median, min
and max final loss over its seeds), and the charts then draw each variant's median member.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from rich.text import Text
from textual.coordinate import Coordinate
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from fitscope.core.engine.health import BLOWUP_FACTOR
from fitscope.core.snapshot import MemberSnap, Snapshot, ranked
from fitscope.tui import keys as key_table
from fitscope.tui.formatting import num, r2
from fitscope.tui.inside_view import dead_share
from fitscope.tui.plotting import member_style
from fitscope.tui.variants import VariantRow, variant_rows

# plotext's colour names as Textual markup knows them (a name it does not know is not only
# wrong: each parse of it costs a fuzzy search for a suggestion, ~3 ms)
MARKUP_COLOURS = {"red+": "ansi_bright_red", "green+": "ansi_bright_green", "blue+": "ansi_bright_blue",
                  "magenta+": "ansi_bright_magenta", "yellow+": "ansi_bright_yellow", "cyan+": "ansi_bright_cyan",
                  "orange+": "darkorange", "orange": "orange"}
# ...and as Rich knows them (the table's cells are Rich text)
RICH_COLOURS = {"red+": "bright_red", "green+": "bright_green", "blue+": "bright_blue",
                "magenta+": "bright_magenta", "yellow+": "bright_yellow", "cyan+": "bright_cyan",
                "orange+": "dark_orange", "orange": "orange1"}


def member_tag(i: int, color: bool = True) -> str:
    """The member's line colour and its number (1–9 are also its key), as markup; without colour,
    the character its line is drawn with (a digit, then letters), which for the first nine is its key."""
    colour, marker = member_style(i, color)
    if colour is None:
        return f"[bold]{marker}[/]"
    return f"[{MARKUP_COLOURS.get(colour, colour)}]━{i + 1}[/]"


def _tag(i: int, color: bool) -> Text:
    colour, marker = member_style(i, color)
    if colour is None:
        return Text(marker, style="bold")
    return Text(f"━{i + 1}", style=RICH_COLOURS.get(colour, colour))


def unit_tag(k: int, color: bool = True) -> str:
    """The colour of the k-th unit's curve in the units view (the fit keeps the first colour);
    without colour, the character it is drawn with."""
    colour, marker = member_style(k + 1, color)
    return f"[bold]{marker}[/]" if colour is None else f"[{MARKUP_COLOURS.get(colour, colour)}]━[/]"


def lead_text(snap: Snapshot) -> str:
    """The header's loss: a race's says whose it is (``best tanh s3 0.0218``)."""
    lead = snap.lead
    return f"best {lead.label} {num(lead.loss, 4)}" if snap.racing else f"loss {num(lead.loss, 4)}"


def visible_members(snap: Snapshot, solo: int | None, hidden: set[int], by_variant: bool) -> list[int]:
    """The members the charts draw: the solo one; else every member (the variant view: each
    variant's median member) not hidden."""
    if solo is not None and solo < len(snap.members):
        return [solo]
    base = sorted(r.median_member for r in variant_rows(snap)) if by_variant and snap.racing \
        else range(len(snap.members))
    return [i for i in base if i not in hidden]


HEALTH_WHY = {"blew up": f"its loss ended over {BLOWUP_FACTOR:g}× its step-1 loss",
              "collapsed": "its fit is a constant over x"}


def health_line(label: str, m: MemberSnap) -> str:
    """A log line for a member whose health word changed."""
    word = m.health
    why = "its loss became NaN or inf" if word.startswith("diverged") else HEALTH_WHY.get(word, "")
    return f"{label}: {word}" + (f" ({why})" if why else "")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: int  # in cells, the leading space included
    right: bool = True


class Leaderboard(DataTable):
    """One row per member (or per variant); ↑/↓, PgUp/PgDn, home/end move the cursor, whose member
    becomes the selected one; enter solos it (again: all); m toggles variants ↔ members."""

    DEFAULT_CSS = """
    Leaderboard { overflow-x: hidden; scrollbar-size-vertical: 1; }
    Leaderboard:nocolor > .datatable--cursor { text-style: reverse; }
    """
    BINDINGS = key_table.bindings("board")

    by_variant: reactive[bool] = reactive(False, init=False)

    @dataclass
    class Picked(Message):
        """The cursor moved onto a member: the inside views and h now act on it."""

        member: int

    @dataclass
    class Chosen(Message):
        """Enter on a row: solo its member (again: all)."""

        member: int

    @dataclass
    class Toggled(Message):
        """The board switched between variants and members: the charts draw another set."""

        by_variant: bool

    def __init__(self, **kw) -> None:
        super().__init__(cursor_type="row", cell_padding=0, zebra_stripes=False, **kw)
        self.selected = 0
        self._picked: int | None = None  # picked here, not yet seen back from the app
        self.row_members: list[int] = []  # each row's member (the variant view: its median member)
        self._columns: tuple[Column, ...] = ()
        self._cells: list[tuple[Text, ...]] = []
        self._plain: list[str] = []
        self._race: tuple | None = None
        self._last: tuple | None = None
        self._health: tuple[int, dict[int, str]] = (-1, {})
        self._quiet = False  # the cursor moved by the table itself, not by the user

    # ---- what the app asks -------------------------------------------------------------------
    def show(self, snap: Snapshot, hidden: set[int], solo: int | None, selected: int, color: bool = True) -> None:
        race = (snap.spec.vary, snap.spec.seeds)
        if race != self._race:  # a new race: with seeds, its variants first
            self._race = race
            self.set_reactive(Leaderboard.by_variant, snap.spec.seeds > 1 and snap.spec.count() > snap.spec.seeds)
        self._last = (snap, hidden, solo, color)
        if self._picked is not None:
            if selected == self._picked:
                self._picked = None  # the app has it
            else:
                selected = self._picked  # the app has not read the pick yet: the cursor stays where it went
        self.selected = selected
        columns, cells, members = self._table(snap, hidden, solo, color, self._width())
        self._quiet = True
        try:
            self._fill(columns, cells)
            self.row_members = members
            self._follow()
        finally:
            self._quiet = False
        self._titles(snap)

    def curve_label(self, snap: Snapshot, i: int) -> str:
        """A curve's name in the fit's legend: its variant in the variant view."""
        m = snap.members[i]
        return (m.variant or m.label) if self.by_variant else m.label

    def lines(self) -> list[str]:
        """The table as plain text, its header first (what a test reads)."""
        return list(self._plain)

    def health_changes(self, snap: Snapshot) -> list[str]:
        """Log lines for the members whose health word changed since the last snapshot, once each."""
        run, seen = self._health
        if snap.run_id != run:
            run, seen = snap.run_id, {}
        out = []
        for i, m in enumerate(snap.members):
            if m.health != seen.get(i, "ok"):
                seen[i] = m.health
                out.append(health_line(m.label if snap.racing else "the run", m))
        self._health = (run, seen)
        return out

    # ---- the table -----------------------------------------------------------------------------
    def _width(self) -> int | None:
        width = self.content_region.width
        return width - 1 if width else None  # the scroll bar's column stays free

    def _table(self, snap: Snapshot, hidden: set[int], solo: int | None, color: bool,
               width: int | None) -> tuple[tuple[Column, ...], list[tuple[Text, ...]], list[int]]:
        tag_w = 1 + max(len(_tag(i, color)) for i in range(len(snap.members)))
        if self.by_variant:
            rows = variant_rows(snap)
            columns = _fit(_variant_columns(rows, tag_w), width, (("low", "high"), ("seeds",), ("test",)))
            members = [r.median_member for r in rows]
            cells = [_variant_cells(r, columns, self._dim(r.median_member, hidden, solo), r.median_member
                                    == self.selected, color) for r in rows]
        else:
            members = ranked(snap.members)
            columns = _fit(_member_columns(snap, tag_w), width, (("dead", "r2"), ("best",), ("test",)))
            cells = [_member_cells(i, snap.members[i], columns, self._dim(i, hidden, solo), i == self.selected,
                                   color) for i in members]
        return columns, cells, members

    @staticmethod
    def _dim(i: int, hidden: set[int], solo: int | None) -> bool:
        return i in hidden or (solo is not None and solo != i)

    def _fill(self, columns: tuple[Column, ...], cells: list[tuple[Text, ...]]) -> None:
        """Rebuilt when its shape changes; otherwise only the cells that changed (the cursor and
        the scroll stay)."""
        if columns != self._columns or len(cells) != len(self._cells):
            self.clear(columns=True)
            for c in columns:
                self.add_column(Text(c.header, justify="right" if c.right else "left"), width=c.width, key=c.key)
            for r, row in enumerate(cells):
                self.add_row(*row, key=str(r))
        else:
            for r, (old, new) in enumerate(zip(self._cells, cells)):
                for k, (a, b) in enumerate(zip(old, new)):
                    if a.plain != b.plain or a.spans != b.spans or a.style != b.style:
                        self.update_cell(str(r), columns[k].key, b)
        self._columns, self._cells = columns, cells
        self._plain = [_plain_row([Text(c.header, justify="right" if c.right else "left") for c in columns],
                                  columns)] + [_plain_row(list(row), columns) for row in cells]

    def _follow(self) -> None:
        """The cursor on the selected member's row (its place changes as the ranks do)."""
        if self.selected in self.row_members:
            row = self.row_members.index(self.selected)
        elif self.by_variant:  # a member that is not its variant's median: its variant's row
            row = next((r for r, i in enumerate(self.row_members) if i == self.selected), self.cursor_row)
        else:
            row = self.cursor_row
        if row != self.cursor_row:
            self.move_cursor(row=row)

    def _titles(self, snap: Snapshot) -> None:
        spec = snap.spec
        what = f"{spec.count() // spec.seeds} variants × {spec.seeds} seeds" if self.by_variant \
            else f"{len(snap.members)} members"
        toggle = "members" if self.by_variant else "variants"
        self.border_title = f"Leaderboard · {what} (m: {toggle})"
        words = {m.health.split(" @")[0] for m in snap.members}
        self.border_subtitle = escape(legend(self.by_variant, (self.content_region.width or 80) - 2, words))

    # ---- keys --------------------------------------------------------------------------------
    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if not self._quiet and 0 <= new.row < len(self.row_members) and self.row_members[new.row] != self.selected:
            self.selected = self._picked = self.row_members[new.row]
            self.post_message(self.Picked(self.selected))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.row_members):
            self.post_message(self.Chosen(self.row_members[event.cursor_row]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # said as Picked, by member

    def on_resize(self) -> None:
        self._again()  # the columns that fit, at the new width (a finished race sends no more snapshots)

    def _again(self) -> None:
        if self._last is not None:
            snap, hidden, solo, color = self._last
            self.show(snap, hidden, solo, self.selected, color)

    def action_toggle_view(self) -> None:
        self.by_variant = not self.by_variant

    def watch_by_variant(self, by_variant: bool) -> None:
        self._again()
        self.post_message(self.Toggled(by_variant))


def legend(by_variant: bool, width: int, words: frozenset[str] | set[str] = frozenset()) -> str:
    """One line: the columns, and the failure words on the board, as many as fit in ``width``."""
    parts = [WORD_WHY[w] for w in ("diverged", "blew up", "collapsed") if w in words]
    parts += ["median/min/max over seeds", "n seeds"] if by_variant else ["best@ step of best loss",
                                                                           "dead % units dead"]
    out = ""
    for part in parts:
        if len(out) + len(part) + 3 <= width:
            out += (" · " if out else "") + part
    return out


WORD_WHY = {"diverged": "diverged @N: NaN at step N", "blew up": f"blew up: >{BLOWUP_FACTOR:g}× step-1 loss",
            "collapsed": "collapsed: flat fit"}


def _fit(columns: list[Column], width: int | None, optional: tuple[tuple[str, ...], ...]) -> tuple[Column, ...]:
    """The columns without the optional ones, in that order, until the row fits in ``width``;
    then the name column narrower (cut with …), so a row never wraps or runs out of its panel."""
    keep = list(columns)
    for keys in optional:
        if width is None or sum(c.width for c in keep) <= width:
            break
        keep = [c for c in keep if c.key not in keys]
    over = sum(c.width for c in keep) - width if width else 0
    if over > 0:
        keep = [Column(c.key, c.header, max(6, c.width - over), False) if c.key == "name" else c for c in keep]
    return tuple(keep)


def _member_columns(snap: Snapshot, tag_w: int) -> list[Column]:
    ms = snap.members
    columns = [Column("tag", "", tag_w, False), Column("name", " member", 1 + max(6, *(len(m.label) for m in ms)), False),
               Column("loss", "loss", 10)]
    if any(m.test_loss is not None for m in ms):
        columns.append(Column("test", "test", 10))
    columns.append(Column("best", "best@", 7))
    if any(m.stats for m in ms):
        columns += [Column("dead", "dead", 6), Column("r2", "R²", 7)]
    columns.append(Column("state", " state", 1 + max(5, *(len(m.health) for m in ms)), False))
    return columns


def _variant_columns(rows: list[VariantRow], tag_w: int) -> list[Column]:
    columns = [Column("tag", "", tag_w, False), Column("name", " variant", 1 + max(7, *(len(r.variant) for r in rows)),
                                                      False),
               Column("median", "median", 10), Column("low", "min", 10), Column("high", "max", 10)]
    if any(r.test_median is not None for r in rows):
        columns.append(Column("test", "test med", 10))
    columns += [Column("seeds", "n", 3), Column("state", " state", 1 + max(5, *(len(r.state) for r in rows)), False)]
    return columns


def _cells(values: dict[str, str], columns: tuple[Column, ...], tag: Text, dim: bool) -> tuple[Text, ...]:
    out = []
    for c in columns:
        if c.key == "tag":
            out.append(tag)
            continue
        text = values[c.key]
        cell = Text(f" {text}" if not c.right else f"{text:>{c.width}}", no_wrap=True, overflow="ellipsis")
        if c.key == "state" and text != "ok":
            cell.stylize("bold")
        out.append(cell)
    if dim:
        for cell in out:
            cell.stylize("dim")
    return tuple(out)


def _marked(i: int, selected: bool, color: bool) -> Text:
    return Text("▸" if selected else " ") + _tag(i, color)


def _member_cells(i: int, m: MemberSnap, columns: tuple[Column, ...], dim: bool, selected: bool,
                  color: bool) -> tuple[Text, ...]:
    dead = dead_share(m.stats)
    values = {"name": m.label, "loss": num(m.loss), "test": num(m.test_loss),
              "best": str(m.best_step) if m.best_step is not None else "—",
              "dead": "—" if dead is None else f"{100 * dead:.0f}%",
              "r2": r2(m.stats.r2_train if m.stats else None), "state": m.health}
    return _cells(values, columns, _marked(i, selected, color), dim)


def _variant_cells(r: VariantRow, columns: tuple[Column, ...], dim: bool, selected: bool,
                   color: bool) -> tuple[Text, ...]:
    values = {"name": r.variant, "median": num(r.median), "low": num(r.low), "high": num(r.high),
              "test": num(r.test_median), "seeds": str(r.seeds), "state": r.state}
    return _cells(values, columns, _marked(r.median_member, selected, color), dim)


def _plain_row(cells: list[Text], columns: tuple[Column, ...]) -> str:
    out = ""
    for cell, c in zip(cells, columns):
        text = cell.plain
        if len(text) > c.width:
            text = text[:c.width - 1] + "…"  # as the table cuts it
        out += f"{text:>{c.width}}" if c.right else f"{text:<{c.width}}"
    return out.rstrip()
