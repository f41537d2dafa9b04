"""The runs you keep, as the main screen's actions: save (`e`), open (`ctrl+o`), write the settings
(`ctrl+w`) and a reference run drawn dashed (`b`). The engine's replies are awaited in workers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import work
from textual.actions import SkipAction
from textual.screen import Screen
from textual.widgets import Input

from fitscope.core import commands as C
from fitscope.core import spec as spec_mod
from fitscope.core.config import file_problem
from fitscope.core.store import folder as rundir
from fitscope.core.store import reference as reference_mod
from fitscope.core.store.reference import Reference
from fitscope.tui.dialogs import PathDialog
from fitscope.tui.formatting import num
from fitscope.tui.plotting import chart_text
from fitscope.tui.race_setup import unsaved
from fitscope.tui.screens import Dialog

if TYPE_CHECKING:
    from fitscope.core.spec import RunSpec
    from fitscope.tui.app import FitscopeApp
    from fitscope.tui.widgets.charts import FitChart, LossChart


def recent_runs() -> str:
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


class KeptRuns(Screen):
    """The main screen's part that keeps runs; the main screen provides what is declared here."""

    fit_chart: FitChart
    loss_chart: LossChart
    reference: Reference | None = None
    _confirm_write: str | None = None
    saved_at: tuple[int, int] | None = None  # (run id, step) of the last save

    @property
    def host(self) -> FitscopeApp:
        return cast("FitscopeApp", self.app)

    def unsaved(self) -> bool:
        """A race trained since it was last saved: leaving it (c, q) asks first."""
        return unsaved(self.host.driver.latest, self.saved_at)

    if TYPE_CHECKING:
        def log_line(self, line: str, wrap: bool = True) -> None: ...
        def opened(self, spec: RunSpec) -> None: ...
        def redraw(self) -> None: ...

    def main_keys_only(self) -> None:
        """A dialog key is the screen's with no field being typed in; elsewhere the key goes on as
        a key (a character in a field, the dialog's own binding)."""
        if isinstance(self.app.focused, Input) or self.app.screen is not self:
            raise SkipAction()

    async def open_dialog(self, dialog: Dialog) -> None:
        await self.app.push_screen(dialog)
        await dialog.ready.wait()

    def action_save_run(self) -> None:
        if self.host.driver.failure is not None:
            self.notify("the engine has stopped — press R to restart it", severity="error", timeout=3)
            return
        snap = self.host.driver.latest
        text = chart_text(snap, 100, 30, color=False) if snap is not None and snap.data is not None else ""
        self._saved(self.host.send(C.Save(fit_text=text)))

    @work
    async def _saved(self, future) -> None:
        try:
            path = await asyncio.wrap_future(future)
        except C.Refused:
            return  # the refusal comes as a notice
        except Exception as exc:
            self.notify(f"save failed: {exc}", severity="error")
            return
        latest = self.host.driver.latest
        self.saved_at = (latest.run_id, latest.step) if latest is not None else None
        self.notify(f"saved run to {path}/ (config, metrics, checkpoint, chart, summary; ctrl+o reopens it)")

    async def action_open_run(self) -> None:
        self.main_keys_only()
        await self.open_dialog(PathDialog("Open a saved run, to look at it or continue it",
                                          "tab or → completes a folder name · enter opens · escape cancels",
                                          "runs/", self.open_run, listing=recent_runs()))

    def open_run(self, path: str) -> str | None:
        """Checked here for what needs no torch; the engine loads it (and may still refuse)."""
        if not path:
            return "give the folder of a saved run, e.g. runs/20261129-140039-cubic-relu"
        path = os.path.expanduser(path)
        try:
            rundir.read_index(Path(path))
        except rundir.RunDirError as exc:
            return str(exc)
        self._opened(self.host.send(C.Open(path)))
        return None

    @work
    async def _opened(self, future) -> None:
        try:
            spec = await asyncio.wrap_future(future)
        except Exception:  # the engine's notice has said why, in the log and a toast
            return
        self.opened(spec)

    async def action_write_settings(self) -> None:
        self.main_keys_only()
        self._confirm_write = None
        await self.open_dialog(PathDialog("Write the current settings to a TOML file",
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
            rundir.write_atomic(target, spec_mod.to_toml(self.host.spec).encode())
        except OSError as exc:
            return f"cannot write {path}: {exc.strerror or exc}"
        self.log_line(f"settings written to {path}")
        self.notify(f"settings written to {path} (fitscope --config {path})")
        return None

    async def action_reference(self) -> None:
        self.main_keys_only()
        await self.open_dialog(PathDialog("Compare with a saved run: its fit and loss drawn dashed",
                                          "tab or → completes · enter sets it · an empty field clears it · escape cancels",
                                          "runs/", self._set_reference, listing=recent_runs()))

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
        self.redraw()
        return None
