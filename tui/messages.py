"""The app's own messages, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class SettingSubmitted(Message):
    """A settings field was edited; the app validates and applies it."""

    key: str
    raw: str


@dataclass
class RunSaved(Message):
    """Posted from the engine thread once a save finished (post_message is thread-safe)."""

    path: str | None
    error: str | None
