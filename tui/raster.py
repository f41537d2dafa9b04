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


def _to_pixels(v: np.ndarray, lim: list, bins: int) -> np.ndarray:
    """plotext's ``get_matrix_data``: ``floor(round(0.5 + (bins-1)(v-lo)/(hi-lo), 8))``, its round
    half up included."""
    change = 0.5 + (bins - 1) * (v - lim[0]) / (lim[1] - lim[0])
    n = change * 100000000
    f = np.floor(n)
    return np.floor(np.where(n - f < 0.5, f, np.ceil(n)) * 1e-08)


def _line_pixels(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """plotext's ``get_lines``: each segment as max(|dx|, |dy|) + 1 evenly spaced points,
    truncated to integers, its last point left to the next segment; the data's last point closes."""
    dx, dy = np.diff(px), np.diff(py)
    a = np.maximum(np.abs(dx), np.abs(dy)) + 1
    counts = (a - 1).astype(np.int64)
    seg = np.repeat(np.arange(len(dx)), counts)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(counts) - counts, counts)
    steps = np.maximum(a - 1, 1)
    sx = np.where(a > 1, dx / steps, 0.0)
    sy = np.where(a > 1, dy / steps, 0.0)
    xs = np.trunc(px[seg] + k * sx[seg])
    ys = np.trunc(py[seg] + k * sy[seg])
    return np.append(xs, px[-1]), np.append(ys, py[-1])


def _cells(x: np.ndarray, y: np.ndarray, marker: str, width: int, height: int):
    """The cells a series' pixels fall in, inside the canvas, and each cell's character."""
    if marker in _TABLES:
        xf, yf, table = _TABLES[marker]
        cx, cy = x // xf, y // yf
        bits = np.left_shift(1, ((yf - 1 - y % yf) * xf + x % xf).astype(np.int64))
        inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
        cx, cy, bits = cx[inside].astype(np.int64), cy[inside].astype(np.int64), bits[inside]
        key = cy * width + cx
        order = np.argsort(key, kind="stable")
        key, bits = key[order], bits[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.array([], np.int64)
        merged = np.bitwise_or.reduceat(bits, starts) if len(key) else bits
        key = key[starts]
        return key % width, key // width, table[merged]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    key = np.unique(y[inside].astype(np.int64) * width + x[inside].astype(np.int64))
    return key % width, key // width, np.full(len(key), marker, dtype=object)


def _takes(mon, s: int) -> bool:
    """Whether series ``s`` is one this module draws as plotext would."""
    markers, colours, styles = mon.marker[s], mon.color[s], mon.style[s]
    if not markers or not all(v.count(v[0]) == len(v) for v in (markers, colours, styles)):
        return False
    marker = markers[0]
    if marker not in _TABLES and ut.marker_factor(marker, 2, 3, 4) != 1:
        return False  # fhd and the like: not ours
    xi, yi = mon.xside_to_pos(mon.xside[s]), mon.yside_to_pos(mon.yside[s])
    xlim, ylim = mon.xlim[xi], mon.ylim[yi]
    if (mon.label[s] is not None or mon.fillx[s] is not False or mon.filly[s] is not False
            or mon.xscale[xi] != "linear" or mon.yscale[yi] != "linear" or mon.x_date[xi] or mon.y_date[yi]
            or mon.xdirection[xi] != 1 or mon.ydirection[yi] != 1 or None in xlim or None in ylim
            or xlim[0] == xlim[1] or ylim[0] == ylim[1]):
        return False
    try:
        x, y = np.asarray(mon.x[s], dtype=float), np.asarray(mon.y[s], dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(len(x)) and bool(np.isfinite(x).all() and np.isfinite(y).all())


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
    first = len(mon.x)
    while first > 0 and _takes(mon, first - 1):
        first -= 1
    taken = []
    for s in range(first, len(mon.x)):
        xi, yi = mon.xside_to_pos(mon.xside[s]), mon.yside_to_pos(mon.yside[s])
        xlim, ylim = list(mon.xlim[xi]), list(mon.ylim[yi])
        taken.append((np.asarray(mon.x[s], dtype=float), np.asarray(mon.y[s], dtype=float), mon.lines[s],
                      mon.marker[s][0], mon.color[s][0], mon.style[s][0], xlim, ylim))
        mon.x[s], mon.y[s] = [xlim[0]], [ylim[0] - (ylim[1] - ylim[0])]
        mon.marker[s], mon.color[s], mon.style[s] = mon.marker[s][:1], mon.color[s][:1], mon.style[s][:1]
    plot._build_matrix()
    matrix = mon.matrix
    width, height = len(matrix.Cols_canvas), len(matrix.Rows_canvas)
    col0, row0 = matrix.Cols_canvas.start, matrix.Rows_canvas.start
    if width <= 0 or height <= 0:
        return
    for x, y, lines, marker, color, style, xlim, ylim in taken:
        xf, yf = _TABLES[marker][:2] if marker in _TABLES else (1, 1)
        px, py = _to_pixels(x, xlim, width * xf), _to_pixels(y, ylim, height * yf)
        if lines and len(px) > 1:
            spans = np.maximum(np.abs(np.diff(px)), np.abs(np.diff(py)))
            if spans.sum() > MAX_PIXELS:
                continue  # plotext would have spent minutes on it; the chart goes without
            px, py = _line_pixels(px, py)
        cols, rows, chars = _cells(px, py, marker, width, height)
        for col, row, char in zip((cols + col0).tolist(), (rows + row0).tolist(), chars.tolist()):
            matrix.marker[row][col] = char
            matrix.fullground[row][col] = color
            matrix.style[row][col] = style
