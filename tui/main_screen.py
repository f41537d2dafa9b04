"""The main screen: the layout, the race switch, setting edits carried out, and the redraw."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from textual import work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static

from fitscope.core import commands as C
from fitscope.core.config import ACTIVATIONS
from fitscope.core.snapshot import DataView, Level, Notice, Snapshot
from fitscope.tui import keys
from fitscope.tui.inside_view import inside_lines
from fitscope.tui.main_keys import MainKeys
from fitscope.tui.messages import Say, SettingSubmitted
from fitscope.tui.race_setup import Entries
from fitscope.tui.widgets.charts import FitChart, LossChart, colour_on
from fitscope.tui.widgets.footer import KeyFooter
from fitscope.tui.widgets.leaderboard import Leaderboard, visible_members
from fitscope.tui.widgets.loss_log import LossLog
from fitscope.tui.widgets.settings import SettingsPanel
from fitscope.tui.widgets.status import Header, StatusBar
from fitscope.tui.widgets.timeline import TimelinePlayer

if TYPE_CHECKING:
    pass

REDRAW_HZ = 10
MIN_SIZE = (40, 12)  # below this one centred line says so
DRAW_SPACING = 3  # after a chart build of t seconds, the next one waits 3t


class MainScreen(MainKeys):
    BINDINGS = keys.bindings("main", *keys.WIDGETS)
    AUTO_FOCUS = "#fit"

    def __init__(self, *, lazy_settings: bool, background_charts: bool, autostart: bool, freeze_heap: bool,
                 first: Snapshot | None = None, entries: Entries | None = None):
        super().__init__()
        self.first = first  # the run as it starts (a test's steps may come before this screen is composed)
        self.lazy_settings = lazy_settings  # the settings' rows after the first frame (tests have them at once)
        self.background_charts = background_charts  # build charts off the UI thread (tests draw in place)
        self.autostart = autostart
        self.freeze_heap = freeze_heap  # at the first snapshot, start-up's objects are set aside from the GC
        self.solo: int | None = None
        self.hidden: set[int] = set()
        self.selected = 0
        self.race_entries = entries or Entries()  # the race set-up opens with the last race's
        self._shown_seq = -1  # the snapshot the header, log and board last showed
        self._next_draw = 0.0
        self._shown_data: DataView | None = None
        self._said_failure: str | None = None
        self._started = False
        self.too_small = Static("", id="too-small")  # told at the first resize, which may come before compose

    # ---- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # the parts are kept, so a dialog on top or the app's teardown never breaks a query
        self.status_bar = StatusBar(id="status")
        self.settings = SettingsPanel(self.host.cfg, lazy=self.lazy_settings, id="settings")
        self.fit_chart = FitChart(id="fit")
        self.loss_chart = LossChart(id="loss")
        self.log_view = LossLog(id="log", max_lines=2000)
        self.board = Leaderboard(id="board")
        self.player = TimelinePlayer(self.fit_chart, id="timeline")
        self.fit_chart.curve_label = self.board.curve_label
        self.panels: dict[str, Widget] = {"settings": self.settings, "fit": self.fit_chart, "board": self.board,
                                             "log": self.log_view}
        # the first frame: the header and the state the run starts in (drawn at the first redraw)
        self.show_header()
        if self.first is not None:
            self.log_view.start_from(self.first)
        yield self.status_bar
        yield self.too_small
        with Horizontal(id="main"):
            yield self.settings
            with Vertical(id="right"):
                yield self.fit_chart
                with Horizontal(id="bottom"):
                    yield self.loss_chart
                    yield self.log_view
                    yield self.board
        yield self.player
        yield KeyFooter(compact=True, show_command_palette=False)  # ctrl+p is in the help

    def on_mount(self) -> None:
        self.settings.border_title = "Settings"
        self.board.border_title = "Leaderboard"
        self.set_class(self.host.racing, "racing")
        self.set_interval(1 / REDRAW_HZ, self.refresh_view)
        if self.host.open_path is not None:
            self.open_run(self.host.open_path)

    def fit_to(self, size: Size) -> None:
        width, height = size
        tiny = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(tiny, "tiny")  # training goes on; growing the window brings it all back
        if tiny:
            self.too_small.update(f"too small: {width}×{height} (needs {MIN_SIZE[0]}×{MIN_SIZE[1]})")
        self.set_class(width < 70, "narrow")
        self.set_class(height < 18, "short")
        self.set_class(height < 30 or width < 100, "compact")
        self._shown_seq = -1  # the header picks its form for the new width

    def restarted(self) -> None:
        """A new engine, on the current settings."""
        self._started = not self.autostart
        self.redraw()
        self.log_line("engine restarted with the current settings")

    # ---- what the engine says ---------------------------------------------------------------
    def tell(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            if notice.text == "reset":
                continue
            self.log_line(notice.text)
            if notice.level in (Level.ERROR, Level.WARNING):
                self.notify(notice.text, severity=str(notice.level), timeout=4)  # type: ignore[arg-type]

    def on_say(self, msg: Say) -> None:
        self.log_line(msg.text)

    def log_line(self, line: str, wrap: bool = True) -> None:
        self.log_view.say(line, wrap)

    def show_header(self) -> None:
        self.status_bar.show(self.host.snapshot, Header(self.host.spec, self.host.pace_index, self.switching,
                                                        self.fit_chart.frame))

    def redraw(self) -> None:
        """Everything drawn again at the next redraw (the members shown, a reference, a run changed)."""
        self._shown_seq = -1
        self.fit_chart.stale()
        self.loss_chart.stale()

    # ---- drawing ----------------------------------------------------------------------------
    def refresh_view(self) -> None:
        """Redraw from the latest snapshot only, and only what it changed (≤ REDRAW_HZ a second).

        Each chart remembers the snapshot it last drew, so a chart that had no size yet (or was
        hidden) is drawn as soon as it can be, even if no new snapshot comes."""
        if self.host.quitting or not (self.fit_chart.region.width or self.has_class("tiny")):
            return  # not laid out yet: the log would cut and wrap its lines at no width
        self.tell(self.host.notices_since())
        snap = self.host.snapshot
        self._say_failure(snap)
        if snap is None:  # the worker is still loading torch
            return
        if self.freeze_heap:
            self.freeze_heap = False
            gc.freeze()
        self.arrived(snap)
        if snap.data is not self._shown_data:  # new data: say what was dropped or changed
            self._shown_data = snap.data
            self.settings.show_data(snap.data)  # your own data's facts in the settings panel
            for note in snap.data.notes if snap.data else ():
                self.log_line(note)
                self.notify(note, timeout=6)
        self.player.follow(snap)
        if snap.seq != self._shown_seq:
            self._show_snapshot(snap)
        now = time.monotonic()
        if now < self._next_draw:
            return
        self._draw_charts(snap, now)
        if self.autostart and not self._started and self.fit_chart.drawn_seq == snap.seq:
            self._started = True  # training begins once the user has seen the fit at step 0
            self.host.send(C.Start())

    def _say_failure(self, snap: Snapshot | None) -> None:
        """An engine that stopped is said whole in the log (the header may cut it); one that never
        started is the header's line."""
        failure = self.host.driver.failure
        if failure is not None and self._said_failure != failure:
            self._said_failure = failure
            self.log_line(f"the engine has stopped: {failure}")
        if snap is None:
            if failure is not None:
                self.status_bar.engine_failed(failure)
            else:
                self.show_header()

    def _show_snapshot(self, snap: Snapshot) -> None:
        self._shown_seq = snap.seq
        self.show_header()
        self.fit_chart.shown = self.loss_chart.shown = self.visible_members(snap)
        self.fit_chart.legend()
        for line in self.board.health_changes(snap):
            self.log_line(line)
        if snap.racing:
            self.board.show(snap, self.hidden, self.solo, self.selected, colour_on())
        else:
            self.log_view.record(snap, self.reference)

    def _draw_charts(self, snap: Snapshot, now: float) -> None:
        for chart in (self.fit_chart, self.loss_chart):
            if chart.drawn_seq != snap.seq and chart.display and chart.size.area and not chart.building:
                chart.shown = self.visible_members(snap)
                chart.draw(snap, self.host.driver.tracker, background=self.background_charts)
                chart.drawn_seq = snap.seq
        # charts take at most ~1/(1 + DRAW_SPACING) of a core: a slow build (many curves) is drawn less often
        if self.background_charts:  # (drawn in place, as in tests, every redraw is of the latest snapshot)
            spent = self.fit_chart.build_seconds + self.loss_chart.build_seconds
            self._next_draw = now + DRAW_SPACING * spent

    def visible_members(self, snap: Snapshot) -> list[int]:
        return visible_members(snap, self.solo, self.hidden, self.board.by_variant)

    # ---- keys -------------------------------------------------------------------------------
    async def action_part(self, name: str, action: str) -> None:
        """A key of the widget ``name`` owns, run by the widget (bound here, so it acts wherever the
        focus is on this screen); a widget that declines passes the key on."""
        if not await self.app.run_action(action, self.query_one(f"#{name}")):  # (Widget.run_action says nothing)
            raise SkipAction()

    def action_toggle_run(self) -> None:
        if self.player.away:
            self.player.live()  # space leaves the history for the live fit, as the header says; no more
            return
        self.host.send(C.Toggle())

    def action_step(self) -> None:
        self.host.send(C.Step(1))

    def action_pace(self, delta: int) -> None:
        self.host.set_pace(delta)
        self.show_header()  # the header shows the pace (no toast: they piled up over the panels)

    def action_reset(self) -> None:
        self.apply_spec(self.host.spec, "race reset" if self.host.racing else "reset weights")

    def action_new_data(self) -> None:
        self.change_setting("data.seed", self.host.cfg.data.seed + 1)

    def action_activation(self, delta: int) -> None:
        i = ACTIVATIONS.index(self.host.cfg.model.activation)
        self.change_setting("model.activation", ACTIVATIONS[(i + delta) % len(ACTIVATIONS)])

    def action_lr(self, factor: float) -> None:
        self.change_setting("train.lr", self.host.cfg.train.lr * factor)  # a float: halving then doubling is exact

    def action_device(self) -> None:
        """g: the run between the CPU and the GPU."""
        snap = self.host.driver.latest
        self.change_setting("train.device", "cuda" if snap is None or snap.device == "cpu" else "cpu")

    def on_setting_submitted(self, msg: SettingSubmitted) -> None:
        self.change_setting(msg.key, msg.raw)

    def action_inside_numbers(self) -> None:
        """The inspected member's numbers, per hidden layer, into the log."""
        snap = self.host.driver.latest
        if snap is None:
            return
        m = snap.members[min(self.fit_chart.member, len(snap.members) - 1)]
        if not m.stats:
            self.log_line(f"no numbers: {m.label if snap.racing else 'the run'} diverged (its weights are NaN)"
                          if m.diverged_at is not None else "no numbers yet: train a step first")
            return
        self.log_line(f"{m.label} at step {snap.stats_step:,}:")
        for line in inside_lines(m.stats):
            self.log_line("  " + line)

    @work
    async def expect(self, future: Future[Any], refused: Callable[[str], None]) -> None:
        """An engine reply awaited: ``refused(error)`` if it is a refusal."""
        try:
            await asyncio.wrap_future(future)
        except Exception as exc:
            refused(str(exc))
