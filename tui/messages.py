"""The app's own messages, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.strip import Strip

from fitscope.core.snapshot import Snapshot


@dataclass
class SettingSubmitted(Message):
    """A settings field was edited; the app validates and applies it."""

    key: str
    raw: str


@dataclass
class SnapshotArrived(Message):
    """The engine's latest snapshot, posted from the engine's thread (post_message is thread-safe).
    A newer one replaces one still queued: a busy UI draws the latest, never a backlog."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotArrived)


@dataclass
class Say(Message):
    """A line for the log, from a widget that has something to tell."""

    text: str


@dataclass
class ChartBuilt(Message):
    """A chart's text, built off the UI thread (post_message is thread-safe)."""

    text: Text | None
    strips: list[Strip]
    failure: str
    seconds: float
