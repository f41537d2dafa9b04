"""The log: a single run's losses as rows (twice a second while running, one per stop), and every
message the app and the engine have for the user."""

from __future__ import annotations

import textwrap
import time

from fitscope.core.snapshot import Snapshot, State
from fitscope.core.store.reference import Reference
from fitscope.tui.formatting import num
from fitscope.tui.inside_view import inside_fields
from fitscope.tui.widgets.status import STATE_ICON
from fitscope.tui.widgets.textview import LogView

LOG_EVERY = 0.5  # seconds between loss-log lines while running
TITLE = "Log: step · loss · steps/s"  # the column names live in the border, so they never scroll away


def fit_row(base: str, fields: list[str], width: int) -> str:
    """A log row: ``base`` and each field that still fits whole in ``width`` (0: all), in order. A
    row cut at the edge read ``dead 3`` for dead 30 %, or ``R² 3.`` for an R² under 1."""
    row = base
    for field in fields:
        if width <= 0 or len(row) + len(field) <= width:
            row += field
    return row


class LossLog(LogView):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.clock = time.monotonic  # the average rate is of wall time while running
        self._last_log = 0.0
        self._last_state = ""
        self._logged_step = 0
        self._running_from: tuple[float, int] | None = None  # (when, step) the run last started
        self._ran: tuple[int, float, int] = (-1, 0.0, 0)  # run id, seconds it ran, steps it made then

    def on_mount(self) -> None:
        self.border_title = TITLE

    def on_resize(self) -> None:
        # the log only follows new lines while it is scrolled to its end; a resize moves that end
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    @property
    def width(self) -> int:
        return self.scrollable_content_region.width

    def say(self, line: str, wrap: bool = True) -> None:
        """A message wraps at the log's width (it has no sideways scroll); a table row does not."""
        width = self.width
        if wrap and width >= 20 and len(line) > width:
            indent = " " * min(len(line) - len(line.lstrip()) + 2, 8)
            self.write_lines(textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False))
        else:
            self.write_line(line)

    def start_from(self, snap: Snapshot) -> None:
        """The state and step the run starts in: its first row is one of a change from there."""
        self._last_state, self._logged_step = snap.state, snap.step

    def record(self, snap: Snapshot, reference: Reference | None) -> None:
        """A single run's row, when it is due: a stop's row says the state (and the average rate)."""
        now = self.clock()
        avg = self._average_rate(snap, now)
        rate = f"{snap.steps_per_s:>6,.0f}/s" if avg is None else f"{avg:>6,.0f}/s avg"
        base = f"{snap.step:>6} {num(snap.train_loss):<9} {rate}"
        fields = ([f"  test {num(snap.test_loss)}"] if snap.test_loss is not None else []) + inside_fields(
            snap.members[0].stats)
        if snap.state != self._last_state and snap.state != State.RUNNING and self._last_state:
            # the state first: the row is there to say it (as its icon where the word does not fit);
            # what does not fit after it is left out
            state = f"  {snap.state}"
            if 0 < self.width < len(base) + len(state):
                state = "  " + STATE_ICON.get(snap.state, str(snap.state)).split()[0]
            self.say(fit_row(base, [state, *fields], self.width), wrap=False)
            self._logged_step = snap.step
            if snap.state == State.DONE and reference is not None:
                self.say(f"final loss {num(snap.train_loss)} · reference {reference.name} "
                         f"{num(reference.final_loss)}")
        elif (snap.state == State.RUNNING and now - self._last_log >= LOG_EVERY) or (
                snap.state != State.RUNNING and snap.step != self._logged_step):  # e.g. steps by hand
            self.say(fit_row(base, fields, self.width), wrap=False)
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
