"""Checked readers for the run folder's text files: what a crafted folder holds is refused here,
naming the file, the field and what was expected, before anything formats or computes with it.

Torch-free (``fitscope show`` and ``runs`` read through it). The sizes a reader accepts are in
:data:`fitscope.core.store.folder.LIMITS`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fitscope.core.errors import RunDirError, show_value
from fitscope.core.store import runfiles

MAX_TEXT = 1_000  # characters of a name, label or note
MAX_COUNT = 10**12  # steps, members, seeds: far past anything a run reaches
MAX_DIGITS = 13  # of a step in metrics.csv (a step is at most MAX_COUNT)
MAX_MEMBERS = 64


def _text(v: object) -> bool:
    return isinstance(v, str) and len(v) <= MAX_TEXT


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: v is None or check(v)


def _scalar(v: object) -> bool:
    return _text(v) or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


def _varies(v: object) -> bool:
    return isinstance(v, dict) and len(v) <= 16 and all(
        _text(k) and isinstance(vals, list) and len(vals) <= MAX_MEMBERS and all(map(_scalar, vals))
        for k, vals in v.items())


def _versions(v: object) -> bool:
    return isinstance(v, dict) and len(v) <= 16 and all(_text(k) and _text(x) for k, x in v.items())


def _units(v: object) -> bool:
    return isinstance(v, dict) and len(v) <= 16 and all(
        _text(k) and (x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)))
        for k, x in v.items())


def _thinning(v: object) -> bool:
    return isinstance(v, dict) and _count(v.get("stride")) and _count(v.get("cap"))


Schema = dict[str, tuple[Callable[[object], bool], str]]
TEXT, COUNT, LOSS = (_text, f"text of at most {MAX_TEXT:,} characters"), \
    (_optional(_count), f"a whole number from 0 to {MAX_COUNT:,}"), (_optional(_number), "a finite number ≥ 0")
MEMBER: Schema = {
    "label": TEXT, "variant": TEXT, "seed": COUNT, "final_loss": LOSS, "test_loss": LOSS, "best_loss": LOSS,
    "best_step": COUNT, "diverged_at": COUNT, "checkpoint_step": COUNT, "health": TEXT,
}


def _members(v: object) -> bool:
    return isinstance(v, list) and len(v) <= MAX_MEMBERS and all(
        isinstance(m, dict) and all(check(m.get(k)) for k, (check, _) in MEMBER.items() if k in m) for m in v)


SUMMARY: Schema = {
    "name": TEXT, "target": TEXT, "net": TEXT, "optimizer": TEXT, "lead": TEXT, "device": TEXT, "kernels": TEXT,
    "members": COUNT, "seeds": COUNT, "steps": COUNT, "budget": COUNT, "best_step": COUNT, "diverged_at": COUNT,
    "final_loss": LOSS, "test_loss": LOSS, "best_loss": LOSS, "steps_per_s": LOSS, "seconds": LOSS,
    "varies": (_varies, "a table of at most 16 settings, each a list of values"),
    "versions": (_versions, "a table of names and versions"),
    "per_member": (_members, f"a list of at most {MAX_MEMBERS} members, each a table of label, losses and steps"),
    "data_units": (_units, "a table of the data's scale and losses in its units, each a finite number"),
    "metrics": (_thinning, "a table of stride and cap, whole numbers"),
}
LISTING: Schema = {k: SUMMARY[k] for k in ("name", "target", "net", "members", "steps", "final_loss", "lead")}


def checked(data: object, schema: Schema, where: str) -> dict[str, Any]:
    """``data``'s known fields, each of its type and range (an absent one is None); others are left out."""
    if not isinstance(data, dict):
        raise RunDirError(f"{where}: not a table of fields")
    out: dict[str, Any] = {}
    for key, (check, what) in schema.items():
        value = data.get(key)
        if value is not None and not check(value):
            raise RunDirError(f"{where}: {key} is {_shown(value)}, expected {what}")
        out[key] = value
    if "per_member" in out and out["per_member"] is not None:
        out["per_member"] = [{k: m.get(k) for k in MEMBER} for m in out["per_member"]]
    return out


def _shown(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_COUNT:
        return "a number too large"
    return show_value(value) if isinstance(value, (str, int, float)) else f"a {type(value).__name__}"


def summary(data: object, path: Path) -> dict[str, Any]:
    return checked(data, SUMMARY, str(path))


def step_of(field: str, path: Path, line: int) -> int:
    """A metrics row's step, its digits counted before they are converted."""
    if not field.isascii() or not field.isdigit() or len(field) > MAX_DIGITS:
        raise RunDirError(f"{path}: line {line:,}: the step is {show_value(field)}, expected a whole number "
                          f"of at most {MAX_DIGITS} digits")
    return int(field)


@dataclass(frozen=True)
class MetricsRows:
    """metrics.csv read by column name: its header, the stride format 1's comment line named (None
    in a file of today's format: run.json says it), and its rows as (line, step, row by column)."""

    columns: list[str]
    legacy_stride: int | None
    rows: Iterator[tuple[int, int, dict[str, str]]]


NEEDED = ("step", "member", "train_loss")


def metrics(text: str, path: Path) -> MetricsRows:
    """The rows of a metrics.csv, each checked as it is read (a control character, a field past the
    csv module's limit, more fields than the header, a step that is no whole number: RunDirError
    naming the line)."""
    lines = text.splitlines()
    skip, stride = 0, None
    if lines and lines[0].startswith(runfiles.LEGACY_HEAD):  # format 1: a comment above the header
        skip, stride = 1, 1
        if lines[0].startswith(f"{runfiles.LEGACY_HEAD}: thinned"):
            digits = [w for w in lines[0].split() if w.isascii() and w.isdigit() and len(w) <= MAX_DIGITS]
            stride = int(digits[0]) if digits else 2
    reader = csv.DictReader(_printable(lines[skip:], path, skip), strict=True)
    try:
        columns = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise RunDirError(f"{path}: line {skip + 1}: not CSV ({exc})") from None
    if any(name not in columns for name in NEEDED):
        raise RunDirError(f"{path}: line {skip + 1} is not fitscope's metrics header (expected the columns "
                          f"{', '.join(NEEDED)}, …)")
    return MetricsRows(columns, stride, _rows(reader, path, skip))


def _printable(lines: Iterable[str], path: Path, skip: int) -> Iterator[str]:
    for n, line in enumerate(lines, skip + 1):
        if not line.isprintable():
            raise RunDirError(f"{path}: line {n:,} holds a control character (a NUL or the like)")
        yield line


def _rows(reader: csv.DictReader[str], path: Path, skip: int) -> Iterator[tuple[int, int, dict[str, str]]]:
    try:
        for row in reader:
            n = reader.line_num + skip
            if None in row:
                raise RunDirError(f"{path}: line {n:,} has more fields than the header")
            yield n, step_of(row["step"] or "", path, n), row
    except csv.Error as exc:
        raise RunDirError(f"{path}: line {reader.line_num + skip:,}: not CSV ({str(exc)[:80]})") from None


def thinning(data: object, path: Path) -> runfiles.Thinning:
    """run.json's ``metrics``: the stride and cap metrics.csv was written with."""
    ok = isinstance(data, dict) and _count(data.get("stride")) and _count(data.get("cap")) and data["stride"] >= 1
    if not ok or not isinstance(data, dict):
        raise RunDirError(f"{path}: metrics is {_shown(data)}, expected a table of stride and cap (whole numbers ≥ 1)")
    return runfiles.Thinning(stride=data["stride"], cap=data["cap"])


def loss_curves(text: str, where: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """metrics.csv's training losses: each member's (steps, losses), read by column name."""
    found: dict[str, tuple[list[int], list[float]]] = {}
    for line, step, row in metrics(text, where).rows:
        try:
            loss = float(row["train_loss"] or "")
        except ValueError:
            raise RunDirError(f"{where}: line {line:,}: the train_loss is {show_value(row['train_loss'])}, "
                              "expected a number") from None
        steps, losses = found.setdefault(str(row["member"]), ([], []))
        steps.append(step)
        losses.append(loss)
    return {k: (np.array(s, dtype=np.int64), np.array(v, dtype=np.float64)) for k, (s, v) in found.items()}


def fit_table(text: str, where: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """fit.csv: the grid x and each member's fit on it, by the member's label."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0] or rows[0][0] != "x" or len(rows) < 2:
        raise RunDirError(f"{where}: not a fit table (a header x, member, … and rows of numbers)")
    try:
        table = np.array(rows[1:], dtype=np.float64)
    except ValueError:
        raise RunDirError(f"{where}: a row is not {len(rows[0])} numbers") from None
    if table.ndim != 2 or table.shape[1] != len(rows[0]):
        raise RunDirError(f"{where}: a row is not {len(rows[0])} numbers")
    return table[:, 0], {label: table[:, i] for i, label in enumerate(rows[0]) if i}
