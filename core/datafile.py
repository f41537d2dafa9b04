"""Your own data: two numeric columns x, y from a CSV/whitespace text file, or .npy/.npz.

Bad files are a ConfigError on ``data.file`` that names the line and the problem. Rows with a
NaN are dropped and counted, never silently.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fitscope.core.config import ConfigError

FIELD = "data.file"


def _fail(path: str, why: str) -> ConfigError:
    return ConfigError(FIELD, path, why)


def load(path: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """x, y (float64, finite) and notes about what was dropped."""
    p = Path(path)
    if not p.is_file():
        raise _fail(path, "no such file (expected a CSV or whitespace-separated text file, .npy or .npz)")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npz":
            x, y = _npz(p, path)
        elif suffix == ".npy":
            x, y = _npy(p, path)
        else:
            x, y = _text(p, path)
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc.strerror or exc}") from None
    return _clean(x, y, path)


def _npz(p: Path, path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in ("x", "y") if k not in z.files]
            if missing:
                raise _fail(path, f"the .npz has no array named {missing[0]!r} (it has: {', '.join(z.files) or 'none'})")
            x, y = z["x"], z["y"]
    except (ValueError, EOFError) as exc:
        raise _fail(path, f"not a readable .npz file: {exc}") from None
    x, y = np.ravel(x), np.ravel(y)
    if x.shape != y.shape:
        raise _fail(path, f"x has {x.size} values but y has {y.size}")
    return _numeric(x, "x", path), _numeric(y, "y", path)


def _npy(p: Path, path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise _fail(path, f"not a readable .npy file: {exc}") from None
    if a.ndim != 2 or a.shape[1] != 2:
        raise _fail(path, f"expected an array of shape (n, 2) holding x and y, found shape {a.shape}")
    return _numeric(a[:, 0], "x", path), _numeric(a[:, 1], "y", path)


def _numeric(a: np.ndarray, name: str, path: str) -> np.ndarray:
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise _fail(path, f"{name} is not numeric (dtype {a.dtype})")
    return a.astype(np.float64)


def is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def layout(lines: list[str]) -> tuple[int, bool] | None:
    """Where a text file's data rows start (after blank lines and a header) and whether commas
    separate its columns; None when it is empty."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    comma = "," in lines[first]
    fields = [f.strip() for f in lines[first].split(",")] if comma else lines[first].split()
    header = not all(is_number(f) for f in fields)
    return (first + 1 if header else first), comma


def _text(p: Path, path: str) -> tuple[np.ndarray, np.ndarray]:
    text = p.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    found = layout(lines)
    if found is None:
        raise _fail(path, "the file is empty")
    start, comma = found
    split = (lambda s: [f.strip() for f in s.split(",")]) if comma else str.split
    if not any(line.strip() for line in lines[start:]):
        raise _fail(path, "the file has a header but no data rows")
    try:  # the fast path: numpy's C parser
        data = np.loadtxt(lines[start:], delimiter="," if comma else None, ndmin=2, dtype=np.float64)
        if data.shape[1] == 2:
            return data[:, 0], data[:, 1]
    except ValueError:
        pass
    # the slow path, only to say which line is wrong and why
    for i in range(start, len(lines)):
        if not lines[i].strip():
            continue
        fields = split(lines[i])
        if len(fields) != 2:
            raise _fail(path, f"line {i + 1}: expected 2 columns (x, y), found {len(fields)}")
        for col, f in enumerate(fields):
            if not is_number(f):
                raise _fail(path, f"line {i + 1}: {f!r} in column {col + 1} is not a number")
    raise _fail(path, "could not read two numeric columns")


def _clean(x: np.ndarray, y: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    notes: list[str] = []
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
