"""What one setting edit means for the run, decided without Textual or the engine.

The app's ``_change`` asks :func:`plan` and then carries the answer out; keeping the decision a
pure function lets every rule (race keys, live keys, the device) be tested on plain values."""

from __future__ import annotations

from dataclasses import dataclass

from fitscope.core.config import FitConfig
from fitscope.core.config import keys as config_keys
from fitscope.core.errors import ConfigError
from fitscope.core.spec import RunSpec

# the keys a run takes without a reset; the settings form keeps its own copy for its ↻ marks
# (importing this one there changed a snapshot, not yet understood), test_plan pins the set
LIVE_KEYS = frozenset({"train.lr", "train.steps", "train.device"})

_KEYS = frozenset(config_keys())


@dataclass(frozen=True)
class Unchanged:
    """The value parsed to what the run already has: only the form is redrawn."""

    cfg: FitConfig


@dataclass(frozen=True)
class Live:
    """The running run takes the new value as it goes (its step and losses stay)."""

    spec: RunSpec
    key: str


@dataclass(frozen=True)
class Move:
    """The run moves to another device; the engine may still refuse (no such device, memory)."""

    spec: RunSpec


@dataclass(frozen=True)
class Reset:
    """The run restarts on the new settings."""

    spec: RunSpec
    key: str
    why: str


@dataclass(frozen=True)
class Refusal:
    """Nothing changes; ``field`` is where the reason goes (``None``: a notification instead)."""

    message: str
    field: str | None = None
    severity: str = "warning"


Plan = Unchanged | Live | Move | Reset | Refusal


def plan(spec: RunSpec, key: str, raw: object) -> Plan:
    """The one rule for every edit of ``key`` to ``raw`` (typed text or a value) on ``spec``."""
    if key in spec.varied:
        return Refusal(f"{key} is what this race varies: start a new race (c) to change its values")
    try:
        new = spec.base.with_value(key, raw)
    except ConfigError as exc:
        # a cross-field check can name another field: the reason goes under that one
        return Refusal(str(exc), field=exc.field if exc.field in _KEYS else key, severity="error")
    if new == spec.base:
        return Unchanged(new)
    moved = spec.with_base(new)
    if key == "train.device":
        return Move(moved)
    if key in LIVE_KEYS:
        return Live(moved, key)
    return Reset(moved, key, f"{key} = {short(new.get(key))}: reset")


def short(value: object) -> str:
    """A value as the log shows it: tuples joined, at most 30 characters."""
    text = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return text if len(text) <= 30 else text[:27] + "..."
