"""Which two columns of a data file are x and y: ``data.x_column``/``data.y_column`` (a header
name, or a 0-based index), or, when they are empty, the only choice that is not a guess — the
two columns of a two-column file, the two beside a pandas index column (``,x,y`` or
``Unnamed: 0,x,y``), or the columns named x and y."""

from __future__ import annotations

from dataclasses import dataclass

from fitscope.core.errors import ConfigError, printable

INDEX_NAMES = ("", "unnamed: 0", "index")  # what pandas (and people) call a first column of row numbers
HOW = "pick two with --x NAME --y NAME (data.x_column, data.y_column: names or 0-based indexes)"
HOW_BY_INDEX = "pick two by 0-based index, e.g. --x 0 --y 1 (data.x_column, data.y_column)"


@dataclass(frozen=True)
class Pick:
    x: int  # 0-based column indexes
    y: int
    x_name: str = ""  # from the header ("" without one)
    y_name: str = ""
    note: str = ""  # said when a wider file's columns were chosen


def listing(names: list[str] | None, width: int) -> str:
    """The columns as a user picks them: ``0 (unnamed), 1 'x', 2 'y'``."""
    if names is None:
        return f"no header: columns 0 to {width - 1}"
    return ", ".join(f"{i} {repr(printable(n)) if n else '(unnamed)'}" for i, n in enumerate(names))


def _find(field: str, value: str, names: list[str] | None, width: int) -> int:
    if value.isdigit():
        if int(value) < width:
            return int(value)
        raise ConfigError(field, value, f"no column {value}: the file has {listing(names, width)}")
    for exact in (True, False):  # the name as written, else in any case
        hits = [i for i, n in enumerate(names or ()) if (n == value if exact else n.lower() == value.lower())]
        if len(hits) == 1:
            return hits[0]
    raise ConfigError(field, value, f"no column of that name: the file has {listing(names, width)}")


def _named(names: list[str] | None, name: str, taken: set[int]) -> int | None:
    lower = [n.lower() for n in names or ()]
    return lower.index(name) if lower.count(name) == 1 and lower.index(name) not in taken else None


def _auto(path: str, names: list[str] | None, width: int, x: int | None, y: int | None) -> tuple[int, int]:
    """The column(s) not given, where only one choice is not a guess."""
    index = 0 if names and names[0].lower() in INDEX_NAMES else None
    taken = {i for i in (x, y, index) if i is not None}
    free = [i for i in range(width) if i not in taken]
    if x is None and y is None:
        nx, ny = _named(names, "x", taken), _named(names, "y", taken)
        if nx is not None and ny is not None:
            return nx, ny
        if len(free) == 2:
            return free[0], free[1]
    else:
        found = _named(names, "y" if y is None else "x", taken)
        if found is None and len(free) == 1:
            found = free[0]
        if found is not None:
            return (found, y) if x is None else (x, found)  # type: ignore[return-value]
    how = HOW if names else HOW_BY_INDEX
    raise ConfigError("data.file", path, f"it has {width} columns ({listing(names, width)}); {how}")


def pick(path: str, names: list[str] | None, width: int, x_column: str, y_column: str) -> Pick:
    """The columns x and y of a file of ``width`` columns (``names`` from its header, if any)."""
    x = _find("data.x_column", x_column, names, width) if x_column else None
    y = _find("data.y_column", y_column, names, width) if y_column else None
    if x is not None and x == y:
        raise ConfigError("data.y_column", y_column, f"the same column as data.x_column; the file has "
                                                    f"{listing(names, width)}")
    if x is None or y is None:
        x, y = _auto(path, names, width, x, y)
    xn, yn = (names[x], names[y]) if names else ("", "")
    note = ""
    if width > 2:
        what = f"{repr(printable(xn)) if xn else x} and {repr(printable(yn)) if yn else y}"
        note = f"x, y = columns {what} of {width} (others: --x NAME --y NAME)"
    return Pick(x, y, xn, yn, note)
