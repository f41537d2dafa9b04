"""plotext's points and lines put on its grid of cells with numpy, cell for cell as plotext would.

plotext steps through every pixel of every line in Python: a 16-member race cost ~70 ms a frame
(fit and loss charts). Here its own arithmetic runs on arrays: its rounding of data to pixels,
its truncating line steps, its grouping of pixels into braille and half-block cells (with its
own tables), the later series drawn over the earlier. A series it could draw differently is
left to plotext: a label (the legend), a log or date axis, a fill, a limit not set by hand,
a value that is not finite. ``tests/tui/test_raster.py`` compares the two cell by cell.
"""

from __future__ import annotations

import numpy as np
import plotext._utility as ut

# marker -> (pixels per cell across, down; plotext's table of cell characters by dot pattern)
_CELLS = {"braille": (2, 4, ut.braille_codes), "hd": (2, 2, ut.hd_codes)}
MAX_PIXELS = 2_000_000  # a line longer than this (absurd limits) is left to plotext


def _table(xf: int, yf: int, codes: dict) -> np.ndarray:
    """Characters indexed by a cell's dots as bits, bit ``(yf-1-row)*xf + col`` (rows from the
    bottom): the order of plotext's codes, which read the cell's rows from the top."""
    table = np.empty(1 << (xf * yf), dtype=object)
    for code, char in codes.items():
        table[sum(bit << i for i, bit in enumerate(code))] = char
    return table


_TABLES = {marker: (xf, yf, _table(xf, yf, codes)) for marker, (xf, yf, codes) in _CELLS.items()}


def _to_pixels(v: np.ndarray, lo: np.ndarray, hi: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """plotext's ``get_matrix_data``: ``floor(round(0.5 + (bins-1)(v-lo)/(hi-lo), 8))``, its round
    half up included (element by element: each series has its own limits and resolution)."""
    change = 0.5 + (bins - 1) * (v - lo) / (hi - lo)
    n = change * 100000000
    f = np.floor(n)
    return np.floor(np.where(n - f < 0.5, f, np.ceil(n)) * 1e-08)


def _pixels(px: np.ndarray, py: np.ndarray, sid: np.ndarray, lines: np.ndarray, count: int):
    """Every pixel drawn, and its series: plotext's ``get_lines`` for the series drawn as lines —
    each segment as max(|dx|, |dy|) + 1 evenly spaced points truncated to integers, its last point
    left to the next segment, the last data point closing — and the points of the others. A
    series of more than MAX_PIXELS (absurd limits) is left out: plotext would take minutes."""
    dx, dy = np.diff(px), np.diff(py)
    segment = (sid[1:] == sid[:-1]) & lines[sid[:-1]]  # point i starts a segment to point i + 1
    a = np.maximum(np.abs(dx), np.abs(dy)) + 1
    counts = np.ones(len(px), np.int64)  # a point alone, or a line's last point: itself
    counts[:-1][segment] = (a[segment] - 1).astype(np.int64)
    steps = np.maximum(a - 1, 1)
    sx, sy = np.zeros(len(px)), np.zeros(len(px))
    sx[:-1][segment], sy[:-1][segment] = (dx / steps)[segment], (dy / steps)[segment]
    too_long = np.bincount(sid, weights=counts, minlength=count) > MAX_PIXELS
    counts[too_long[sid]] = 0
    at = np.repeat(np.arange(len(px)), counts)
    k = np.arange(len(at)) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.trunc(px[at] + k * sx[at]), np.trunc(py[at] + k * sy[at]), sid[at]


def _series(mon, s: int) -> tuple | None:
    """Series ``s`` as (x, y, lines, marker, colour, style, xlim, ylim) if this module draws it as
    plotext would, else None."""
    markers, colours, styles = mon.marker[s], mon.color[s], mon.style[s]
    if not markers or not all(v.count(v[0]) == len(v) for v in (markers, colours, styles)):
        return None
    marker = markers[0]
    if marker not in _TABLES and ut.marker_factor(marker, 2, 3, 4) != 1:
        return None  # fhd and the like: not ours
    xi, yi = mon.xside_to_pos(mon.xside[s]), mon.yside_to_pos(mon.yside[s])
    xlim, ylim = mon.xlim[xi], mon.ylim[yi]
    if (mon.label[s] is not None or mon.fillx[s] is not False or mon.filly[s] is not False
            or mon.xscale[xi] != "linear" or mon.yscale[yi] != "linear" or mon.x_date[xi] or mon.y_date[yi]
            or mon.xdirection[xi] != 1 or mon.ydirection[yi] != 1 or None in xlim or None in ylim
            or xlim[0] == xlim[1] or ylim[0] == ylim[1]):
        return None
    try:
        x, y = np.asarray(mon.x[s], dtype=float), np.asarray(mon.y[s], dtype=float)
    except (TypeError, ValueError):
        return None
    if not len(x) or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None
    return x, y, mon.lines[s], marker, colours[0], styles[0], list(xlim), list(ylim)


def build_matrix(plot) -> None:
    """``plot._build_matrix()``, its last series that this module can draw drawn here instead.

    plotext draws the rest (axes, ticks, title, grid, vertical lines, other series) first; each
    series taken is left there as one point below the canvas, so that plotext still sets the
    ticks its data asks for, and is drawn afterwards in its order, over what plotext drew."""
    mon = plot.monitor
    if getattr(plot, "_no_plots", True) is False or mon.fast_plot or mon.text or any(
            label is not None for label in mon.label):
        plot._build_matrix()
        return
    taken: list[tuple] = []
    for s in range(len(mon.x) - 1, -1, -1):  # the last series, back to one that is not ours
        series = _series(mon, s)
        if series is None:
            break
        taken.insert(0, series)
        xlim, ylim = series[6], series[7]
        mon.x[s], mon.y[s] = [xlim[0]], [ylim[0] - (ylim[1] - ylim[0])]
        mon.marker[s], mon.color[s], mon.style[s] = mon.marker[s][:1], mon.color[s][:1], mon.style[s][:1]
    plot._build_matrix()
    matrix = mon.matrix
    width, height = len(matrix.Cols_canvas), len(matrix.Rows_canvas)
    if width <= 0 or height <= 0 or not taken:
        return
    _draw(matrix, taken, width, height)


def _draw(matrix, taken: list, width: int, height: int) -> None:
    """The taken series onto the canvas in one pass: each cell gets the dots of the last series
    that reaches it (plotext draws series in order, each over the last), as its character."""
    count = len(taken)
    lens = np.array([len(t[0]) for t in taken])
    sid = np.repeat(np.arange(count), lens)
    factors = np.array([_TABLES[t[3]][:2] if t[3] in _TABLES else (1, 1) for t in taken])
    xf, yf = factors[:, 0], factors[:, 1]
    xlim, ylim = np.array([t[6] for t in taken], float), np.array([t[7] for t in taken], float)
    px = _to_pixels(np.concatenate([t[0] for t in taken]), xlim[sid, 0], xlim[sid, 1], (width * xf)[sid])
    py = _to_pixels(np.concatenate([t[1] for t in taken]), ylim[sid, 0], ylim[sid, 1], (height * yf)[sid])
    px, py, sid = _pixels(px, py, sid, np.array([bool(t[2]) for t in taken]), count)
    fx, fy = xf[sid], yf[sid]
    cx, cy = px // fx, py // fy
    inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
    bits = np.left_shift(1, ((fy - 1 - py % fy) * fx + px % fx).astype(np.int64))[inside]
    key = ((cy * width + cx)[inside].astype(np.int64)) * count + sid[inside]
    order = np.argsort(key, kind="stable")
    key, bits = key[order], bits[order]
    if not len(key):
        return
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    bits, key = np.bitwise_or.reduceat(bits, starts), key[starts]
    cell, series = key // count, key % count
    last = np.r_[cell[1:] != cell[:-1], True]  # the last series drawn in a cell is the one seen
    cell, series, bits = cell[last], series[last], bits[last]
    chars = np.empty(len(cell), dtype=object)
    for s, (_, _, _, marker, *_rest) in enumerate(taken):
        mine = series == s
        chars[mine] = _TABLES[marker][2][bits[mine]] if marker in _TABLES else marker
    col0, row0 = matrix.Cols_canvas.start, matrix.Rows_canvas.start
    colours, styles = [t[4] for t in taken], [t[5] for t in taken]
    marker_rows, fg_rows, style_rows = matrix.marker, matrix.fullground, matrix.style
    for c, s, char in zip(cell.tolist(), series.tolist(), chars.tolist()):
        row, col = c // width + row0, c % width + col0
        marker_rows[row][col] = char
        fg_rows[row][col] = colours[s]
        style_rows[row][col] = styles[s]
