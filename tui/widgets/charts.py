"""The fit chart and the loss chart: plotext through textual-plotext, redrawn from a snapshot."""

from __future__ import annotations

import os

from textual_plotext import PlotextPlot

from fitscope.core.snapshot import Snapshot
from fitscope.core.tracker import Tracker
from fitscope.tui.plotting import draw_fit, draw_loss, draw_race, draw_race_losses


def colour_on() -> bool:
    return "NO_COLOR" not in os.environ


class SafePlot(PlotextPlot):
    """A plot whose drawing can never take the app down: a failure shows as text instead."""

    drawn_seq = -1  # the snapshot this chart last drew
    shown: list[int] = []  # in a race, the members to draw
    _failure = ""

    def draw(self, snap: Snapshot, tracker: Tracker) -> None:
        try:
            self._draw(snap, tracker)
            self._failure = ""
        except Exception as exc:  # plotext has edge cases (empty log plots, odd sizes)
            self.plt.clear_data()
            self._failure = f"(chart unavailable: {type(exc).__name__}: {exc})"
        self.refresh()

    def _draw(self, snap: Snapshot, tracker: Tracker) -> None:
        raise NotImplementedError

    def render(self):
        if not self._failure:
            try:
                return super().render()
            except Exception as exc:
                self.plt.clear_data()
                self._failure = f"(chart unavailable: {type(exc).__name__}: {exc})"
        return self._failure


class FitChart(SafePlot, can_focus=True):
    """Data scatter, the fit as a strong line, the true function faint; axes fixed to the data."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.show_truth = True
        self.marker = "braille"

    def _draw(self, snap: Snapshot, tracker: Tracker) -> None:
        if snap.racing:
            draw_race(self.plt, snap, self.shown, width=max(10, self.size.width), color=colour_on(), legend=False)
            return
        draw_fit(self.plt, snap, width=max(10, self.size.width), show_truth=self.show_truth,
                 marker=self.marker, color=colour_on(), legend=False)


class LossChart(SafePlot, can_focus=True):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.log_y = True

    def _draw(self, snap: Snapshot, tracker: Tracker) -> None:
        if snap.racing:
            draw_race_losses(self.plt, [tracker.history(i) for i in self.shown], self.shown,
                             width=max(10, self.size.width), log_y=self.log_y, color=colour_on())
            self.plt.title("loss (log)" if self.log_y else "loss")
            return
        draw_loss(self.plt, tracker.history(0), width=max(10, self.size.width), log_y=self.log_y,
                  color=colour_on(), test=tracker.test_history(0), legend=False)
        self.plt.title("loss (log)" if self.log_y else "loss")
