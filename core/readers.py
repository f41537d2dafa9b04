"""Checked readers for the run folder's text files: what a crafted folder holds is refused here,
naming the file, the field and what was expected, before anything formats or computes with it.

Torch-free (``fitscope show`` and ``runs`` read through it). The sizes a reader accepts are in
:data:`fitscope.core.rundir.LIMITS`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fitscope.core.errors import show_value
from fitscope.core.rundir import RunDirError

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


def loss_curves(text: str, where: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """metrics.csv's training losses: each member's (steps, losses), read by column name (a
    ``#`` line before the header, as older saves have, is passed over)."""
    lines = text.splitlines()
    skipped = 0
    while skipped < len(lines) and lines[skipped].startswith("#"):
        skipped += 1
    reader = csv.DictReader(lines[skipped:])
    if not reader.fieldnames or not {"step", "member", "train_loss"} <= set(reader.fieldnames):
        raise RunDirError(f"{where}: its header does not name the columns step, member and train_loss")
    found: dict[str, tuple[list[int], list[float]]] = {}
    for row in reader:
        line = skipped + reader.line_num
        step = step_of(row["step"] or "", where, line)
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
