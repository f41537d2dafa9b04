"""The Textual app: turns keys and form edits into engine commands, and snapshots into pixels."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.markup import escape
from textual import events
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.timer import Timer
from textual.widgets import Input, Log, Static

from fitscope.core import commands as C
from fitscope.core import reference as reference_mod
from fitscope.core import rundir
from fitscope.core import spec as spec_mod
from fitscope.core.config import ACTIVATIONS, FitConfig, data_label, file_problem, shape_text
from fitscope.core.driver import Driver
from fitscope.core.errors import ConfigError
from fitscope.core.reference import Reference
from fitscope.core.snapshot import DataView, Level, Notice, Snapshot, State
from fitscope.core.spec import RunSpec, coerce_seeds, parse_values
from fitscope.tui import web_exit
from fitscope.tui.formatting import num
from fitscope.tui.inside_view import TimelineView, inside_fields, inside_lines
from fitscope.tui.messages import FramesReady, ResetRefused, RunOpened, RunSaved, SettingSubmitted
from fitscope.tui.palette import Palette, binding_commands
from fitscope.tui.plan import Live, Move, Refusal, Unchanged, plan
from fitscope.tui.plotting import chart_text
from fitscope.tui.race_setup import CompareSetup, Confirm, Entries, unsaved
from fitscope.tui.screens import Dialog, HelpScreen, PathDialog
from fitscope.tui.widgets.charts import VIEWS, FitChart, FrameView, LossChart, colour_on
from fitscope.tui.widgets.footer import KeyFooter
from fitscope.tui.widgets.leaderboard import Leaderboard, lead_text, member_tag, unit_tag, visible_members
from fitscope.tui.widgets.settings import SettingsPanel
from fitscope.tui.widgets.textview import LogView, TextView

PACES: list[tuple[float | None, str]] = [
    (10, "10/s"), (30, "30/s"), (100, "watch"), (300, "300/s"), (1000, "1k/s"), (3000, "3k/s"), (None, "flat out")]
WATCH = 2  # the lesson's 300 steps unfold over ~3 s
REDRAW_HZ = 10
MIN_SIZE = (40, 12)  # below this one centred line says so
EXIT_GRACE = 5.0  # seconds a signalled app has to exit cleanly before it is ended at once


def _exit_later(signum: int) -> None:
    """Ends the process with 128 + the signal's number unless the app exits first (this thread
    is a daemon: a clean exit ends it). The worker sees its pipe close and ends too."""
    time.sleep(EXIT_GRACE)
    os._exit(128 + signum)
DRAW_SPACING = 3  # after a chart build of t seconds, the next one waits 3t
LOG_EVERY = 0.5  # seconds between loss-log lines while running
STATE_ICON = {State.STARTING: "… engine starting", State.READY: "■ ready", State.RUNNING: "▶ running",
              State.PAUSED: "❚❚ paused", State.DONE: "✓ done", State.DIVERGED: "✗ diverged",
              State.STOPPED: "■ stopped", State.ERROR: "✗ error"}

DriverFactory = Callable[[RunSpec], Driver]


def _process_driver(spec: RunSpec) -> Driver:
    from fitscope.core.process_driver import ProcessDriver

    return ProcessDriver(spec)


def _thread_driver(spec: RunSpec) -> Driver:
    # only for --engine thread: it trains in this process, so it loads torch here
    from fitscope.core.thread_driver import ThreadDriver

    return ThreadDriver(spec)


ENGINES: dict[str, DriverFactory] = {"process": _process_driver, "thread": _thread_driver}


class FitscopeApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "fitscope"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("space", "toggle_run", "run"),
        Binding("n", "step", "step", show=False),
        Binding("left_square_bracket", "pace(-1)", "slower", show=False),
        Binding("right_square_bracket", "pace(1)", "faster", show=False),
        Binding("r", "reset", "reset"),
        Binding("d", "new_data", "new data", show=False),
        Binding("a", "activation(1)", "activation", show=False),
        Binding("A", "activation(-1)", "previous activation", show=False),
        Binding("plus,equals_sign", "lr(2.0)", "lr×2", show=False),
        Binding("minus,underscore", "lr(0.5)", "lr÷2", show=False),
        Binding("t", "truth", "truth", show=False),
        Binding("l", "log_axis", "log/lin", show=False),
        Binding("e", "save_run", "save", show=False),
        # keys that open a dialog are priority keys, so the keys typed right after them wait in
        # order and land in the dialog, not in the screen below while the dialog mounts
        Binding("ctrl+o", "open_run", "open run", show=False, priority=True),
        Binding("ctrl+w", "write_settings", "write settings", show=False, priority=True),
        Binding("b", "reference", "reference run", show=False, priority=True),
        Binding("ctrl+s", "screenshot_svg", "screenshot", show=False),
        Binding("tab", "panel(1)", "next panel", show=False, priority=True),
        Binding("shift+tab", "panel(-1)", "previous panel", show=False, priority=True),
        Binding("c", "compare", "compare", priority=True),
        *[Binding(str(i), f"member({i})", f"solo member {i}", show=False) for i in range(1, 10)],
        Binding("h", "hide_member", "hide member", show=False),
        Binding("R", "restart_engine", "restart engine", show=False),
        Binding("s", "settings_overlay", "settings"),
        Binding("g", "device", "cpu/gpu", show=False),
        Binding("v", "view", "view"),
        Binding("o", "ghosts", "earlier fits", show=False),
        Binding("comma", "frame(-1)", "frame back", show=False),
        Binding("full_stop", "frame(1)", "frame forward", show=False),
        Binding("home", "frame_edge(0)", "first frame", show=False, priority=True),
        Binding("end", "frame_edge(1)", "last frame", show=False, priority=True),
        Binding("p", "replay", "replay", show=False),
        Binding("i", "inside_numbers", "network numbers", show=False),
        Binding("question_mark", "help", "help", priority=True),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, cfg: FitConfig | None = None, *, engine_factory: DriverFactory | None = None,
                 autostart: bool = False, pace: int = WATCH, spec: RunSpec | None = None,
                 background_charts: bool = False, lazy_settings: bool = False, open_run: str | None = None,
                 freeze_heap: bool = False):
        super().__init__()
        self.spec = spec or RunSpec(cfg or FitConfig())
        self.cfg = self.spec.base
        self.pace_index = pace
        self.engine_factory = engine_factory or ENGINES["process"]
        self.solo: int | None = None
        self.hidden: set[int] = set()
        self.selected = 0
        self.autostart = autostart
        self.background_charts = background_charts  # build charts off the UI thread (tests draw in place)
        self.lazy_settings = lazy_settings  # the settings' rows after the first frame (tests have them at once)
        # at the first snapshot, all that start-up made is set aside from the garbage collector: its
        # full passes over it held the UI up ~55 ms a few times a minute (tests, many apps in one
        # process, leave it be)
        self.freeze_heap = freeze_heap
        self._drawn_seq = -1
        self._last_log = 0.0
        self._last_state = ""
        self._logged_step = 0
        self._next_draw = 0.0
        self._shown_data: DataView | None = None
        self._quitting = False
        self._switch_from: int | None = None  # the run id a switch is replacing, until it arrives
        self._notices: deque[Notice] = deque()
        self._started = False
        self._said_failure: str | None = None
        self.clock = time.monotonic  # the log's average rate is of wall time while running
        self._running_from: tuple[float, int] | None = None  # (when, step) the run last started
        self._ran: tuple[int, float, int] = (-1, 0.0, 0)  # run id, seconds it ran, steps it made then
        self.ghosts_on = False
        self._ghosts_at = 0.0
        self._frames: TimelineView | None = None
        self._asking_frames = False
        self._after_frames: Callable[[], None] | None = None
        self._replay: Timer | None = None
        self.crash: str | None = None  # an unexpected error that stopped the app, in one line
        self.crash_log: str | None = None
        self.reference: Reference | None = None
        self._confirm_write: str | None = None
        self.race_entries = Entries.of(self.spec)  # the race set-up opens with the last race's
        self._saved_at: tuple[int, int] | None = None  # (run id, step) of the last save
        self._exit_timer = threading.Event()  # set once a signal has started the exit timer
        self._old_handlers: dict[int, signal._HANDLER] = {}  # given back when the app ends (tests run many apps)
        # the driver starts at once: a worker process loads torch while the first frame is drawn
        self.driver = self._new_driver()
        if open_run is not None:
            self.autostart = False  # a reopened run waits for space
            self._open_run(open_run)

    @property
    def racing(self) -> bool:
        return self.spec.racing

    @property
    def race_spec(self) -> dict:
        return self.spec.varied

    def _new_driver(self) -> Driver:
        driver = self.engine_factory(self.spec)
        driver.subscribe(lambda snap: self._notices.extend(snap.notices))  # every snapshot's, in order
        driver.send(C.SetPace(PACES[self.pace_index][0]))
        return driver

    def send(self, cmd: C.Command):
        """Every command goes through here; a refusal comes back as a notice in the log."""
        if self.driver.failure is not None:
            self.notify("the engine has stopped — press R to restart it", severity="error", timeout=3)
        return self.driver.send(cmd)

    # ---- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TextView(id="status")
        yield Static("", id="too-small")
        with Horizontal(id="main"):
            yield SettingsPanel(self.cfg, lazy=self.lazy_settings, id="settings")
            with Vertical(id="right"):
                yield FitChart(id="fit")
                with Horizontal(id="bottom"):
                    yield LossChart(id="loss")
                    yield LogView(id="log", max_lines=2000)
                    yield Leaderboard(id="board")
        yield KeyFooter(compact=True, show_command_palette=False)  # ctrl+p is in the help

    def on_mount(self) -> None:
        # SIGTERM, SIGHUP when an SSH connection drops, or SIGINT from kill (the terminal's ctrl+c is
        # a key here): stop training, restore the terminal, exit 128 + the signal's number
        loop = asyncio.get_running_loop()

        def received(signum: int, _frame) -> None:
            # a handler of the interpreter's own, not the event loop's: when the terminal stops
            # taking output (an SSH drop, a frozen tmux), Textual's writes block the loop for good
            # and a loop handler would never run; the timer below ends the process then
            with contextlib.suppress(RuntimeError):  # the loop already closed: the timer still ends it
                loop.call_soon_threadsafe(self.on_signal, signum)
            if not self._exit_timer.is_set():
                self._exit_timer.set()
                threading.Thread(target=_exit_later, args=(signum,), daemon=True, name="fitscope-exit").start()

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not the main thread (the app run by a test's thread)
                self._old_handlers[sig] = signal.signal(sig, received)
        web_exit.watch(self, lambda: self.on_signal(signal.SIGHUP))  # served: its page or server gone ends it
        # kept, so a modal screen on top or the app's teardown never breaks a query
        main = self.screen
        self.status_bar = main.query_one("#status", TextView)
        self.fit_chart = main.query_one(FitChart)
        self.loss_chart = main.query_one(LossChart)
        self.log_view = main.query_one("#log", Log)
        self.settings = main.query_one(SettingsPanel)
        self.board = main.query_one("#board", Leaderboard)
        self.panels = {"settings": self.settings, "fit": self.fit_chart, "board": self.board, "log": self.log_view}
        # the log's column names live in its border, so they never scroll away
        for selector, title in (("#settings", "Settings"), ("#fit", "Fit"), ("#loss", "Loss"),
                                ("#log", "Log: step · loss · steps/s"),
                                ("#board", "Leaderboard")):
            self.query_one(selector).border_title = title
        self.screen.set_class(self.racing, "racing")
        self._legends()
        self.query_one("#fit").focus()
        self.set_interval(1 / REDRAW_HZ, self.refresh_view)
        self.refresh_view()

    def on_resize(self, event) -> None:
        self._drawn_seq = -1  # the header picks its form for the new width
        width, height = event.size
        tiny = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.screen_stack[0].set_class(tiny, "tiny")  # training goes on; growing the window brings it all back
        if tiny:
            self.screen_stack[0].query_one("#too-small", Static).update(
                f"too small: {width}×{height} (needs {MIN_SIZE[0]}×{MIN_SIZE[1]})")
        self.screen.set_class(event.size.width < 70, "narrow")
        self.screen.set_class(event.size.height < 18, "short")
        self.screen.set_class(event.size.height < 30 or event.size.width < 100, "compact")
        # the log only follows new lines while it is scrolled to its end; a resize moves that end
        self.call_after_refresh(self._follow_log)

    def _follow_log(self) -> None:
        for log in self.screen_stack[0].query("#log").results(Log):
            log.scroll_end(animate=False, immediate=True)

    # ---- drawing ----------------------------------------------------------------------------
    def refresh_view(self) -> None:
        """Redraw from the latest snapshot only, and only what it changed (≤ REDRAW_HZ a second).

        Each chart remembers the snapshot it last drew, so a chart that had no size yet (or was
        hidden) is drawn as soon as it can be, even if no new snapshot comes.
        """
        if self._quitting or not self.is_running:
            return
        while self._notices:
            self._show_notice(self._notices.popleft())
        snap = self.driver.latest
        self._say_failure(snap)
        if snap is None:  # the worker is still loading torch
            return
        if self.freeze_heap:
            self.freeze_heap = False
            gc.freeze()
        if self._switch_from is not None and snap.run_id != self._switch_from:
            self._switch_from = None
        if snap.data is not self._shown_data:  # new data: say what was dropped or changed
            self._shown_data = snap.data
            self.settings.show_data(snap.data)  # your own data's facts in the settings panel
            for note in snap.data.notes if snap.data else ():
                self.log_line(note)
                self.notify(note, timeout=6)
        frames = self._frames
        if self.fit_chart.frame is not None and (
                (snap.state == State.RUNNING and self._replay is None) or frames is None or frames.run_id != snap.run_id):
            self._live()  # training again, or another run: the live fit
        self._update_ghosts(snap)
        if snap.seq != self._drawn_seq:
            self._show_snapshot(snap)
        now = time.monotonic()
        if now < self._next_draw:
            return
        self._draw_charts(snap, now)
        if self.autostart and not self._started and self.fit_chart.drawn_seq == snap.seq:
            self._started = True  # training begins once the user has seen the fit at step 0
            self.send(C.Start())

    def _say_failure(self, snap: Snapshot | None) -> None:
        """An engine that stopped is said whole in the log (the header may cut it); one that never
        started is the header's line."""
        if self.driver.failure is not None and self._said_failure != self.driver.failure:
            self._said_failure = self.driver.failure
            self.log_line(f"the engine has stopped: {self.driver.failure}")
        if snap is None:
            if self.driver.failure is not None:
                self.status_bar.update(escape(f"✗ the engine could not start: {self.driver.failure}"))
            else:
                self.status_bar.update(self._status_line(None))

    def _show_snapshot(self, snap: Snapshot) -> None:
        self._drawn_seq = snap.seq
        self.status_bar.update(self._status_line(snap))
        self._legends()
        for line in self.board.health_changes(snap):
            self.log_line(line)
        if snap.racing:
            self.board.show(snap, self.hidden, self.solo, self.selected, colour_on())
        else:
            self._log_snapshot(snap)

    def _draw_charts(self, snap: Snapshot, now: float) -> None:
        for chart in (self.fit_chart, self.loss_chart):
            if chart.drawn_seq != snap.seq and chart.display and chart.size.area and not chart.building:
                chart.shown = self.visible_members(snap)
                chart.draw(snap, self.driver.tracker, background=self.background_charts)
                chart.drawn_seq = snap.seq
        if self.fit_chart.view == "units":
            self._legends()  # the units' names come with their drawing
        # charts take at most ~1/(1 + DRAW_SPACING) of a core: a slow build (many curves) is drawn less often
        if self.background_charts:  # (drawn in place, as in tests, every redraw is of the latest snapshot)
            spent = self.fit_chart.build_seconds + self.loss_chart.build_seconds
            self._next_draw = now + DRAW_SPACING * spent

    def _show_notice(self, notice: Notice) -> None:
        if notice.text in ("reset",):
            return
        self.log_line(notice.text)
        if notice.level in (Level.ERROR, Level.WARNING):
            self.notify(notice.text, severity=str(notice.level), timeout=4)  # type: ignore[arg-type]

    def visible_members(self, snap: Snapshot) -> list[int]:
        return visible_members(snap, self.solo, self.hidden, self.board.by_variant)

    def _legends(self) -> None:
        """Legends live in the border, so they never cover the data. Each names a series by what
        it is drawn with: colours, or without colour (NO_COLOR) the markers that replace them."""
        snap = self.driver.latest
        loss = self.loss_chart
        colour = colour_on()
        loss.border_subtitle = ("log" if loss.log_y else "linear") + " y"
        if snap is not None and not snap.racing and snap.test_loss is not None:
            loss.border_subtitle += ("  [bold red]━ train[/]  [orange]━ test[/]" if colour else "  ⠂ train  x test")
        fit = self.fit_chart
        fit_tag = "[bold red]━ fit" if colour else "[bold]▀ fit"
        if fit.view == "units":
            tags = [f"{unit_tag(k, colour)} {escape(label)}" for k, label in enumerate(fit.unit_labels[:9])]
            fit.border_subtitle = f"{fit_tag} = Σ units + bias[/]  " + "  ".join(tags)
            return
        if fit.view == "kinks":
            kink = "[yellow]▲ kink[/]" if colour else "^ kink"
            fit.border_subtitle = f"{fit_tag}[/]  {kink}  (v: next view)"
            return
        if snap is not None and snap.racing:
            shown = self.visible_members(snap)
            tags = [f"{member_tag(i, colour)} {escape(self.board.curve_label(snap, i))}" for i in shown[:9]]
            more = f"  +{len(shown) - 9}" if len(shown) > 9 else ""
            self.fit_chart.border_subtitle = "  ".join(tags) + more
            return
        has_truth = fit.show_truth and snap is not None and snap.data is not None and snap.data.truth is not None
        if colour:
            truth = "  [dim]┄ truth[/]" if has_truth else ""
            fit.border_subtitle = f"[cyan]⠂ data[/]  {fit_tag}[/]{truth}"
        else:
            truth = "  • truth" if has_truth else ""
            fit.border_subtitle = f"⠂ data  {fit_tag}[/]{truth}"
        if snap is not None and snap.test_loss is not None:
            fit.border_subtitle += "  [orange]x test[/]" if colour else "  x test"
        if self.reference is not None:  # drawn dashed: in colour, or with "-" without
            fit.border_subtitle += "  [magenta]╌ ref[/]" if colour else "  - ref"

    def _experiment(self, cfg: FitConfig) -> str:
        target = data_label(cfg.data)
        if cfg.data.target == "cubic" and not cfg.data.file:
            target = "cubic x³−x²"
        return (f"{target} · {shape_text(cfg.model)} {cfg.model.activation} · "
                f"{cfg.train.optimizer} lr {cfg.train.lr:g}")

    def _status_line(self, snap: Snapshot | None) -> str:
        """State, step, loss and pace always; then, as the width allows, steps/s, the test loss,
        and the recipe (a race's: what varies, on which base settings)."""
        pace = f"pace {PACES[self.pace_index][1]}"
        if snap is None:
            must, extra = [STATE_ICON[State.STARTING], pace], []
        else:
            must = [STATE_ICON.get(snap.state, str(snap.state)), f"step {snap.step:,}/{snap.budget:,}",
                    lead_text(snap), pace]
            extra = [f"{snap.steps_per_s:,.0f} steps/s"] if snap.state == State.RUNNING else []
            extra.append(snap.device if snap.memory is None else f"{snap.device} {snap.memory / 2 ** 20:,.0f} MB")
            if snap.test_loss is not None:
                extra.append(f"test {num(snap.test_loss, 4)}")
        if self._switch_from is not None:
            must[0] = "… switching"
        frame = self.fit_chart.frame if hasattr(self, "fit_chart") else None
        if frame is not None and snap is not None:
            must = [f"◀ frame {frame.index + 1}/{frame.count}", f"step {frame.step:,}", f"loss {num(frame.loss, 4)}",
                    ". , move · space live"]
        width = self.size.width - 2
        cfg = self.cfg
        recipe = self._experiment(cfg)
        if self.racing:
            recipe = f"race of {self.spec.count()} ({', '.join(self.race_spec)}) · base {recipe}"
        short = (f"{data_label(cfg.data)} {shape_text(cfg.model)} {cfg.model.activation} {cfg.train.optimizer} "
                 f"{cfg.train.lr:g}")
        if self.racing:
            short = f"race of {self.spec.count()} ({', '.join(self.race_spec)})"
        right = "  ".join(must)
        for part in extra:  # steps/s, the device, the test loss: where the short recipe still fits
            if len(right) + len(part) + 2 <= width - max(20, len(short) + 2):
                right = right.replace(f"  {pace}", f"  {part}  {pace}")
        for left in (f"fitscope  {recipe}", recipe, short,
                     f"race of {self.spec.count()}" if self.racing else "fitscope", ""):
            if len(left) + len(right) + 2 <= width:
                break
        if len(right) > width:
            right = right[:max(0, width - 1)] + "…"
        gap = max(2 if left else 0, width - len(left) - len(right))
        return escape(left) + " " * gap + escape(right)

    def log_line(self, line: str, wrap: bool = True) -> None:
        """A message wraps at the log's width (it has no sideways scroll); a table row does not."""
        width = self.log_view.scrollable_content_region.width
        if wrap and width >= 20 and len(line) > width:
            indent = " " * min(len(line) - len(line.lstrip()) + 2, 8)
            self.log_view.write_lines(textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False))
        else:
            self.log_view.write_line(line)

    def _log_snapshot(self, snap: Snapshot) -> None:
        now = self.clock()
        avg = self._average_rate(snap, now)
        rate = f"{snap.steps_per_s:>6,.0f}/s" if avg is None else f"{avg:>6,.0f}/s avg"
        base = f"{snap.step:>6} {num(snap.train_loss):<9} {rate}"
        fields = ([f"  test {num(snap.test_loss)}"] if snap.test_loss is not None else []) + inside_fields(
            snap.members[0].stats)
        line = fit_row(base, fields, self.log_view.scrollable_content_region.width)
        if snap.state != self._last_state and snap.state != State.RUNNING and self._last_state:
            # the state first: the row is there to say it (as its icon where the word does not fit);
            # what does not fit after it is left out
            width = self.log_view.scrollable_content_region.width
            state = f"  {snap.state}"
            if 0 < width < len(base) + len(state):
                state = "  " + STATE_ICON.get(snap.state, str(snap.state)).split()[0]
            self.log_line(fit_row(base, [state, *fields], width), wrap=False)
            self._logged_step = snap.step
            if snap.state == State.DONE and self.reference is not None:
                self.log_line(f"final loss {num(snap.train_loss)} · reference {self.reference.name} "
                              f"{num(self.reference.final_loss)}")
        elif (snap.state == State.RUNNING and now - self._last_log >= LOG_EVERY) or (
                snap.state != State.RUNNING and snap.step != self._logged_step):  # e.g. steps by hand
            self.log_line(line, wrap=False)
            self._last_log, self._logged_step = now, snap.step
        self._last_state = snap.state

    def _average_rate(self, snap: Snapshot, now: float) -> float | None:
        """Once a run stops, steps per second of wall time while it ran (at a pace, about the pace);
        None while it runs, or when it only ever stepped by hand."""
        if snap.run_id != self._ran[0]:
            self._ran, self._running_from = (snap.run_id, 0.0, 0), None
        if snap.state == State.RUNNING:
            if self._running_from is None:
                self._running_from = (now, snap.step)
            return None
        if self._running_from is not None:
            t0, s0 = self._running_from
            run_id, wall, steps = self._ran
            self._ran, self._running_from = (run_id, wall + now - t0, steps + snap.step - s0), None
        _, wall, steps = self._ran
        return steps / wall if wall > 0 and steps > 0 else None

    # ---- actions ----------------------------------------------------------------------------
    def action_toggle_run(self) -> None:
        if self._replay is not None or self.fit_chart.frame is not None:
            self._live()  # space leaves the history for the live fit, as the header says; no more
            return
        self.send(C.Toggle())

    def action_step(self) -> None:
        self.send(C.Step(1))

    def action_pace(self, delta: int) -> None:
        self.pace_index = max(0, min(len(PACES) - 1, self.pace_index + delta))
        self.send(C.SetPace(PACES[self.pace_index][0]))
        self._drawn_seq = -1  # the header shows the pace (no toast: they piled up over the panels)
        self.status_bar.update(self._status_line(self.driver.latest))

    def action_reset(self) -> None:
        self._apply_spec(self.spec, "race reset" if self.racing else "reset weights")

    def action_new_data(self) -> None:
        self.change_setting("data.seed", self.cfg.data.seed + 1)

    def action_activation(self, delta: int) -> None:
        i = ACTIVATIONS.index(self.cfg.model.activation)
        self.change_setting("model.activation", ACTIVATIONS[(i + delta) % len(ACTIVATIONS)])

    def action_lr(self, factor: float) -> None:
        self.change_setting("train.lr", self.cfg.train.lr * factor)  # a float: halving then doubling is exact

    def action_truth(self) -> None:
        fit = self.fit_chart
        fit.show_truth = not fit.show_truth
        fit.drawn_seq = -1
        self._legends()

    def action_log_axis(self) -> None:
        loss = self.loss_chart
        loss.log_y = not loss.log_y
        loss.drawn_seq = -1
        self._legends()

    def action_save_run(self) -> None:
        if self.driver.failure is not None:
            self.notify("the engine has stopped — press R to restart it", severity="error", timeout=3)
            return
        snap = self.driver.latest
        text = chart_text(snap, 100, 30, color=False) if snap is not None and snap.data is not None else ""
        future = self.send(C.Save(fit_text=text))

        def done(f):  # runs on the driver's thread: post_message is thread-safe
            exc = f.exception()
            if isinstance(exc, C.Refused):
                return  # the refusal comes as a notice
            self.post_message(RunSaved(None if exc else str(f.result()), str(exc) if exc else None))

        future.add_done_callback(done)

    def on_run_saved(self, msg: RunSaved) -> None:
        if msg.error:
            self.notify(f"save failed: {msg.error}", severity="error")
        else:
            latest = self.driver.latest
            self._saved_at = (latest.run_id, latest.step) if latest is not None else None
            self.notify(f"saved run to {msg.path}/ (config, metrics, checkpoint, chart, summary; ctrl+o reopens it)")

    # ---- runs you keep: open, write settings, a reference -------------------------------------
    def _recent_runs(self) -> str:
        try:
            found = rundir.listing("runs")[:6]
        except OSError:
            return ""
        lines = []
        for folder, index in found:
            if isinstance(index, str):
                continue
            info = index.get("listing") if isinstance(index.get("listing"), dict) else {}
            assert isinstance(info, dict)
            loss = info.get("final_loss")
            lines.append(f"  runs/{folder.name}  {info.get('steps', '?')} steps  "
                         f"loss {num(loss) if isinstance(loss, (int, float)) else '—'}")
        return ("recent:\n" + "\n".join(lines)) if lines else ""

    async def action_open_run(self) -> None:
        self._main_keys_only()
        await self._open(PathDialog("Open a saved run, to look at it or continue it",
                                    "tab or → completes a folder name · enter opens · escape cancels",
                                    "runs/", self._open_run, listing=self._recent_runs()))

    def _open_run(self, path: str) -> str | None:
        """Checked here for what needs no torch; the engine loads it (and may still refuse)."""
        if not path:
            return "give the folder of a saved run, e.g. runs/20261129-140039-cubic-relu"
        path = os.path.expanduser(path)
        try:
            rundir.read_index(Path(path))
        except rundir.RunDirError as exc:
            return str(exc)

        def answered(f) -> None:  # on the driver's thread
            exc = f.exception()
            self.post_message(RunOpened(path, None if exc else f.result(), str(exc) if exc else None))

        self.send(C.Open(path)).add_done_callback(answered)
        return None

    def on_run_opened(self, msg: RunOpened) -> None:
        if msg.spec is None:  # the engine's notice has said why, in the log and a toast
            return
        self.spec, self.cfg = msg.spec, msg.spec.base
        self.solo, self.hidden, self.selected = None, set(), 0
        self.screen_stack[0].set_class(self.racing, "racing")
        self.settings.show_config(self.cfg)
        self._shown_data = None
        self._redraw()

    async def action_write_settings(self) -> None:
        self._main_keys_only()
        self._confirm_write = None
        await self._open(PathDialog("Write the current settings to a TOML file",
                                    "enter writes · fitscope --config FILE reads it back · escape cancels",
                                    "fitscope.toml", self._write_settings, folders_only=False))

    def _write_settings(self, path: str) -> str | None:
        if not path:
            return "give a file name, e.g. fitscope.toml"
        target = Path(os.path.expanduser(path))
        problem = file_problem(target)
        if problem and problem != "no such file":  # a folder, a FIFO, a device, a name too long: never written over
            return f"{path}: {problem}"
        if problem is None and self._confirm_write != path:
            self._confirm_write = path
            return f"{path} exists: enter again to replace it"
        try:
            rundir.write_atomic(target, spec_mod.to_toml(self.spec).encode())
        except OSError as exc:
            return f"cannot write {path}: {exc.strerror or exc}"
        self.log_line(f"settings written to {path}")
        self.notify(f"settings written to {path} (fitscope --config {path})")
        return None

    async def action_reference(self) -> None:
        self._main_keys_only()
        await self._open(PathDialog("Compare with a saved run: its fit and loss drawn dashed",
                                    "tab or → completes · enter sets it · an empty field clears it · escape cancels",
                                    "runs/", self._set_reference, listing=self._recent_runs()))

    def _set_reference(self, path: str) -> str | None:
        if not path:
            self.reference = None
            self.log_line("no reference run")
        else:
            try:
                self.reference = reference_mod.load(os.path.expanduser(path))
            except (rundir.RunDirError, OSError) as exc:
                return str(exc)
            self.log_line(f"reference {self.reference.name} ({self.reference.label}): final loss "
                          f"{num(self.reference.final_loss)}")
        self.fit_chart.reference = self.loss_chart.reference = self.reference
        self._redraw()
        return None

    def action_screenshot_svg(self) -> None:
        try:
            path = self.save_screenshot(filename=free_name(time.strftime("fitscope-%Y%m%d-%H%M%S"), ".svg"))
        except OSError as exc:
            self.notify(f"screenshot failed: {exc}", severity="error")
            return
        self.notify(f"screenshot saved to {path}")
        self.log_line(f"screenshot saved to {path}")

    async def action_compare(self) -> None:
        self._main_keys_only()
        if not self.racing:
            await self._open(CompareSetup(self._start_race, self.race_entries))
            return
        self.race_entries = Entries.of(self.spec)

        def leave() -> None:
            self.switch_spec(RunSpec(self.cfg))
            self.log_line("back to a single run")

        async def new_race() -> None:
            await self._open(CompareSetup(self._start_race, self.race_entries))

        saved = "This race is not saved (e saves it)." if unsaved(self.driver.latest, self._saved_at) \
            else "This race is saved."
        await self.push_screen(Confirm(saved, {"c": ("back to a single run", leave),
                                               "n": ("a new race, set up from this one", new_race)}))

    def _main_keys_only(self) -> None:
        """A dialog key is the app's on the main screen with no field being typed in; elsewhere the
        key goes on as a key (a character in a field, the dialog's own binding)."""
        if isinstance(self.focused, Input) or self.screen is not self.screen_stack[0]:
            raise SkipAction()

    async def _open(self, dialog: Dialog) -> None:
        await self.push_screen(dialog)
        await dialog.ready.wait()

    def _start_race(self, texts: dict[str, str], seeds_text: str) -> str | None:
        """From the setup screen: an error message for the screen, or None once the race runs."""
        try:
            seeds = coerce_seeds(seeds_text)
            vary = {key: parse_values(key, text) for key, text in texts.items()}
            spec = RunSpec.race(self.cfg, vary, seeds)
            if spec.count() < 2:
                raise ConfigError("compare", spec.count(), "a race needs at least 2 members: give a setting "
                                  "two or more values, or 2 or more seeds")
        except ConfigError as exc:
            return str(exc)
        self.switch_spec(spec)
        self.send(C.Start())
        self.log_line(f"race: {spec.count()} members varying {', '.join(vary) or 'the init seed'}")
        return None

    @property
    def switching(self) -> bool:
        """A switch is on its way: the run it replaces may still be the latest snapshot."""
        return self._switch_from is not None

    @property
    def replaying(self) -> bool:
        """The timeline is replaying on its own timer (p)."""
        return self._replay is not None

    def switch_spec(self, spec: RunSpec, key: str | None = None) -> None:
        """Single <-> race or new settings: a Reset in the same worker, never a new process.

        The run may refuse the spec (a device that is not there, an unreadable file: checks
        that need torch or the data); then the app goes back to the spec the run still trains."""
        latest = self.driver.latest
        self._switch_from = latest.run_id if latest is not None else None
        previous = self.spec
        self.spec, self.cfg = spec, spec.base

        def refused(f) -> None:  # on the driver's thread, or at once with a hand-driven one
            exc = f.exception()
            if exc is not None:
                self.post_message(ResetRefused(spec, previous, key, str(exc)))

        self.send(C.Reset(spec)).add_done_callback(refused)
        self.solo, self.hidden, self.selected = None, set(), 0
        self.fit_chart.member, self._frames, self.fit_chart.ghosts = 0, None, []
        self._live()
        self.screen_stack[0].set_class(spec.racing, "racing")
        self._redraw()
        self._shown_data = None

    def action_member(self, n: int) -> None:
        snap = self.driver.latest
        if snap is None or not snap.racing:
            self.notify("1–9 pick a member in compare mode (c)", timeout=2)
            return
        i = n - 1
        if i >= len(snap.members):
            self.notify(f"there are {len(snap.members)} members", timeout=2)
            return
        self.solo = None if self.solo == i else i
        self.selected = i
        self._inspect(i)
        self._redraw()

    def on_leaderboard_picked(self, msg: Leaderboard.Picked) -> None:
        self.selected = msg.member
        self._inspect(msg.member)
        self._redraw()

    def on_leaderboard_chosen(self, msg: Leaderboard.Chosen) -> None:
        self.action_member(msg.member + 1)

    def on_leaderboard_toggled(self, msg: Leaderboard.Toggled) -> None:
        self._redraw()
        self._legends()

    # ---- inside the network: views, the timeline --------------------------------------------
    def _inspect(self, i: int) -> None:
        if self.fit_chart.member != i:
            self.fit_chart.member = i
            self.send(C.Inspect(i))
            self._frames = None

    def action_view(self) -> None:
        chart = self.fit_chart
        chart.view = VIEWS[(VIEWS.index(chart.view) + 1) % len(VIEWS)]
        chart.border_title = {"fit": "Fit", "units": "Units: what each unit adds", "kinks": "Kinks"}[chart.view]
        chart.drawn_seq = -1
        self._legends()

    def action_ghosts(self) -> None:
        self.ghosts_on = not self.ghosts_on
        if not self.ghosts_on:
            self.fit_chart.ghosts = []
        self._ghosts_at = 0.0
        self.fit_chart.drawn_seq = -1
        self.log_line("earlier fits: " + ("the last three timeline frames, faint" if self.ghosts_on else "off"))

    def _want_frames(self, then) -> None:
        """The timeline from the engine (asked for again when the run has moved on), then ``then()``."""
        snap = self.driver.latest
        if snap is None:
            return
        frames = self._frames
        if frames is not None and frames.run_id == snap.run_id and int(frames.steps[-1]) == snap.step:
            then()
            return
        self._after_frames = then
        if self._asking_frames:
            return
        self._asking_frames = True
        run_id = snap.run_id

        def answered(f) -> None:
            exc = f.exception()
            self.post_message(FramesReady(None if exc else f.result(), run_id, str(exc) if exc else None))

        self.send(C.Timeline(self.fit_chart.member)).add_done_callback(answered)

    def on_frames_ready(self, msg: FramesReady) -> None:
        self._asking_frames = False
        if msg.frames is None:
            return
        self._frames = TimelineView(msg.frames, msg.run_id)
        then, self._after_frames = self._after_frames, None
        if then is not None:
            then()

    def action_frame(self, delta: int) -> None:
        snap = self.driver.latest
        if snap is None:
            return
        if snap.state == State.RUNNING:
            self.notify("pause first (space) to move through the fit's history", timeout=2)
            return
        self._want_frames(lambda: self.show_frame(delta=delta))

    def action_frame_edge(self, end: int) -> None:
        self._main_keys_only()  # in a field home and end move its cursor (in order); in help they scroll it
        if self.focused is self.board:  # the leaderboard's first / last row
            raise SkipAction()
        snap = self.driver.latest
        if snap is None or snap.state == State.RUNNING:
            return
        self._want_frames(lambda: self.show_frame(at=-1 if end else 0))

    def show_frame(self, delta: int = 0, at: int | None = None) -> None:
        frames = self._frames
        if frames is None:
            return
        count = len(frames.steps)
        current = self.fit_chart.frame.index if self.fit_chart.frame is not None else count - 1
        index = (at % count) if at is not None else max(0, min(count - 1, current + delta))
        step = int(frames.steps[index])
        h = self.driver.tracker.history(self.fit_chart.member)
        i = int(np.searchsorted(h.step, step))
        loss = float(h.loss[i]) if step and i < len(h) and h.step[i] == step else None
        self.fit_chart.frame = FrameView(index, count, step, loss, frames.fits[index], frames.layers)
        self.fit_chart.drawn_seq = -1
        self._drawn_seq = -1
        self.refresh_view()  # the frame and its header now, not at the next tick (up to 1/10 s later)

    def _live(self) -> None:
        if self.fit_chart.frame is not None or self._replay is not None:
            if self._replay is not None:
                self._replay.stop()
                self._replay = None
            self.fit_chart.frame = None
            self.fit_chart.drawn_seq = -1
            self._drawn_seq = -1

    def action_replay(self) -> None:
        snap = self.driver.latest
        if snap is None:
            return
        if snap.state == State.RUNNING:
            self.send(C.Pause())
        self._want_frames(self._start_replay)

    def _start_replay(self) -> None:
        frames = self._frames
        if frames is None:
            return
        count = len(frames.steps)
        hop = max(1, -(-count // 90))  # ~3 s at 30 frames a second, whatever the count
        position = [0]

        def tick() -> None:
            if position[0] >= count:
                self._live()
                return
            self.show_frame(at=position[0])
            position[0] += hop

        if self._replay is not None:
            self._replay.stop()
        self._replay = self.set_interval(3.0 / max(1, -(-count // hop)), tick)

    def _update_ghosts(self, snap: Snapshot) -> None:
        if not self.ghosts_on or snap.racing or time.monotonic() - self._ghosts_at < 1.0:
            return
        self._ghosts_at = time.monotonic()

        def show() -> None:
            frames = self._frames
            if frames is not None:
                self.fit_chart.ghosts = [frames.fits[k][0] for k in range(max(0, len(frames.steps) - 4),
                                                                           len(frames.steps) - 1)]
                self.fit_chart.drawn_seq = -1

        self._want_frames(show)

    def action_inside_numbers(self) -> None:
        """The inspected member's numbers, per hidden layer, into the log."""
        snap = self.driver.latest
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

    def action_hide_member(self) -> None:
        snap = self.driver.latest
        if snap is None or not snap.racing:
            self.notify("h hides a member in compare mode (c)", timeout=2)
            return
        self.hidden ^= {self.selected}
        self._redraw()

    def _redraw(self) -> None:
        self._drawn_seq = -1
        self.fit_chart.drawn_seq = self.loss_chart.drawn_seq = -1

    def action_restart_engine(self) -> None:
        if self.driver.failure is None:
            self.notify("the engine is running; R restarts it only after it has stopped", timeout=2)
            return
        self.driver.close(timeout=1)
        self.driver = self._new_driver()
        self._started = not self.autostart
        self._redraw()
        self.log_line("engine restarted with the current settings")

    def action_settings_overlay(self) -> None:
        """In a narrow window the settings panel is hidden; `s` opens it over the charts (again: closes)."""
        main = self.screen_stack[0]
        if not main.has_class("narrow"):
            self.action_focus_panel("settings")
            return
        opening = not main.has_class("settings-open")
        main.set_class(opening, "settings-open")
        if opening:
            self.call_after_refresh(self.action_focus_panel, "settings")
        else:
            self.screen.set_focus(self.fit_chart)

    async def action_help(self) -> None:
        self._main_keys_only()
        await self.push_screen(HelpScreen())

    def action_panel(self, delta: int) -> None:
        if isinstance(self.screen, PathDialog):  # tab completes the path, once the keys before it are in
            self.screen.query_one("#path").call_later(self.screen.complete)
            return
        if self.screen is not self.screen_stack[0]:  # a dialog: tab moves between its own fields
            if delta > 0:
                self.screen.focus_next()
            else:
                self.screen.focus_previous()
            return
        visible = [name for name, p in self.panels.items() if p.display]
        current = next((name for name in visible if self._within(self.panels[name])), None)
        i = visible.index(current) if current in visible else -1
        self.action_focus_panel(visible[(i + delta) % len(visible)])

    def action_focus_panel(self, name: str) -> None:
        # set_focus at once: Widget.focus() is queued behind the keys already waiting, so in a burst
        # (`s ↓ ↓ 7`) the moves and the 7 went to the widget focused before
        panel = self.panels[name]
        if name == "settings":
            fields = [w for w in panel.query(".field") if w.focusable]
            if fields:
                self.screen.set_focus(fields[0])
                return
        self.screen.set_focus(panel)

    def _within(self, panel) -> bool:
        node: DOMNode | None = self.focused
        while node is not None:
            if node is panel:
                return True
            node = node.parent
        return False

    def on_signal(self, signum: int) -> None:
        self._quitting = True
        self.driver.close(timeout=2)
        self.exit(return_code=128 + signum)

    async def action_quit(self) -> None:
        if unsaved(self.driver.latest, self._saved_at) and not isinstance(self.screen, Confirm):
            await self.push_screen(Confirm("This race is not saved.", {
                "q": ("quit without saving it", self._quit_now), "e": ("save it (then q quits)", self.action_save_run)}))
            return
        self._quit_now()

    def _quit_now(self) -> None:
        self._quitting = True
        self.driver.close()
        self.exit()

    def on_unmount(self) -> None:
        self._quitting = True
        self.driver.close()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)

    # ---- settings ---------------------------------------------------------------------------
    def on_setting_submitted(self, msg: SettingSubmitted) -> None:
        self.change_setting(msg.key, msg.raw)

    def change_setting(self, key: str, raw) -> None:
        """One path for every edit: :func:`plan` decides (validated by the core's config), this
        carries it out, live or by reset.

        Checks that need torch or the data (a device, a file's contents) happen in the engine: a
        refused reset keeps the old run and says why in the log."""
        panel = self.settings
        if self.driver.failure is not None:  # nothing would apply: keep the settings as they are
            panel.show_config(self.cfg, revert=key)
            self.notify("the engine has stopped — press R to restart it", severity="error", timeout=3)
            return
        step = plan(self.spec, key, raw)
        if isinstance(step, Refusal):
            if step.field is None:  # not the value's fault: the form goes back to the run's
                panel.show_config(self.cfg, revert=key)
                self.notify(step.message, severity="warning", timeout=3)
            else:
                # the reason stays under the field, with the text as typed, until it is fixed or
                # escape restores the old value; the run keeps its settings meanwhile
                panel.show_error(step.field, step.message)
                self.log_line(step.message)
            return
        panel.clear_error(key)
        if isinstance(step, Unchanged):
            panel.show_config(step.cfg)
            return
        if isinstance(step, Move):  # live: the run moves, its step and losses stay
            self._move(step.spec)
        elif isinstance(step, Live):
            self.spec, self.cfg = step.spec, step.spec.base
            new = self.cfg
            self.send(C.SetLr(new.train.lr) if key == "train.lr" else C.SetSteps(new.train.steps))
            self.log_line(f"{key} = {new.get(key)} (live)")
        else:
            self._apply_spec(step.spec, step.why, key)
        panel.show_config(self.cfg)
        self._drawn_seq = -1

    def _move(self, spec: RunSpec) -> None:
        """To the device ``spec`` names; a refusal (no such device, too little memory there) puts
        the app back on the run's device, with the reason under the device field."""
        previous = self.spec
        self.spec, self.cfg = spec, spec.base

        def refused(f) -> None:  # on the driver's thread, or at once with a hand-driven one
            exc = f.exception()
            if exc is not None:
                self.post_message(ResetRefused(spec, previous, "train.device", str(exc)))

        self.send(C.SetDevice(spec.base.train.device)).add_done_callback(refused)  # the run says where it went

    def action_device(self) -> None:
        """g: the run between the CPU and the GPU."""
        snap = self.driver.latest
        on_cpu = snap is None or snap.device == "cpu"
        self.change_setting("train.device", "cuda" if on_cpu else "cpu")

    def _apply_spec(self, spec: RunSpec, why: str, key: str | None = None) -> None:
        latest = self.driver.latest
        was_running = latest is not None and latest.state in (State.RUNNING, State.DONE)
        self.switch_spec(spec, key)
        if was_running:  # keep the experiment moving: see the curve react to the change
            self.send(C.Start())
        self.log_line(why)

    def on_reset_refused(self, msg: ResetRefused) -> None:
        """The run kept its spec: so does the app (its form, header and mode); the error goes
        under the field that asked for it (the run's notice has already put it in the log)."""
        if self.spec is not msg.spec:  # something newer has replaced it since
            return
        self.spec, self.cfg = msg.previous, msg.previous.base
        self._switch_from = None
        self.screen_stack[0].set_class(self.racing, "racing")
        self._redraw()
        self.settings.show_config(self.cfg)  # a field being edited keeps its text...
        if msg.key is not None:
            self.settings.show_error(msg.key, msg.error)  # ...with the reason under it

    # ---- an unexpected error: one line, a non-zero exit, the traceback kept in a file --------
    def _handle_exception(self, error: Exception) -> None:
        self.crash = f"{type(error).__name__}: {error}"
        self.crash_log = _write_traceback(error)
        self.driver.close(timeout=2)  # stop training: the app is going
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        self._exit_renderables.clear()  # run_app says it in one line once the terminal is restored

    # ---- keys: each acts when it is read, in the order typed ---------------------------------
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if not self.screen_stack:  # starting or closing: a key read now has nowhere to go
                return
            if not event.is_forwarded and await self._key_now(event):
                return
        await super().on_event(event)

    async def _key_now(self, event: events.Key) -> bool:
        """Run a key's binding as the app reads the key. Textual runs a non-priority binding only
        after the key has gone to the focused widget and bubbled back, behind the keys already
        queued: in a burst (`s ↓ ↓ 7` over SSH) the moves acted after the 7 had been typed into the
        field they were leaving. A character for a field goes in here too, so that it keeps its
        place among the keys around it. True when the key has acted."""
        focused = self.focused
        if isinstance(focused, Input) and event.is_printable and event.character is not None:
            if await self._check_bindings(event.key, priority=True):
                return True
            selection = focused.selection  # what Input's own key handler does, at the key's turn
            if selection.is_empty:
                focused.insert_text_at_cursor(event.character)
            else:
                focused.replace(event.character, *selection)
            return True
        return await self._check_bindings(event.key, priority=True) or await self._check_bindings(event.key)

    # ---- command palette: every action ------------------------------------------------------
    def action_command_palette(self) -> None:
        if self.use_command_palette and not Palette.is_open(self):
            self.push_screen(Palette(id="--command-palette"))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield from binding_commands(self)


def _write_traceback(error: BaseException) -> str | None:
    """The whole traceback, to a file the one-line message names (None if it cannot be written)."""
    import tempfile
    import traceback

    from textual.worker import WorkerFailed

    if isinstance(error, WorkerFailed):  # its own traceback is one line; the worker's error holds the story
        error = error.error
    try:
        with tempfile.NamedTemporaryFile("w", prefix="fitscope-crash-", suffix=".txt", delete=False) as f:
            f.write("".join(traceback.format_exception(error)))
            return f.name
    except OSError:
        return None


def fit_row(base: str, fields: list[str], width: int) -> str:
    """A log row: ``base`` and each field that still fits whole in ``width`` (0: all), in order. A
    row cut at the edge read ``dead 3`` for dead 30 %, or ``R² 3.`` for an R² under 1."""
    row = base
    for field in fields:
        if width <= 0 or len(row) + len(field) <= width:
            row += field
    return row


def free_name(stem: str, ext: str) -> str:
    """``stem + ext`` in the current folder, or ``stem-2 + ext``, ``-3``… if taken: two screenshots
    within a second were one file."""
    name, n = stem + ext, 2
    while os.path.lexists(name):
        name, n = f"{stem}-{n}{ext}", n + 1
    return name


def run_app(spec: RunSpec, engine: str = "process", open_run: str | None = None) -> int:
    app = FitscopeApp(spec=spec, autostart=True, engine_factory=ENGINES[engine], background_charts=True,
                      lazy_settings=True, open_run=open_run, freeze_heap=True)
    app.run()
    app.driver.close()
    if app.crash is not None:
        where = f" (traceback in {app.crash_log})" if app.crash_log else ""
        print(f"fitscope: the app stopped on an unexpected error: {app.crash}{where}", file=sys.stderr)
        return 1
    return app.return_code or 0
