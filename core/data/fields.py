"""Parsers of the data section's settings that need more than a number or a choice (config.py
holds the rest): the target, and the columns picked from a wider data file."""

from __future__ import annotations

from typing import Any

from fitscope.core.data import targets
from fitscope.core.errors import ConfigError

MAX_COLUMN_NAME = 200
COLUMN_ALLOWED = "expected a column name from the file's header, or a 0-based column index (0, 1, 2, …); empty = automatic"


def target(key: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ConfigError(key, raw, "expected a preset name or a formula in x")
    targets.check(raw.strip())
    return raw.strip()


def column(key: str, raw: Any) -> str:
    """A column of the data file, as text: a name, or digits for a 0-based index ("" = automatic)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return str(raw)
    if not isinstance(raw, str):
        raise ConfigError(key, raw, COLUMN_ALLOWED)
    value = raw.strip()
    if len(value) > MAX_COLUMN_NAME or not value.isprintable() or value.lstrip("+-").isdigit() and value[0] in "+-":
        raise ConfigError(key, raw, COLUMN_ALLOWED)
    return value
