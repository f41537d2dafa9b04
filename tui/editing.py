"""The main screen's part that changes the run: setting edits carried out as :func:`plan` decides,
the race switch, a run opened. The run may refuse (a device that is not there, an unreadable
file: checks that need torch or the data); the screen then goes back to what the run still trains."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fitscope.core import commands as C
from fitscope.core.errors import ConfigError
from fitscope.core.snapshot import Snapshot, State
from fitscope.core.spec import RunSpec, coerce_seeds, parse_values
from fitscope.tui.keeping import KeptRuns
from fitscope.tui.plan import Live, Move, Refusal, Unchanged, plan

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

    from fitscope.tui.widgets.settings import SettingsPanel
    from fitscope.tui.widgets.timeline import TimelinePlayer


class Editing(KeptRuns):
    settings: SettingsPanel
    player: TimelinePlayer
    solo: int | None
    hidden: set[int]
    selected: int
    _switch_from: int | None = None  # the run id a switch is replacing, until it arrives
    _shown_data: object = None

    if TYPE_CHECKING:
        def expect(self, future: Future, refused: Callable[[str], None]) -> None: ...
        def show_header(self) -> None: ...

    @property
    def switching(self) -> bool:
        """A switch is on its way: the run it replaces may still be the latest snapshot."""
        return self._switch_from is not None

    def arrived(self, snap: Snapshot) -> None:
        if self._switch_from is not None and snap.run_id != self._switch_from:
            self._switch_from = None

    def change_setting(self, key: str, raw: object) -> None:
        """One path for every edit: :func:`plan` decides (validated by the core's config), this
        carries it out, live or by reset.

        Checks that need torch or the data (a device, a file's contents) happen in the engine: a
        refused reset keeps the old run and says why in the log."""
        panel, app = self.settings, self.host
        if app.driver.failure is not None:  # nothing would apply: keep the settings as they are
            panel.show_config(app.cfg, revert=key)
            self.notify("the engine has stopped — press R to restart it", severity="error", timeout=3)
            return
        step = plan(app.spec, key, raw)
        if isinstance(step, Refusal):
            if step.field is None:  # not the value's fault: the form goes back to the run's
                panel.show_config(app.cfg, revert=key)
                self.notify(step.message, severity="warning", timeout=3)
            else:
                # the reason stays under the field, with the text as typed, until it is fixed or
                # escape restores the old value; the run keeps its settings meanwhile
                panel.show_error(step.field, step.message, cause=key)
                self.log_line(step.message)
            return
        panel.clear_error(key)
        if isinstance(step, Unchanged):
            panel.show_config(step.cfg)
            return
        if isinstance(step, Move):  # live: the run moves, its step and losses stay
            previous, app.spec = app.spec, step.spec
            self.expect(app.send(C.SetDevice(step.spec.base.train.device)),  # the run says where it went
                        lambda error: self._refused(step.spec, previous, "train.device", error))
        elif isinstance(step, Live):
            app.spec = step.spec
            new = app.cfg
            app.send(C.SetLr(new.train.lr) if key == "train.lr" else C.SetSteps(new.train.steps))
            self.log_line(f"{key} = {new.get(key)} (live)")
        else:
            self.apply_spec(step.spec, step.why, key)
        panel.show_config(app.cfg)
        self.redraw()

    def apply_spec(self, spec: RunSpec, why: str, key: str | None = None) -> None:
        latest = self.host.driver.latest
        was_running = latest is not None and latest.state in (State.RUNNING, State.DONE)
        self.switch_spec(spec, key)
        if was_running:  # keep the experiment moving: see the curve react to the change
            self.host.send(C.Start())
        self.log_line(why)

    def switch_spec(self, spec: RunSpec, key: str | None = None) -> None:
        """Single <-> race or new settings: a Reset in the same worker, never a new process."""
        app = self.host
        latest = app.driver.latest
        self._switch_from = latest.run_id if latest is not None else None
        previous, app.spec = app.spec, spec
        self.expect(app.send(C.Reset(spec)), lambda error: self._refused(spec, previous, key, error))
        self.solo, self.hidden, self.selected = None, set(), 0
        self.fit_chart.member, self.fit_chart.ghosts = 0, []
        self.player.forget()
        self.player.live()
        self.set_class(spec.racing, "racing")
        self.redraw()
        self._shown_data = None

    def _refused(self, spec: RunSpec, previous: RunSpec, key: str | None, error: str) -> None:
        """The run kept its spec: so does the app (its form, header and mode); the error goes
        under the field that asked for it (the run's notice has already put it in the log)."""
        if self.host.spec is not spec:  # something newer has replaced it since
            return
        self.host.spec = previous
        self._switch_from = None
        self.set_class(self.host.racing, "racing")
        self.redraw()
        self.settings.show_config(self.host.cfg)  # a field being edited keeps its text...
        if key is not None:
            self.settings.show_error(key, error)  # ...with the reason under it

    def start_race(self, texts: dict[str, str], seeds_text: str) -> str | None:
        """From the setup screen: an error message for the screen, or None once the race runs."""
        try:
            seeds = coerce_seeds(seeds_text)
            vary = {key: parse_values(key, text) for key, text in texts.items()}
            spec = RunSpec.race(self.host.cfg, vary, seeds)
            if spec.count() < 2:
                raise ConfigError("compare", spec.count(), "a race needs at least 2 members: give a setting "
                                  "two or more values, or 2 or more seeds")
        except ConfigError as exc:
            return str(exc)
        self.switch_spec(spec)
        self.host.send(C.Start())
        self.log_line(f"race: {spec.count()} members varying {', '.join(vary) or 'the init seed'}")
        return None

    def opened(self, spec: RunSpec) -> None:
        """The engine has opened a saved run: the screen shows it."""
        self.host.spec = spec
        self.solo, self.hidden, self.selected = None, set(), 0
        self.set_class(self.host.racing, "racing")
        self.settings.show_config(self.host.cfg)
        self._shown_data = None
        self.redraw()
