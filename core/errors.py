"""The one error type for a rejected setting, shared by every module that validates input."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A rejected setting: which field, what value, and what would have been accepted."""

    def __init__(self, field: str, value: Any, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}: {show_value(value)} is not valid — {allowed}")

    def __reduce__(self) -> tuple[type[ConfigError], tuple[Any, ...]]:  # it survives the worker pipe
        return (ConfigError, (self.field, self.value, self.allowed))


def printable(text: str) -> str:
    """Control characters (an ESC in a file name) never reach the terminal raw."""
    return "".join(c if c.isprintable() else "?" for c in text)


def show_value(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else printable(str(value))
    return text if len(text) <= 60 else text[:28] + "..." + text[-29:]  # the end names a file


class RunDirError(Exception):
    """A run directory that cannot be read or written; the message names the file and the problem."""
