"""Your own data: two numeric columns x, y from a CSV/whitespace text file, or .npy/.npz.

A wider file's two columns are picked by ``data.x_column``/``data.y_column`` (names or 0-based
indexes; see :mod:`fitscope.core.data.columns`), or found when that is unambiguous.

Bad files are a ConfigError on ``data.file`` that names the line and the problem. Rows with a
NaN are dropped and counted, never silently. The format is read from the file's first bytes,
not its name; sizes are checked before anything large is read or decompressed: at most
``MAX_POINTS`` rows (the limit of ``data.points``), values within float32's range.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitscope.core.config import MAX_POINTS, file_problem
from fitscope.core.data.columns import Pick, pick
from fitscope.core.errors import ConfigError

FIELD = "data.file"
NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06")
MAX_TEXT_BYTES = 256 * MAX_POINTS  # a row of two numbers and a comment is well under 256 bytes
MAX_ARRAY_BYTES = 16 * MAX_POINTS + 4096  # one .npy array of MAX_POINTS rows × 2 float64s, and its header
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _fail(path: str, why: str) -> ConfigError:
    return ConfigError(FIELD, path, why)


@dataclass(frozen=True)
class Table:
    """The two columns read (float64, finite), what was dropped, and the columns' names."""

    x: np.ndarray
    y: np.ndarray
    notes: tuple[str, ...]
    x_name: str = ""  # from the header; empty when the file has none
    y_name: str = ""


def load(path: str, x_column: str = "", y_column: str = "") -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """x, y (float64, finite) and notes about what was dropped."""
    t = read(path, x_column, y_column)
    return t.x, t.y, t.notes


def read(path: str, x_column: str = "", y_column: str = "") -> Table:
    problem = file_problem(path)
    if problem:
        raise _fail(path, problem + " (expected a CSV or whitespace-separated text file, .npy or .npz)")
    p = Path(path)
    try:
        with p.open("rb") as f:
            magic = f.read(8)
        if magic.startswith(NPY_MAGIC):
            x, y, chosen = _npy(p, path, x_column, y_column)
        elif magic[:4] in ZIP_MAGIC:
            x, y, chosen = _npz(p, path, x_column, y_column)
        else:
            x, y, chosen = _text(p, path, x_column, y_column)
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc.strerror or exc}") from None
    x, y, notes = _clean(x, y, path)
    if chosen.note:
        notes = (chosen.note, *notes)
    return Table(x, y, notes, chosen.x_name, chosen.y_name)


def _npy_rows(shape: tuple[int, ...], path: str, what: str) -> None:
    rows = shape[0] if shape else 1
    if rows > MAX_POINTS:
        raise _fail(path, f"{what} has {rows:,} rows; at most {MAX_POINTS:,} (the limit of data.points)")


def _npz(p: Path, path: str, x_column: str, y_column: str) -> tuple[np.ndarray, np.ndarray, Pick]:
    xn, yn = x_column or "x", y_column or "y"
    try:
        with zipfile.ZipFile(p) as zf:  # sizes from the headers, before anything is decompressed
            for info in zf.infolist():
                if info.filename in (f"{xn}.npy", f"{yn}.npy") and info.file_size > MAX_ARRAY_BYTES:
                    raise _fail(path, f"{info.filename[:-4]} would expand to {info.file_size / 1e6:,.0f} MB; at most "
                                      f"{MAX_POINTS:,} values ({MAX_ARRAY_BYTES / 1e6:,.0f} MB) per array")
        with np.load(p, allow_pickle=False) as z:
            for field, given, name in (("data.x_column", x_column, xn), ("data.y_column", y_column, yn)):
                if name not in z.files:
                    has = f"it has: {', '.join(repr(f) for f in z.files) or 'none'}"
                    if given:
                        raise ConfigError(field, given, f"the .npz has no array of that name ({has})")
                    raise _fail(path, f"the .npz has no array named {name!r} ({has}; pick with --x NAME --y NAME)")
            x, y = z[xn], z[yn]
    except ConfigError:
        raise
    except (ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise _fail(path, f"not a readable .npz file: {str(exc)[:120]}") from None
    x, y = np.ravel(x), np.ravel(y)
    if x.shape != y.shape:
        raise _fail(path, f"x has {x.size} values but y has {y.size}")
    return _numeric(x, "x", path), _numeric(y, "y", path), Pick(0, 1, xn, yn)


def _npy(p: Path, path: str, x_column: str, y_column: str) -> tuple[np.ndarray, np.ndarray, Pick]:
    try:
        with p.open("rb") as f:  # the shape from the header, before the data is read
            version = np.lib.format.read_magic(f)
            shape, _, _ = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                           else np.lib.format.read_array_header_2_0(f))
        _npy_rows(shape, path, "the array")
        a = np.load(p, allow_pickle=False)
    except ConfigError:
        raise
    except (ValueError, EOFError) as exc:
        raise _fail(path, f"not a readable .npy file: {str(exc)[:120]}") from None
    if a.ndim != 2 or a.shape[1] < 2:
        raise _fail(path, f"expected an array of shape (n, 2) holding x and y, found shape {a.shape}")
    chosen = pick(path, None, a.shape[1], x_column, y_column)
    return _numeric(a[:, chosen.x], "x", path), _numeric(a[:, chosen.y], "y", path), chosen


def _numeric(a: np.ndarray, name: str, path: str) -> np.ndarray:
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise _fail(path, f"{name} is not numeric (dtype {a.dtype})")
    return a.astype(np.float64)


def is_number(text: str) -> bool:
    """A number as a data file writes it: ASCII, no ``1_000`` (Python's float() takes both)."""
    if not text.isascii() or "_" in text:
        return False
    try:
        float(text)
        return True
    except ValueError:
        return False


def layout(lines: list[str]) -> tuple[int, bool] | None:
    """Where a text file's data rows start (after blank lines and a header) and whether commas
    separate its columns; None when it is empty."""
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        return None
    comma = "," in lines[first]
    fields = [f.strip() for f in lines[first].split(",")] if comma else lines[first].split()
    header = not all(is_number(f) for f in fields)
    return (first + 1 if header else first), comma


def _splitter(comma: bool) -> Callable[[str], list[str]]:
    return (lambda s: [f.strip() for f in s.split(",")]) if comma else str.split


def text_columns(lines: list[str], path: str, x_column: str = "", y_column: str = "") -> tuple[int, bool, int, Pick]:
    """A text file's layout from its first lines: where its rows start, whether commas separate
    them, how many columns it has, and the two picked as x and y."""
    found = layout(lines)
    if found is None:
        raise _fail(path, "the file is empty")
    start, comma = found
    split = _splitter(comma)
    first = next((line for line in lines[start:] if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        raise _fail(path, "the file has a header but no data rows")
    width = len(split(first))
    top = next(i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#"))
    header = [f.strip().strip('"') for f in split(lines[top])] if top < start else None
    if header is not None and len(header) == width - 1:
        header = ["", *header]  # pandas writes no name for its index column
    elif header is not None:
        width = len(header)  # the header says how wide: a shorter row is named as wrong below
    width = max(width, 2)
    chosen = pick(path, header if header is not None and len(header) == width else None, width, x_column, y_column)
    return start, comma, width, chosen


def npy_columns(path: str, x_column: str = "", y_column: str = "") -> Pick:
    """An .npy file's x and y columns, from its header alone."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, _, _ = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                       else np.lib.format.read_array_header_2_0(f))
    if len(shape) != 2 or shape[1] < 2:
        raise _fail(path, f"expected an array of shape (n, 2) holding x and y, found shape {shape}")
    return pick(path, None, shape[1], x_column, y_column)


def _text(p: Path, path: str, x_column: str, y_column: str) -> tuple[np.ndarray, np.ndarray, Pick]:
    if p.stat().st_size > MAX_TEXT_BYTES:
        raise _fail(path, f"{p.stat().st_size / 1e6:,.0f} MB of text is more than {MAX_POINTS:,} rows can hold "
                          "(the limit of data.points)")
    raw = p.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise _fail(path, "it is UTF-16 or binary, not text: save it as a UTF-8 CSV, or as .npy/.npz")
    text = raw.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    rows = sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if rows > MAX_POINTS + 1:
        raise _fail(path, f"{rows:,} rows; at most {MAX_POINTS:,} (the limit of data.points)")
    start, comma, width, chosen = text_columns(lines, path, x_column, y_column)
    split = _splitter(comma)
    delimiter = "," if comma else None
    # the fast path: numpy's C parser, every column (so a row of another width is caught), then only
    # the two picked (another column may hold text: a pandas index of names)
    for usecols in ((None, (chosen.x, chosen.y)) if width > 2 else (None,)):
        try:
            data = np.loadtxt(lines[start:], delimiter=delimiter, ndmin=2, dtype=np.float64, usecols=usecols)
        except (ValueError, IndexError):
            continue
        if data.shape[1] == (width if usecols is None else 2):
            cols = (chosen.x, chosen.y) if usecols is None else (0, 1)
            return data[:, cols[0]], data[:, cols[1]], chosen
    _why_not_numbers(lines, start, split, path, width, chosen)  # the slow path, only to say which line is wrong and why
    raise _fail(path, "could not read two numeric columns")


def _why_not_numbers(lines: list[str], start: int, split: Callable[[str], list[str]], path: str, width: int,
                     chosen: Pick) -> None:
    for i in range(start, len(lines)):
        if not lines[i].strip() or lines[i].lstrip().startswith("#"):
            continue
        fields = split(lines[i])
        if len(fields) != width:
            what = "2 columns (x, y)" if width == 2 else f"{width} columns, as the first row"
            raise _fail(path, f"line {i + 1}: expected {what}, found {len(fields)}")
        for col in (chosen.x, chosen.y):
            if not is_number(fields[col]):
                raise _fail(path, f"line {i + 1}: {fields[col]!r} in column {col + 1} is not a number")


def _clean(x: np.ndarray, y: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    notes: list[str] = []
    if x.size > MAX_POINTS:
        raise _fail(path, f"{x.size:,} points; at most {MAX_POINTS:,} (the limit of data.points)")
    for name, v in (("x", x), ("y", y)):  # trained in float32: a value past its range is refused, not inf
        big = np.isfinite(v) & (np.abs(v) > FLOAT32_MAX / 4)
        if big.any():
            i = int(np.argmax(big))
            raise _fail(path, f"row {i + 1}: {name} = {v[i]:g} is beyond the range fitscope trains in "
                              f"(|value| ≤ {FLOAT32_MAX / 4:.1e}, float32's range with room to standardise)")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        bad = int((~ok).sum())
        notes.append(f"dropped {bad} of {x.size} rows with NaN or infinite values")
        x, y = x[ok], y[ok]
    if x.size == 0:
        raise _fail(path, "no data points (every row was empty or not finite)")
    if x.size == 1:
        raise _fail(path, "only 1 data point; need at least 2")
    if np.all(x == x[0]):
        raise _fail(path, f"all x values are equal ({x[0]:g}); need at least two different x")
    return x, y, tuple(notes)


def standardise(v: np.ndarray) -> tuple[float, float]:
    """(mean, sd) to train in standard units; sd is 1 for a constant column."""
    mean, sd = float(v.mean()), float(v.std())
    return mean, sd if sd > 0 and math.isfinite(sd) else 1.0
