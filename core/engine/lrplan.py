"""``train.lr_changes``: the learning rate changed at given steps — what a live change (``+``/``-``
in the app) records, so that ``run --config``, ``--resume`` and an exported script replay it.

``train.lr`` is the rate from step 1; each change ``(step, lr)`` is the rate from that step on.
In config.toml::

    [[train.lr_changes]]
    step = 151
    lr = 0.1

and on the command line ``--set train.lr_changes=151:0.1,300:0.05``. Torch-free.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Any

from fitscope.core.errors import ConfigError

MAX_CHANGES = 10_000
MAX_STEP = 100_000_000  # train.steps' limit
KEY = "train.lr_changes"
Changes = tuple[tuple[int, float], ...]
ALLOWED = (f"expected a list of at most {MAX_CHANGES:,} changes, each a step from 1 to {MAX_STEP:,} (after the step "
           "before it) and an lr in (0, 100], e.g. [[train.lr_changes]] step = 151, lr = 0.1, or 151:0.1,300:0.05")


def _step(where: str, raw: object, after: int) -> int:
    value = raw
    if isinstance(raw, str) and re.fullmatch(r"\s*[0-9]{1,12}\s*", raw):
        value = int(raw)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not after < value <= MAX_STEP:
        raise ConfigError(f"{where}.step", raw, f"expected a whole number from {after + 1:,} to {MAX_STEP:,} "
                          "(each change after the one before)")
    return value


def _lr(where: str, raw: object) -> float:
    try:
        if isinstance(raw, bool) or (isinstance(raw, str) and not raw.isascii()):
            raise ValueError
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 100):
        raise ConfigError(f"{where}.lr", raw, "expected a number in (0, 100], as train.lr")
    return value


def _items(raw: object) -> list[object]:
    if isinstance(raw, str):
        text = raw.strip().strip("[]").strip()
        return [tuple(part.split(":")) if ":" in part else part for part in re.split(r"[,\s]+", text) if part]
    if isinstance(raw, (list, tuple)):
        return list(raw)
    raise ConfigError(KEY, raw, ALLOWED)


def parse(key: str, raw: Any) -> Changes:
    """The changes, checked: each a step after the one before and an lr as ``train.lr`` takes."""
    items = _items(raw)
    if len(items) > MAX_CHANGES:
        raise ConfigError(key, f"{len(items):,} changes", ALLOWED)
    out: list[tuple[int, float]] = []
    for i, item in enumerate(items):
        where = f"{key}[{i + 1}]"
        if isinstance(item, dict):
            if set(item) != {"step", "lr"}:
                raise ConfigError(where, item, "expected a table of step and lr, e.g. step = 151, lr = 0.1")
            step, lr = item["step"], item["lr"]
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            step, lr = item
        else:
            raise ConfigError(where, item, "expected a step and an lr, e.g. 151:0.1")
        out.append((_step(where, step, out[-1][0] if out else 0), _lr(where, lr)))
    return tuple(out)


def to_tables(changes: Changes) -> list[dict[str, Any]]:
    return [{"step": step, "lr": lr} for step, lr in changes]


def lr_at(lr: float, changes: Changes, step: int) -> float:
    """The rate step ``step`` trains with."""
    i = bisect.bisect_right([s for s, _ in changes], step)
    return changes[i - 1][1] if i else lr


def live(changes: Changes, step: int, lr: float) -> Changes:
    """A live change to ``lr`` from ``step`` on: the user takes over, planned changes from that step go."""
    return (*((s, v) for s, v in changes if s < step), (step, lr))


def steps_before_next(changes: Changes, first: int, n: int) -> int:
    """How many of the ``n`` steps from ``first`` on train before the next planned change (≥ 1)."""
    i = bisect.bisect_right([s for s, _ in changes], first)
    return min(n, changes[i][0] - first) if i < len(changes) else n


def describe(lr: float, changes: Changes) -> str:
    """The rates as summary.json and ``show`` give them: ``0.2, 0.1 from step 151``."""
    parts = [f"{lr:g}", *(f"{v:g} from step {s:,}" for s, v in changes[:3])]
    if len(changes) > 3:
        s, v = changes[-1]
        parts[-1:] = [f"… {len(changes):,} changes in all, the last {v:g} from step {s:,}"]
    return ", ".join(parts)
