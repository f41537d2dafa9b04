"""The timeline player: the fit's history from the engine, moved through by hand (`, . home end`)
or replayed (`p`), and the earlier fits the fit chart draws faint (`o`). It draws nothing itself:
a frame is shown by the fit chart, and said by the header."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np
from textual import work
from textual.actions import SkipAction
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input

from fitscope.core import commands as C
from fitscope.core.snapshot import Snapshot, State
from fitscope.tui.inside_view import TimelineView
from fitscope.tui.widgets.charts import FitChart, FrameView

if TYPE_CHECKING:
    from fitscope.tui.app import FitscopeApp
    from fitscope.tui.main_screen import MainScreen

REPLAY_SECONDS = 3.0
GHOSTS_EVERY = 1.0  # seconds between fetches of the earlier fits while training


class TimelinePlayer(Widget):
    DEFAULT_CSS = "TimelinePlayer { display: none; }"

    def __init__(self, fit: FitChart, **kw) -> None:
        super().__init__(**kw)
        self.fit = fit
        self.frames: TimelineView | None = None  # the engine's frames, for the run they came from
        self._asking = False
        self._then: Callable[[], None] | None = None  # what to do once the frames come
        self._replay: Timer | None = None
        self._ghosts_at = 0.0

    @property
    def host(self) -> FitscopeApp:
        return cast("FitscopeApp", self.app)

    @property
    def replaying(self) -> bool:
        """The timeline is replaying on its own timer (p)."""
        return self._replay is not None

    @property
    def away(self) -> bool:
        """A frame of the history is shown, or being replayed, instead of the live fit."""
        return self.fit.frame is not None or self._replay is not None

    def forget(self) -> None:
        """Another run or member: the frames held are not its."""
        self.frames = None

    def follow(self, snap: Snapshot) -> None:
        """At each redraw: back to the live fit when training again or on another run; the earlier fits."""
        frames = self.frames
        if self.fit.frame is not None and ((snap.state == State.RUNNING and self._replay is None)
                                           or frames is None or frames.run_id != snap.run_id):
            self.live()
        if self.fit.ghosts_on and not snap.racing and time.monotonic() - self._ghosts_at >= GHOSTS_EVERY:
            self._ghosts_at = time.monotonic()
            self._want(self._show_ghosts)

    def _show_ghosts(self) -> None:
        frames = self.frames
        if frames is not None:
            self.fit.ghosts = [frames.fits[k][0] for k in range(max(0, len(frames.steps) - 4), len(frames.steps) - 1)]

    def _want(self, then: Callable[[], None]) -> None:
        """The timeline from the engine (asked for again when the run has moved on), then ``then()``."""
        snap = self.host.driver.latest
        if snap is None:
            return
        frames = self.frames
        if frames is not None and frames.run_id == snap.run_id and int(frames.steps[-1]) == snap.step:
            then()
            return
        self._then = then  # the latest wish: keys pressed while the frames are on their way
        if not self._asking:
            self._asking = True
            self._fetch(snap.run_id)

    @work
    async def _fetch(self, run_id: int) -> None:
        try:
            frames = await asyncio.wrap_future(self.host.send(C.Timeline(self.fit.member)))
        except Exception:  # refused: the engine's notice says why
            frames = None
        finally:
            self._asking = False
        if frames is None:
            return
        self.frames = TimelineView(frames, run_id)
        then, self._then = self._then, None
        if then is not None:
            then()

    def action_frame(self, delta: int) -> None:
        snap = self.host.driver.latest
        if snap is None:
            return
        if snap.state == State.RUNNING:
            self.notify("pause first (space) to move through the fit's history", timeout=2)
            return
        self._want(lambda: self.show_frame(delta=delta))

    def action_frame_edge(self, end: int) -> None:
        if isinstance(self.app.focused, Input) or self.app.screen is not self.screen:
            raise SkipAction()  # in a field home and end move its cursor (in order); in help they scroll it
        if self.app.focused is self.screen.query_one("#board"):
            raise SkipAction()  # the leaderboard's first / last row
        snap = self.host.driver.latest
        if snap is None or snap.state == State.RUNNING:
            return
        self._want(lambda: self.show_frame(at=-1 if end else 0))

    def show_frame(self, delta: int = 0, at: int | None = None) -> None:
        frames = self.frames
        if frames is None:
            return
        count = len(frames.steps)
        current = self.fit.frame.index if self.fit.frame is not None else count - 1
        index = (at % count) if at is not None else max(0, min(count - 1, current + delta))
        step = int(frames.steps[index])
        h = self.host.driver.tracker.history(self.fit.member)
        i = int(np.searchsorted(h.step, step))
        loss = float(h.loss[i]) if step and i < len(h) and h.step[i] == step else None
        self.fit.frame = FrameView(index, count, step, loss, frames.fits[index], frames.layers)
        # the frame and its header now, not at the next tick (up to 1/10 s later)
        screen = cast("MainScreen", self.screen)
        screen.show_header()
        screen.refresh_view()

    def live(self) -> None:
        if self.away:
            if self._replay is not None:
                self._replay.stop()
                self._replay = None
            self.fit.frame = None
            cast("MainScreen", self.screen).show_header()

    def action_replay(self) -> None:
        snap = self.host.driver.latest
        if snap is None:
            return
        if snap.state == State.RUNNING:
            self.host.send(C.Pause())
        self._want(self._start_replay)

    def _start_replay(self) -> None:
        frames = self.frames
        if frames is None:
            return
        count = len(frames.steps)
        hop = max(1, -(-count // 90))  # ~3 s at 30 frames a second, whatever the count
        position = [0]

        def tick() -> None:
            if position[0] >= count:
                self.live()
                return
            self.show_frame(at=position[0])
            position[0] += hop

        if self._replay is not None:
            self._replay.stop()
        self._replay = self.set_interval(REPLAY_SECONDS / max(1, -(-count // hop)), tick)
