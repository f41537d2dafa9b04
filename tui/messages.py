"""The app's own messages, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.strip import Strip

from fitscope.core.snapshot import Frames
from fitscope.core.spec import RunSpec


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


@dataclass
class ResetRefused(Message):
    """The run refused a Reset(spec); posted from whichever thread answered it."""

    spec: RunSpec  # the refused spec
    previous: RunSpec  # the spec the app had before, which the run still trains
    key: str | None  # the setting whose change asked for it, if one did
    error: str


@dataclass
class ChartBuilt(Message):
    """A chart's text, built off the UI thread (post_message is thread-safe)."""

    text: Text | None
    strips: list[Strip]
    failure: str
    seconds: float


@dataclass
class RunOpened(Message):
    """The engine answered an Open: the run's spec, or why it was refused."""

    path: str
    spec: RunSpec | None
    error: str | None


@dataclass
class FramesReady(Message):
    """The engine answered a Timeline command: the fit's history, or why not."""

    frames: Frames | None
    run_id: int
    error: str | None
