"""Drawing a snapshot with plotext; works on the plotext module and on a PlotextPlot's ``plt``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotext
from plotext import _utility as plotext_utility

from fitscope.core.engine.history import Curve, HistoryView
from fitscope.core.snapshot import Snapshot, loss_rank
from fitscope.tui.formatting import int_ticks, nice_ticks, num, short

FIT_COLOR = "red+"
DATA_COLOR = "cyan"
TEST_COLOR = "orange"
TRUTH_COLOR = "gray"
REF_COLOR = "magenta+"
DIVERGED_COLOR = "white"  # no member's colour: a divergence's line is not part of anyone's curve
DASHED = "dashed"  # a marker of our own: the line drawn in pieces with gaps


def dashed(plt, x: np.ndarray, y: np.ndarray, color: str | None, label: str | None = None) -> None:
    """A line as every other piece of itself (plotext has no dashed style); ``-`` without colour."""
    n = len(x)
    piece = max(2, n // 24)
    marker = "braille" if color else "-"
    for k, i in enumerate(range(0, n, 2 * piece)):
        plt.plot(x[i:i + piece], y[i:i + piece], color=color, marker=marker, label=label if k == 0 else None)


def draw_reference_fit(plt, ref, width: int, color: bool) -> None:
    if ref is None:
        return
    step = max(1, len(ref.x) // max(width, 10))
    x, y = ref.x[::step], ref.fit[::step]
    ok = np.isfinite(y)
    if ok.any():
        dashed(plt, x[ok], y[ok], REF_COLOR if color else None)


def downsample(x: np.ndarray, y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ~2*width points: a bucket per column, drawn from its min to its max so spikes survive."""
    n = len(x)
    buckets = max(2, width)
    if n <= 2 * buckets:
        return x, y
    starts = np.linspace(0, n, buckets + 1).astype(int)[:-1]
    finite = np.isfinite(y)
    lo = np.minimum.reduceat(np.where(finite, y, np.inf), starts)
    hi = np.maximum.reduceat(np.where(finite, y, -np.inf), starts)
    mid = x[np.minimum(starts + np.diff(starts, append=n) // 2, n - 1)]
    keep = np.isfinite(lo)
    xs = np.repeat(mid[keep], 2)
    ys = np.column_stack([lo[keep], hi[keep]]).ravel()
    return xs, ys


def scatter_sample(x: np.ndarray, y: np.ndarray, limit: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """For drawing only: an even subsample of a large scatter (training uses every point)."""
    if len(x) <= limit:
        return x, y
    idx = np.linspace(0, len(x) - 1, limit).astype(int)
    return x[idx], y[idx]


def in_view(y: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """A curve held to a few heights of the chart around it: a diverging prediction (1e30) leaves
    the chart where it did, and plotext's arithmetic never meets numbers that overflow."""
    lo, hi = limits
    span = hi - lo
    return np.clip(y, lo - 4 * span, hi + 4 * span)


def set_axes(plt, x: tuple[float, float], y: tuple[float, float]) -> None:
    """The axes' limits, and their ticks through the app's formatter wherever plotext's own labels
    would run long (``59838722834509000355058194837405696``, ``0.00000000098``): those squeezed
    the chart to half its width."""
    plt.xlim(*x)
    plt.ylim(*y)
    for (lo, hi), set_ticks in ((x, plt.xticks), (y, plt.yticks)):
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            continue
        theirs = plotext_utility.get_labels(plotext_utility.linspace(lo, hi, 5))
        if max(map(len, theirs)) > 6:
            ticks = nice_ticks(lo, hi, 5)
            set_ticks(ticks, [short(v) for v in ticks])


def name_axes(plt, data) -> None:
    """A data file's column names (its header) under the axes; generated data has none, and the
    lesson's chart keeps its look (None clears the last file's: the figure keeps its labels)."""
    plt.xlabel(data.x_name or None)
    plt.ylabel(f"↑ {data.y_name}" if data.y_name else None)


def y_limits(snap: Snapshot) -> tuple[float, float]:
    assert snap.data is not None
    lo, hi = snap.data.y_range
    if snap.data.truth is not None and np.isfinite(snap.data.truth).any():
        lo = min(lo, float(np.nanmin(snap.data.truth)))
        hi = max(hi, float(np.nanmax(snap.data.truth)))
    pad = 0.08 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def draw_fit(plt, snap: Snapshot, *, width: int, show_truth: bool = True, marker: str = "braille",
             color: bool = True, legend: bool = True, reference=None, ghosts: list[np.ndarray] | None = None) -> None:
    """Data as a scatter, the fit as a strong line, the truth faint; axes fixed to the data."""
    plt.clear_data()
    data = snap.data
    assert data is not None
    c = (lambda name: name) if color else (lambda name: None)
    lab = (lambda name: name) if legend else (lambda name: None)
    # without colour, markers tell the series apart
    fit_marker, truth_marker = (marker, marker) if color else ("hd", "dot")
    x, y = scatter_sample(data.x_train, data.y_train)
    if len(x):
        plt.scatter(x, y, marker=marker, color=c(DATA_COLOR), label=lab("data"))
    if len(data.x_test):
        xt, yt = scatter_sample(data.x_test, data.y_test)
        plt.scatter(xt, yt, marker="x" if marker == "braille" else marker, color=c(TEST_COLOR), label=lab("test"))
    step = max(1, len(snap.x_grid) // max(width, 10))  # a point per column is all a line needs
    if show_truth and data.truth is not None:
        ok = np.isfinite(data.truth[::step])
        plt.plot(data.grid[::step][ok], data.truth[::step][ok], marker=truth_marker, color=c(TRUTH_COLOR),
                 label=lab("truth"))
    draw_reference_fit(plt, reference, width, color)
    draw_ghosts(plt, snap.x_grid, ghosts or [], width, color)
    pred = snap.members[0].y_pred[::step]
    ok = np.isfinite(pred)
    limits = y_limits(snap)
    if ok.any():
        plt.plot(snap.x_grid[::step][ok], in_view(pred[ok], limits), marker=fit_marker, color=c(FIT_COLOR),
                 label=lab("fit"))
    set_axes(plt, data.x_range, limits)
    name_axes(plt, data)
    title = f"Loss={num(snap.train_loss, 4)}"
    if snap.test_loss is not None:
        title += f"  test={num(snap.test_loss, 4)}"
    if reference is not None:
        title += f"  ref={num(reference.final_loss, 4)}"
    if snap.diverged_at is not None:
        title += f"  diverged at step {snap.diverged_at:,}"
    plt.title(title)


def draw_loss(plt, history: HistoryView | Curve, *, width: int, log_y: bool = True, marker: str = "braille",
              color: bool = True, test: tuple[tuple[int, float], ...] = (), legend: bool = True,
              diverged_at: int | None = None, height: int = 12, reference=None) -> None:
    series: list[Series] = [(history.step.astype(float), history.hi, FIT_COLOR if color else None, marker,
                             "train" if legend else None)]
    if reference is not None and len(reference.steps):
        series.append((reference.steps, reference.losses, REF_COLOR if color else None, DASHED, None))
    if test:
        series.append((np.array([t[0] for t in test], float), np.array([t[1] for t in test], float),
                       TEST_COLOR if color else None, marker if color else "x", "test" if legend else None))
    plot_losses(plt, series, width=width, log_y=log_y, diverged=[diverged_at] if diverged_at else [], height=height)


MAX_DECADES = 6  # the log loss axis spans at most this many powers of ten above the lowest loss
Series = tuple[np.ndarray, np.ndarray, "str | None", str, "str | None"]  # x, y, colour, marker, label


def _loss_ticks(lo: float, hi: float, log_y: bool, height: int) -> list[float]:
    # no more ticks than every other row can hold: two on one row would leave plotext to pick one
    most = max(2, min(4, (height - 5) // 2))
    if log_y and hi - lo >= 1:
        yt = [float(v) for v in range(math.ceil(lo), math.floor(hi) + 1)]
        return yt[::max(1, math.ceil(len(yt) / most))]
    return nice_ticks(lo, hi, most)


def plot_losses(plt, series: list[Series], *, width: int, log_y: bool, diverged: list[int],
                height: int = 12, wild: set[int] | frozenset[int] = frozenset()) -> None:
    """Loss curves on round ticks. Log scale is drawn as log10 values on a linear axis (plotext's
    own log scale fails on some ranges); non-finite losses are left out and a divergence is a
    vertical line at its step. The series in ``wild`` (diverged) do not set the axes unless all
    do, and a curve above the axis leaves the chart at its top rather than run along it."""
    plt.clear_data()
    plt.yscale("linear")
    lo, hi, first, last = np.inf, -np.inf, np.inf, -np.inf
    tame_hi = -np.inf
    curves = []
    for k, (x_all, y_all, colour, marker, label) in enumerate(series):
        if not len(x_all):
            continue
        first, last = min(first, float(x_all[0])), max(last, float(x_all[-1]))
        x, y = downsample(x_all, y_all, width)
        ok = np.isfinite(y) & ((y > 0) if log_y else True)
        if not ok.any():
            continue
        yv = np.log10(y[ok]) if log_y else y[ok]
        curves.append((x[ok], yv, colour, marker, label))
        lo, hi = min(lo, float(yv.min())), max(hi, float(yv.max()))
        if k not in wild:
            tame_hi = max(tame_hi, float(yv.max()))
    if not np.isfinite(lo):
        return
    if np.isfinite(tame_hi):
        hi = tame_hi
    if log_y and hi - lo > MAX_DECADES:  # a diverging curve would squash the rest into one row
        hi = lo + MAX_DECADES
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    ceiling = hi + 4 * (hi - lo)  # off the chart, and numbers plotext's arithmetic can take
    for cx, cy, colour, marker, label in curves:
        if marker == DASHED:
            dashed(plt, cx, np.minimum(cy, ceiling), colour, label)
        else:
            plt.plot(cx, np.minimum(cy, ceiling), marker=marker, color=colour, label=label)
    for step in diverged:
        last = max(last, float(step))
        plt.vline(step, DIVERGED_COLOR)
    plt.ylim(lo, hi)
    yt = _loss_ticks(lo, hi, log_y, height)
    plt.yticks(yt, [short(10 ** v if log_y else v) for v in yt])
    first_i, last_i = int(first), int(last)
    xt = int_ticks(first_i, max(last_i, first_i + 1), max(2, min(5, width // 12)))
    plt.xlim(first_i, max(last_i, first_i + 1))
    plt.xticks(xt, [short(v) for v in xt])


PALETTE = ["red+", "green+", "blue+", "magenta+", "yellow+", "cyan+", "orange+", "red", "green", "blue",
           "magenta", "yellow", "cyan", "orange"]


def member_style(i: int, color: bool) -> tuple[str | None, str]:
    """Colour and marker of the i-th line of a race; without colour a digit or letter tells them apart."""
    if color:
        return PALETTE[i % len(PALETTE)], "braille"
    return None, "123456789abcdefghijklmnopqrstuvwxyz"[i % 35]


def draw_race(plt, snap: Snapshot, shown: list[int], *, width: int, color: bool = True, legend: bool = True,
              marker: str = "braille", style: dict[int, int] | None = None, reference=None) -> None:
    """The data, and the fit of each shown member in its own colour (``style``: member -> style index)."""
    plt.clear_data()
    data = snap.data
    assert data is not None
    x, y = scatter_sample(data.x_train, data.y_train)
    plt.scatter(x, y, marker=marker if color else "dot", color="gray" if color else None,
                label="data" if legend else None)
    if len(data.x_test):
        xt, yt = scatter_sample(data.x_test, data.y_test)
        plt.scatter(xt, yt, marker="x", color=TEST_COLOR if color else None, label="test" if legend else None)
    step = max(1, len(snap.x_grid) // max(width, 10))
    limits = y_limits(snap)
    draw_reference_fit(plt, reference, width, color)
    # the lowest loss drawn last: where fits meet in a cell, the one drawn last is the one seen
    for i in sorted(shown, key=lambda i: -loss_rank(snap.members[i].loss)):
        m = snap.members[i]
        pred = m.y_pred[::step]
        ok = np.isfinite(pred)
        if ok.any():
            c, mk = member_style((style or {}).get(i, i), color)
            plt.plot(snap.x_grid[::step][ok], in_view(pred[ok], limits), color=c, marker=mk if not color else marker,
                     label=m.variant if legend else None)
    set_axes(plt, data.x_range, limits)
    name_axes(plt, data)
    plt.title(f"step {snap.step:,}" + (f"  ref={num(reference.final_loss, 4)}" if reference is not None else ""))


def draw_race_losses(plt, histories: Sequence[HistoryView | Curve], shown: list[int], *, width: int,
                     log_y: bool = True, color: bool = True, diverged: list[int] | None = None, height: int = 12,
                     reference=None, wild: set[int] | None = None) -> None:
    """``histories[k]`` is member ``shown[k]``'s, which sets its colour; the members in ``wild``
    (diverged) do not set the axes. The lowest loss is drawn last: where curves meet in a cell,
    the one drawn last is the one seen."""
    series: list[Series] = []
    wild_series = set()
    for i, h in sorted(zip(shown, histories), key=lambda pair: -_last_finite(pair[1].hi)):
        c, mk = member_style(i, color)
        if i in (wild or ()):
            wild_series.add(len(series))
        series.append((h.step.astype(float), h.hi, c, "braille" if color else mk, None))
    if reference is not None and len(reference.steps):
        series.append((reference.steps, reference.losses, REF_COLOR if color else None, DASHED, None))
    plot_losses(plt, series, width=width, log_y=log_y, diverged=diverged or [], height=height, wild=wild_series)


def _last_finite(values: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float(values[ok][-1]) if ok.any() else np.inf


# ---- whole charts as text, for the console and a run's fit.txt ----------------------------------

def render_chart(draw, width: int, height: int, color: bool) -> str:
    """``draw(plt, legend)`` onto plotext's figure, as text. plotext has edge cases (its legend
    fails on some series): then the chart goes without its legend, or is said to be unavailable —
    a chart never costs the run its summary."""
    for legend in (True, False):
        try:
            plotext.clear_figure()
            plotext.plot_size(width, height)
            if not color:
                plotext.theme("clear")
            draw(plotext, legend)
            text = plotext.build()
            return text if color else plotext.uncolorize(text)
        except Exception as exc:
            failure = f"(chart unavailable: {type(exc).__name__}: {exc})"
    return failure


def chart_text(snap: Snapshot, width: int, height: int, color: bool) -> str:
    """The final chart as text: the fit over the data, or a race's lines (a variant's median member)."""
    if snap.racing:
        return race_chart_text(snap, width, height, color)
    return render_chart(lambda plt, legend: draw_fit(plt, snap, width=width, color=color, legend=legend),
                        width, height, color)


def race_chart_text(snap: Snapshot, width: int, height: int, color: bool) -> str:
    # one line per variant: its member with the median final loss
    shown: list[int] = []
    seen: dict[str, list[int]] = {}
    for i, m in enumerate(snap.members):
        seen.setdefault(m.variant, []).append(i)
    for idx in seen.values():
        ranked = sorted(idx, key=lambda i: loss_rank(snap.members[i].loss))
        shown.append(ranked[len(ranked) // 2])
    style = {m: k for k, m in enumerate(shown)}
    return render_chart(lambda plt, legend: draw_race(plt, snap, shown, width=width, color=color, legend=legend,
                                                               style=style), width, height, color)


# ---- inside the network: the units that sum to the fit, the kinks, the fit at earlier moments --------

def draw_ghosts(plt, x: np.ndarray, fits: list[np.ndarray], width: int, color: bool) -> None:
    """Earlier fits (oldest first), faint: how the curve moved."""
    step = max(1, len(x) // max(width, 10))
    for fit in fits:
        ok = np.isfinite(fit[::step])
        if ok.any():
            plt.plot(x[::step][ok], fit[::step][ok], color="gray" if color else None,
                     marker="braille" if color else "·")
