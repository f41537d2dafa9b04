"""The fit chart and the loss chart: plotext through textual-plotext, redrawn from a snapshot."""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from plotext import _utility as plotext_utility
from rich.console import Console
from rich.markup import escape
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.reactive import var
from textual.strip import Strip
from textual_plotext import PlotextPlot

from fitscope.core.drivers.tracker import Tracker
from fitscope.core.snapshot import Snapshot
from fitscope.core.store.reference import Reference
from fitscope.tui.formatting import num
from fitscope.tui.inside_plot import draw_kinks, draw_units
from fitscope.tui.messages import ChartBuilt, Say
from fitscope.tui.plotting import draw_fit, draw_loss, draw_race, draw_race_losses
from fitscope.tui.raster import build_matrix
from fitscope.tui.widgets.leaderboard import member_tag, unit_tag


def colour_on() -> bool:
    return "NO_COLOR" not in os.environ


class SafePlot(PlotextPlot):
    """A plot whose drawing can never take the app down: a failure shows as text instead.

    plotext is pure Python: a race of 16 curves takes ~100 ms to build. With ``background`` the
    build runs on one shared thread and the finished text comes back as a message, so keys and
    the event loop are not held up meanwhile (the GIL is handed over every few milliseconds).
    """

    drawn_seq = -1  # the snapshot this chart last drew
    snap: Snapshot | None = None  # the latest snapshot (the app's), for the legend
    reference: Reference | None = None  # a saved run drawn dashed beside the live one
    shown: list[int] = []  # in a race, the members to draw
    building = False  # a background build is under way
    build_seconds = 0.0  # how long the last build took
    _failure = ""
    _text: Text | None = None
    _strips: list[Strip] = []

    def draw(self, snap: Snapshot, tracker: Tracker, background: bool = False) -> None:
        width, height = self.size.width, self.size.height
        self._plot.plotsize(width, height)
        self._plot._set_size(width, height)
        self._plot.theme(self._get_plotext_theme_name(self.app.theme))
        if not background:
            self._show(*self._build(snap, tracker))
            return
        self.building = True
        future = _BUILDER.submit(self._build, snap, tracker)
        future.add_done_callback(lambda f: self.post_message(ChartBuilt(*f.result())))

    def _build(self, snap: Snapshot, tracker: Tracker) -> tuple[Text | None, list[Strip], str, float]:
        """The chart as the lines the screen draws, made here (off the UI thread when in the
        background) straight from plotext's grid of cells: not its ANSI text parsed back by Rich,
        which cost as much again as plotting."""
        t0 = time.perf_counter()
        width, height = self.size.width, self.size.height
        try:
            self._draw(snap, tracker)
            strips, failure = plot_strips(self._plot, width, height), ""
        except Exception as exc:  # plotext has edge cases (empty log plots, odd sizes)
            self._plot.clear_data()
            failure = f"(chart unavailable: {type(exc).__name__}: {exc})"
            strips = text_strips(Text(failure), width, height)
        return None, strips, failure, time.perf_counter() - t0

    def _show(self, text: Text | None, strips: list[Strip], failure: str, seconds: float) -> None:
        self._text, self._strips, self._failure, self.build_seconds = text, strips, failure, seconds
        self.building = False
        self.refresh()

    def on_chart_built(self, msg: ChartBuilt) -> None:
        self._show(msg.text, msg.strips, msg.failure, msg.seconds)

    def render_line(self, y: int) -> Strip:
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, _PLAIN)

    def stale(self) -> None:
        """Drawn again at the next redraw, whether or not a new snapshot has come."""
        self.drawn_seq = -1

    def on_resize(self) -> None:
        self.stale()  # the text was built for the old size

    def _draw(self, snap: Snapshot, tracker: Tracker) -> None:
        raise NotImplementedError

    def render(self):
        return self._failure or "\n".join(strip.text for strip in self._strips)


_PLAIN = Style()
_STYLES: dict[tuple, Style] = {}


def _style(fg, style, bg) -> Style:
    """The Rich style of one plotext colour triple: what parsing plotext's own ANSI code for it gives."""
    key = (repr(fg), repr(style), repr(bg))
    found = _STYLES.get(key)
    if found is None:
        text = Text.from_ansi(plotext_utility.colors_to_ansi(fg, style, bg) + "x")
        found = _STYLES[key] = text.get_style_at_offset(_CONSOLE, 0) + _PLAIN
    return found


def plot_strips(plot, width: int, height: int) -> list[Strip]:
    """plotext's figure as Textual lines: its grid of cells read row by row, a segment per run of
    one colour."""
    plot._set_sizes()
    build_matrix(plot)
    m = plot.monitor.matrix
    strips = []
    for row in m.Rows[::-1][:height]:
        marker, fg, st, bg = m.marker[row], m.fullground[row], m.style[row], m.background[row]
        segments, start = [], 0
        for col in range(1, m.cols + 1):
            if col == m.cols or fg[col] != fg[start] or st[col] != st[start] or bg[col] != bg[start]:
                segments.append(Segment("".join(marker[start:col]), _style(fg[start], st[start], bg[start])))
                start = col
        strip = Strip(segments, m.cols)
        strips.append(strip if m.cols == width else strip.crop_extend(0, width, _PLAIN))
    return strips


def text_strips(text: Text, width: int, height: int) -> list[Strip]:
    console = Console(width=width, height=height, color_system="truecolor", force_terminal=True,
                      legacy_windows=False, no_color=False)
    lines = Segment.split_and_crop_lines(console.render(text, console.options), width, pad=True,
                                         include_new_lines=False)
    # every segment gets a style: Textual's colour filters (NO_COLOR) read each one's colours
    return [Strip([Segment(seg.text, seg.style or _PLAIN) for seg in line], width)
            for line in itertools.islice(lines, height)]


_CONSOLE = Console(color_system="truecolor", force_terminal=True, legacy_windows=False)
_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fitscope-charts")


VIEWS = ("fit", "units", "kinks")


@dataclass(frozen=True)
class FrameView:
    """A timeline frame shown instead of the live fit: its step, loss, every member's fit and the
    inspected member's layers (None when frames keep fits only)."""

    index: int
    count: int
    step: int
    loss: float | None
    fits: np.ndarray  # [K, G]
    layers: list | None


class FitChart(SafePlot, can_focus=True):
    """Data scatter, the fit as a strong line, the true function faint; axes fixed to the data.
    Its view: the fit, the units that sum to it, or its kinks; live or a timeline frame."""

    show_truth: var[bool] = var(True)
    view: var[str] = var("fit")
    member: var[int] = var(0)  # whose units and kinks (a race's selected member)
    frame: var[FrameView | None] = var(None, always_update=True)  # arrays: never compared
    ghosts: var[list[np.ndarray]] = var(list, always_update=True)  # earlier fits of the member, oldest first
    ghosts_on: var[bool] = var(False)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.marker = "braille"
        self.unit_labels: list[str] = []
        # a race's curve is named as the leaderboard names its row (a variant, or a member)
        self.curve_label: Callable[[Snapshot, int], str] = lambda snap, i: snap.members[i].label

    def on_mount(self) -> None:
        self.border_title = "Fit"
        self.watch(self.app, "snapshot", self._new_snapshot)  # (init: the one the engine had before this mounted)

    def _new_snapshot(self, snap: Snapshot | None) -> None:
        self.snap = snap
        self.legend()

    def _changed(self) -> None:
        self.stale()
        self.legend()

    watch_show_truth = watch_view = watch_member = watch_frame = watch_ghosts = _changed

    def action_truth(self) -> None:
        self.show_truth = not self.show_truth

    def action_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self.border_title = {"fit": "Fit", "units": "Units: what each unit adds", "kinks": "Kinks"}[self.view]

    def action_ghosts(self) -> None:
        self.ghosts_on = not self.ghosts_on
        if not self.ghosts_on:
            self.ghosts = []
        self.stale()
        self.post_message(Say("earlier fits: " + ("the last three timeline frames, faint" if self.ghosts_on else "off")))

    def _show(self, *built) -> None:
        super()._show(*built)
        if self.view == "units":
            self.legend()  # the units' names come with their drawing

    def legend(self) -> None:
        """In the border, so it never covers the data; it names each series by what it is drawn
        with: colours, or without colour (NO_COLOR) the markers that replace them."""
        self.border_subtitle = fit_legend(self, self.snap, colour_on())

    def _draw(self, snap: Snapshot, tracker: Tracker) -> None:
        width, color = max(10, self.size.width), colour_on()
        member = min(self.member, len(snap.members) - 1)
        layers: list | tuple | None = snap.members[member].layers
        prefix = ""
        frame = self.frame
        if frame is not None:
            members = tuple(dataclasses.replace(m, y_pred=frame.fits[j], loss=frame.loss if j == member else m.loss)
                            for j, m in enumerate(snap.members))
            snap = dataclasses.replace(snap, members=members)
            layers = None if frame.layers is None else [(w[frame.index], b[frame.index]) for w, b in frame.layers]
            prefix = f"frame {frame.index + 1}/{frame.count}, step {frame.step:,} · "
        if self.view == "units":
            self.unit_labels = draw_units(self.plt, snap, member, layers, width=width, color=color, title_prefix=prefix)
            return
        if self.view == "kinks":
            draw_kinks(self.plt, snap, member, layers, width=width, color=color, title_prefix=prefix)
            return
        if snap.racing:
            draw_race(self.plt, snap, self.shown, width=width, color=color, legend=False, reference=self.reference)
        else:
            draw_fit(self.plt, snap, width=width, show_truth=self.show_truth, marker=self.marker, color=color,
                     legend=False, reference=self.reference, ghosts=self.ghosts)
        if frame is not None:
            self.plt.title(f"{prefix}Loss={num(frame.loss, 4)}")


def fit_legend(fit: FitChart, snap: Snapshot | None, colour: bool) -> str:
    fit_tag = "[bold red]━ fit" if colour else "[bold]▀ fit"
    if fit.view == "units":
        tags = [f"{unit_tag(k, colour)} {escape(label)}" for k, label in enumerate(fit.unit_labels[:9])]
        return f"{fit_tag} = Σ units + bias[/]  " + "  ".join(tags)
    if fit.view == "kinks":
        kink = "[yellow]▲ kink[/]" if colour else "^ kink"
        return f"{fit_tag}[/]  {kink}  (v: next view)"
    if snap is not None and snap.racing:
        tags = [f"{member_tag(i, colour)} {escape(fit.curve_label(snap, i))}" for i in fit.shown[:9]]
        return "  ".join(tags) + (f"  +{len(fit.shown) - 9}" if len(fit.shown) > 9 else "")
    has_truth = fit.show_truth and snap is not None and snap.data is not None and snap.data.truth is not None
    if colour:
        legend = f"[cyan]⠂ data[/]  {fit_tag}[/]" + ("  [dim]┄ truth[/]" if has_truth else "")
    else:
        legend = f"⠂ data  {fit_tag}[/]" + ("  • truth" if has_truth else "")
    if snap is not None and snap.test_loss is not None:
        legend += "  [orange]x test[/]" if colour else "  x test"
    if fit.reference is not None:  # drawn dashed: in colour, or with "-" without
        legend += "  [magenta]╌ ref[/]" if colour else "  - ref"
    return legend


class LossChart(SafePlot, can_focus=True):
    log_y: var[bool] = var(True)

    def on_mount(self) -> None:
        self.border_title = "Loss"
        self.watch(self.app, "snapshot", self._new_snapshot)  # (init: the one the engine had before this mounted)

    def _new_snapshot(self, snap: Snapshot | None) -> None:
        self.snap = snap
        self.legend()

    def watch_log_y(self) -> None:
        self.stale()
        self.legend()

    def action_log_axis(self) -> None:
        self.log_y = not self.log_y

    def legend(self) -> None:
        snap = self.snap
        self.border_subtitle = ("log" if self.log_y else "linear") + " y"
        if snap is not None and not snap.racing and snap.test_loss is not None:
            self.border_subtitle += "  [bold red]━ train[/]  [orange]━ test[/]" if colour_on() else "  ⠂ train  x test"

    def _draw(self, snap: Snapshot, tracker: Tracker) -> None:
        if snap.racing:
            diverged = {i: m.diverged_at for i, m in enumerate(snap.members)
                        if i in self.shown and m.diverged_at is not None}
            wild = set(diverged)
            draw_race_losses(self.plt, tracker.curves(self.shown), self.shown,
                             width=max(10, self.size.width), log_y=self.log_y, color=colour_on(),
                             diverged=[diverged[i] for i in sorted(wild)], height=self.size.height,
                             reference=self.reference, wild=wild)
            self.plt.title("loss (log)" if self.log_y else "loss")
            return
        draw_loss(self.plt, tracker.curves([0])[0], width=max(10, self.size.width), log_y=self.log_y,
                  color=colour_on(), test=tracker.test_history(0), legend=False, diverged_at=snap.diverged_at,
                  height=self.size.height, reference=self.reference)
        self.plt.title("loss (log)" if self.log_y else "loss")
