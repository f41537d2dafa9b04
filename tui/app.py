"""The Textual app: the engine's lifecycle (its driver made, restarted and closed; signals; a crash
written down). What is drawn and what the keys do is the main screen's and its widgets'."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from textual import events
from textual.app import App
from textual.reactive import var

from fitscope.core import commands as C
from fitscope.core.config import FitConfig
from fitscope.core.drivers.driver import Driver
from fitscope.core.snapshot import Notice, Snapshot
from fitscope.core.spec import RunSpec
from fitscope.tui import keys, web_exit
from fitscope.tui.dialogs import PathDialog
from fitscope.tui.help import HelpScreen
from fitscope.tui.main_screen import MainScreen
from fitscope.tui.messages import SnapshotArrived
from fitscope.tui.palette import Palette, binding_commands
from fitscope.tui.race_setup import Confirm, Entries
from fitscope.tui.widgets.loss_log import fit_row
from fitscope.tui.widgets.status import PACES, WATCH

__all__ = ["ENGINES", "PACES", "WATCH", "FitscopeApp", "fit_row", "free_name", "run_app"]

EXIT_GRACE = 5.0  # seconds a signalled app has to exit cleanly before it is ended at once


def _exit_later(signum: int) -> None:
    """Ends the process with 128 + the signal's number unless the app exits first (this thread
    is a daemon: a clean exit ends it). The worker sees its pipe close and ends too."""
    time.sleep(EXIT_GRACE)
    os._exit(128 + signum)


DriverFactory = Callable[[RunSpec], Driver]


def _process_driver(spec: RunSpec) -> Driver:
    from fitscope.core.drivers.process import ProcessDriver

    return ProcessDriver(spec)


def _thread_driver(spec: RunSpec) -> Driver:
    # only for --engine thread: it trains in this process, so it loads torch here
    from fitscope.core.drivers.thread import ThreadDriver

    return ThreadDriver(spec)


ENGINES: dict[str, DriverFactory] = {"process": _process_driver, "thread": _thread_driver}


def _on_main(name: str) -> property:
    """One of the main screen's parts, for whoever holds the app (tests, the bench)."""
    return property(lambda app: getattr(app.main, name), doc=f"the main screen's {name}")


class FitscopeApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "fitscope"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = keys.bindings("app")

    # the engine's latest; a var: a new one repaints only the widgets that draw it, not the screen
    snapshot: var[Snapshot | None] = var(None, always_update=True, init=False)

    def __init__(self, cfg: FitConfig | None = None, *, engine_factory: DriverFactory | None = None,
                 autostart: bool = False, pace: int = WATCH, spec: RunSpec | None = None,
                 background_charts: bool = False, lazy_settings: bool = False, open_run: str | None = None,
                 freeze_heap: bool = False):
        super().__init__()
        self.spec = spec or RunSpec(cfg or FitConfig())  # what the run trains (a race's members, their base)
        self.pace_index = pace
        self.engine_factory = engine_factory or ENGINES["process"]
        self.open_path = open_run  # a saved run the main screen opens at once (it waits for space)
        self.quitting = False
        self._notices: deque[Notice] = deque()
        self.crash: str | None = None  # an unexpected error that stopped the app, in one line
        self.crash_log: str | None = None
        self._exit_timer = threading.Event()  # set once a signal has started the exit timer
        self._old_handlers: dict[int, signal._HANDLER] = {}  # given back when the app ends (tests run many apps)
        # at the first snapshot, all that start-up made is set aside from the garbage collector: its
        # full passes over it held the UI up ~55 ms a few times a minute (tests, many apps in one
        # process, leave it be)
        # the driver starts at once: a worker process loads torch while the first frame is drawn
        self.driver = self._new_driver()
        self.main = MainScreen(lazy_settings=lazy_settings, background_charts=background_charts,
                               autostart=autostart and open_run is None, freeze_heap=freeze_heap,
                               first=self.snapshot, entries=Entries.of(self.spec))

    cfg = property(lambda self: self.spec.base, doc="the run's settings (a race's base)")
    racing = property(lambda self: self.spec.racing)
    race_spec = property(lambda self: self.spec.varied)
    fit_chart, loss_chart, status_bar, log_view, settings, board = map(
        _on_main, ("fit_chart", "loss_chart", "status_bar", "log_view", "settings", "board"))
    reference, switching, visible_members, switch_spec, change_setting, log_line = map(
        _on_main, ("reference", "switching", "visible_members", "switch_spec", "change_setting", "log_line"))
    selected, saved_at = map(_on_main, ("selected", "saved_at"))
    replaying = property(lambda self: self.main.player.replaying)
    show_frame = property(lambda self: self.main.player.show_frame)

    def get_default_screen(self) -> MainScreen:
        return self.main

    def _new_driver(self) -> Driver:
        driver = self.engine_factory(self.spec)
        driver.subscribe(self._delivered)
        self.snapshot = driver.latest  # a driver in this thread has one before anyone subscribed
        driver.send(C.SetPace(PACES[self.pace_index][0]))
        return driver

    def _delivered(self, snap: Snapshot) -> None:
        """On the engine's thread: every snapshot's notices kept in order (a deque is thread-safe),
        and the snapshot posted (a newer one replaces it while it waits)."""
        self._notices.extend(snap.notices)
        self.post_message(SnapshotArrived(snap))

    def on_snapshot_arrived(self, msg: SnapshotArrived) -> None:
        current = self.snapshot
        if current is not None and msg.snapshot.seq < current.seq:
            return  # refresh_view has already taken a newer one
        self.snapshot = msg.snapshot

    def notices_since(self) -> Iterator[Notice]:
        """The engine's notices not yet taken, oldest first."""
        while self._notices:
            yield self._notices.popleft()

    def refresh_view(self) -> None:
        """Draw now what the engine has (the redraw timer draws what has arrived)."""
        if self.driver.latest is not None:
            self.snapshot = self.driver.latest
        self.main.refresh_view()

    def send(self, cmd: C.Command):
        """Every command goes through here; a refusal comes back as a notice in the log."""
        if self.driver.failure is not None:
            self.notify("the engine has stopped — press R to restart it", severity="error", timeout=3)
        return self.driver.send(cmd)

    def set_pace(self, delta: int) -> None:
        self.pace_index = max(0, min(len(PACES) - 1, self.pace_index + delta))
        self.send(C.SetPace(PACES[self.pace_index][0]))

    def action_restart_engine(self) -> None:
        if self.driver.failure is None:
            self.notify("the engine is running; R restarts it only after it has stopped", timeout=2)
            return
        self.driver.close(timeout=1)
        self.driver = self._new_driver()
        self.main.restarted()

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

    def on_resize(self, event: events.Resize) -> None:
        self.main.fit_to(event.size)

    def on_signal(self, signum: int) -> None:
        self.quitting = True
        self.driver.close(timeout=2)
        self.exit(return_code=128 + signum)

    async def action_quit(self) -> None:
        if self.main.unsaved() and not isinstance(self.screen, Confirm):
            await self.push_screen(Confirm("This race is not saved.", {
                "q": ("quit without saving it", self.quit_now), "e": ("save it (then q quits)", self.main.action_save_run)}))
            return
        self.quit_now()

    def quit_now(self) -> None:
        self.quitting = True
        self.driver.close()
        self.exit()

    def on_unmount(self) -> None:
        self.quitting = True
        self.driver.close()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)

    # ---- an unexpected error: one line, a non-zero exit, the traceback kept in a file --------
    def _handle_exception(self, error: Exception) -> None:
        self.crash = f"{type(error).__name__}: {error}"
        self.crash_log = _write_traceback(error)
        self.driver.close(timeout=2)  # stop training: the app is going
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        self._exit_renderables.clear()  # run_app says it in one line once the terminal is restored

    # ---- keys that act on any screen --------------------------------------------------------
    async def action_help(self) -> None:
        self.main.main_keys_only()
        await self.push_screen(HelpScreen())

    def action_panel(self, delta: int) -> None:
        if isinstance(self.screen, PathDialog):  # tab completes the path, once the keys before it are in
            self.screen.query_one("#path").call_later(self.screen.complete)
        elif self.screen is not self.main:  # a dialog: tab moves between its own fields
            self.screen.focus_next() if delta > 0 else self.screen.focus_previous()
        else:
            self.main.panel(delta)

    def action_focus_panel(self, name: str) -> None:
        self.main.focus_panel(name)

    def action_screenshot_svg(self) -> None:
        try:
            path = self.save_screenshot(filename=free_name(time.strftime("fitscope-%Y%m%d-%H%M%S"), ".svg"))
        except OSError as exc:
            self.notify(f"screenshot failed: {exc}", severity="error")
            return
        self.notify(f"screenshot saved to {path}")
        self.main.log_line(f"screenshot saved to {path}")

    # ---- keys: each acts when it is read, in the order typed ---------------------------------
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if not self.screen_stack:  # starting or closing: a key read now has nowhere to go
                return
            if not event.is_forwarded and await keys.key_now(self, event):
                return
        await super().on_event(event)

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
